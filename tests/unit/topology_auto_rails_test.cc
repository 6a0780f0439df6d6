// Tests for RAILCC_RAILS=auto (src/topology/auto_rails.cc): on the real topology files, every
// local rank gets the NIC(s) expected.json pairs with its GPU, preferred first; NICs are found
// on a made-up host by netdev name or by PCI function; NICs without an interface are skipped;
// and a rank left with no NIC or no usable interface gets a ConfigError that says what to set.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "railcc/status.hpp"
#include "src/topology/auto_rails.h"
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

HostInterface Iface(std::string name, std::string ipv4, const char* pci = nullptr) {
  HostInterface i{std::move(name), std::move(ipv4), std::nullopt};
  if (pci) i.pci = PciAddress::parse(pci);
  return i;
}

// A host where every NIC of the plan has an interface on its PCI function (none named like
// the NIC, so only the PCI match can find them), plus loopback.
std::vector<HostInterface> OnePerNic(const RailPlan& plan) {
  std::vector<HostInterface> out{Iface("lo", "127.0.0.1")};
  for (std::size_t k = 0; k < plan.nics.size(); ++k) {
    if (!plan.nics[k].pci) continue;
    out.push_back(Iface(fmt::format("net{}", k), fmt::format("10.0.{}.5", k),
                        plan.nics[k].pci->to_string().c_str()));
  }
  return out;
}

std::vector<std::string> NicNames(const AutoRails& a) {
  std::vector<std::string> out;
  for (const AutoRail& r : a.rails) out.push_back(r.nic);
  return out;
}

// Runs `fn` expecting a ConfigError and returns its message.
template <typename Fn>
std::string ConfigErrorOf(Fn fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected ConfigError";
  return "";
}

// Every file of expected.json with NICs: local rank r (one rank per GPU) gets exactly the NICs
// nearest GPU r, the preferred one as rail 0.
TEST(TopologyAutoRails, EveryRankGetsTheNicsOfItsGpu) {
  std::ifstream in(kData + "/expected.json");
  ASSERT_TRUE(in) << kData << "/expected.json";
  const nlohmann::json expected = nlohmann::json::parse(in);
  int files = 0;
  for (const auto& [file, want] : expected.items()) {
    SCOPED_TRACE(file);
    const Loaded t = Load(kData + "/" + file);
    if (t.plan.nics.empty()) continue;
    ++files;
    const auto host = OnePerNic(t.plan);
    const auto& gpus = want.at("gpus");
    for (std::size_t r = 0; r < gpus.size(); ++r) {
      SCOPED_TRACE("local rank " + std::to_string(r));
      const AutoRails a = choose_auto_rails(t.machine, t.plan, 10 + static_cast<int>(r),
                                            static_cast<int>(r), std::nullopt, host);
      EXPECT_EQ(a.gpu, static_cast<int>(r));
      std::vector<std::string> nics = NicNames(a);
      test::ExpectPlannedNics(nics, gpus[r]);
      EXPECT_TRUE(a.skipped.empty());
    }
  }
  EXPECT_GE(files, 5);
}

// Azure NDv5 (DGX-like, one NIC per GPU): local rank 3 -> GPU 3 -> NIC 0104:00:00.0.
TEST(TopologyAutoRails, Ndv5LocalRank3) {
  const Loaded t = Load(kData + "/azure-ndv5-nccl.xml");
  const auto host = OnePerNic(t.plan);
  const AutoRails a = choose_auto_rails(t.machine, t.plan, 3, 3, std::nullopt, host);
  ASSERT_EQ(a.rails.size(), 1u);
  EXPECT_EQ(a.gpu, 3);
  EXPECT_EQ(a.rails[0].nic, "0104:00:00.0");
  EXPECT_EQ(a.rails[0].ifname, "net3");
  EXPECT_EQ(a.rails[0].name, "net3");
  EXPECT_EQ(a.rails[0].ipv4, "10.0.3.5");
  EXPECT_EQ(a.describe("ndv5.xml"),
            "rails from topology (ndv5.xml): 0104:00:00.0 (net3, 10.0.3.5) nearest GPU 3");
  // CUDA_VISIBLE_DEVICES reorders: local rank 1 of "4,5" drives GPU 5.
  EXPECT_EQ(NicNames(choose_auto_rails(t.machine, t.plan, 1, 1, "4,5", host)),
            std::vector<std::string>{"0106:00:00.0"});
}

// Azure NDv4: two NICs per GPU; both are rails, the preferred (round-robin) one first.
TEST(TopologyAutoRails, Ndv4TiesGiveTwoRailsPreferredFirst) {
  const Loaded t = Load(kData + "/azure-ndv4-nccl.xml");
  const auto host = OnePerNic(t.plan);
  EXPECT_EQ(NicNames(choose_auto_rails(t.machine, t.plan, 2, 2, std::nullopt, host)),
            (std::vector<std::string>{"0103:00:00.0", "0104:00:00.0"}));
  EXPECT_EQ(NicNames(choose_auto_rails(t.machine, t.plan, 3, 3, std::nullopt, host)),
            (std::vector<std::string>{"0104:00:00.0", "0103:00:00.0"}));
}

// A NIC without an interface here is left out (and said so); the others remain rails.
TEST(TopologyAutoRails, NicWithoutInterfaceIsSkipped) {
  const Loaded t = Load(kData + "/azure-ndv4-nccl.xml");
  const std::vector<HostInterface> host{Iface("lo", "127.0.0.1"),
                                        Iface("ib1", "10.0.1.5", "0102:00:00.0")};
  const AutoRails a = choose_auto_rails(t.machine, t.plan, 0, 0, std::nullopt, host);
  ASSERT_EQ(a.rails.size(), 1u);
  EXPECT_EQ(a.rails[0].nic, "0102:00:00.0");
  EXPECT_EQ(a.rails[0].ifname, "ib1");
  ASSERT_EQ(a.skipped.size(), 1u);
  EXPECT_NE(a.skipped[0].find("0101:00:00.0"), std::string::npos);
  EXPECT_NE(a.describe("x").find("; skipped 0101:00:00.0"), std::string::npos);
}

// hwloc names the NIC by its RDMA device and lists its netdevs as aliases: the first alias that
// is an interface here (with an IPv4 address) carries the rail.
TEST(TopologyAutoRails, HwlocAliasesPickTheNetdev) {
  const Loaded t = Load(kData + "/hwloc-v2-2xXeon-3gpu-mlx4.xml");
  // mlx4_0's aliases: mlx4_0, eth2, ib0. Plain eth0 (another NIC) is no rail.
  AutoRails a = choose_auto_rails(t.machine, t.plan, 0, 0, std::nullopt,
                                  {Iface("eth0", "10.9.0.1"), Iface("ib0", "10.1.0.2")});
  ASSERT_EQ(a.rails.size(), 1u);
  EXPECT_EQ(a.rails[0].nic, "mlx4_0");
  EXPECT_EQ(a.rails[0].name, "ib0");
  a = choose_auto_rails(t.machine, t.plan, 0, 0, std::nullopt,
                        {Iface("ib0", "10.1.0.2"), Iface("eth2", "10.2.0.2")});
  EXPECT_EQ(a.rails[0].name, "eth2");  // alias order, not interface order
  EXPECT_EQ(a.describe("xeon.xml"),
            "rails from topology (xeon.xml): mlx4_0 (eth2, 10.2.0.2) nearest GPU 0");
}

// None of the rank's NICs has an interface here: a ConfigError naming the rank, the variable,
// the NICs tried, the host's interfaces and the way out.
TEST(TopologyAutoRails, NoUsableInterfaceIsAnError) {
  const Loaded t = Load(kData + "/azure-ndv5-nccl.xml");
  const std::string msg = ConfigErrorOf([&] {
    choose_auto_rails(t.machine, t.plan, 5, 2, std::nullopt,
                      {Iface("lo", "127.0.0.1"), Iface("eth0", "172.17.0.2")});
  });
  for (const char* part : {"RAILCC_RAILS=auto: rank 5 (local rank 2)", "nearest GPU 2",
                           "0103:00:00.0", "lo=127.0.0.1 eth0=172.17.0.2", "RAILCC_RAILS=<iface"}) {
    EXPECT_NE(msg.find(part), std::string::npos) << part << " not in: " << msg;
  }
}

// A topology without NICs: nothing to take rails from.
TEST(TopologyAutoRails, NoNicIsAnError) {
  const Loaded t = Load(kData + "/hwloc-v2-power8-4gpu-nonic.xml");
  const std::string msg = ConfigErrorOf([&] {
    choose_auto_rails(t.machine, t.plan, 1, 1, std::nullopt, {Iface("lo", "127.0.0.1")});
  });
  EXPECT_NE(msg.find("RAILCC_RAILS=auto: rank 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lists no NIC"), std::string::npos) << msg;
  EXPECT_NE(msg.find("RAILCC_RAILS=<iface"), std::string::npos) << msg;
}

// No visible GPU: the rank takes the one NIC its binding picked (local rank mod NIC count).
TEST(TopologyAutoRails, WithoutGpuTheBindingsNic) {
  const Loaded t = Load(kData + "/azure-ndv5-nccl.xml");
  const auto host = OnePerNic(t.plan);
  const AutoRails a = choose_auto_rails(t.machine, t.plan, 2, 10, "", host);
  EXPECT_EQ(a.gpu, -1);
  EXPECT_EQ(NicNames(a), std::vector<std::string>{"0103:00:00.0"});  // 10 mod 8 = NIC 2
  EXPECT_NE(a.describe("f").find("picked for local rank 10 (no GPU)"), std::string::npos);
}

// The hand-made file of the multi-process test: two NICs on lo; the second rail goes by lo's
// address so the two rails keep distinct names; a rank without GPU gets one rail.
TEST(TopologyAutoRails, TwoNicsOnOneInterface) {
  const Loaded t = Load(kData + "/../rails-auto-lo.xml");
  ASSERT_EQ(t.plan.gpus.size(), 1u);
  ASSERT_EQ(t.plan.nics.size(), 2u);
  const std::vector<HostInterface> host{Iface("lo", "127.0.0.1")};
  const AutoRails a = choose_auto_rails(t.machine, t.plan, 1, 1, std::nullopt, host);
  ASSERT_EQ(a.rails.size(), 2u);
  EXPECT_EQ(a.rails[0].name, "lo");
  EXPECT_EQ(a.rails[1].name, "127.0.0.1");
  EXPECT_EQ(a.describe("lo.xml"),
            "rails from topology (lo.xml): mlx5_0 (lo, 127.0.0.1), mlx5_1 (lo, 127.0.0.1) "
            "nearest GPU 0");
  const AutoRails cpu_only = choose_auto_rails(t.machine, t.plan, 1, 1, "", host);
  ASSERT_EQ(cpu_only.rails.size(), 1u);
  EXPECT_EQ(cpu_only.rails[0].nic, "mlx5_1");
  EXPECT_EQ(cpu_only.rails[0].name, "lo");
}

}  // namespace
}  // namespace railcc::topology
