// What the multi-process verbs tests share: the job settings that make modest sizes wrap rings
// and stripe over rails, a fixture with two emulated devices, and checked all_reduce rounds.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "railcc/railcc.hpp"
#include "tests/mp/harness.h"
#include "tests/verbs/fake_verbs.h"
#include "transport/verbs/verbs_api.h"

namespace railcc::test {

inline JobOptions verbs_job(const std::string& hca) {
  JobOptions opt;
  opt.env["RAILCC_TRANSPORT"] = "verbs";
  opt.env["RAILCC_IB_HCA"] = hca;
  // Small rings and chunks, so modest sizes wrap rings, exhaust credits and stripe over rails.
  opt.env["RAILCC_IB_RING_BYTES"] = "64K";
  opt.env["RAILCC_RAIL_CHUNK_BYTES"] = "8K";
  opt.env["RAILCC_CHUNK_BYTES"] = "16K";
  opt.env["RAILCC_SMALL_MSG_BYTES"] = "2K";
  opt.env["RAILCC_TIMEOUT"] = "60";
  opt.limit = std::chrono::seconds(100);
  return opt;
}

class VerbsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeVerbsOptions o;
    o.devices = {"fake0", "fake1"};
    FakeVerbs::install(o);
  }
  void TearDown() override { FakeVerbs::uninstall(); }
};

inline FakeVerbs& fake() { return static_cast<FakeVerbs&>(transport::verbs::verbs_api()); }

// Sums a pattern over several sizes (some striped over rails) and checks every element.
inline void all_reduce_rounds(Communicator& c, int rounds) {
  const int n = c.size();
  for (int round = 0; round < rounds; ++round) {
    const std::size_t count = 1000 + 37'000 * (round % 4);
    std::vector<int64_t> v(count);
    std::iota(v.begin(), v.end(), int64_t{c.rank()} + round);
    c.all_reduce(v.data(), v.data(), count, DataType::kInt64, ReduceOp::kSum).wait();
    for (std::size_t i = 0; i < count; ++i) {
      const int64_t want =
          static_cast<int64_t>(n) * static_cast<int64_t>(i + round) + int64_t{n} * (n - 1) / 2;
      CHECK(v[i] == want, "round {} element {}: {} != {}", round, i, v[i], want);
    }
  }
}

}  // namespace railcc::test
