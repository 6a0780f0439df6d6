// Which RDMA ports a rank opens without RAILCC_IB_HCA: the HCAs the topology rail plan puts
// nearest its GPU (verbs_port_plan.h), matched to the test double's devices by name (hwloc
// files) or by PCI bus id (NCCL files); RAILCC_IB_HCA overriding it; and the old default (every
// ACTIVE port) when there is no plan for this host.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "railcc/config.hpp"
#include "railcc/status.hpp"
#include "src/common/log.h"
#include "tests/verbs/fake_verbs.h"
#include "transport/verbs/verbs_port.h"

namespace railcc::test {
namespace {

using transport::verbs::open_verbs_ports;
using transport::verbs::VerbsPorts;

const std::string kData = RAILCC_TEST_DATA;
const std::string kFourHcas = kData + "/verbs-4gpu-4hca.xml";

class VerbsPortPlan : public ::testing::Test {
 protected:
  void SetUp() override { install({}); }
  void TearDown() override { FakeVerbs::uninstall(); }

  void install(std::map<std::string, std::string> pci) {
    FakeVerbsOptions o;
    o.devices = {"mlx5_0", "mlx5_1", "mlx5_2", "mlx5_3"};
    o.pci = std::move(pci);
    fake_ = &FakeVerbs::install(o);
  }

  static Config config(std::map<std::string, std::string> env, int local_rank) {
    Config c = Config::from_map(env);
    c.launch.local_rank = local_rank;
    return c;
  }

  static std::vector<std::string> hcas(const VerbsPorts& p) {
    std::vector<std::string> out;
    for (const auto& port : p.ports)
      out.push_back(port->hca() + ":" + std::to_string(port->port()));
    return out;
  }

  FakeVerbs* fake_ = nullptr;
};

using Names = std::vector<std::string>;

TEST_F(VerbsPortPlan, EachLocalRankGetsTheHcaNearestItsGpu) {
  const std::map<int, std::string> expected = {
      {0, "mlx5_2"}, {1, "mlx5_3"}, {2, "mlx5_0"}, {3, "mlx5_1"}};
  for (const auto& [k, hca] : expected) {
    const VerbsPorts p = open_verbs_ports(config({{"RAILCC_TOPO_FILE", kFourHcas}}, k), k);
    EXPECT_EQ(hcas(p), Names{hca + ":1"}) << "local rank " << k;
    EXPECT_EQ(p.source, "ports from topology rail plan (file " + kFourHcas + "): " + hca +
                            ":1 nearest GPU " + std::to_string(k));
  }
  // Ranks beyond the GPUs share them round-robin (bind_local_rank): local rank 6 is on GPU 2.
  EXPECT_EQ(hcas(open_verbs_ports(config({{"RAILCC_TOPO_FILE", kFourHcas}}, 6), 6)),
            Names{"mlx5_0:1"});
  // CUDA_VISIBLE_DEVICES renumbers: local rank 0 that sees only GPU 3 uses GPU 3's HCA.
  EXPECT_EQ(hcas(open_verbs_ports(
                config({{"RAILCC_TOPO_FILE", kFourHcas}, {"CUDA_VISIBLE_DEVICES", "3"}}, 0), 0)),
            Names{"mlx5_1:1"});
}

TEST_F(VerbsPortPlan, TiedHcasAreAllRailsPreferredFirst) {
  // One GPU between two HCAs behind the same switch: both are rails, the preferred one first.
  const VerbsPorts p =
      open_verbs_ports(config({{"RAILCC_TOPO_FILE", kData + "/rails-auto-lo.xml"}}, 0), 0);
  EXPECT_EQ(hcas(p), (Names{"mlx5_0:1", "mlx5_1:1"}));
  EXPECT_NE(p.source.find("mlx5_0:1,mlx5_1:1 nearest GPU 0"), std::string::npos) << p.source;
}

TEST_F(VerbsPortPlan, NcclFileMatchesHcasByPciBusId) {
  // Azure NDv4 names its NICs by bus id only; GPUs 0-3 pair with NICs 0101-0104 two by two.
  install({{"mlx5_0", "0101:00:00.0"},
           {"mlx5_1", "0102:00:00.0"},
           {"mlx5_2", "0103:00:00.0"},
           {"mlx5_3", "0104:00:00.0"}});
  const std::string ndv4 = kData + "/topologies/azure-ndv4-nccl.xml";
  EXPECT_EQ(hcas(open_verbs_ports(config({{"RAILCC_TOPO_FILE", ndv4}}, 0), 0)),
            (Names{"mlx5_0:1", "mlx5_1:1"}));
  EXPECT_EQ(hcas(open_verbs_ports(config({{"RAILCC_TOPO_FILE", ndv4}}, 1), 1)),
            (Names{"mlx5_1:1", "mlx5_0:1"}));
  EXPECT_EQ(hcas(open_verbs_ports(config({{"RAILCC_TOPO_FILE", ndv4}}, 3), 3)),
            (Names{"mlx5_3:1", "mlx5_2:1"}));
  // GPU 4's NICs (0105, 0106) are not devices of this host: every ACTIVE port, and why.
  const VerbsPorts p = open_verbs_ports(config({{"RAILCC_TOPO_FILE", ndv4}}, 4), 4);
  EXPECT_EQ(hcas(p), (Names{"mlx5_0:1", "mlx5_1:1", "mlx5_2:1", "mlx5_3:1"}));
  EXPECT_NE(p.source.find("nearest GPU 4; skipped 0105:00:00.0 (not an RDMA device of this host)"),
            std::string::npos)
      << p.source;
  EXPECT_TRUE(p.source.ends_with(": all active ports")) << p.source;
}

TEST_F(VerbsPortPlan, IbHcaOverridesThePlan) {
  const VerbsPorts p = open_verbs_ports(
      config({{"RAILCC_TOPO_FILE", kFourHcas}, {"RAILCC_IB_HCA", "mlx5_3,mlx5_0"}}, 0), 0);
  EXPECT_EQ(hcas(p), (Names{"mlx5_3:1", "mlx5_0:1"}));
  EXPECT_EQ(p.source, "ports from RAILCC_IB_HCA: mlx5_3:1,mlx5_0:1");
}

TEST_F(VerbsPortPlan, NoTopologyNicMeansEveryActivePort) {
  const VerbsPorts p = open_verbs_ports(
      config({{"RAILCC_TOPO_FILE", kData + "/topologies/hwloc-v2-power8-4gpu-nonic.xml"}}, 2), 2);
  EXPECT_EQ(hcas(p), (Names{"mlx5_0:1", "mlx5_1:1", "mlx5_2:1", "mlx5_3:1"}));
  EXPECT_TRUE(p.source.starts_with("no topology NIC")) << p.source;
  EXPECT_TRUE(p.source.ends_with(": all active ports")) << p.source;
}

TEST_F(VerbsPortPlan, LiveHostWithoutTheseHcasMeansEveryActivePort) {
  // No RAILCC_TOPO_FILE: hwloc describes this machine, which has none of the fake HCAs.
  const VerbsPorts p = open_verbs_ports(config({}, 1), 1);
  EXPECT_EQ(hcas(p), (Names{"mlx5_0:1", "mlx5_1:1", "mlx5_2:1", "mlx5_3:1"}));
  EXPECT_TRUE(p.source.ends_with(": all active ports")) << p.source;
}

TEST_F(VerbsPortPlan, PlannedPortThatIsDownFallsBackToActivePorts) {
  fake_->set_port_down("mlx5_2", true);
  const VerbsPorts p = open_verbs_ports(config({{"RAILCC_TOPO_FILE", kFourHcas}}, 0), 0);
  EXPECT_EQ(hcas(p), (Names{"mlx5_0:1", "mlx5_1:1", "mlx5_3:1"}));
  EXPECT_NE(p.source.find("none of them is ACTIVE"), std::string::npos) << p.source;
  fake_->set_port_down("mlx5_2", false);
}

TEST_F(VerbsPortPlan, UnreadableTopologyFileIsAnError) {
  try {
    open_verbs_ports(config({{"RAILCC_TOPO_FILE", "/nonexistent/topo.xml"}}, 0), 0);
    ADD_FAILURE() << "a missing RAILCC_TOPO_FILE was ignored";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/topo.xml"), std::string::npos) << e.what();
  }
}

TEST_F(VerbsPortPlan, InitLogSaysWhichSourceChoseThePorts) {
  log::configure(Config::from_map({{"RAILCC_DEBUG", "init"}}));
  ::testing::internal::CaptureStderr();
  open_verbs_ports(config({{"RAILCC_TOPO_FILE", kFourHcas}}, 2), 2);
  open_verbs_ports(config({{"RAILCC_IB_HCA", "mlx5_1"}}, 0), 0);
  const std::string err = ::testing::internal::GetCapturedStderr();
  log::configure(Config::from_map({}));
  EXPECT_NE(err.find("verbs ports from topology rail plan (file " + kFourHcas +
                     "): mlx5_0:1 nearest GPU 2"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("verbs ports from RAILCC_IB_HCA: mlx5_1:1"), std::string::npos) << err;
}

}  // namespace
}  // namespace railcc::test
