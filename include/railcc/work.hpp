// Handle to an asynchronous collective. Ops of one communicator run and complete in the order
// they were called.
//
// Ops on CUDA buffers or a CUDA stream (see communicator.hpp) follow torch's NCCL backend: the
// op is already ordered on its stream when the call returns, and wait() does not wait for the
// GPU: it returns once railcc's own part of the op is done (rethrowing its error), and work
// enqueued on the op's stream afterwards sees the results. synchronize() also waits for the GPU
// (the results are in the receive buffer); wait_stream() orders another stream after the op.
#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <string>

namespace railcc {

namespace detail {
struct WorkState;
}

class Work {
 public:
  Work() = default;
  explicit Work(std::shared_ptr<detail::WorkState> state) : state_(std::move(state)) {}

  // Blocks until the op finished, at most `timeout` (default: forever; the op itself still
  // fails after RAILCC_TIMEOUT). Rethrows the op's railcc::Error. A `timeout` that passes first
  // throws TimeoutError; the op keeps running.
  void wait(std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) const;
  // Non-blocking: true once the op finished (for a CUDA op: also on its stream); rethrows its
  // error if it failed.
  bool test() const;
  // True once finished, successfully or not (for a CUDA op: also on its stream); never throws.
  bool is_completed() const noexcept;
  // wait(), then for a CUDA op until its stream passed the op, all within `timeout`.
  void synchronize(std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) const;
  // Makes `cuda_stream` (a cudaStream_t; nullptr = the legacy default stream) wait for this CUDA
  // op without blocking the caller. No effect for a host op.
  void wait_stream(void* cuda_stream) const;
  // True for an op on CUDA buffers or a CUDA stream.
  bool is_cuda() const noexcept;
  // The op's error, or nullptr.
  std::exception_ptr exception() const noexcept;
  // e.g. "all_reduce #12 (1048576 x float32, sum)".
  std::string description() const;
  bool valid() const noexcept { return state_ != nullptr; }

 private:
  std::shared_ptr<detail::WorkState> state_;
};

}  // namespace railcc
