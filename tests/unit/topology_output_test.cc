// Tests for what railcc-topo prints (src/topology/plan_json.cc, plan_text.cc): the JSON fields
// promised in the issue, nulls for unknown values, and the human-readable tables.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/topology/machine_loader.h"
#include "src/topology/plan_json.h"
#include "src/topology/plan_text.h"
#include "src/topology/rail_plan.h"
#include "src/topology/rank_binding.h"

namespace railcc::topology {
namespace {

using nlohmann::json;
const std::string kData = RAILCC_TEST_TOPOLOGIES;

struct Loaded {
  Machine machine;
  RailPlan plan;
  std::vector<RankBinding> ranks;
};

Loaded Load(const Machine& m, int ranks) {
  Loaded l{m, build_rail_plan(m), {}};
  for (int r = 0; r < ranks; ++r) l.ranks.push_back(bind_local_rank(m, l.plan, r, std::nullopt));
  return l;
}

TEST(TopologyOutput, JsonHasThePromisedFields) {
  const Loaded l = Load(load_machine_file(kData + "/hwloc-v2-2xXeon-3gpu-mlx4.xml"), 2);
  const json j = json::parse(rail_plan_json(l.machine, l.plan, l.ranks));
  EXPECT_EQ(j.at("format"), "hwloc-v2");
  EXPECT_EQ(j.at("gpus").size(), 3u);
  const json& g0 = j.at("gpus")[0];
  EXPECT_EQ(g0.at("index"), 0);
  EXPECT_EQ(g0.at("pci"), "0000:06:00.0");
  EXPECT_EQ(g0.at("numa"), 0);
  EXPECT_EQ(g0.at("nics"), json::array({"mlx4_0"}));
  EXPECT_EQ(g0.at("preferred"), "mlx4_0");
  EXPECT_EQ(g0.at("hops"), 4);
  EXPECT_EQ(g0.at("link"), "4.0 GB/s");
  EXPECT_EQ(j.at("gpus")[2].at("numa"), 1);
  ASSERT_EQ(j.at("nics").size(), 1u);
  const json& n = j.at("nics")[0];
  EXPECT_EQ(n.at("name"), "mlx4_0");
  EXPECT_EQ(n.at("pci"), "0000:05:00.0");
  EXPECT_EQ(n.at("numa"), 0);
  EXPECT_TRUE(n.at("speed_gbps").is_null());  // an XML file does not say
  EXPECT_EQ(n.at("rdma"), true);
  EXPECT_EQ(n.at("aliases"), json::array({"mlx4_0", "eth2", "ib0"}));
  ASSERT_EQ(j.at("ignored_nics").size(), 2u);
  EXPECT_EQ(j.at("ignored_nics")[0].at("name"), "eth0");
  EXPECT_EQ(j.at("machine").at("cpu_count"), 24);
  EXPECT_EQ(j.at("machine").at("cores"), 12);
  EXPECT_EQ(j.at("machine").at("numa_nodes")[1].at("cpus"), "1,3,5,7,9,11,13,15,17,19,21,23");
  ASSERT_EQ(j.at("ranks").size(), 2u);
  EXPECT_EQ(j.at("ranks")[1].at("gpu"), 1);
  EXPECT_EQ(j.at("ranks")[1].at("nic"), "mlx4_0");
  EXPECT_EQ(j.at("ranks")[1].at("cores"), 6);
}

TEST(TopologyOutput, JsonUsesNullForWhatIsUnknown) {
  const Loaded l = Load(load_machine_file(kData + "/hwloc-v2-power8-4gpu-nonic.xml"), 1);
  const json j = json::parse(rail_plan_json(l.machine, l.plan, l.ranks));
  const json& g = j.at("gpus")[3];
  EXPECT_EQ(g.at("nics"), json::array());
  EXPECT_TRUE(g.at("preferred").is_null());
  EXPECT_TRUE(g.at("level").is_null());
  EXPECT_EQ(g.at("uuid"), "GPU-93f5db36-624e-1453-40ab-85cc675aa903");
  EXPECT_TRUE(j.at("ranks")[0].at("nic").is_null());
  EXPECT_EQ(j.at("nics"), json::array());
}

TEST(TopologyOutput, NcclSpeedsAndUnstatedSockets) {
  const Loaded l = Load(load_machine_xml("<system version=\"1\"><cpu numaid=\"3\" affinity=\"f\">"
                                         "<pci busid=\"0000:07:00.0\" class=\"0x020700\"><nic>"
                                         "<net name=\"mlx5_0\" speed=\"200000\"/></nic></pci>"
                                         "</cpu></system>",
                                         "s.xml"),
                        1);
  const json j = json::parse(rail_plan_json(l.machine, l.plan, l.ranks));
  EXPECT_EQ(j.at("nics")[0].at("speed_gbps"), 200);
  EXPECT_EQ(j.at("nics")[0].at("numa"), 3);  // the file's numaid, not a position
  EXPECT_EQ(j.at("machine").at("packages_stated"), false);
  EXPECT_TRUE(j.at("machine").at("cores").is_null());
  EXPECT_EQ(j.at("ranks")[0].at("nic"), "mlx5_0");  // CPU-only rank still gets a NIC
}

TEST(TopologyOutput, TextTablesForGpusNicsAndRanks) {
  const Loaded l = Load(load_machine_file(kData + "/azure-ndv4-nccl.xml"), 8);
  const std::string t = rail_plan_text(l.machine, l.plan, l.ranks);
  EXPECT_NE(t.find("4 package(s) (one per NCCL <cpu>"), std::string::npos) << t;
  EXPECT_NE(t.find("GPUs: 8\n"), std::string::npos) << t;
  EXPECT_NE(t.find("  GPU  PCI           NUMA  NIC(s)                     distance  preferred"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("  1    0002:00:00.0  1     0101:00:00.0,0102:00:00.0  PIX/PXB   "
                   "0102:00:00.0  16 GT/s x16\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("NICs: 8 (no RDMA NIC found; plain network devices)"), std::string::npos);
  EXPECT_NE(t.find("Local ranks:"), std::string::npos);
  EXPECT_NE(t.find("  7           7 (000e:00:00.0)  0108:00:00.0  48-71"), std::string::npos) << t;

  const Loaded p8 = Load(load_machine_file(kData + "/hwloc-v2-power8-4gpu-nonic.xml"), 0);
  const std::string t8 = rail_plan_text(p8.machine, p8.plan, p8.ranks);
  EXPECT_NE(t8.find("NICs: none found"), std::string::npos) << t8;
  EXPECT_NE(t8.find("  3    000b:01:00.0  1     (none)  -"), std::string::npos) << t8;
  EXPECT_EQ(t8.find("Local ranks:"), std::string::npos);  // no bindings asked for
}

TEST(TopologyOutput, CpuOnlyMachineSaysSo) {
  const Loaded l =
      Load(load_machine_xml("<system><cpu numaid=\"0\" affinity=\"3\"/></system>", "cpu.xml"), 1);
  const std::string t = rail_plan_text(l.machine, l.plan, l.ranks);
  EXPECT_NE(t.find("GPUs: none found; this is a CPU-only plan."), std::string::npos) << t;
  EXPECT_NE(t.find("NICs: none found"), std::string::npos) << t;
  EXPECT_NE(t.find("  0           none  none  0-1"), std::string::npos) << t;
}

}  // namespace
}  // namespace railcc::topology
