// Shared state behind a railcc::Work: set once by the worker thread, read by user threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>

#include "railcc/status.hpp"

namespace railcc::detail {

// An op's failure as plain data. Each waiting thread throws its own exception object from it:
// sharing one exception_ptr across threads makes ThreadSanitizer report libstdc++'s
// uninstrumented reference count.
struct WorkError {
  ErrorCode code = ErrorCode::kOk;
  std::string message;
  explicit operator bool() const { return code != ErrorCode::kOk; }
};

struct WorkState {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  WorkError error;
  std::string description;
  std::atomic<bool> finished{false};  // mirrors `done` for lock-free polling in Work::wait
  int spin_us = 0;                    // how long a waiter polls before it sleeps (RAILCC_SPIN_US)

  void finish(WorkError e) {
    {
      std::lock_guard lock(mutex);
      done = true;
      error = std::move(e);
    }
    finished.store(true, std::memory_order_release);
    done_cv.notify_all();
  }
};

}  // namespace railcc::detail
