// Tests for topology file loading (src/topology/machine_loader.cc): the format is detected from
// the root element (NCCL <system>, hwloc <topology> v1 or v2), hwloc v1 and v2 files of one
// machine give the same plan, and unreadable, unknown or too new files fail clearly.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "railcc/status.hpp"
#include "src/topology/machine_loader.h"
#include "src/topology/plan_json.h"
#include "src/topology/rail_plan.h"

namespace railcc::topology {
namespace {

namespace fs = std::filesystem;

const fs::path kData = RAILCC_TEST_TOPOLOGIES;
const fs::path kExtra = RAILCC_TEST_TOPOLOGY_EXTRA;

template <typename E>
std::string MessageOf(const std::string& text) {
  try {
    load_machine_xml(text, "in.xml");
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for: " << text.substr(0, 200);
  return "";
}

TEST(TopologyFormat, DetectsEachFormatFromTheRootElement) {
  EXPECT_EQ(load_machine_file(kData / "azure-ndv5-nccl.xml").format, SourceFormat::kNcclXml);
  EXPECT_EQ(load_machine_file(kData / "hwloc-v2-2xXeon-3gpu-mlx4.xml").format,
            SourceFormat::kHwlocXmlV2);
  EXPECT_EQ(load_machine_file(kExtra / "hwloc-v1-2xXeon-3gpu-mlx4.xml").format,
            SourceFormat::kHwlocXmlV1);
  EXPECT_EQ(load_machine_xml("<system version=\"1\"/>", "s.xml").format, SourceFormat::kNcclXml);
  EXPECT_STREQ(source_format_name(SourceFormat::kHwlocXmlV1), "hwloc-v1");
  EXPECT_STREQ(source_format_name(SourceFormat::kNcclXml), "nccl");
}

TEST(TopologyFormat, HwlocV1AndV2FilesOfOneMachineGiveTheSamePlan) {
  for (const char* name : {"2xXeon-3gpu-mlx4", "power8-4gpu-nonic"}) {
    SCOPED_TRACE(name);
    const Machine v1 = load_machine_file(kExtra / fmt::format("hwloc-v1-{}.xml", name));
    const Machine v2 = load_machine_file(kData / fmt::format("hwloc-v2-{}.xml", name));
    auto plan_of = [](const Machine& m) {
      auto j = nlohmann::json::parse(rail_plan_json(m, build_rail_plan(m), {}));
      j.erase("source");
      j.erase("format");
      return j;
    };
    EXPECT_EQ(plan_of(v1), plan_of(v2));
    EXPECT_EQ(v1.cores.size(), v2.cores.size());
    EXPECT_EQ(v1.io.size(), v2.io.size());
  }
}

TEST(TopologyFormat, HwlocXmlKeepsTheWholePciTree) {
  const Machine m = load_machine_file(kData / "hwloc-v2-2xXeon-3gpu-mlx4.xml");
  int host = 0, bridges = 0, devices = 0;
  for (const IoNode& n : m.io) {
    host += n.kind == IoKind::kHostBridge;
    bridges += n.kind == IoKind::kBridge;
    devices += n.kind == IoKind::kDevice;
    EXPECT_LT(n.parent, &n - m.io.data());  // parents first
  }
  EXPECT_EQ(host, 2);     // one per socket
  EXPECT_EQ(bridges, 6);  // root ports 00:01, 00:05, 00:07, 00:1e, 10:03, 10:07
  EXPECT_EQ(devices, 9);  // 2x 82576, ConnectX, 3 Teslas, ES1000, 2 SATA
  EXPECT_EQ(m.packages.size(), 2u);
  EXPECT_EQ(m.numa_nodes.size(), 2u);
  EXPECT_EQ(m.cores.size(), 12u);
  EXPECT_EQ(m.pu_count(), 24);
  EXPECT_EQ(m.numa_nodes[1].cpus.to_list(), "1,3,5,7,9,11,13,15,17,19,21,23");
  EXPECT_EQ(m.numa_nodes[0].memory_bytes, 19316633600u);
}

TEST(TopologyFormat, RejectsOtherDocumentsAndNewerHwlocVersions) {
  EXPECT_EQ(MessageOf<ConfigError>("<html/>"),
            "in.xml:1: root element <html> is neither <system> (an NCCL topology file) nor "
            "<topology> (an hwloc XML file)");
  const std::string v3 = MessageOf<ConfigError>("<topology version=\"3.0\"/>");
  EXPECT_EQ(v3,
            "in.xml:1: hwloc XML version '3.0' is not supported: railcc reads versions 1.x "
            "and 2.x (write one with hwloc 2.x: lstopo --of xml)");
}

TEST(TopologyFormat, UnreadableFilesAreSystemErrors) {
  try {
    load_machine_file("/nonexistent/dir/topo.xml");
    ADD_FAILURE() << "loaded a missing file";
  } catch (const SystemError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot open topology file '/nonexistent/dir/topo.xml': No such file or directory");
  }
  EXPECT_THROW(load_machine_file(kData.string()), SystemError);  // a directory
}

TEST(TopologyFormat, RejectsHugeInputBeforeParsing) {
  const std::string huge(kMaxTopologyFileBytes + 1, ' ');
  EXPECT_NE(MessageOf<ConfigError>(huge).find("larger than 32 MiB"), std::string::npos);
}

}  // namespace
}  // namespace railcc::topology
