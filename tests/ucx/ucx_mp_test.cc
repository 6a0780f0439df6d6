// Multi-process tests of RAILCC_TRANSPORT=ucx: every collective over UCX's tcp transport
// (loopback) and over its shared-memory transports, at 2 and 4 ranks, and multi-rail with one
// UCX worker per rail; a killed rank and a dropped connection end in a clear error naming the
// peer; a UCX that cannot start fails init on every rank with a message saying why.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <numeric>
#include <thread>

#include "railcc/railcc.hpp"
#include "tests/mp/collective_suite.h"
#include "tests/mp/harness.h"

namespace railcc::test {
namespace {

using namespace std::chrono_literals;

// variant: "tcp" (UCX_TLS=tcp on lo), "sm" (UCX_TLS=sm: posix/sysv/cma between processes) or
// "rails" (UCX_TLS=tcp, two rails on lo, each its own UCX worker).
JobOptions ucx_job(const std::string& variant) {
  JobOptions opt;
  opt.env["RAILCC_TRANSPORT"] = "ucx";
  opt.env["UCX_TLS"] = variant == "sm" ? "sm" : "tcp";
  opt.env["UCX_NET_DEVICES"] = "lo";  // never anything but the loopback interface
  if (variant == "rails") {
    opt.env["RAILCC_RAILS"] = "lo,127.0.0.1";
    opt.env["RAILCC_RAIL_CHUNK_BYTES"] = "8K";
  }
  // Small chunks and a low direct-path threshold, so modest sizes exercise the pipelined rings.
  opt.env["RAILCC_CHUNK_BYTES"] = "16K";
  opt.env["RAILCC_SMALL_MSG_BYTES"] = "2K";
  opt.env["RAILCC_TIMEOUT"] = "60";
  opt.limit = std::chrono::seconds(240);
  return opt;
}

// Proof the ranks talk UCX: libucp is mapped into this process (railcc loads it only for ucx).
bool ucx_loaded() { return dlopen("libucp.so.0", RTLD_NOW | RTLD_NOLOAD) != nullptr; }

class UcxCollectives : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(UcxCollectives, EveryCollectiveCorrect) {
  const auto [variant, world] = GetParam();
  auto results = run_job(
      world,
      [](int) {
        CHECK(!ucx_loaded(), "libucp loaded before init");
        auto c = Communicator::init();
        CHECK(ucx_loaded(), "init did not load UCX: the ucx transport is not in use");
        exercise_every_collective(*c);
      },
      ucx_job(variant));
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
}

INSTANTIATE_TEST_SUITE_P(Ucx, UcxCollectives,
                         ::testing::Values(std::make_tuple("tcp", 2), std::make_tuple("tcp", 4),
                                           std::make_tuple("sm", 2), std::make_tuple("sm", 4),
                                           std::make_tuple("rails", 2),
                                           std::make_tuple("rails", 3)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_np" +
                                  std::to_string(std::get<1>(info.param));
                         });

class UcxFailures : public ::testing::TestWithParam<std::string> {};

// Rank 1 dies in the middle of large all_reduces: the others fail with a PeerFailureError naming
// rank 1, long before RAILCC_TIMEOUT.
TEST_P(UcxFailures, KilledRankIsNamed) {
  auto opt = ucx_job(GetParam());
  opt.env["RAILCC_TIMEOUT"] = "120";
  auto out = run_job(
      3,
      [](int rank) {
        auto c = Communicator::init();
        std::vector<float> buf(4 << 20, 1.0f);
        if (rank == 1) {
          std::thread([] {
            std::this_thread::sleep_for(30ms);
            raise(SIGKILL);
          }).detach();
        }
        try {
          for (int i = 0; i < 1000; ++i) {
            c->all_reduce(buf.data(), buf.data(), buf.size(), DataType::kFloat32, ReduceOp::kSum)
                .wait();
          }
        } catch (const Error& e) {
          const std::string m = e.what();
          CHECK(e.code() == ErrorCode::kPeerFailure, "rank {}: {}", rank, m);
          CHECK(m.find("rank 1") != std::string::npos, "rank {}: {}", rank, m);
          return;
        }
        CHECK(false, "1000 all_reduces completed although rank 1 was killed");
      },
      opt);
  EXPECT_EQ(out[1].signal, SIGKILL) << summary(out);
  EXPECT_TRUE(out[0].ok()) << summary(out);
  EXPECT_TRUE(out[2].ok()) << summary(out);
}

// RAILCC_FAULT=drop closes rank 1's UCX endpoint to its next rank at op 2: every rank ends op 2
// (or a later one) in a railcc error that names a rank, never a hang or a wrong result.
TEST_P(UcxFailures, DroppedConnectionIsAClearError) {
  auto opt = ucx_job(GetParam());
  opt.env["RAILCC_TIMEOUT"] = "20";
  opt.env["RAILCC_FAULT"] = "drop:1:2";
  opt.env["RAILCC_LOG_LEVEL"] = "error";
  auto out = run_job(
      3,
      [](int rank) {
        auto c = Communicator::init();
        std::vector<int32_t> v(100'000);
        try {
          for (int op = 1; op <= 4; ++op) {
            std::iota(v.begin(), v.end(), rank);
            c->all_reduce(v.data(), v.data(), v.size(), DataType::kInt32, ReduceOp::kSum).wait();
            for (std::size_t i = 0; i < v.size(); ++i) {
              CHECK(v[i] == static_cast<int32_t>(3 * i + 3), "op {} element {}: {}", op, i, v[i]);
            }
          }
        } catch (const Error& e) {
          const std::string m = e.what();
          CHECK(m.find("rank ") != std::string::npos, "rank {}: {}", rank, m);
          return;
        }
        CHECK(false, "rank {}: every op succeeded after its connection was dropped", rank);
      },
      opt);
  for (const auto& r : out) ASSERT_TRUE(r.ok()) << summary(out);
}

INSTANTIATE_TEST_SUITE_P(Ucx, UcxFailures, ::testing::Values("tcp", "sm"),
                         [](const auto& info) { return info.param; });

// UCX_TLS names nothing this host has: init fails on every rank with a ConfigError that names
// the rank, RAILCC_TRANSPORT=ucx and the UCX_TLS in force.
TEST(UcxInit, UcxThatCannotStartFailsInitClearly) {
  auto opt = ucx_job("tcp");
  opt.env["UCX_TLS"] = "no_such_transport";
  opt.env["RAILCC_TIMEOUT"] = "20";
  auto out = run_job(
      2,
      [](int rank) {
        try {
          auto c = Communicator::init();
        } catch (const ConfigError& e) {
          const std::string m = e.what();
          CHECK(m.find(fmt::format("rank {}", rank)) != std::string::npos, "{}", m);
          CHECK(m.find("RAILCC_TRANSPORT=ucx") != std::string::npos, "{}", m);
          CHECK(m.find("UCX_TLS=no_such_transport") != std::string::npos, "{}", m);
          return;
        } catch (const Error& e) {
          // The other rank may fail first and the store go away: still an error, not a hang.
          CHECK(std::string(e.what()).find("rank") != std::string::npos, "{}", e.what());
          return;
        }
        CHECK(false, "init succeeded with UCX_TLS=no_such_transport");
      },
      opt);
  for (const auto& r : out) ASSERT_TRUE(r.ok()) << summary(out);
}

}  // namespace
}  // namespace railcc::test
