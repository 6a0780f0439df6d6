// α-β-γ cost model of the all_reduce algorithms, per level (inside a host over shared memory,
// between hosts over the network): α = per-message latency, β = seconds per byte on a link,
// γ = seconds per byte reduced. The selector (select.h) and railcc-sim use the same formulas.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "railcc/config.hpp"
#include "src/algorithms/algorithms.h"

namespace railcc::algo {

// Share of α that is per-message CPU overhead on the sender (LogP's o): it serializes the
// messages one rank posts at once (direct), while the rest of α overlaps.
inline constexpr double kOverheadShare = 0.25;

struct Level {
  double alpha = 0;  // seconds
  double beta = 0;   // seconds per byte
};

struct CostModel {
  Level intra, inter;
  double gamma = 0;  // seconds per byte reduced
  // From RAILCC_COST_*; under RAILCC_TRANSPORT=tcp, ranks on one host also talk over tcp.
  static CostModel from_config(const Config& c);
};

// How the ranks sit on hosts.
struct Layout {
  int size = 1;
  int hosts = 1;
  int per_host = 1;  // ranks per host; 0 when hosts hold different numbers
  // Host index of each rank: from host ids, or blocks of ranks_per_host when that is set.
  static std::vector<int> host_of(const std::vector<int>& reported, int ranks_per_host);
  static Layout of(const std::vector<int>& host_of);
};

struct Prediction {
  Algo algo = Algo::kRing;
  Algo inter = Algo::kRing;     // inner algorithm of kHier
  std::size_t chunk_bytes = 0;  // pipeline chunk the algorithm should use
  double seconds = 0;
};

// Predicted time of one algorithm, or nullopt where it does not apply (kHier on one host).
std::optional<Prediction> predict(Algo a, const CostModel& m, const Layout& l, std::size_t bytes,
                                  std::size_t chunk_bytes);

struct Decision {
  Prediction chosen;
  std::vector<Prediction> all;  // every applicable algorithm, for the log
  bool forced = false;
  std::string describe(std::size_t bytes, int ranks) const;
};

// The cheapest algorithm, or `forced` (still predicted, for the log).
Decision choose(const CostModel& m, const Layout& l, std::size_t bytes, std::size_t chunk_bytes,
                std::optional<Algo> forced);

}  // namespace railcc::algo
