// Tests for rank -> GPU -> NIC -> CPUs (src/topology/visible_gpus.cc, rank_binding.cc):
// CUDA_VISIBLE_DEVICES with ordinals, UUIDs and CUDA's stop-at-the-first-bad-entry rule, local
// ranks beyond the GPU count, CPU-only machines, and the CPUs chosen for the progress thread.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "railcc/config.hpp"
#include "railcc/status.hpp"
#include "src/topology/machine_loader.h"
#include "src/topology/rail_plan.h"
#include "src/topology/rank_binding.h"
#include "src/topology/visible_gpus.h"

namespace railcc::topology {
namespace {

const std::string kData = RAILCC_TEST_TOPOLOGIES;

class TopologyBindingTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    power8_ = new Machine(load_machine_file(kData + "/hwloc-v2-power8-4gpu-nonic.xml"));
    xeon_ = new Machine(load_machine_file(kData + "/hwloc-v2-2xXeon-3gpu-mlx4.xml"));
  }
  static void TearDownTestSuite() {
    delete power8_;
    delete xeon_;
  }
  static std::vector<int> Visible(const Machine& m, std::optional<std::string> cvd) {
    return visible_gpus(build_rail_plan(m), cvd);
  }

  static Machine* power8_;
  static Machine* xeon_;
};
Machine* TopologyBindingTest::power8_ = nullptr;
Machine* TopologyBindingTest::xeon_ = nullptr;

TEST_F(TopologyBindingTest, CudaVisibleDevicesOrdinals) {
  using V = std::vector<int>;
  EXPECT_EQ(Visible(*power8_, std::nullopt), (V{0, 1, 2, 3}));
  EXPECT_EQ(Visible(*power8_, ""), V{});  // set but empty: CUDA shows no GPU
  EXPECT_EQ(Visible(*power8_, "2,0"), (V{2, 0}));
  EXPECT_EQ(Visible(*power8_, " 3 , 1 "), (V{3, 1}));
  // CUDA stops at the first entry that is not a GPU, or that repeats one.
  EXPECT_EQ(Visible(*power8_, "1,7,2"), V{1});
  EXPECT_EQ(Visible(*power8_, "1,-1,2"), V{1});
  EXPECT_EQ(Visible(*power8_, "1,1,2"), V{1});
  EXPECT_EQ(Visible(*power8_, "x"), V{});
}

TEST_F(TopologyBindingTest, CudaVisibleDevicesUuids) {
  using V = std::vector<int>;
  // UUIDs of power8's GPUs come from hwloc's NVML OS devices in the file.
  EXPECT_EQ(Visible(*power8_, "GPU-93f5db36-624e-1453-40ab-85cc675aa903"), V{3});
  EXPECT_EQ(Visible(*power8_, "GPU-ea919830,GPU-77bf"), (V{2, 0}));  // unique prefixes
  EXPECT_EQ(Visible(*power8_, "GPU-"), V{});  // matches all four: ambiguous, so invalid
  EXPECT_THROW(Visible(*power8_, "MIG-GPU-77bf6b9a/1/0"), ConfigError);
  // The Xeon file has no NVML devices, so a UUID cannot be resolved: say so, do not guess.
  try {
    Visible(*xeon_, "GPU-77bf6b9a");
    ADD_FAILURE() << "resolved a UUID without UUIDs";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA_VISIBLE_DEVICES='GPU-77bf6b9a'"), std::string::npos);
  }
}

TEST_F(TopologyBindingTest, RankGetsGpuItsNicAndCpusNearTheNic) {
  const RailPlan plan = build_rail_plan(*xeon_);
  const RankBinding b = bind_local_rank(*xeon_, plan, 1, std::nullopt);
  EXPECT_EQ(b.local_rank, 1);
  EXPECT_EQ(b.gpu, 1);
  ASSERT_GE(b.nic, 0);
  EXPECT_EQ(plan.nics[b.nic].name, "mlx4_0");
  // GPU 1 is on socket 1 but mlx4_0 on socket 0: the progress thread goes next to the NIC.
  EXPECT_EQ(b.cpus.to_list(), "0,2,4,6,8,10,12,14,16,18,20,22");
  EXPECT_EQ(b.cores.size(), 6u);
  for (int c : b.cores) EXPECT_EQ(xeon_->cores[c].package, 0);
}

TEST_F(TopologyBindingTest, VisibleDevicesPickThePhysicalGpu) {
  const RailPlan plan = build_rail_plan(*power8_);
  const RankBinding b = bind_local_rank(*power8_, plan, 1, std::string("2,3"));
  EXPECT_EQ(b.gpu, 3);
  EXPECT_EQ(b.nic, -1);  // no NIC in this machine
  EXPECT_EQ(b.cpus.to_list(), "80-81,88-89,96-97,104-105");
  EXPECT_EQ(b.cores.size(), 4u);
}

TEST_F(TopologyBindingTest, MoreRanksThanGpusShareRoundRobin) {
  const RailPlan plan = build_rail_plan(*power8_);
  EXPECT_EQ(bind_local_rank(*power8_, plan, 5, std::nullopt).gpu, 1);
  EXPECT_EQ(bind_local_rank(*power8_, plan, 4, std::string("3,2")).gpu, 3);
  // Not launched (local rank -1) behaves as local rank 0.
  const RankBinding solo = bind_local_rank(*power8_, plan, -1, std::nullopt);
  EXPECT_EQ(solo.local_rank, 0);
  EXPECT_EQ(solo.gpu, 0);
}

TEST_F(TopologyBindingTest, WithoutVisibleGpusRanksSpreadOverNics) {
  // CUDA_VISIBLE_DEVICES="" hides every GPU: a CPU-only rank still gets a NIC and its CPUs.
  const RailPlan plan = build_rail_plan(*xeon_);
  const RankBinding b = bind_local_rank(*xeon_, plan, 3, std::string(""));
  EXPECT_EQ(b.gpu, -1);
  EXPECT_EQ(b.nic, 0);  // 3 mod 1 NIC
  EXPECT_EQ(b.cpus.to_list(), "0,2,4,6,8,10,12,14,16,18,20,22");
}

TEST_F(TopologyBindingTest, ConfigCarriesCudaVisibleDevicesAndTopoFile) {
  EXPECT_FALSE(Config::from_map({}).cuda_visible_devices.has_value());
  EXPECT_EQ(Config::from_map({{"CUDA_VISIBLE_DEVICES", ""}}).cuda_visible_devices, "");
  EXPECT_EQ(Config::from_map({{"CUDA_VISIBLE_DEVICES", "1,0"}}).cuda_visible_devices, "1,0");
  EXPECT_EQ(Config::from_map({{"RAILCC_TOPO_FILE", "/etc/topo.xml"}}).topo_file, "/etc/topo.xml");
  EXPECT_EQ(Config::from_map({}).topo_file, "");
  const std::string s = Config::from_map({{"CUDA_VISIBLE_DEVICES", "1,0"}}).to_string();
  EXPECT_NE(s.find("CUDA_VISIBLE_DEVICES"), std::string::npos);
  EXPECT_NE(s.find("'1,0'"), std::string::npos);
  EXPECT_NE(s.find("RAILCC_TOPO_FILE"), std::string::npos);
}

}  // namespace
}  // namespace railcc::topology
