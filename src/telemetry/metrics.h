// Process-wide counters behind railcc's Prometheus metrics: collective durations per op and
// algorithm, bytes per channel (transport or rail) and direction, time spent waiting on each
// peer. Always on: recording is a few relaxed atomic adds, so it stays off the hot path's bill.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "src/telemetry/clock.h"
#include "src/telemetry/histogram.h"
#include "transport/wire_format.h"

namespace railcc::telemetry {

// Bytes moved over one channel ("shm", "tcp", or a rail's name).
struct ChannelCounters {
  std::string name;
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> rate_sent{0};      // bytes/s over the last sampling interval
  std::atomic<uint64_t> rate_received{0};  // (set by the exporter's sampler)
  std::atomic<uint64_t> slow_events{0};    // times the rail was named as slow
};

class Metrics {
  struct OpSeries;

 public:
  static Metrics& global();

  // One communicator's op series. Recorded by one thread at a time (whoever runs the
  // communicator's ops, under its drive lock), so each add is a plain load and store rather
  // than a locked instruction: a few nanoseconds off every op. The exposition sums the shards
  // alive and the counts of those gone (folded in when destroyed).
  class OpShard {
   public:
    explicit OpShard(Metrics& metrics);
    ~OpShard();
    OpShard(const OpShard&) = delete;
    OpShard& operator=(const OpShard&) = delete;
    // Like Metrics::record_op, from the shard's one writer at a time.
    void record(wire::OpKind op, const char* algo, uint64_t ns, std::size_t bytes, bool ok);

   private:
    friend class Metrics;
    Metrics& metrics_;
    std::unique_ptr<OpSeries[]> series_;
    const char* last_algo_ = nullptr;  // the algorithm of the previous op and its index
    int last_algo_index_ = 0;
  };

  // `algo` must be a string literal (or otherwise outlive the process): it is kept by pointer.
  void record_op(wire::OpKind op, const char* algo, uint64_t ns, std::size_t bytes, bool ok);
  void add_peer_wait(int peer, uint64_t ns);
  void add_straggler_event(int rank);
  // Stable for the life of the process; the same name gives the same counters.
  ChannelCounters* channel(const std::string& name);
  // Sets the rank label written on every series (the world rank of this process).
  void set_rank(int rank) { rank_.store(rank, std::memory_order_relaxed); }
  int rank_label() const { return rank_.load(std::memory_order_relaxed); }
  // Bytes so far on every channel (flight recorder dumps).
  struct ChannelTotal {
    std::string name;
    uint64_t sent, received;
  };
  std::vector<ChannelTotal> channel_totals() const;
  // Updates the per-channel throughput gauges from the byte counters; call about once a second.
  void sample_rates();
  // Prometheus text exposition format, version 0.0.4.
  std::string exposition() const;

 private:
  static constexpr int kOps = static_cast<int>(wire::OpKind::kCount_);
  static constexpr int kAlgos = 16;
  static constexpr int kPeers = 4096;
  struct OpSeries {
    LatencyHistogram duration;
    std::atomic<uint64_t> bytes{0};
    std::atomic<uint64_t> errors{0};
  };
  int algo_index(const char* algo);
  // Sums of every series (this table's, and each live shard's) for the exposition.
  std::unique_ptr<OpSeries[]> op_totals() const;

  std::atomic<int> rank_{0};
  std::atomic<const char*> algos_[kAlgos] = {};
  std::mutex algos_mutex_;
  // record_op()'s series, and the counts of shards destroyed.
  std::unique_ptr<OpSeries[]> series_ = std::make_unique<OpSeries[]>(kOps * kAlgos);
  mutable std::mutex shards_mutex_;
  std::vector<OpShard*> shards_;
  std::unique_ptr<std::atomic<uint64_t>[]> peer_wait_ns_ =
      std::make_unique<std::atomic<uint64_t>[]>(kPeers);
  std::unique_ptr<std::atomic<uint64_t>[]> straggler_events_ =
      std::make_unique<std::atomic<uint64_t>[]>(kPeers);
  mutable std::mutex channels_mutex_;
  std::deque<ChannelCounters> channels_;
  // sample_rates() state.
  std::vector<std::pair<uint64_t, uint64_t>> last_bytes_;
  uint64_t last_sample_ns_ = 0;
};

}  // namespace railcc::telemetry
