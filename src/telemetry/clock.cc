#include "src/telemetry/clock.h"

#include <time.h>

#include <fstream>
#include <string>

namespace railcc::telemetry {
namespace {

uint64_t read_clock(clockid_t id) {
  timespec ts{};
  ::clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// The TSC counts at one rate in every power state and on every core only when the CPU says so
// (constant_tsc: fixed rate; nonstop_tsc: runs in deep C-states). Without both, the kernel's
// clock is the only honest one.
bool invariant_tsc() {
#if defined(__x86_64__) || defined(__i386__)
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    const std::string flags = line + " ";
    return flags.find(" constant_tsc ") != std::string::npos &&
           flags.find(" nonstop_tsc ") != std::string::npos;
  }
#endif
  return false;
}

}  // namespace

uint64_t steady_now_ns() { return read_clock(CLOCK_MONOTONIC); }

uint64_t coarse_now_ns() { return read_clock(CLOCK_MONOTONIC_COARSE); }

TickClock::TickClock() {
#if defined(__x86_64__) || defined(__i386__)
  if (!invariant_tsc()) return;
  // Over 1 ms: each end's uncertainty (a clock read, ~50 ns) is then ~5e-5 of the span.
  const uint64_t ns0 = steady_now_ns();
  const uint64_t tsc0 = __rdtsc();
  uint64_t ns1 = ns0, tsc1 = tsc0;
  while (ns1 - ns0 < 1'000'000) {
    ns1 = steady_now_ns();
    tsc1 = __rdtsc();
  }
  if (tsc1 <= tsc0) return;  // a TSC that does not move: keep the kernel's clock
  ns_per_tick_q32_ = static_cast<uint64_t>((static_cast<unsigned __int128>(ns1 - ns0) << 32) /
                                           static_cast<unsigned __int128>(tsc1 - tsc0));
  tsc_ = ns_per_tick_q32_ > 0;
  if (!tsc_) ns_per_tick_q32_ = uint64_t{1} << 32;
#endif
}

}  // namespace railcc::telemetry
