// Tests for discovering the machine the tests run on (src/topology/hwloc_live.cc): hwloc's
// answer is checked against what Linux itself reports (sched_getaffinity, /sys/bus/pci), so the
// test holds on a laptop, a CPU-only VM (no GPU, no RDMA NIC) and a GPU server alike; and the
// hwloc XML importer must read this machine's own XML export into the same model.

#include <gtest/gtest.h>
#include <sched.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "src/topology/hwloc_live.h"
#include "src/topology/machine_loader.h"
#include "src/topology/plan_text.h"
#include "src/topology/rail_plan.h"

namespace railcc::topology {
namespace {

namespace fs = std::filesystem;

std::string ReadLine(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

// NVIDIA display/3D controllers as the kernel lists them.
int NvidiaGpusInSysfs() {
  int n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/sys/bus/pci/devices", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const bool display = ReadLine(it->path() / "class").starts_with("0x03");
    const bool nvidia = ReadLine(it->path() / "vendor") == "0x10de";
    n += display && nvidia;
  }
  return n;
}

TEST(TopologyLive, DiscoversThisMachine) {
  const Machine m = discover_machine();
  EXPECT_EQ(m.format, SourceFormat::kLive);
  EXPECT_NE(m.source.find("this machine (hwloc "), std::string::npos);
  EXPECT_GE(m.packages.size(), 1u);
  EXPECT_GE(m.numa_nodes.size(), 1u);
  EXPECT_GE(m.cores.size(), 1u);
  // Every CPU this process may run on is in the model.
  cpu_set_t mine;
  CPU_ZERO(&mine);
  ASSERT_EQ(sched_getaffinity(0, sizeof mine, &mine), 0);
  const CpuSet all = m.all_cpus();
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &mine)) {
      EXPECT_TRUE(all.contains(c)) << "CPU " << c;
    }
  }
  for (std::size_t i = 0; i < m.io.size(); ++i) {
    EXPECT_LT(m.io[i].parent, static_cast<int>(i));  // parents first
  }
}

TEST(TopologyLive, GpusAndNicsMatchTheKernelsPciList) {
  const Machine m = discover_machine();
  const RailPlan plan = build_rail_plan(m);
  EXPECT_EQ(static_cast<int>(plan.gpus.size()), NvidiaGpusInSysfs());
  for (const Nic& nic : plan.nics) {
    if (!nic.pci) continue;
    EXPECT_TRUE(fs::exists("/sys/bus/pci/devices/" + nic.pci->to_string())) << nic.name;
    const std::string cls = ReadLine("/sys/bus/pci/devices/" + nic.pci->to_string() + "/class");
    EXPECT_TRUE(cls.starts_with("0x02") || cls.starts_with("0x0c06")) << nic.name << " " << cls;
  }
  const std::string text = rail_plan_text(m, plan, {});
  if (plan.gpus.empty()) {
    EXPECT_NE(text.find("GPUs: none found; this is a CPU-only plan."), std::string::npos) << text;
  }
  if (plan.nics.empty()) {
    EXPECT_NE(text.find("NICs: none found"), std::string::npos) << text;
  } else if (!plan.nics.front().rdma) {
    EXPECT_NE(text.find("no RDMA NIC found; plain network devices"), std::string::npos) << text;
  }
}

TEST(TopologyLive, XmlImportOfTheLiveExportGivesTheSameModel) {
  const Machine live = discover_machine();
  const Machine xml = load_machine_xml(live_hwloc_xml(), "live.xml");
  EXPECT_EQ(xml.format, SourceFormat::kHwlocXmlV2);
  ASSERT_EQ(xml.packages.size(), live.packages.size());
  for (std::size_t i = 0; i < live.packages.size(); ++i) {
    EXPECT_EQ(xml.packages[i].os_index, live.packages[i].os_index);
    EXPECT_EQ(xml.packages[i].cpus, live.packages[i].cpus);
    EXPECT_EQ(xml.packages[i].cpu_model, live.packages[i].cpu_model);
  }
  ASSERT_EQ(xml.numa_nodes.size(), live.numa_nodes.size());
  for (std::size_t i = 0; i < live.numa_nodes.size(); ++i) {
    EXPECT_EQ(xml.numa_nodes[i].os_index, live.numa_nodes[i].os_index);
    EXPECT_EQ(xml.numa_nodes[i].package, live.numa_nodes[i].package);
    EXPECT_EQ(xml.numa_nodes[i].cpus, live.numa_nodes[i].cpus);
    EXPECT_EQ(xml.numa_nodes[i].memory_bytes, live.numa_nodes[i].memory_bytes);
  }
  ASSERT_EQ(xml.cores.size(), live.cores.size());
  for (std::size_t i = 0; i < live.cores.size(); ++i) {
    EXPECT_EQ(xml.cores[i].package, live.cores[i].package);
    EXPECT_EQ(xml.cores[i].pus, live.cores[i].pus);
  }
  ASSERT_EQ(xml.io.size(), live.io.size());
  for (std::size_t i = 0; i < live.io.size(); ++i) {
    const IoNode& a = xml.io[i];
    const IoNode& b = live.io[i];
    SCOPED_TRACE(b.address ? b.address->to_string() : "io " + std::to_string(i));
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.address, b.address);
    EXPECT_EQ(a.pci_class, b.pci_class);
    EXPECT_EQ(a.vendor, b.vendor);
    EXPECT_EQ(a.device_id, b.device_id);
    EXPECT_EQ(a.link, b.link);
    EXPECT_EQ(a.parent, b.parent);
    EXPECT_EQ(a.package, b.package);
    EXPECT_EQ(a.numa, b.numa);
    EXPECT_EQ(a.cpus, b.cpus);
    ASSERT_EQ(a.os_devices.size(), b.os_devices.size());
    for (std::size_t k = 0; k < b.os_devices.size(); ++k) {
      EXPECT_EQ(a.os_devices[k].name, b.os_devices[k].name);
      EXPECT_EQ(a.os_devices[k].kind, b.os_devices[k].kind);
      EXPECT_EQ(a.os_devices[k].uuid, b.os_devices[k].uuid);
    }
  }
}

}  // namespace
}  // namespace railcc::topology
