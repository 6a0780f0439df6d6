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
    counts_[bucket_of(ns)].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(ns, std::memory_order_relaxed);
  }
  // observe() for a histogram only one thread at a time records into (threads taking turns under
  // a lock): a load and a store instead of a locked add. Readers still see whole values.
  void observe_owned(uint64_t ns) {
    add_owned(counts_[bucket_of(ns)], 1);
    add_owned(sum_ns_, ns);
  }
  // Adds every count of `o` to this histogram (atomically: several threads may fold at once).
  void merge(const LatencyHistogram& o) {
    for (std::size_t b = 0; b < counts_.size(); ++b) {
      counts_[b].fetch_add(o.bucket(b), std::memory_order_relaxed);
    }
    sum_ns_.fetch_add(o.sum_ns_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
  static std::size_t bucket_of(uint64_t ns) {
    std::size_t b = 0;
    while (b < kBoundsNs.size() && ns > kBoundsNs[b]) ++b;
    return b;
  }
  // The single-writer add behind observe_owned().
  static void add_owned(std::atomic<uint64_t>& c, uint64_t v) {
    c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }
  // Observations in bucket b alone (not cumulative); b == kBoundsNs.size() is the overflow.
  uint64_t bucket(std::size_t b) const { return counts_[b].load(std::memory_order_relaxed); }
  uint64_t count() const {
    uint64_t n = 0;
    for (const auto& c : counts_) n += c.load(std::memory_order_relaxed);
    return n;
  }
  uint64_t sum_ns() const { return sum_ns_.load(std::memory_order_relaxed); }
  double sum_seconds() const { return sum_ns() * 1e-9; }

 private:
  std::array<std::atomic<uint64_t>, kBoundsNs.size() + 1> counts_{};
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace railcc::telemetry
