// Shared state behind a railcc::Work: set once by the worker thread, read by user threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
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

struct WorkState;

// Lets a thread that waits for an op run the communicator's queued ops itself instead of handing
// them to the worker thread and sleeping: with several ranks per core, every hand-off between
// threads costs a context switch. Whoever holds `mutex` is the only thread driving the engine.
class OpRunner {
 public:
  virtual ~OpRunner() = default;
  // Called with RunnerHandle::mutex held: runs queued ops until `work` finished or none is left.
  virtual void run_until(const WorkState& work) = 0;
  // Called after the mutex is released: wakes the worker if work is left over.
  virtual void after_help() = 0;
};

struct RunnerHandle {
  std::mutex mutex;
  OpRunner* runner = nullptr;  // cleared (under mutex) when the communicator goes away
};

struct WorkState {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  WorkError error;
  std::string description;
  std::atomic<bool> finished{false};  // mirrors `done` for lock-free polling in Work::wait
  int spin_us = 0;                    // how long a waiter polls before it sleeps (RAILCC_SPIN_US)
  std::shared_ptr<RunnerHandle> runner;

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
