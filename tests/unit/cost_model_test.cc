// The algorithm selector: picks the cheapest prediction, honours RAILCC_ALGO, knows where the
// hierarchical algorithm applies, and explains itself in one line.
#include "src/algorithms/cost_model.h"

#include <gtest/gtest.h>

namespace railcc::algo {
namespace {

CostModel model() {
  Config c;
  c.cost_intra = {2.0, 10.0};
  c.cost_inter = {20.0, 1.0};
  c.cost_reduce_gbps = 10;
  return CostModel::from_config(c);
}

TEST(CostModel, LayoutFromHostsOrRanksPerHost) {
  EXPECT_EQ(Layout::host_of({0, 0, 1, 1}, 0), (std::vector<int>{0, 0, 1, 1}));
  EXPECT_EQ(Layout::host_of({0, 0, 0, 0, 0}, 2), (std::vector<int>{0, 0, 1, 1, 2}));
  const Layout even = Layout::of({0, 0, 1, 1});
  EXPECT_EQ(even.hosts, 2);
  EXPECT_EQ(even.per_host, 2);
  EXPECT_EQ(Layout::of({0, 0, 1}).per_host, 0);  // uneven
}

TEST(CostModel, LatencyBoundSmallBandwidthBoundLarge) {
  const Layout one = Layout::of(std::vector<int>(16, 0));
  const Decision small = choose(model(), one, 64, 512 << 10, std::nullopt);
  const Decision large = choose(model(), one, 256u << 20, 512 << 10, std::nullopt);
  for (const Prediction& p : small.all) EXPECT_GE(p.seconds, small.chosen.seconds);
  for (const Prediction& p : large.all) EXPECT_GE(p.seconds, large.chosen.seconds);
  EXPECT_NE(small.chosen.algo, Algo::kRing);  // 2(P-1) latencies are never best for 64 B
  EXPECT_TRUE(large.chosen.algo == Algo::kRing || large.chosen.algo == Algo::kHd);
}

TEST(CostModel, HierOnlyAcrossEvenHostsAndPreferredThere) {
  EXPECT_FALSE(predict(Algo::kHier, model(), Layout::of({0, 0, 0, 0}), 1 << 20, 1 << 19));
  EXPECT_FALSE(predict(Algo::kHier, model(), Layout::of({0, 0, 1}), 1 << 20, 1 << 19));
  std::vector<int> hosts;
  for (int r = 0; r < 32; ++r) hosts.push_back(r / 8);
  const Decision d = choose(model(), Layout::of(hosts), 64u << 20, 512 << 10, std::nullopt);
  EXPECT_EQ(d.chosen.algo, Algo::kHier) << d.describe(64u << 20, 32);
}

TEST(CostModel, ForcedAlgorithmIsKeptAndExplained) {
  const Layout l = Layout::of(std::vector<int>(8, 0));
  const Decision d = choose(model(), l, 4u << 20, 512 << 10, Algo::kTree);
  EXPECT_EQ(d.chosen.algo, Algo::kTree);
  const std::string line = d.describe(4u << 20, 8);
  EXPECT_NE(line.find("all_reduce 4 MiB x 8 ranks -> tree"), std::string::npos) << line;
  EXPECT_NE(line.find("forced by RAILCC_ALGO"), std::string::npos) << line;
  EXPECT_NE(line.find("ring"), std::string::npos) << line;  // the alternatives are listed
  EXPECT_EQ(parse_algo("hd"), Algo::kHd);
  EXPECT_FALSE(parse_algo("auto"));
}

}  // namespace
}  // namespace railcc::algo
