// RAILCC_RAILS=auto end to end: two ranks take their rails from a hand-made topology file whose
// NICs are all on lo (tests/data/rails-auto-lo.xml), run an all_reduce over them and check the
// result, the rails each rank chose, the log line saying why, and that bytes crossed each rail.
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "railcc/railcc.hpp"
#include "src/telemetry/metrics.h"
#include "tests/mp/harness.h"

namespace railcc::test {
namespace {

const std::string kTopoFile = std::string(RAILCC_TEST_DATA) + "/rails-auto-lo.xml";

JobOptions auto_rails_options(const std::string& topo_file, const std::string& visible_gpus) {
  JobOptions o;
  o.env["RAILCC_TRANSPORT"] = "tcp";
  o.env["RAILCC_RAILS"] = "auto";
  o.env["RAILCC_TOPO_FILE"] = topo_file;
  o.env["CUDA_VISIBLE_DEVICES"] = visible_gpus;
  o.env["RAILCC_DEBUG"] = "init";           // the rail choice is logged at info level under init
  o.env["RAILCC_RAIL_CHUNK_BYTES"] = "4K";  // so the all_reduce is striped over both rails
  o.env["RAILCC_TIMEOUT"] = "30";
  o.limit = std::chrono::seconds(60);
  return o;
}

// all_reduce of ranks' distinct values, checked element by element, then bytes on every rail.
void all_reduce_over_rails(const std::vector<std::string>& want_rails) {
  auto c = Communicator::init();
  CHECK(c->config().rails == want_rails, "rank {} rails: {}", c->rank(),
        fmt::join(c->config().rails, ","));
  const std::size_t n = 256 * 1024;
  std::vector<float> data(n);
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<float>((i % 97) * (c->rank() + 1));
  c->all_reduce(data.data(), data.data(), n, DataType::kFloat32, ReduceOp::kSum).wait();
  for (std::size_t i = 0; i < n; ++i) {
    const float want = static_cast<float>((i % 97) * 3);  // ranks 0 and 1: x*1 + x*2
    CHECK(data[i] == want, "element {}: {} != {}", i, data[i], want);
  }
  for (const std::string& rail : want_rails) {
    const auto* ch = telemetry::Metrics::global().channel(rail);
    CHECK(ch->sent.load() > 0 && ch->received.load() > 0, "rail {} moved {} / {} bytes", rail,
          ch->sent.load(), ch->received.load());
  }
}

// The file's one GPU ties between its two NICs: both ranks use both, mlx5_0 first. Both sit on
// lo, so the second rail is named by lo's address.
TEST(RailsAuto, AllReduceOverTheRailsNearestTheGpu) {
  const auto results = run_job(
      2,
      [](int) {
        all_reduce_over_rails({"lo", "127.0.0.1"});
      },
      auto_rails_options(kTopoFile, "0"));
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << summary(results);
    EXPECT_NE(r.stderr_text.find("rails from topology (" + kTopoFile +
                                 "): mlx5_0 (lo, 127.0.0.1), mlx5_1 (lo, 127.0.0.1) nearest GPU 0"),
              std::string::npos)
        << r.stderr_text;
  }
}

// No visible GPU: each rank takes the one NIC its binding picked (local rank mod NIC count).
TEST(RailsAuto, WithoutGpuEachRankTakesItsBindingsNic) {
  const auto results = run_job(
      2, [](int) { all_reduce_over_rails({"lo"}); }, auto_rails_options(kTopoFile, ""));
  for (int rank = 0; rank < 2; ++rank) {
    const auto& r = results[rank];
    ASSERT_TRUE(r.ok()) << summary(results);
    EXPECT_NE(r.stderr_text.find(fmt::format("mlx5_{} (lo, 127.0.0.1) picked for local rank {} "
                                             "(no GPU)",
                                             rank, rank)),
              std::string::npos)
        << r.stderr_text;
  }
}

// Ranks that end up with different numbers of rails (here rank 0 sees the GPU and takes both
// NICs, rank 1 sees none and takes one) fail init with an error naming both counts.
TEST(RailsAuto, DifferentRailCountsFailInit) {
  const auto results = run_job(
      2,
      [](int rank) {
        setenv("CUDA_VISIBLE_DEVICES", rank == 0 ? "0" : "", 1);
        try {
          Communicator::init();
        } catch (const ConfigError& e) {
          const std::string msg = e.what();
          CHECK(msg.find("rail(s) but rank") != std::string::npos &&
                    msg.find("with auto") != std::string::npos,
                "message: {}", msg);
          return;
        }
        throw CheckFailure("init succeeded with 2 rails on rank 0 and 1 on rank 1");
      },
      auto_rails_options(kTopoFile, "0"));
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
}

// A topology without NICs: init fails on every rank with a ConfigError that says what to set.
TEST(RailsAuto, NoNicFailsInitClearly) {
  const auto results = run_job(
      2,
      [](int rank) {
        try {
          Communicator::init();
        } catch (const ConfigError& e) {
          const std::string msg = e.what();
          CHECK(msg.find(fmt::format("RAILCC_RAILS=auto: rank {}", rank)) != std::string::npos &&
                    msg.find("lists no NIC") != std::string::npos &&
                    msg.find("RAILCC_RAILS=<iface") != std::string::npos,
                "message: {}", msg);
          return;
        }
        throw CheckFailure("init succeeded without any NIC");
      },
      auto_rails_options(
          std::string(RAILCC_TEST_DATA) + "/topologies/hwloc-v2-power8-4gpu-nonic.xml", "0"));
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
}

}  // namespace
}  // namespace railcc::test
