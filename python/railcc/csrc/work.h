// c10d::Work for one torch.distributed call: the railcc ops it issued, the tensors those ops
// read and write (kept alive until they finish), and what to do when they finish (copy staging
// buffers into the caller's tensors). Whichever thread first sees the ops finish -- the caller in
// wait(), is_completed(), or the backend's CompletionQueue -- finalizes it exactly once and
// completes its future, so get_future().then(...) chains without anyone calling wait().
#pragma once

#include <ATen/core/ivalue.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <torch/csrc/distributed/c10d/Work.hpp>
#include <vector>

#include "railcc/work.hpp"

namespace railcc_torch {

class RailccWork final : public c10d::Work {
 public:
  // `outputs` are what the future holds and result() returns. `timeout` bounds wait() when the
  // caller passes none; zero means the op's own deadline (the communicator's timeout) bounds it.
  RailccWork(int rank, c10d::OpType type, const char* profiling_title,
             std::vector<at::Tensor> outputs, std::chrono::milliseconds timeout);
  ~RailccWork() override;

  // Building, before the work is handed out (single thread).
  void add_op(railcc::Work op) { ops_.push_back(std::move(op)); }
  void keep_alive(at::Tensor t) { keep_alive_.push_back(std::move(t)); }
  // Runs after every op succeeded, before the work counts as complete.
  void on_success(std::function<void()> f) { on_success_.push_back(std::move(f)); }
  void set_source_rank(int r) { source_rank_ = r; }
  // For a blocking call (the caller waits at once): the work joins the completion queue only if
  // someone asks for its future first, which saves waking the queue's thread for every op.
  void defer_completion(std::function<void(c10::intrusive_ptr<RailccWork>)> enqueue) {
    enqueue_ = std::move(enqueue);
  }

  bool isCompleted() override;
  bool isSuccess() const override;
  std::exception_ptr exception() const override;
  int sourceRank() const override;
  std::vector<at::Tensor> result() override;
  bool wait(std::chrono::milliseconds timeout = kNoTimeout) override;
  c10::intrusive_ptr<c10::ivalue::Future> getFuture() override;
  std::chrono::milliseconds getTimeout() const override { return timeout_; }

  // For the CompletionQueue: true once every op finished (successfully or not); never throws.
  bool ops_finished() const noexcept;
  // Waits up to `timeout` for the ops; returns ops_finished(). Never throws.
  bool wait_ops_for(std::chrono::milliseconds timeout) const noexcept;
  // Once the ops finished: runs on_success (or records the error), marks the work complete and
  // completes the future. Idempotent and thread-safe.
  void finalize();

 private:
  std::vector<railcc::Work> ops_;
  std::vector<at::Tensor> outputs_;
  std::vector<at::Tensor> keep_alive_;
  std::vector<std::function<void()>> on_success_;
  std::chrono::milliseconds timeout_;
  int source_rank_ = -1;
  c10::intrusive_ptr<c10::ivalue::Future> future_;
  std::function<void(c10::intrusive_ptr<RailccWork>)> enqueue_;  // see defer_completion
  std::mutex finalize_mutex_;  // held while one thread finalizes; others wait for its result
  bool finalized_ = false;
};

// Converts a railcc failure into the exception torch.distributed raises (DistBackendError, a
// RuntimeError subclass), keeping railcc's message.
std::exception_ptr to_torch_error(const std::exception& e);
[[noreturn]] void throw_torch_error(const std::exception& e);

}  // namespace railcc_torch
