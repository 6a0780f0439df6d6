#include "src/telemetry/metrics.h"

#include <fmt/format.h>

#include <cstring>

namespace railcc::telemetry {

Metrics& Metrics::global() {
  static Metrics* m = new Metrics();  // never destroyed: threads may record until exit
  return *m;
}

int Metrics::algo_index(const char* algo) {
  if (algo == nullptr) algo = "none";
  for (int i = 0; i < kAlgos; ++i) {
    const char* a = algos_[i].load(std::memory_order_acquire);
    if (a == algo) return i;
    if (a == nullptr) break;
  }
  std::lock_guard lock(algos_mutex_);
  for (int i = 0; i < kAlgos; ++i) {
    const char* a = algos_[i].load(std::memory_order_acquire);
    if (a == nullptr) {
      algos_[i].store(algo, std::memory_order_release);
      return i;
    }
    if (a == algo || std::strcmp(a, algo) == 0) return i;
  }
  return kAlgos - 1;  // more names than slots: share the last one
}

void Metrics::record_op(wire::OpKind op, const char* algo, uint64_t ns, std::size_t bytes,
                        bool ok) {
  const int o = static_cast<int>(op);
  if (o <= 0 || o >= kOps) return;
  OpSeries& s = series_[o * kAlgos + algo_index(algo)];
  s.duration.observe(ns);
  s.bytes.fetch_add(bytes, std::memory_order_relaxed);
  if (!ok) s.errors.fetch_add(1, std::memory_order_relaxed);
}

Metrics::OpShard::OpShard(Metrics& metrics)
    : metrics_(metrics), series_(std::make_unique<OpSeries[]>(kOps * kAlgos)) {
  std::lock_guard lock(metrics_.shards_mutex_);
  metrics_.shards_.push_back(this);
}

Metrics::OpShard::~OpShard() {
  std::lock_guard lock(metrics_.shards_mutex_);
  for (int i = 0; i < kOps * kAlgos; ++i) {
    OpSeries& to = metrics_.series_[i];
    const OpSeries& from = series_[i];
    to.duration.merge(from.duration);
    to.bytes.fetch_add(from.bytes.load(std::memory_order_relaxed), std::memory_order_relaxed);
    to.errors.fetch_add(from.errors.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
  std::erase(metrics_.shards_, this);
}

void Metrics::OpShard::record(wire::OpKind op, const char* algo, uint64_t ns, std::size_t bytes,
                              bool ok) {
  const int o = static_cast<int>(op);
  if (o <= 0 || o >= kOps) return;
  if (algo != last_algo_ || algo == nullptr) {
    last_algo_index_ = metrics_.algo_index(algo);
    last_algo_ = algo;
  }
  OpSeries& s = series_[o * kAlgos + last_algo_index_];
  s.duration.observe_owned(ns);
  LatencyHistogram::add_owned(s.bytes, bytes);
  if (!ok) LatencyHistogram::add_owned(s.errors, 1);
}

std::unique_ptr<Metrics::OpSeries[]> Metrics::op_totals() const {
  auto out = std::make_unique<OpSeries[]>(kOps * kAlgos);
  std::lock_guard lock(shards_mutex_);
  auto add = [&](const OpSeries* from) {
    for (int i = 0; i < kOps * kAlgos; ++i) {
      out[i].duration.merge(from[i].duration);
      out[i].bytes.fetch_add(from[i].bytes.load(std::memory_order_relaxed),
                             std::memory_order_relaxed);
      out[i].errors.fetch_add(from[i].errors.load(std::memory_order_relaxed),
                              std::memory_order_relaxed);
    }
  };
  add(series_.get());
  for (const OpShard* shard : shards_) add(shard->series_.get());
  return out;
}

void Metrics::add_peer_wait(int peer, uint64_t ns) {
  if (peer >= 0 && peer < kPeers) peer_wait_ns_[peer].fetch_add(ns, std::memory_order_relaxed);
}

void Metrics::add_straggler_event(int rank) {
  if (rank >= 0 && rank < kPeers) {
    straggler_events_[rank].fetch_add(1, std::memory_order_relaxed);
  }
}

ChannelCounters* Metrics::channel(const std::string& name) {
  std::lock_guard lock(channels_mutex_);
  for (auto& c : channels_) {
    if (c.name == name) return &c;
  }
  channels_.emplace_back().name = name;
  return &channels_.back();
}

std::vector<Metrics::ChannelTotal> Metrics::channel_totals() const {
  std::lock_guard lock(channels_mutex_);
  std::vector<ChannelTotal> out;
  for (const auto& c : channels_) {
    out.push_back({c.name, c.sent.load(std::memory_order_relaxed),
                   c.received.load(std::memory_order_relaxed)});
  }
  return out;
}

void Metrics::sample_rates() {
  std::lock_guard lock(channels_mutex_);
  const uint64_t now = steady_now_ns();
  const double dt = last_sample_ns_ ? (now - last_sample_ns_) * 1e-9 : 0;
  last_bytes_.resize(channels_.size(), {0, 0});
  for (std::size_t i = 0; i < channels_.size(); ++i) {
    ChannelCounters& c = channels_[i];
    const uint64_t sent = c.sent.load(std::memory_order_relaxed);
    const uint64_t received = c.received.load(std::memory_order_relaxed);
    if (dt > 0) {
      c.rate_sent.store(static_cast<uint64_t>((sent - last_bytes_[i].first) / dt));
      c.rate_received.store(static_cast<uint64_t>((received - last_bytes_[i].second) / dt));
    }
    last_bytes_[i] = {sent, received};
  }
  last_sample_ns_ = now;
}

namespace {

// Label values escape backslash, double quote and newline (text format 0.0.4).
std::string escape(std::string_view v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\' || ch == '"') out += '\\';
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    out += ch;
  }
  return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string Metrics::exposition() const {
  std::string out;
  const int rank = rank_.load(std::memory_order_relaxed);
  const std::unique_ptr<OpSeries[]> totals = op_totals();
  header(out, "railcc_collective_duration_seconds", "histogram",
         "Time each collective took on this rank, from start to completion.");
  for (int o = 1; o < kOps; ++o) {
    for (int a = 0; a < kAlgos; ++a) {
      const char* algo = algos_[a].load(std::memory_order_acquire);
      if (!algo) break;
      const OpSeries& s = totals[o * kAlgos + a];
      const uint64_t n = s.duration.count();
      if (n == 0) continue;
      const std::string labels =
          fmt::format("rank=\"{}\",op=\"{}\",algo=\"{}\"", rank,
                      wire::op_kind_name(static_cast<wire::OpKind>(o)), escape(algo));
      uint64_t cumulative = 0;
      for (std::size_t b = 0; b < LatencyHistogram::kBoundsNs.size(); ++b) {
        cumulative += s.duration.bucket(b);
        out += fmt::format("railcc_collective_duration_seconds_bucket{{{},le=\"{}\"}} {}\n", labels,
                           LatencyHistogram::kBoundsNs[b] / 1e9, cumulative);
      }
      out += fmt::format("railcc_collective_duration_seconds_bucket{{{},le=\"+Inf\"}} {}\n", labels,
                         n);
      out += fmt::format("railcc_collective_duration_seconds_sum{{{}}} {}\n", labels,
                         s.duration.sum_seconds());
      out += fmt::format("railcc_collective_duration_seconds_count{{{}}} {}\n", labels, n);
    }
  }
  header(out, "railcc_collective_bytes_total", "counter",
         "Bytes of user data passed to collectives (count x element size), by op.");
  for (int o = 1; o < kOps; ++o) {
    uint64_t bytes = 0, n = 0;
    for (int a = 0; a < kAlgos; ++a) {
      bytes += totals[o * kAlgos + a].bytes.load(std::memory_order_relaxed);
      n += totals[o * kAlgos + a].duration.count();
    }
    if (n == 0) continue;
    out += fmt::format("railcc_collective_bytes_total{{rank=\"{}\",op=\"{}\"}} {}\n", rank,
                       wire::op_kind_name(static_cast<wire::OpKind>(o)), bytes);
  }
  header(out, "railcc_collective_errors_total", "counter", "Collectives that failed, by op.");
  for (int o = 1; o < kOps; ++o) {
    uint64_t errors = 0, n = 0;
    for (int a = 0; a < kAlgos; ++a) {
      errors += totals[o * kAlgos + a].errors.load(std::memory_order_relaxed);
      n += totals[o * kAlgos + a].duration.count();
    }
    if (n == 0) continue;
    out += fmt::format("railcc_collective_errors_total{{rank=\"{}\",op=\"{}\"}} {}\n", rank,
                       wire::op_kind_name(static_cast<wire::OpKind>(o)), errors);
  }
  header(out, "railcc_peer_wait_seconds_total", "counter",
         "Time this rank spent waiting for data or acknowledgements from each peer.");
  for (int p = 0; p < kPeers; ++p) {
    const uint64_t ns = peer_wait_ns_[p].load(std::memory_order_relaxed);
    if (ns) {
      out += fmt::format("railcc_peer_wait_seconds_total{{rank=\"{}\",peer=\"{}\"}} {}\n", rank, p,
                         ns * 1e-9);
    }
  }
  header(out, "railcc_straggler_events_total", "counter",
         "Collectives in which a rank arrived late enough to be flagged as a straggler.");
  for (int p = 0; p < kPeers; ++p) {
    const uint64_t n = straggler_events_[p].load(std::memory_order_relaxed);
    if (n) {
      out += fmt::format("railcc_straggler_events_total{{rank=\"{}\",straggler=\"{}\"}} {}\n", rank,
                         p, n);
    }
  }
  std::lock_guard lock(channels_mutex_);
  header(out, "railcc_rail_bytes_total", "counter",
         "Bytes moved over each rail (a transport channel: shm, tcp, or a named rail).");
  for (const auto& c : channels_) {
    for (const char* dir : {"tx", "rx"}) {
      const auto& v = dir[0] == 't' ? c.sent : c.received;
      out += fmt::format("railcc_rail_bytes_total{{rank=\"{}\",rail=\"{}\",direction=\"{}\"}} {}\n",
                         rank, escape(c.name), dir, v.load(std::memory_order_relaxed));
    }
  }
  header(out, "railcc_slow_rail_events_total", "counter",
         "Times a rail kept moving at under a quarter of the fastest rail's rate for a second.");
  for (const auto& c : channels_) {
    out += fmt::format("railcc_slow_rail_events_total{{rank=\"{}\",rail=\"{}\"}} {}\n", rank,
                       escape(c.name), c.slow_events.load(std::memory_order_relaxed));
  }
  header(out, "railcc_rail_throughput_bytes_per_second", "gauge",
         "Bytes per second over each rail during the last sampling interval (about 1 s).");
  for (const auto& c : channels_) {
    for (const char* dir : {"tx", "rx"}) {
      const auto& v = dir[0] == 't' ? c.rate_sent : c.rate_received;
      out += fmt::format(
          "railcc_rail_throughput_bytes_per_second{{rank=\"{}\",rail=\"{}\",direction=\"{}\"}} "
          "{}\n",
          rank, escape(c.name), dir, v.load(std::memory_order_relaxed));
    }
  }
  return out;
}

}  // namespace railcc::telemetry
