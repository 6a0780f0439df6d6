// Tests for NCCL topology files (src/topology/nccl_xml_import.cc) beyond the shared fixtures:
// NICs without a PCI device, named multi-port NICs, the RDMA-only rule, which PCI devices are
// GPUs, link speeds, and an error naming file, line and element for each bad value.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "railcc/status.hpp"
#include "src/topology/machine_loader.h"
#include "src/topology/nccl_xml_import.h"
#include "src/topology/rail_plan.h"

namespace railcc::topology {
namespace {

RailPlan PlanOf(const std::string& xml) { return build_rail_plan(load_machine_xml(xml, "n.xml")); }

std::vector<std::string> NicNames(const RailPlan& plan, const GpuRail& g) {
  std::vector<std::string> out;
  for (int k : g.nics) out.push_back(plan.nics[k].name);
  return out;
}

std::string ErrorOf(const std::string& xml) {
  try {
    load_machine_xml(xml, "n.xml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << xml;
  return "";
}

// Wraps <pci>/<nic> elements in a two-NUMA <system>.
std::string System(const std::string& numa0, const std::string& numa1 = "") {
  return "<system version=\"1\">\n"
         "<cpu numaid=\"0\" affinity=\"0000ffff\" arch=\"x86_64\" vendor=\"GenuineIntel\">\n" +
         numa0 + "</cpu>\n<cpu numaid=\"1\" affinity=\"ffff0000\">\n" + numa1 +
         "</cpu>\n</system>\n";
}

std::string Gpu(const std::string& busid) {
  return "<pci busid=\"" + busid +
         "\" class=\"0x030200\" link_speed=\"16 GT/s\" link_width=\"16\"/>\n";
}

TEST(TopologyNccl, NicWithoutPciDeviceHangsOffItsNumaNode) {
  // The shape of Azure's ncv4-topo.xml: one eth0 <nic> directly under <cpu numaid="0">.
  const RailPlan plan = PlanOf(
      System(Gpu("0001:00:00.0") + "<nic><net name=\"eth0\" dev=\"0\" speed=\"40000\"/></nic>\n",
             Gpu("0002:00:00.0")));
  ASSERT_EQ(plan.nics.size(), 1u);
  EXPECT_EQ(plan.nics[0].name, "eth0");
  EXPECT_FALSE(plan.nics[0].pci.has_value());
  EXPECT_EQ(plan.nics[0].speed_gbps, 40);
  ASSERT_EQ(plan.gpus.size(), 2u);
  EXPECT_EQ(plan.gpus[0].path->level, PathLevel::kNumaNode);
  EXPECT_EQ(plan.gpus[1].path->level, PathLevel::kSystem);
  EXPECT_EQ(plan.gpus[0].cpus.to_list(), "0-15");
}

TEST(TopologyNccl, EachNamedPortIsARailAndTiesGoRoundRobin) {
  const std::string sw = "<pci busid=\"ffff:ff:01.0\" class=\"0x060400\">\n" + Gpu("0000:1b:00.0") +
                         Gpu("0000:1c:00.0") + Gpu("0000:1d:00.0") +
                         "<pci busid=\"0000:1a:00.0\" class=\"0x020700\"><nic>\n"
                         "<net name=\"mlx5_0\" dev=\"0\" speed=\"200000\" port=\"1\"/>\n"
                         "<net name=\"mlx5_1\" dev=\"1\" speed=\"200000\" port=\"2\"/>\n"
                         "</nic></pci>\n</pci>\n";
  const RailPlan plan = PlanOf(System(sw));
  ASSERT_EQ(plan.nics.size(), 2u);
  EXPECT_EQ(plan.nics[0].name, "mlx5_0");
  EXPECT_EQ(plan.nics[1].name, "mlx5_1");
  EXPECT_EQ(plan.nics[1].pci->to_string(), "0000:1a:00.0");
  EXPECT_TRUE(plan.nics[0].rdma);
  EXPECT_EQ(plan.nics[0].speed_gbps, 200);
  ASSERT_EQ(plan.gpus.size(), 3u);
  const std::vector<std::string> both = {"mlx5_0", "mlx5_1"};
  const char* preferred[] = {"mlx5_0", "mlx5_1", "mlx5_0"};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(NicNames(plan, plan.gpus[i]), both);
    EXPECT_EQ(plan.gpus[i].path->level, PathLevel::kSwitch);
    EXPECT_EQ(plan.nics[plan.gpus[i].preferred].name, preferred[i]);
  }
}

TEST(TopologyNccl, RdmaNicsPushPlainOnesAside) {
  const RailPlan plan =
      PlanOf(System(Gpu("0000:01:00.0") + "<pci busid=\"0000:02:00.0\" class=\"0x020000\"/>\n",
                    "<pci busid=\"0000:81:00.0\" class=\"0x020700\"><nic><net name=\"ib0\"/></nic>"
                    "</pci>\n"));
  ASSERT_EQ(plan.nics.size(), 1u);
  EXPECT_EQ(plan.nics[0].name, "ib0");
  ASSERT_EQ(plan.ignored_nics.size(), 1u);
  EXPECT_EQ(plan.ignored_nics[0].name, "0000:02:00.0");
  // The plain NIC sits next to the GPU, but only the RDMA one counts.
  EXPECT_EQ(plan.gpus[0].path->level, PathLevel::kSystem);
}

TEST(TopologyNccl, WhichDevicesAreGpus) {
  const Machine m = load_machine_xml(
      System("<pci busid=\"0000:01:00.0\" class=\"0x030000\" vendor=\"0x1a03\"/>\n"  // BMC VGA
             "<pci busid=\"0000:02:00.0\" class=\"0x030200\" vendor=\"0x10de\"/>\n"
             "<pci busid=\"0000:03:00.0\"><gpu dev=\"0\" sm=\"90\"/></pci>\n"  // no class
             "<pci busid=\"0000:04:00.0\" class=\"0x030000\"/>\n"              // no vendor
             "<pci busid=\"0000:05:00.0\" class=\"0x010802\"/>\n"),            // NVMe
      "n.xml");
  const RailPlan plan = build_rail_plan(m);
  std::vector<std::string> gpus;
  for (const GpuRail& g : plan.gpus) gpus.push_back(g.gpu.pci.to_string());
  EXPECT_EQ(gpus, (std::vector<std::string>{"0000:02:00.0", "0000:03:00.0", "0000:04:00.0"}));
}

TEST(TopologyNccl, ReadsCpusClassesAndLinkSpeeds) {
  const Machine m = load_machine_xml(
      System("<pci busid=\"0000:07:00.0\" class=\"0x030200\" link_speed=\"32.0 GT/s PCIe\" "
             "link_width=\"16\"/>\n<pci busid=\"0000:08:00.0\" class=\"0x0200\" "
             "link_speed=\"Unknown\" link_width=\"8\"/>\n"),
      "n.xml");
  ASSERT_EQ(m.io.size(), 2u);
  EXPECT_EQ(m.io[0].pci_class, 0x0302);
  EXPECT_EQ(m.io[0].link, "32.0 GT/s PCIe x16");
  EXPECT_NEAR(m.io[0].link_gbytes_per_s, 63.0, 0.1);  // PCIe 5 x16
  EXPECT_EQ(m.io[1].pci_class, 0x0200);               // short form, no programming interface
  EXPECT_EQ(m.io[1].link_gbytes_per_s, 0);
  EXPECT_FALSE(m.packages_stated);
  EXPECT_EQ(m.packages.size(), 2u);
  EXPECT_EQ(m.packages[0].cpu_model, "GenuineIntel");
  EXPECT_EQ(m.numa_nodes[1].cpus.to_list(), "16-31");
  EXPECT_EQ(m.io[0].source_line, 3);
}

TEST(TopologyNccl, BadValuesNameFileLineAndElement) {
  EXPECT_EQ(ErrorOf(System("<pci class=\"0x030200\"/>\n")),
            "n.xml:3: <pci>: missing attribute busid");
  EXPECT_EQ(ErrorOf(System("<pci busid=\"0000:zz:00.0\"/>\n")),
            "n.xml:3: <pci>: busid='0000:zz:00.0' is not a PCI address like 0000:07:00.0");
  EXPECT_EQ(ErrorOf(System(Gpu("0000:01:00.0"), Gpu("0000:01:00.0"))),
            "n.xml:6: <pci>: busid 0000:01:00.0 also used at line 3");
  EXPECT_EQ(ErrorOf(System("<pci busid=\"0000:01:00.0\" class=\"GPU\"/>\n")),
            "n.xml:3: <pci>: class='GPU' is not a hex number such as 0x030200");
  EXPECT_EQ(ErrorOf(System("<pci busid=\"0000:01:00.0\" link_speed=\"8 GT/s\" link_width=\"x\"/>")),
            "n.xml:3: <pci>: link_width='x' is not an integer in [0, 64]");
  EXPECT_EQ(ErrorOf("<system>\n<cpu affinity=\"ff\"/></system>"),
            "n.xml:2: <cpu>: missing attribute numaid");
  EXPECT_EQ(ErrorOf("<system>\n<cpu numaid=\"0\"/>\n<cpu numaid=\"0\"/></system>"),
            "n.xml:3: <cpu>: numaid 0 also used by the <cpu> at line 2");
  EXPECT_EQ(ErrorOf("<system><cpu numaid=\"-1\"/></system>"),
            "n.xml:1: <cpu>: numaid='-1' is not an integer in [0, 4095]");
  EXPECT_NE(ErrorOf("<system>\n<cpu numaid=\"0\" affinity=\"zz\"/></system>")
                .find("n.xml:2: <cpu numaid=\"0\"> affinity: 'zz' is not a CPU bitmap"),
            std::string::npos);
  EXPECT_EQ(ErrorOf(System("<nic><net name=\"a\" speed=\"fast\"/></nic>")),
            "n.xml:3: <net>: speed='fast' is not an integer in [0, 100000000]");
  EXPECT_EQ(ErrorOf(System("<nic><net name=\"a\"/>\n<net name=\"a\"/></nic>")),
            "n.xml:4: <net>: name 'a' also used at line 3");
  EXPECT_EQ(ErrorOf("<system version=\"one\"/>"),
            "n.xml:1: <system>: version='one' is not an integer in [0, 1000]");
}

TEST(TopologyNccl, UnknownElementsAreSkipped) {
  // Newer NCCL versions add elements; they must not stop older railcc builds.
  const RailPlan plan = PlanOf("<system version=\"1\"><nvs/><cpu numaid=\"0\"><c2c/>" +
                               Gpu("0000:01:00.0") + "</cpu></system>");
  EXPECT_EQ(plan.gpus.size(), 1u);
}

}  // namespace
}  // namespace railcc::topology
