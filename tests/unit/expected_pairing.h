// Checks a rank's chosen NICs against one GPU's entry of shared/topologies expected.json
// ({"preferred": nic, "nics": [nic, ...]}): the preferred NIC first, then the same set.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace railcc::test {

inline void ExpectPlannedNics(std::vector<std::string> nics, const nlohmann::json& gpu) {
  ASSERT_FALSE(nics.empty());
  EXPECT_EQ(nics.front(), gpu.at("preferred").get<std::string>());
  std::sort(nics.begin(), nics.end());
  auto want = gpu.at("nics").get<std::vector<std::string>>();
  std::sort(want.begin(), want.end());
  EXPECT_EQ(nics, want);
}

}  // namespace railcc::test
