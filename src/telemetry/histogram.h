// A latency histogram with fixed, roughly logarithmic buckets (1 us to 100 s), updated with
// relaxed atomics so recording costs a few nanoseconds and exporting never blocks recording.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace railcc::telemetry {

class LatencyHistogram {
 public:
  // Upper bounds of the buckets in nanoseconds (Prometheus "le", printed in seconds); a last
  // bucket holds the rest. Integers, so a bound compares exactly.
  static constexpr std::array<uint64_t, 16> kBoundsNs = {
      1'000,       2'000,         5'000,          10'000,         20'000,     50'000,
      100'000,     500'000,       1'000'000,      5'000'000,      10'000'000, 50'000'000,
      100'000'000, 1'000'000'000, 10'000'000'000, 100'000'000'000};

  void observe(uint64_t ns) {
    std::size_t b = 0;
    while (b < kBoundsNs.size() && ns > kBoundsNs[b]) ++b;
    counts_[b].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(ns, std::memory_order_relaxed);
  }
  // Observations in bucket b alone (not cumulative); b == kBoundsNs.size() is the overflow.
  uint64_t bucket(std::size_t b) const { return counts_[b].load(std::memory_order_relaxed); }
  uint64_t count() const {
    uint64_t n = 0;
    for (const auto& c : counts_) n += c.load(std::memory_order_relaxed);
    return n;
  }
  double sum_seconds() const { return sum_ns_.load(std::memory_order_relaxed) * 1e-9; }

 private:
  std::array<std::atomic<uint64_t>, kBoundsNs.size() + 1> counts_{};
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace railcc::telemetry
