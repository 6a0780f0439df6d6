// Shared state behind a railcc::Work: set once by the worker thread, read by user threads.
#pragma once

#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>

namespace railcc::detail {

struct WorkState {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  std::exception_ptr error;
  std::string description;

  void finish(std::exception_ptr e) {
    {
      std::lock_guard lock(mutex);
      done = true;
      error = std::move(e);
    }
    done_cv.notify_all();
  }
};

}  // namespace railcc::detail
