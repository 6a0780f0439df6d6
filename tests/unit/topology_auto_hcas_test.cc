// Tests for the verbs transport's ports from the rail plan (src/topology/auto_hcas.cc): on the
// real topology files, every local rank gets the RDMA devices on the NICs expected.json pairs
// with its GPU, preferred first; devices are found by name (hwloc OpenFabrics names) or by PCI
// function (NCCL files); NICs that are not devices here are skipped, never an error.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/topology/auto_hcas.h"
#include "src/topology/machine_loader.h"
#include "src/topology/rail_plan.h"
#include "tests/unit/expected_pairing.h"

namespace railcc::topology {
namespace {

const std::string kData = RAILCC_TEST_TOPOLOGIES;

struct Loaded {
  Machine machine;
  RailPlan plan;
};

Loaded Load(const std::string& path) {
  Machine m = load_machine_file(path);
  RailPlan plan = build_rail_plan(m);
  return {std::move(m), std::move(plan)};
}

// A host with an RDMA device "hcaK" on the PCI function of every plan NIC K (no name in
// common with the NIC, so only the PCI match can find it). `by_device` maps back to NIC names.
std::vector<RdmaDevice> OnePerNic(const RailPlan& plan,
                                  std::map<std::string, std::string>& nic_of) {
  std::vector<RdmaDevice> out;
  for (std::size_t k = 0; k < plan.nics.size(); ++k) {
    if (!plan.nics[k].pci) continue;
    out.push_back({fmt::format("hca{}", k), plan.nics[k].pci});
    nic_of[out.back().name] = plan.nics[k].name;
  }
  return out;
}

// Every file of expected.json whose NICs have bus ids: local rank r gets the devices on exactly
// the NICs nearest GPU r, the preferred one as rail 0.
TEST(TopologyAutoHcas, EveryRankGetsTheHcasOfItsGpu) {
  std::ifstream in(kData + "/expected.json");
  ASSERT_TRUE(in) << kData << "/expected.json";
  const nlohmann::json expected = nlohmann::json::parse(in);
  int files = 0;
  for (const auto& [file, want] : expected.items()) {
    SCOPED_TRACE(file);
    const Loaded t = Load(kData + "/" + file);
    if (t.plan.nics.empty()) continue;
    ++files;
    std::map<std::string, std::string> nic_of;
    const auto host = OnePerNic(t.plan, nic_of);
    const auto& gpus = want.at("gpus");
    for (std::size_t r = 0; r < gpus.size(); ++r) {
      SCOPED_TRACE("local rank " + std::to_string(r));
      const AutoHcas a =
          choose_auto_hcas(t.machine, t.plan, static_cast<int>(r), std::nullopt, host);
      EXPECT_EQ(a.gpu, static_cast<int>(r));
      std::vector<std::string> nics;
      for (const AutoHca& h : a.ports) {
        EXPECT_EQ(h.port, 1);
        EXPECT_EQ(nic_of[h.device], h.nic);
        nics.push_back(h.nic);
      }
      test::ExpectPlannedNics(nics, gpus[r]);
      EXPECT_TRUE(a.skipped.empty());
    }
  }
  EXPECT_GE(files, 5);
}

// hwloc names the NIC after its OpenFabrics device: found by name, no bus id needed.
TEST(TopologyAutoHcas, HwlocOpenFabricsNameIsTheDevice) {
  const Loaded t = Load(kData + "/hwloc-v2-2xXeon-3gpu-mlx4.xml");
  const AutoHcas a = choose_auto_hcas(t.machine, t.plan, 2, std::nullopt, {{"mlx4_0", {}}});
  ASSERT_EQ(a.ports.size(), 1u);
  EXPECT_EQ(a.ports[0].device, "mlx4_0");
  EXPECT_EQ(a.describe("file x.xml"),
            "ports from topology rail plan (file x.xml): mlx4_0:1 nearest GPU 2");
}

// NICs that are not RDMA devices of this host are skipped and said so; none left is no error.
TEST(TopologyAutoHcas, NicsThatAreNotDevicesAreSkipped) {
  const Loaded t = Load(kData + "/azure-ndv4-nccl.xml");
  const std::vector<RdmaDevice> host = {{"mlx5_0", PciAddress::parse("0104:00:00.0")}};
  const AutoHcas a = choose_auto_hcas(t.machine, t.plan, 2, std::nullopt, host);
  ASSERT_EQ(a.ports.size(), 1u);
  EXPECT_EQ(a.ports[0].device, "mlx5_0");
  EXPECT_EQ(a.ports[0].nic, "0104:00:00.0");
  EXPECT_EQ(a.skipped, std::vector<std::string>{"0103:00:00.0 (not an RDMA device of this host)"});
  EXPECT_TRUE(choose_auto_hcas(t.machine, t.plan, 0, std::nullopt, host).ports.empty());
}

// Without a GPU (CUDA_VISIBLE_DEVICES=""), local rank r takes NIC r mod the NIC count.
TEST(TopologyAutoHcas, WithoutGpuTheBindingsNic) {
  const Loaded t = Load(kData + "/azure-ndv5-nccl.xml");
  std::map<std::string, std::string> nic_of;
  const auto host = OnePerNic(t.plan, nic_of);
  const AutoHcas a = choose_auto_hcas(t.machine, t.plan, 9, std::string(), host);
  EXPECT_EQ(a.gpu, -1);
  ASSERT_EQ(a.ports.size(), 1u);
  EXPECT_EQ(a.ports[0].nic, t.plan.nics[9 % t.plan.nics.size()].name);
  EXPECT_NE(a.describe("hwloc").find("picked for local rank 9 (no GPU)"), std::string::npos);
}

}  // namespace
}  // namespace railcc::topology
