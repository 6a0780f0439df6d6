#include "src/algorithms/cost_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace railcc::algo {
namespace {

Level level_of(const LinkCost& l) { return {l.alpha_us * 1e-6, 1.0 / (l.gbps * 1e9)}; }

int log2_floor(int p) {
  int l = 0;
  while ((2 << l) <= p) ++l;
  return l;
}

// Flat algorithms over P ranks on one link level, n bytes.
double ring(const Level& k, double g, int p, double n) {
  if (p == 1) return 0;
  return 2.0 * (p - 1) * (k.alpha + n / p * k.beta) + (p - 1.0) / p * n * g;
}

// A round's message above this is not pipelined into the next round and tends to arrive before
// its receive is posted, so the transport buffers and copies it once more (measured: hd at
// 8 MiB x 4 ranks ran ~2x its model). Charged as one more pass over the bytes.
constexpr double kLargeMessage = 1 << 20;

double hd(const Level& k, double g, int p, double n) {
  if (p == 1) return 0;
  const int p2 = 1 << log2_floor(p);
  double t =
      2.0 * log2_floor(p) * k.alpha + 2.0 * (p2 - 1) / p2 * n * k.beta + (p2 - 1.0) / p2 * n * g;
  if (n / 2 > kLargeMessage) t += 2.0 * (p2 - 1) / p2 * n * k.beta;
  if (p2 != p) t += 2 * (k.alpha + n * k.beta) + n * g;  // fold and unfold
  return t;
}

double rd(const Level& k, double g, int p, double n) {
  if (p == 1) return 0;
  const int p2 = 1 << log2_floor(p);
  double t = log2_floor(p) * (k.alpha + n * k.beta * (n > kLargeMessage ? 2 : 1) + n * g);
  if (p2 != p) t += 2 * (k.alpha + n * k.beta) + n * g;
  return t;
}

double direct(const Level& k, double g, int p, double n) {
  if (p == 1) return 0;
  // One round, but P-1 messages leave and arrive at every rank and all of them are reduced.
  return k.alpha * (1 + (p - 2) * kOverheadShare) + (p - 1) * n * (k.beta + g);
}

// Two trees, each carrying n/2 in k chunks of c bytes: per phase a pipeline fill of depth d-1
// steps, the average rank's share of the traffic ((P-1)/P of n, like the ring: inner nodes of
// one tree are mostly leaves of the other), and the sender overhead of ~3 messages per chunk.
// Returns the time and sets the chunk that minimizes it.
double tree(const Level& k, double g, int p, double n, std::size_t* chunk) {
  if (p == 1) return 0;
  const double d = log2_floor(p) + 1, o = kOverheadShare * k.alpha;
  double c = std::sqrt(1.5 * n * o / (std::max(1.0, d - 1) * k.beta));
  c = std::clamp(c, 4096.0, std::max(4096.0, n / 2));
  *chunk = static_cast<std::size_t>(c);
  const double chunks = std::ceil(n / 2 / c);
  const double phase = (d - 1) * (k.alpha + std::min(c, n / 2) * k.beta) +
                       (p - 1.0) / p * n * k.beta + 3 * chunks * o + k.alpha;
  return 2 * phase + n * g;
}

}  // namespace

CostModel CostModel::from_config(const Config& c) {
  CostModel m;
  m.inter = level_of(c.cost_inter);
  m.intra = c.transport == TransportKind::kTcp ? m.inter : level_of(c.cost_intra);
  m.gamma = 1.0 / (c.cost_reduce_gbps * 1e9);
  return m;
}

std::vector<int> Layout::host_of(const std::vector<int>& reported, int ranks_per_host) {
  if (ranks_per_host <= 0) return reported;
  std::vector<int> out(reported.size());
  for (std::size_t r = 0; r < out.size(); ++r) out[r] = static_cast<int>(r) / ranks_per_host;
  return out;
}

Layout Layout::of(const std::vector<int>& host_of) {
  Layout l;
  l.size = std::max<int>(1, static_cast<int>(host_of.size()));
  std::map<int, int> count;
  for (int h : host_of) ++count[h];
  l.hosts = std::max<int>(1, static_cast<int>(count.size()));
  l.per_host = count.empty() ? 1 : count.begin()->second;
  for (const auto& [h, n] : count) {
    if (n != l.per_host) l.per_host = 0;
  }
  return l;
}

std::optional<Prediction> predict(Algo a, const CostModel& m, const Layout& l, std::size_t bytes,
                                  std::size_t chunk_bytes) {
  const double n = static_cast<double>(bytes), g = m.gamma;
  const int p = l.size;
  // A flat algorithm over several hosts runs at the pace of its slowest link.
  const Level& flat = l.hosts > 1 ? m.inter : m.intra;
  Prediction out;
  out.algo = a;
  out.chunk_bytes = chunk_bytes;
  switch (a) {
    case Algo::kRing:
      out.seconds = ring(flat, g, p, n);
      break;
    case Algo::kHd:
      out.seconds = hd(flat, g, p, n);
      break;
    case Algo::kRd:
      out.seconds = rd(flat, g, p, n);
      break;
    case Algo::kDirect:
      out.seconds = direct(flat, g, p, n);
      break;
    case Algo::kTree:
      out.seconds = tree(flat, g, p, n, &out.chunk_bytes);
      break;
    case Algo::kHier: {
      if (l.hosts < 2 || l.per_host < 2) return std::nullopt;
      const int L = l.per_host, H = l.hosts;
      const double part = n / L;
      const double local = ring(m.intra, g, L, n);  // reduce-scatter + all-gather
      double best = 1e300;
      for (Algo in : {Algo::kRing, Algo::kHd, Algo::kRd, Algo::kTree}) {
        std::size_t c = chunk_bytes;
        double t = 0;
        if (in == Algo::kRing) t = ring(m.inter, g, H, part);
        if (in == Algo::kHd) t = hd(m.inter, g, H, part);
        if (in == Algo::kRd) t = rd(m.inter, g, H, part);
        if (in == Algo::kTree) t = tree(m.inter, g, H, part, &c);
        if (t < best) best = t, out.inter = in, out.chunk_bytes = c;
      }
      out.seconds = local + best;
      break;
    }
  }
  return out;
}

Decision choose(const CostModel& m, const Layout& l, std::size_t bytes, std::size_t chunk_bytes,
                std::optional<Algo> forced) {
  Decision d;
  for (Algo a : kAllAlgos) {
    if (auto p = predict(a, m, l, bytes, chunk_bytes)) d.all.push_back(*p);
  }
  d.chosen = d.all.front();
  for (const Prediction& p : d.all) {
    if (p.seconds < d.chosen.seconds) d.chosen = p;
  }
  if (forced) {
    d.forced = true;
    auto it = std::find_if(d.all.begin(), d.all.end(),
                           [&](const Prediction& p) { return p.algo == *forced; });
    if (it != d.all.end()) {
      d.chosen = *it;
    } else {  // kHier on a single host: still build it (it falls back where it must)
      d.chosen = Prediction{*forced, Algo::kRing, chunk_bytes, 0};
    }
  }
  return d;
}

std::string Decision::describe(std::size_t bytes, int ranks) const {
  auto size = [](std::size_t b) {
    if (b >= (1u << 20) && b % (1u << 20) == 0) return fmt::format("{} MiB", b >> 20);
    if (b >= 1024 && b % 1024 == 0) return fmt::format("{} KiB", b >> 10);
    return fmt::format("{} B", b);
  };
  auto name = [](const Prediction& p) {
    return p.algo == Algo::kHier ? fmt::format("hier/{}", algo_name(p.inter))
                                 : std::string(algo_name(p.algo));
  };
  std::string others;
  for (const Prediction& p : all) {
    if (p.algo == chosen.algo) continue;
    others += fmt::format("{}{} {:.0f} us", others.empty() ? "" : ", ", name(p), p.seconds * 1e6);
  }
  return fmt::format("all_reduce {} x {} ranks -> {} ({}predicted {:.0f} us, chunk {}; {})",
                     size(bytes), ranks, name(chosen), forced ? "forced by RAILCC_ALGO; " : "",
                     chosen.seconds * 1e6, size(chosen.chunk_bytes), others);
}

}  // namespace railcc::algo
