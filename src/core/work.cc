#include "railcc/work.hpp"

#include <fmt/format.h>

#include "railcc/status.hpp"
#include "src/core/work_state.h"

namespace railcc {

void Work::wait(std::chrono::milliseconds timeout) const {
  if (!state_) throw InvalidArgumentError("Work::wait on an empty Work");
  std::unique_lock lock(state_->mutex);
  if (timeout >= std::chrono::hours(24 * 365)) {
    state_->done_cv.wait(lock, [&] { return state_->done; });
  } else if (!state_->done_cv.wait_for(lock, timeout, [&] { return state_->done; })) {
    throw TimeoutError(fmt::format("{} did not complete within the {} ms given to Work::wait "
                                   "(it is still running)",
                                   state_->description, timeout.count()));
  }
  if (state_->error) std::rethrow_exception(state_->error);
}

bool Work::test() const {
  if (!state_) throw InvalidArgumentError("Work::test on an empty Work");
  std::lock_guard lock(state_->mutex);
  if (!state_->done) return false;
  if (state_->error) std::rethrow_exception(state_->error);
  return true;
}

bool Work::is_completed() const noexcept {
  if (!state_) return false;
  std::lock_guard lock(state_->mutex);
  return state_->done;
}

std::exception_ptr Work::exception() const noexcept {
  if (!state_) return nullptr;
  std::lock_guard lock(state_->mutex);
  return state_->error;
}

std::string Work::description() const { return state_ ? state_->description : "(empty Work)"; }

}  // namespace railcc
