// Shared state behind a railcc::Work: set once by the worker thread, read by user threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"
#include "railcc/status.hpp"
#include "src/cuda/gpu_completion.h"
#include "transport/wire_format.h"

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

// What an op is, kept so its description is only formatted when someone asks (errors, logs).
struct OpSummary {
  wire::OpKind op = wire::OpKind::kNone;
  uint64_t seq = 0;
  std::size_t count = 0;
  DataType dtype = DataType::kUint8;
  ReduceOp redop = ReduceOp::kSum;
  int root = -1;
  int peer = -1;
  uint32_t tag = 0;
  bool is_send = false;
};
// e.g. "all_reduce #7 (1024 x float32, sum)" or "send to rank 3 (16 x int32, tag 5)".
std::string describe_op(const OpSummary& op);

// Runs a communicator's queued ops on the calling thread (see CommunicatorImpl::help).
class OpRunner {
 public:
  virtual ~OpRunner() = default;
  // Runs queued ops in order until `until` has finished, unless another thread is running ops.
  virtual void help(const WorkState* until) = 0;
};

// Shared by a communicator and its Works, so a Work that outlives its communicator never calls
// into a destroyed one: the communicator clears `runner` (under `mutex`) before it goes away.
struct HelpHook {
  std::mutex mutex;
  OpRunner* runner = nullptr;
};

struct WorkState {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  WorkError error;
  OpSummary op;
  std::string description() const { return describe_op(op); }
  std::atomic<bool> finished{false};  // mirrors `done` for lock-free polling in Work::wait
  int spin_us = 0;                    // how long a waiter polls before it sleeps (RAILCC_SPIN_US)
  // Set for ops a waiting thread may run itself (small collectives): saves waking the worker.
  std::shared_ptr<HelpHook> hook;
  // Ops on a CUDA stream: the op's end on that stream (null for host ops).
  std::shared_ptr<cuda::GpuCompletion> gpu;

  // `shared`: false while no Work refers to this state yet (an op finished at submission), so
  // no thread can wait on it: no lock, no wake-up (a third of a mutex round trip per 8 B op).
  void finish(WorkError e, bool shared = true) {
    if (!shared) {
      done = true;
      error = std::move(e);
      finished.store(true, std::memory_order_relaxed);
      return;
    }
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
