// Handle to an asynchronous collective. Ops of one communicator run and complete in the order
// they were called.
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
  // Non-blocking: true once the op finished; rethrows its error if it failed.
  bool test() const;
  // True once finished, successfully or not; never throws.
  bool is_completed() const noexcept;
  // The op's error, or nullptr.
  std::exception_ptr exception() const noexcept;
  // e.g. "all_reduce #12 (1048576 x float32, sum)".
  std::string description() const;
  bool valid() const noexcept { return state_ != nullptr; }

 private:
  std::shared_ptr<detail::WorkState> state_;
};

}  // namespace railcc
