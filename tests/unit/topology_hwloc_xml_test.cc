// Tests for the hwloc XML importer (src/topology/hwloc_xml_import.cc): a small hand-written
// machine, the file that crashes hwloc 2.9's own importer, and an error naming file, line and
// object for each bad value.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "railcc/status.hpp"
#include "src/topology/hwloc_xml_import.h"
#include "src/topology/machine_loader.h"
#include "src/topology/rail_plan.h"

namespace railcc::topology {
namespace {

// One package, one NUMA node, a host bridge with a root port holding a GPU and a ConnectX.
std::string Doc(const std::string& gpu_attrs =
                    "pci_busid=\"0000:07:00.0\" pci_type=\"0302 "
                    "[10de:20b0] [10de:134f] a1\"",
                const std::string& extra = "") {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<!DOCTYPE topology SYSTEM \"hwloc2.dtd\">\n"
         "<topology version=\"2.0\">\n"
         "<object type=\"Machine\" os_index=\"0\" cpuset=\"0x0000000f\" nodeset=\"0x1\">\n"
         "<object type=\"Package\" os_index=\"0\" cpuset=\"0x0000000f\" nodeset=\"0x1\">\n"
         "<info name=\"CPUModel\" value=\"Test CPU\"/>\n"
         "<object type=\"NUMANode\" os_index=\"0\" cpuset=\"0x0000000f\" nodeset=\"0x1\" "
         "local_memory=\"1024\"/>\n"
         "<object type=\"Core\" os_index=\"0\" cpuset=\"0x3\"/>\n"
         "<object type=\"Core\" os_index=\"1\" cpuset=\"0xc\"/>\n"
         "<object type=\"Bridge\" bridge_type=\"0-1\" depth=\"0\">\n"
         "<object type=\"Bridge\" bridge_type=\"1-1\" depth=\"1\" pci_busid=\"0000:00:01.0\" "
         "pci_type=\"0604 [8086:3408] [0000:0000] 13\" pci_link_speed=\"15.753846\">\n"
         "<object type=\"PCIDev\" " +
         gpu_attrs +
         ">\n"
         "<object type=\"OSDev\" name=\"cuda0\" osdev_type=\"5\"/>\n"
         "</object>\n"
         "<object type=\"PCIDev\" pci_busid=\"0000:08:00.0\" pci_type=\"0207 [15b3:101b] "
         "[15b3:0007] 00\" pci_link_speed=\"31.5\">\n"
         "<object type=\"OSDev\" name=\"ib0\" osdev_type=\"2\"/>\n"
         "<object type=\"OSDev\" name=\"mlx5_0\" osdev_type=\"3\"/>\n"
         "</object>\n" +
         extra + "</object>\n</object>\n</object>\n</object>\n</topology>\n";
}

std::string ErrorOf(const std::string& xml) {
  try {
    load_machine_xml(xml, "h.xml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted:\n" << xml;
  return "";
}

TEST(TopologyHwlocXml, ReadsPackagesCoresAndTheIoTree) {
  const Machine m = load_machine_xml(Doc(), "h.xml");
  ASSERT_EQ(m.packages.size(), 1u);
  EXPECT_EQ(m.packages[0].cpu_model, "Test CPU");
  ASSERT_EQ(m.numa_nodes.size(), 1u);
  EXPECT_EQ(m.numa_nodes[0].memory_bytes, 1024u);
  EXPECT_EQ(m.numa_nodes[0].package, 0);
  ASSERT_EQ(m.cores.size(), 2u);
  EXPECT_EQ(m.cores[1].pus.to_list(), "2-3");
  ASSERT_EQ(m.io.size(), 4u);
  EXPECT_EQ(m.io[0].kind, IoKind::kHostBridge);
  EXPECT_FALSE(m.io[0].address.has_value());
  EXPECT_EQ(m.io[1].kind, IoKind::kBridge);
  EXPECT_EQ(m.io[1].parent, 0);
  EXPECT_EQ(m.io[2].parent, 1);
  EXPECT_EQ(m.io[2].vendor, 0x10de);
  EXPECT_EQ(m.io[2].device_id, 0x20b0);
  EXPECT_EQ(m.io[3].pci_class, 0x0207);
  EXPECT_EQ(m.io[3].link, "31.5 GB/s");
  EXPECT_EQ(m.io[3].numa, 0);
  EXPECT_EQ(m.io[3].cpus.to_list(), "0-3");
  ASSERT_EQ(m.io[3].os_devices.size(), 2u);
  EXPECT_EQ(m.io[3].os_devices[1].kind, OsDeviceKind::kOpenFabrics);

  const RailPlan plan = build_rail_plan(m);
  ASSERT_EQ(plan.gpus.size(), 1u);
  ASSERT_EQ(plan.nics.size(), 1u);
  EXPECT_EQ(plan.nics[0].name, "mlx5_0");  // the OpenFabrics name wins over ib0
  EXPECT_EQ(plan.nics[0].aliases, (std::vector<std::string>{"mlx5_0", "ib0"}));
  EXPECT_EQ(plan.gpus[0].path, (IoPath{PathLevel::kSwitch, 2}));
}

TEST(TopologyHwlocXml, GpuNeedsNvidiaOrAComputeDevice) {
  // The BMC's VGA chip has a DRM card0 device on every server; it is not a GPU.
  const std::string vga =
      "<object type=\"PCIDev\" pci_busid=\"0000:09:00.0\" pci_type=\"0300 [1a03:2000] "
      "[1a03:2000] 41\"><object type=\"OSDev\" name=\"card0\" osdev_type=\"1\"/></object>\n";
  const std::string amd =
      "<object type=\"PCIDev\" pci_busid=\"0000:0a:00.0\" pci_type=\"0380 [1002:740f] "
      "[1002:0c34] 02\"><object type=\"OSDev\" name=\"rsmi0\" osdev_type=\"1\"/></object>\n";
  const RailPlan plan = build_rail_plan(load_machine_xml(Doc(), "h.xml"));
  const RailPlan more = build_rail_plan(load_machine_xml(
      Doc("pci_busid=\"0000:07:00.0\" pci_type=\"0302 [10de:20b0] [10de:134f] a1\"", vga + amd),
      "h.xml"));
  EXPECT_EQ(plan.gpus.size(), 1u);
  ASSERT_EQ(more.gpus.size(), 2u);
  EXPECT_EQ(more.gpus[1].gpu.pci.to_string(), "0000:0a:00.0");
}

TEST(TopologyHwlocXml, LoadsTheFileThatCrashesHwlocsOwnImporter) {
  // lstopo 2.9.0 segfaults on this: the root object's complete_nodeset attribute misspelt.
  std::ifstream in(std::string(RAILCC_TEST_TOPOLOGIES) + "/hwloc-v2-2xXeon-3gpu-mlx4.xml");
  std::stringstream s;
  s << in.rdbuf();
  std::string xml = s.str();
  const auto at = xml.find("complete_nodeset=");
  ASSERT_NE(at, std::string::npos);
  xml.replace(at, 8, "complEte");
  const RailPlan plan = build_rail_plan(load_machine_xml(xml, "h.xml"));
  ASSERT_EQ(plan.gpus.size(), 3u);
  EXPECT_EQ(plan.nics[plan.gpus[0].preferred].name, "mlx4_0");
}

TEST(TopologyHwlocXml, BadValuesNameFileLineAndObject) {
  const std::string gpu_type = "pci_type=\"0302 [10de:20b0] [10de:134f] a1\"";
  EXPECT_EQ(ErrorOf(Doc("pci_busid=\"0000:07:00\" " + gpu_type)),
            "h.xml:12: <object type=\"PCIDev\">: pci_busid='0000:07:00' is not a PCI address");
  EXPECT_EQ(ErrorOf(Doc(gpu_type)),
            "h.xml:12: <object type=\"PCIDev\">: missing attribute "
            "pci_busid");
  EXPECT_EQ(ErrorOf(Doc("pci_busid=\"0000:08:00.0\" " + gpu_type)),
            "h.xml:15: <object type=\"PCIDev\">: pci_busid 0000:08:00.0 also used at line 12");
  EXPECT_EQ(ErrorOf(Doc("pci_busid=\"0000:07:00.0\" pci_type=\"gpu\"")),
            "h.xml:12: <object type=\"PCIDev\">: pci_type='gpu' is not like \"0302 [10de:20b0] "
            "[10de:134f] a1\"");
  EXPECT_EQ(ErrorOf(Doc("pci_busid=\"0000:07:00.0\" " + gpu_type + " pci_link_speed=\"nan\"")),
            "h.xml:12: <object type=\"PCIDev\">: pci_link_speed='nan' is not a bandwidth in GB/s");
  EXPECT_EQ(ErrorOf(Doc("pci_busid=\"0000:07:00.0\" " + gpu_type,
                        "<object type=\"OSDev\" name=\"x\" osdev_type=\"net\"/>\n")),
            "h.xml:19: <object type=\"OSDev\">: osdev_type='net' is not a non-negative integer");
  EXPECT_EQ(ErrorOf(Doc("pci_busid=\"0000:07:00.0\" " + gpu_type,
                        "<object type=\"Bridge\" bridge_type=\"2-1\"/>\n")),
            "h.xml:19: <object type=\"Bridge\">: bridge_type='2-1' is not 0-1 or 1-1");
  EXPECT_EQ(ErrorOf(Doc("pci_busid=\"0000:07:00.0\" " + gpu_type, "<object name=\"x\"/>\n")),
            "h.xml:19: <object>: missing attribute type");
  EXPECT_NE(ErrorOf("<topology version=\"2.0\">\n<object type=\"PU\" cpuset=\"0xzz\"/>"
                    "</topology>")
                .find("h.xml:2: <object> cpuset: '0xzz' is not a CPU bitmap"),
            std::string::npos);
  EXPECT_EQ(ErrorOf("<topology version=\"2.0\"><object type=\"PU\" os_index=\"99999999\"/>"
                    "</topology>"),
            "h.xml:1: <object type=\"PU\">: os_index='99999999' is not an integer in [0, 65536)");
  EXPECT_EQ(ErrorOf("<topology version=\"2.0\"><object type=\"NUMANode\" local_memory=\"-1\"/>"
                    "</topology>"),
            "h.xml:1: <object type=\"NUMANode\">: local_memory='-1' is not a byte count");
  EXPECT_EQ(ErrorOf("<topology>\n</topology>"), "h.xml:1: <topology> has no <object>");
}

}  // namespace
}  // namespace railcc::topology
