#include "railcc/work.hpp"

#include <fmt/format.h>

#include <thread>

#include "railcc/status.hpp"
#include "src/core/work_state.h"

namespace railcc {

void Work::wait(std::chrono::milliseconds timeout) const {
  if (!state_) throw InvalidArgumentError("Work::wait on an empty Work");
  const bool forever = timeout >= std::chrono::hours(24 * 365);
  if (forever && state_->hook && !state_->finished.load(std::memory_order_acquire)) {
    // Run the op here if the worker has not started it: no thread hand-off, no wake-up. Only
    // without a caller's timeout: an op run here cannot be left at that timeout.
    detail::HelpHook& hook = *state_->hook;
    std::unique_lock lock(hook.mutex, std::try_to_lock);
    if (lock && hook.runner) hook.runner->help(state_.get());
  }
  // Most ops finish within microseconds of the call: poll briefly before paying for a sleep and
  // a wake-up. yield() keeps this polite when ranks outnumber cores.
  // Never poll longer than the caller's timeout (compared in ms: "forever" is the largest
  // millisecond count, which would overflow in microseconds).
  if (state_->finished.load(std::memory_order_acquire)) {
    if (state_->error) throw_error(state_->error.code, state_->error.message);
    return;
  }
  const long long spin_us = timeout.count() < (state_->spin_us + 999) / 1000
                                ? timeout.count() * 1000
                                : static_cast<long long>(state_->spin_us);
  const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us);
  while (!state_->finished.load(std::memory_order_acquire) &&
         std::chrono::steady_clock::now() < spin_until) {
    std::this_thread::yield();
  }
  std::unique_lock lock(state_->mutex);
  if (forever) {
    state_->done_cv.wait(lock, [&] { return state_->done; });
  } else if (!state_->done_cv.wait_for(lock, timeout, [&] { return state_->done; })) {
    throw TimeoutError(
        fmt::format("{} did not complete within the {} ms given to Work::wait "
                    "(it is still running)",
                    state_->description(), timeout.count()));
  }
  if (state_->error) throw_error(state_->error.code, state_->error.message);
}

bool Work::test() const {
  if (!state_) throw InvalidArgumentError("Work::test on an empty Work");
  {
    std::lock_guard lock(state_->mutex);
    if (!state_->done) return false;
    if (state_->error) throw_error(state_->error.code, state_->error.message);
  }
  return !state_->gpu || state_->gpu->query();
}

bool Work::is_completed() const noexcept {
  if (!state_) return false;
  {
    std::lock_guard lock(state_->mutex);
    if (!state_->done) return false;
  }
  if (!state_->gpu) return true;
  try {
    return state_->gpu->query();
  } catch (...) {
    return true;  // the stream failed: nothing more will happen
  }
}

void Work::synchronize(std::chrono::milliseconds timeout) const {
  if (!state_) throw InvalidArgumentError("Work::synchronize on an empty Work");
  const auto start = std::chrono::steady_clock::now();
  wait(timeout);
  if (!state_->gpu) return;
  const bool forever = timeout >= std::chrono::hours(24 * 365);
  int polls = 0;
  while (!state_->gpu->query()) {
    if (!forever && std::chrono::steady_clock::now() - start >= timeout) {
      throw TimeoutError(fmt::format(
          "{} did not complete on its CUDA stream within the {} ms given to Work::synchronize "
          "(the stream still runs)",
          state_->description(), timeout.count()));
    }
    if (++polls < 64) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

void Work::wait_stream(void* cuda_stream) const {
  if (!state_) throw InvalidArgumentError("Work::wait_stream on an empty Work");
  if (state_->gpu) state_->gpu->api().stream_wait_event(cuda_stream, state_->gpu->event());
}

bool Work::is_cuda() const noexcept { return state_ && state_->gpu; }

std::exception_ptr Work::exception() const noexcept {
  if (!state_) return nullptr;
  detail::WorkError error;
  {
    std::lock_guard lock(state_->mutex);
    error = state_->error;
  }
  if (!error) return nullptr;
  try {
    throw_error(error.code, error.message);
  } catch (...) {
    return std::current_exception();
  }
}

std::string Work::description() const { return state_ ? state_->description() : "(empty Work)"; }

}  // namespace railcc
