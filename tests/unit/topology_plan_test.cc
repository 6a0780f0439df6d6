// Tests for PCIe distances and the rail plan (src/topology/io_path.cc, rail_plan.cc) on a
// hand-built machine that has one NIC at each distance level, so every level, the hop-count
// tie-break and the round-robin preference are checked directly.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/topology/io_path.h"
#include "src/topology/machine.h"
#include "src/topology/rail_plan.h"

namespace railcc::topology {
namespace {

CpuSet Cpus(int first, int last) {
  CpuSet s;
  for (int c = first; c <= last; ++c) s.add(c);
  return s;
}

// Package 0 holds NUMA nodes 0 and 1, package 1 holds NUMA node 2.
class TopologyPlanTest : public testing::Test {
 protected:
  TopologyPlanTest() {
    m_.format = SourceFormat::kHwlocXmlV2;
    m_.packages = {{0, Cpus(0, 7), ""}, {1, Cpus(8, 11), ""}};
    m_.numa_nodes = {{0, 0, Cpus(0, 3), 0}, {1, 0, Cpus(4, 7), 0}, {2, 1, Cpus(8, 11), 0}};
  }

  int Add(IoKind kind, int parent, int numa, const char* busid = nullptr,
          std::uint16_t pci_class = 0, const char* osdev = nullptr) {
    IoNode n;
    n.kind = kind;
    n.parent = parent;
    n.numa = numa;
    n.package = m_.numa_nodes[numa].package;
    n.cpus = m_.numa_nodes[numa].cpus;
    if (busid) n.address = PciAddress::parse(busid);
    n.pci_class = pci_class;
    if (pci_class == 0x0302) n.vendor = 0x10de;
    if (osdev) n.os_devices.push_back({osdev, OsDeviceKind::kOpenFabrics});
    m_.io.push_back(n);
    return static_cast<int>(m_.io.size()) - 1;
  }
  int Gpu(int parent, int numa, const char* busid) {
    return Add(IoKind::kDevice, parent, numa, busid, 0x0302);
  }
  int Nic(int parent, int numa, const char* busid, const char* name) {
    return Add(IoKind::kDevice, parent, numa, busid, 0x0207, name);
  }

  Machine m_;
};

TEST_F(TopologyPlanTest, EveryLevelAndItsHops) {
  const int hb0 = Add(IoKind::kHostBridge, -1, 0);
  const int sw = Add(IoKind::kBridge, hb0, 0, "0000:01:00.0", 0x0604);
  const int gpu = Gpu(sw, 0, "0000:02:00.0");
  const int pix = Nic(sw, 0, "0000:03:00.0", "pix");
  const int port = Add(IoKind::kBridge, hb0, 0, "0000:04:00.0", 0x0604);
  const int phb = Nic(port, 0, "0000:05:00.0", "phb");
  const int hb1 = Add(IoKind::kHostBridge, -1, 0);
  const int node = Nic(hb1, 0, "0000:20:00.0", "node");
  const int hb2 = Add(IoKind::kHostBridge, -1, 1);
  const int skt = Nic(hb2, 1, "0000:40:00.0", "skt");
  const int hb3 = Add(IoKind::kHostBridge, -1, 2);
  const int sys = Nic(hb3, 2, "0000:80:00.0", "sys");

  // Tree: machine > package > NUMA > host bridge > ... ; hops count the edges between.
  EXPECT_EQ(io_path(m_, gpu, pix), (IoPath{PathLevel::kSwitch, 2}));
  EXPECT_EQ(io_path(m_, gpu, phb), (IoPath{PathLevel::kHostBridge, 4}));
  EXPECT_EQ(io_path(m_, gpu, node), (IoPath{PathLevel::kNumaNode, 5}));
  EXPECT_EQ(io_path(m_, gpu, skt), (IoPath{PathLevel::kSocket, 7}));
  EXPECT_EQ(io_path(m_, gpu, sys), (IoPath{PathLevel::kSystem, 9}));
  EXPECT_EQ(io_path(m_, pix, gpu), io_path(m_, gpu, pix));
  EXPECT_STREQ(path_level_name(PathLevel::kHostBridge), "PHB (same host bridge)");
  EXPECT_STREQ(path_level_short(PathLevel::kSocket), "SKT");

  // The plan picks the switch-local NIC, and moves outwards as nearer NICs disappear.
  std::vector<std::string> picked;
  for (int removed = 0; removed < 5; ++removed) {
    const RailPlan plan = build_rail_plan(m_);
    ASSERT_EQ(plan.gpus.size(), 1u);
    ASSERT_EQ(plan.gpus[0].nics.size(), 1u);
    picked.push_back(plan.nics[plan.gpus[0].preferred].name);
    // Demote the chosen NIC to a storage controller.
    m_.io[plan.nics[plan.gpus[0].preferred].io].pci_class = 0x0108;
  }
  EXPECT_EQ(picked, (std::vector<std::string>{"pix", "phb", "node", "skt", "sys"}));
}

TEST_F(TopologyPlanTest, FewerHopsWinInsideALevelAndTiesListEveryNic) {
  const int hb = Add(IoKind::kHostBridge, -1, 0);
  const int sw = Add(IoKind::kBridge, hb, 0, "0000:01:00.0", 0x0604);
  const int down = Add(IoKind::kBridge, sw, 0, "0000:02:00.0", 0x0604);
  Gpu(sw, 0, "0000:03:00.0");
  Nic(down, 0, "0000:04:00.0", "far");  // same switch, one bridge further
  Nic(sw, 0, "0000:05:00.0", "near_a");
  Nic(sw, 0, "0000:06:00.0", "near_b");
  const RailPlan plan = build_rail_plan(m_);
  ASSERT_EQ(plan.gpus.size(), 1u);
  std::vector<std::string> names;
  for (int k : plan.gpus[0].nics) names.push_back(plan.nics[k].name);
  EXPECT_EQ(names, (std::vector<std::string>{"near_a", "near_b"}));
  EXPECT_EQ(plan.gpus[0].path, (IoPath{PathLevel::kSwitch, 2}));
}

TEST_F(TopologyPlanTest, GpusSharingATieTakeItsNicsRoundRobinInBusOrder) {
  const int hb = Add(IoKind::kHostBridge, -1, 0);
  const int sw = Add(IoKind::kBridge, hb, 0, "0000:01:00.0", 0x0604);
  // Added out of bus order on purpose: the plan sorts by bus id.
  Gpu(sw, 0, "0000:0c:00.0");
  Gpu(sw, 0, "0000:0a:00.0");
  Gpu(sw, 0, "0000:0b:00.0");
  Nic(sw, 0, "0000:0e:00.0", "nic_e");
  Nic(sw, 0, "0000:0d:00.0", "nic_d");
  const RailPlan plan = build_rail_plan(m_);
  ASSERT_EQ(plan.gpus.size(), 3u);
  std::vector<std::string> gpus, preferred;
  for (const GpuRail& g : plan.gpus) {
    gpus.push_back(g.gpu.pci.to_string());
    preferred.push_back(plan.nics[g.preferred].name);
    EXPECT_EQ(g.nics.size(), 2u);
  }
  EXPECT_EQ(gpus, (std::vector<std::string>{"0000:0a:00.0", "0000:0b:00.0", "0000:0c:00.0"}));
  EXPECT_EQ(preferred, (std::vector<std::string>{"nic_d", "nic_e", "nic_d"}));
}

TEST_F(TopologyPlanTest, NoNicMeansNoRailAndCpusNearTheGpu) {
  const int hb = Add(IoKind::kHostBridge, -1, 2);
  Gpu(hb, 2, "0000:81:00.0");
  const RailPlan plan = build_rail_plan(m_);
  ASSERT_EQ(plan.gpus.size(), 1u);
  EXPECT_TRUE(plan.gpus[0].nics.empty());
  EXPECT_FALSE(plan.gpus[0].path.has_value());
  EXPECT_EQ(plan.gpus[0].preferred, -1);
  EXPECT_EQ(plan.gpus[0].cpus.to_list(), "8-11");
  EXPECT_EQ(numa_os_index(m_, 2), 2);
  EXPECT_EQ(numa_os_index(m_, -1), -1);
  EXPECT_EQ(numa_os_index(m_, 7), -1);
}

TEST_F(TopologyPlanTest, CpusFollowThePreferredNicNotTheGpu) {
  const int hb0 = Add(IoKind::kHostBridge, -1, 0);
  Gpu(hb0, 0, "0000:01:00.0");
  const int hb2 = Add(IoKind::kHostBridge, -1, 2);
  Nic(hb2, 2, "0000:81:00.0", "remote");
  const RailPlan plan = build_rail_plan(m_);
  EXPECT_EQ(plan.gpus[0].cpus.to_list(), "8-11");  // the progress thread drives the NIC
}

}  // namespace
}  // namespace railcc::topology
