// A point in time after which a blocking wait gives up.
#pragma once

#include <chrono>

namespace railcc {

using Clock = std::chrono::steady_clock;

class Deadline {
 public:
  static Deadline after(std::chrono::milliseconds d) {
    Deadline out;
    // Guard against overflow for "forever".
    out.when_ = d >= std::chrono::hours(24 * 365) ? Clock::time_point::max() : Clock::now() + d;
    return out;
  }
  // `d` after `now` (a reading of Clock, or of a clock with the same epoch such as
  // CLOCK_MONOTONIC_COARSE: cheaper, and at most a scheduler tick behind).
  static Deadline after(std::chrono::milliseconds d, Clock::time_point now) {
    Deadline out;
    out.when_ = d >= std::chrono::hours(24 * 365) ? Clock::time_point::max() : now + d;
    return out;
  }
  static Deadline never() { return Deadline{}; }
  bool expired() const { return Clock::now() >= when_; }
  // Milliseconds left, clamped to [0, cap]; for poll()/epoll_wait().
  int poll_ms(int cap = 1 << 30) const {
    if (when_ == Clock::time_point::max()) return cap;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(when_ - Clock::now());
    if (left.count() <= 0) return 0;
    return left.count() > cap ? cap : static_cast<int>(left.count());
  }
  Clock::time_point time() const { return when_; }

 private:
  Clock::time_point when_ = Clock::time_point::max();
};

}  // namespace railcc
