// The acceptance test of the rail plan: every real topology file (tests/data/topologies, copies
// of shared/topologies) must give exactly the GPU -> NIC pairing in its expected.json: GPU
// order and PCI ids, the full set of nearest NICs, their PCI ids, the distance level and the
// preferred NIC. The comparison goes through the JSON that `railcc-topo --json` prints, so the
// published form is what is checked. When ../shared/topologies exists, every file there is
// checked against its own expected.json too, and the copies here must still match it.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "src/topology/machine_loader.h"
#include "src/topology/plan_json.h"
#include "src/topology/rail_plan.h"

namespace railcc::topology {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> XmlFilesIn(const fs::path& dir) {
  std::vector<std::string> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".xml") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Checks the plan of dir/file against expected[file].
void ExpectPlanMatches(const fs::path& dir, const std::string& file, const json& expected) {
  SCOPED_TRACE(file);
  ASSERT_TRUE(expected.contains(file)) << "expected.json has no entry for " << file;
  const json& want = expected.at(file);
  const Machine machine = load_machine_file((dir / file).string());
  const RailPlan plan = build_rail_plan(machine);
  const json got = json::parse(rail_plan_json(machine, plan, {}));

  const bool nccl = want.at("format") == "nccl";
  EXPECT_EQ(machine.format == SourceFormat::kNcclXml, nccl);

  // NIC candidates (after the RDMA-only rule): bus ids, RDMA flag and OS names.
  std::vector<json> nic_pcis;
  for (const json& n : got.at("nics")) {
    if (nic_pcis.empty() || nic_pcis.back() != n.at("pci")) nic_pcis.push_back(n.at("pci"));
  }
  const json& cands = want.at("nic_candidates");
  ASSERT_EQ(nic_pcis.size(), cands.size());
  for (std::size_t i = 0; i < cands.size(); ++i) {
    EXPECT_EQ(nic_pcis[i], cands[i].at("pci"));
    for (const json& n : got.at("nics")) {
      if (n.at("pci") != cands[i].at("pci")) continue;
      // NCCL files without <net> give no names; railcc then names the NIC by its bus id.
      const json names =
          cands[i].at("names").empty() ? json::array({n.at("pci")}) : cands[i].at("names");
      EXPECT_EQ(n.at("aliases"), names);
      EXPECT_EQ(n.at("rdma"), cands[i].at("rdma"));
    }
  }

  ASSERT_EQ(got.at("gpus").size(), want.at("gpus").size());
  for (std::size_t i = 0; i < want.at("gpus").size(); ++i) {
    const json& w = want.at("gpus")[i];
    const json& g = got.at("gpus")[i];
    SCOPED_TRACE("GPU " + std::to_string(i));
    EXPECT_EQ(g.at("index"), w.at("index"));
    EXPECT_EQ(g.at("pci"), w.at("pci"));
    EXPECT_EQ(g.at("nics"), w.at("nics"));
    EXPECT_EQ(g.at("nic_pci"), w.at("nic_pci"));
    EXPECT_EQ(g.at("level"), w.at("level"));
    EXPECT_EQ(g.at("preferred"), w.contains("preferred") ? w.at("preferred") : json(nullptr));
  }
}

fs::path DataDir() { return RAILCC_TEST_TOPOLOGIES; }

class TopologyExpectedTest : public testing::TestWithParam<std::string> {};

TEST_P(TopologyExpectedTest, PlanMatchesExpectedJson) {
  const json expected = json::parse(ReadAll(DataDir() / "expected.json"));
  ExpectPlanMatches(DataDir(), GetParam(), expected);
}

INSTANTIATE_TEST_SUITE_P(TopologyFiles, TopologyExpectedTest,
                         testing::ValuesIn(XmlFilesIn(RAILCC_TEST_TOPOLOGIES)),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(0, info.param.size() - 4);
                           for (char& c : name) c = std::isalnum(c) ? c : '_';
                           return name;
                         });

TEST(TopologyExpectedData, EveryFileHasAnExpectationAndViceVersa) {
  const json expected = json::parse(ReadAll(DataDir() / "expected.json"));
  const std::vector<std::string> files = XmlFilesIn(DataDir());
  EXPECT_EQ(files.size(), 6u);
  EXPECT_EQ(files.size(), expected.size());
  for (const std::string& f : files) EXPECT_TRUE(expected.contains(f)) << f;
}

TEST(TopologySharedDir, EveryFileMatchesItsExpectedJson) {
  const fs::path shared = RAILCC_SHARED_TOPOLOGIES;
  if (!fs::exists(shared / "expected.json")) {
    GTEST_SKIP() << shared << " is absent (fresh clone); tests/data/topologies is used instead";
  }
  const json expected = json::parse(ReadAll(shared / "expected.json"));
  const std::vector<std::string> files = XmlFilesIn(shared);
  EXPECT_FALSE(files.empty());
  for (const std::string& f : files) {
    ExpectPlanMatches(shared, f, expected);
    if (fs::exists(DataDir() / f)) {
      EXPECT_EQ(ReadAll(DataDir() / f), ReadAll(shared / f))
          << "tests/data/topologies/" << f << " differs from " << shared / f << ": copy it again";
    }
  }
}

}  // namespace
}  // namespace railcc::topology
