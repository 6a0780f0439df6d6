// Timestamps for the always-on telemetry. An 8-byte all_reduce takes about two microseconds, and
// a vDSO clock_gettime costs 20-50 ns: three of them per op were most of telemetry's bill. Op and
// wait durations therefore come from the CPU's time-stamp counter (an invariant TSC, read in a
// few ns, scaled once to nanoseconds at first use); absolute times from the kernel's clocks.
#pragma once

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace railcc::telemetry {

// CLOCK_MONOTONIC in nanoseconds (the base of std::chrono::steady_clock on Linux).
uint64_t steady_now_ns();
// CLOCK_MONOTONIC_COARSE: the same base, a few ns to read, up to one kernel tick (1-10 ms) behind.
uint64_t coarse_now_ns();

// Ticks -> nanoseconds for durations. Calibrated against CLOCK_MONOTONIC over 1 ms at first use
// (good to about 1e-4: fine for a duration, not for pinning a moment over hours).
class TickClock {
 public:
  static const TickClock& get() {
    static const TickClock clock;
    return clock;
  }
  // Whether ticks are the TSC's (false: they are steady_now_ns() nanoseconds).
  bool uses_tsc() const { return tsc_; }
  uint64_t now() const {
#if defined(__x86_64__) || defined(__i386__)
    if (tsc_) return __rdtsc();
#endif
    return steady_now_ns();
  }
  uint64_t to_ns(uint64_t ticks) const {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(ticks) * ns_per_tick_q32_) >> 32);
  }

 private:
  TickClock();
  bool tsc_ = false;
  uint64_t ns_per_tick_q32_ = uint64_t{1} << 32;  // nanoseconds per tick, 32.32 fixed point
};

// A tick count now (ordered only against other ticks()).
inline uint64_t ticks() { return TickClock::get().now(); }
// The nanoseconds between two tick counts; 0 when `end` is not after `start`.
inline uint64_t ticks_between_ns(uint64_t start, uint64_t end) {
  return end > start ? TickClock::get().to_ns(end - start) : 0;
}

}  // namespace railcc::telemetry
