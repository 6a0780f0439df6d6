#include "work.h"

#include <ATen/core/jit_type.h>

#include "railcc/status.hpp"

namespace railcc_torch {

std::exception_ptr to_torch_error(const std::exception& e) {
  if (dynamic_cast<const c10::Error*>(&e) != nullptr) return std::make_exception_ptr(e);
  return std::make_exception_ptr(
      c10::DistBackendError(c10::SourceLocation{__func__, __FILE__, __LINE__}, e.what()));
}

void throw_torch_error(const std::exception& e) { std::rethrow_exception(to_torch_error(e)); }

RailccWork::RailccWork(int rank, c10d::OpType type, const char* profiling_title,
                       std::vector<at::Tensor> outputs, std::chrono::milliseconds timeout)
    : c10d::Work(rank, type, profiling_title),
      outputs_(std::move(outputs)),
      timeout_(timeout),
      future_(
          c10::make_intrusive<c10::ivalue::Future>(c10::ListType::create(c10::TensorType::get()))) {
}

RailccWork::~RailccWork() {
  // A blocking call's work is not queued; dropped without wait(), its ops may still use the
  // buffers this work keeps alive. They end by their own deadline.
  if (!ops_finished()) wait_ops_for(std::chrono::hours(24 * 365));
}

bool RailccWork::ops_finished() const noexcept {
  for (const auto& op : ops_) {
    if (!op.is_completed()) return false;
  }
  return true;
}

bool RailccWork::wait_ops_for(std::chrono::milliseconds timeout) const noexcept {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (const auto& op : ops_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    try {
      op.wait(left);
    } catch (...) {
      // Either the op failed (finished) or `left` passed; ops_finished() tells which.
    }
  }
  return ops_finished();
}

void RailccWork::finalize() {
  std::exception_ptr error;
  // Dropped only after the lock: releasing the last C++ reference to a tensor Python also holds
  // takes the GIL, and a thread holding the GIL may be waiting for this lock (getFuture() on the
  // user's thread while the completion queue finalizes an op that finished at once).
  std::vector<std::function<void()>> done_callbacks;
  std::vector<at::Tensor> done_tensors;
  {
    std::lock_guard lock(finalize_mutex_);
    if (finalized_) return;
    finalized_ = true;
    for (const auto& op : ops_) {
      if (auto e = op.exception()) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          error = to_torch_error(ex);
        }
        break;
      }
    }
    if (!error) {
      try {
        for (auto& f : on_success_) f();
      } catch (const std::exception& ex) {
        error = to_torch_error(ex);
      }
    }
    done_callbacks.swap(on_success_);
    done_tensors.swap(keep_alive_);
    finish(error);  // c10d::Work's state: completed_, exception_, profiler end
  }
  done_callbacks.clear();
  done_tensors.clear();
  // Outside the lock: callbacks chained with then() run here and may call back into this work.
  if (error) {
    future_->setError(error);
  } else {
    future_->markCompleted(c10::IValue(outputs_));
  }
}

bool RailccWork::isCompleted() {
  if (ops_finished()) finalize();
  std::lock_guard lock(mutex_);
  return completed_;
}

bool RailccWork::isSuccess() const {
  std::lock_guard lock(mutex_);
  return completed_ && !exception_;
}

std::exception_ptr RailccWork::exception() const {
  std::lock_guard lock(mutex_);
  return exception_;
}

int RailccWork::sourceRank() const {
  TORCH_CHECK(source_rank_ >= 0, "railcc: sourceRank() is only defined for recv");
  return source_rank_;
}

std::vector<at::Tensor> RailccWork::result() { return outputs_; }

bool RailccWork::wait(std::chrono::milliseconds timeout) {
  // Without a deadline of its own the wait lets railcc run small ops on this thread (its fast
  // path); the op still fails after the communicator's timeout (init_process_group's), so this
  // cannot hang.
  const std::chrono::milliseconds limit = timeout != kNoTimeout ? timeout : timeout_;
  const auto until = std::chrono::steady_clock::now() + limit;
  for (const auto& op : ops_) {
    try {
      if (limit.count() <= 0) {
        op.wait();
      } else {
        op.wait(std::max(std::chrono::milliseconds(0),
                         std::chrono::duration_cast<std::chrono::milliseconds>(
                             until - std::chrono::steady_clock::now())));
      }
    } catch (const railcc::Error& e) {
      if (!op.is_completed()) {
        // The caller's deadline passed first; the op keeps running (buffers stay alive).
        C10_THROW_ERROR(DistBackendError, std::string("railcc: Work::wait timed out after ") +
                                              std::to_string(limit.count()) + " ms: " + e.what());
      }
      // The op failed; finalize() records its error once the other ops finished too (they
      // still use the buffers this work keeps alive).
    }
  }
  finalize();
  std::lock_guard lock(mutex_);
  if (exception_) std::rethrow_exception(exception_);
  return true;
}

c10::intrusive_ptr<c10::ivalue::Future> RailccWork::getFuture() {
  std::function<void(c10::intrusive_ptr<RailccWork>)> enqueue;
  {
    std::lock_guard lock(finalize_mutex_);
    if (!finalized_) enqueue = std::move(enqueue_);
    enqueue_ = nullptr;
  }
  if (enqueue) enqueue(c10::intrusive_ptr<RailccWork>::reclaim_copy(this));
  return future_;
}

}  // namespace railcc_torch
