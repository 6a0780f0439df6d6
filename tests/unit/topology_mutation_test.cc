// Deterministic mutation fuzzing of the topology readers (the libFuzzer target in tests/fuzz/
// explores further when built with clang). Thousands of variants of every real topology file -
// truncated, bit-flipped, with markup characters sprayed in, with elements duplicated or cut
// out, with hostile attribute values - must each either load into a plan that prints, or fail
// with railcc::Error. Any other exception fails the test; a crash or a sanitizer report fails
// the binary (run it under build-asan).

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "railcc/status.hpp"
#include "src/topology/machine_loader.h"
#include "src/topology/plan_json.h"
#include "src/topology/plan_text.h"
#include "src/topology/rail_plan.h"
#include "src/topology/rank_binding.h"

namespace railcc::topology {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<fs::path> Seeds() {
  std::vector<fs::path> out;
  for (const char* dir : {RAILCC_TEST_TOPOLOGIES, RAILCC_TEST_TOPOLOGY_EXTRA}) {
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".xml") out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

class Mutator {
 public:
  Mutator(const std::string& seed, unsigned rng_seed) : seed_(seed), rng_(rng_seed) {}

  // Variant number `i`; `what` describes it for failure messages.
  std::string make(int i, std::string& what) {
    std::string s = seed_;
    switch (i % 7) {
      case 0: {  // truncation, evenly spread plus random cut points
        const std::size_t n = i % 14 == 0 ? s.size() * (i / 14 % 97) / 97 : pick(s.size());
        what = "truncated at " + std::to_string(n);
        s.resize(n);
        break;
      }
      case 1: {  // 1-8 flipped bits
        const int flips = 1 + static_cast<int>(pick(8));
        what = std::to_string(flips) + " bit flips at";
        for (int f = 0; f < flips; ++f) {
          const std::size_t at = pick(s.size());
          s[at] = static_cast<char>(s[at] ^ (1 << pick(8)));
          what += ' ';  // not " " + ...: GCC 12 warns falsely about that (-Wrestrict, PR105651)
          what += std::to_string(at);
        }
        break;
      }
      case 2: {  // markup and binary characters sprayed in
        static const char kBytes[] = {'<', '>', '"', '\'', '&', '/', '=', '\0', '\xff', ',', '0'};
        const std::size_t at = pick(s.size());
        const char c = kBytes[pick(sizeof kBytes)];
        what =
            "byte " + std::to_string(static_cast<unsigned char>(c)) + " at " + std::to_string(at);
        s[at] = c;
        break;
      }
      case 3: {  // a run of lines (often whole elements) duplicated in place
        const auto [from, to] = line_range();
        what = "lines duplicated " + std::to_string(from) + "-" + std::to_string(to);
        s.insert(to, s.substr(from, to - from));
        break;
      }
      case 4: {  // a run of lines cut out
        const auto [from, to] = line_range();
        what = "lines removed " + std::to_string(from) + "-" + std::to_string(to);
        s.erase(from, to - from);
        break;
      }
      case 5: {  // an attribute value replaced by a hostile one
        static const char* kValues[] = {"",
                                        "-1",
                                        "99999999999999999999",
                                        "0xffffffffffffffffffff",
                                        "ffffffff,ffffffff,ffffffff,ffffffff,ffffffff",
                                        "0000:ff:1f.7",
                                        "NaN",
                                        "1e308",
                                        "&amp;&lt;",
                                        "0x"};
        const std::size_t q = s.find("=\"", pick(s.size()));
        if (q == std::string::npos) break;
        const std::size_t end = s.find('"', q + 2);
        if (end == std::string::npos) break;
        const char* v = kValues[pick(std::size(kValues))];
        what = std::string("attribute value '") + v + "' at " + std::to_string(q);
        s.replace(q + 2, end - q - 2, v);
        break;
      }
      case 6: {  // a random slice of the file copied somewhere else
        const std::size_t from = pick(s.size());
        const std::size_t len = pick(std::min<std::size_t>(400, s.size() - from) + 1);
        const std::size_t to = pick(s.size());
        what = "slice " + std::to_string(from) + "+" + std::to_string(len) + " copied to " +
               std::to_string(to);
        s.insert(to, s.substr(from, len));
        break;
      }
    }
    return s;
  }

 private:
  std::size_t pick(std::size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }
  // [from, to) covering 1-6 whole lines.
  std::pair<std::size_t, std::size_t> line_range() {
    std::size_t from = seed_.rfind('\n', pick(seed_.size()));
    from = from == std::string::npos ? 0 : from + 1;
    std::size_t to = from;
    for (std::size_t k = 1 + pick(6); k > 0 && to < seed_.size(); --k) {
      const std::size_t nl = seed_.find('\n', to);
      to = nl == std::string::npos ? seed_.size() : nl + 1;
    }
    return {from, to};
  }

  const std::string& seed_;
  std::mt19937 rng_;
};

TEST(TopologyMutation, EveryVariantLoadsOrFailsWithRailccError) {
  constexpr int kVariantsPerFile = 2100;
  const std::vector<fs::path> seeds = Seeds();
  ASSERT_EQ(seeds.size(), 8u);
  for (std::size_t f = 0; f < seeds.size(); ++f) {
    const std::string seed = ReadAll(seeds[f]);
    const std::string name = seeds[f].filename().string();
    Mutator mutator(seed, 1234 + static_cast<unsigned>(f));
    int loaded = 0, rejected = 0;
    for (int i = 0; i < kVariantsPerFile; ++i) {
      std::string what;
      const std::string text = mutator.make(i, what);
      try {
        const Machine m = load_machine_xml(text, name);
        const RailPlan plan = build_rail_plan(m);
        const std::vector<RankBinding> ranks = {bind_local_rank(m, plan, i, std::nullopt)};
        EXPECT_FALSE(rail_plan_json(m, plan, ranks).empty());
        EXPECT_FALSE(rail_plan_text(m, plan, ranks).empty());
        ++loaded;
      } catch (const Error& e) {
        // The message names the file (the one place it could be lost is hwloc's importer).
        EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << what << ": " << e.what();
        ++rejected;
      } catch (const std::exception& e) {
        ADD_FAILURE() << name << ", " << what << ": not a railcc::Error: " << e.what();
      }
    }
    std::printf("  %-34s %4d variants: %4d loaded, %4d rejected with a railcc::Error\n",
                name.c_str(), kVariantsPerFile, loaded, rejected);
    // Both outcomes must occur, or the mutations are not reaching the interesting paths.
    EXPECT_GT(loaded, kVariantsPerFile / 20) << name;
    EXPECT_GT(rejected, kVariantsPerFile / 20) << name;
  }
}

}  // namespace
}  // namespace railcc::topology
