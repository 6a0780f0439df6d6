// Multi-process tests of the verbs transport: ranks are processes (tests/mp/harness.h), each with
// its own emulated HCAs (fake_verbs.h) carrying RDMA between them, so the transport's handshake
// through the store, credit flow, completion handling and failover run exactly as on hardware.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "railcc/railcc.hpp"
#include "tests/mp/collective_suite.h"
#include "tests/mp/harness.h"
#include "tests/verbs/fake_verbs.h"
#include "tests/verbs/verbs_job.h"
#include "transport/verbs/verbs_port.h"

namespace railcc::test {
namespace {

class VerbsCollectives : public VerbsTest,
                         public ::testing::WithParamInterface<std::tuple<std::string, int>> {};

// Every collective over RDMA: one port with two queue pairs per peer, or two ports as rails.
TEST_P(VerbsCollectives, EveryCollectiveCorrect) {
  const auto [hca, world] = GetParam();
  auto results = run_job(
      world,
      [](int) {
        auto c = Communicator::init();
        // Proof the ranks talk RDMA: their rings are registered with the emulated HCA.
        CHECK(fake().registered_regions() > 0, "no memory registered: verbs is not in use");
        exercise_every_collective(*c);
      },
      verbs_job(hca));
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
}

INSTANTIATE_TEST_SUITE_P(
    Verbs, VerbsCollectives,
    ::testing::Values(std::make_tuple("fake0", 2), std::make_tuple("fake0", 3),
                      std::make_tuple("fake0", 4), std::make_tuple("fake0,fake1", 2),
                      std::make_tuple("fake0,fake1", 3), std::make_tuple("fake0,fake1", 4)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param) == "fake0" ? "one_port" : "two_rails") + "_np" +
             std::to_string(std::get<1>(info.param));
    });

// Without RAILCC_IB_HCA the ports come from the topology rail plan: local rank k (GPU k) talks
// over the HCA nearest GPU k (tests/data/verbs-4gpu-4hca.xml pairs GPU 0 with mlx5_2 and GPU 1
// with mlx5_3), and RAILCC_DEBUG=init says so.
TEST(VerbsRailPlan, RanksUseTheHcaNearestTheirGpu) {
  FakeVerbsOptions o;
  o.devices = {"mlx5_0", "mlx5_1", "mlx5_2", "mlx5_3"};
  FakeVerbs::install(o);
  auto opt = verbs_job("");
  opt.env.erase("RAILCC_IB_HCA");
  const std::string topo = std::string(RAILCC_TEST_DATA) + "/verbs-4gpu-4hca.xml";
  opt.env["RAILCC_TOPO_FILE"] = topo;
  opt.env["RAILCC_DEBUG"] = "init";
  auto results = run_job(
      2,
      [](int) {
        auto c = Communicator::init();
        all_reduce_rounds(*c, 4);
      },
      opt);
  FakeVerbs::uninstall();
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
  EXPECT_NE(results[0].stderr_text.find("verbs ports from topology rail plan (file " + topo +
                                        "): mlx5_2:1 nearest GPU 0"),
            std::string::npos)
      << summary(results);
  EXPECT_NE(results[1].stderr_text.find("verbs ports from topology rail plan (file " + topo +
                                        "): mlx5_3:1 nearest GPU 1"),
            std::string::npos)
      << summary(results);
}

// A completion error on the only port fails the op on every rank with a message naming the peer,
// the HCA, the port and the verbs status.
TEST_F(VerbsTest, CompletionErrorIsAClearPeerFailure) {
  auto opt = verbs_job("fake0");
  opt.env["RAILCC_TIMEOUT"] = "10";
  auto results = run_job(
      2,
      [](int rank) {
        auto c = Communicator::init();
        try {
          // Connected and working; rank 0 may still be finishing the last of these ops (its
          // credits to rank 1) when rank 1's fault strikes, so they are inside the try too.
          all_reduce_rounds(*c, 2);
          if (rank == 1) fake().fail_nth_send("fake0", 5, IBV_WC_RETRY_EXC_ERR);
          all_reduce_rounds(*c, 50);
        } catch (const PeerFailureError& e) {
          // Whichever rank notices first (rank 1 on its failed write, or rank 0 when its writes
          // to rank 1's broken queue pair go unanswered) fails the op and tells the other over
          // the healthy queue pair: every rank's message carries that first report.
          const std::string m = e.what();
          CHECK((m.find("peer 0 unreachable on fake0 port 1 (retry exceeded: "
                        "IBV_WC_RETRY_EXC_ERR") != std::string::npos ||
                 m.find("peer 1 unreachable on fake0 port 1 (retry exceeded: "
                        "IBV_WC_RETRY_EXC_ERR") != std::string::npos),
                "rank {}'s message: {}", rank, m);
          return;
        }
        CHECK(false, "no error after an injected completion failure");
      },
      opt);
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
}

// Two verbs rails; one rank's second rail fails mid-run (an injected "retry exceeded"
// completion, then that port goes down). Its data moves to the remaining rail and every result
// stays exact; the warning names the rail and the verbs status.
TEST_F(VerbsTest, FailoverBetweenVerbsRails) {
  for (int world : {2, 3}) {
    auto results = run_job(
        world,
        [](int rank) {
          auto c = Communicator::init();
          all_reduce_rounds(*c, 4);
          if (rank == 0) fake().fail_nth_send("fake1", 20, IBV_WC_RETRY_EXC_ERR);
          all_reduce_rounds(*c, 40);
          if (rank == 0) fake().set_port_down("fake1", true);
          all_reduce_rounds(*c, 10);
        },
        verbs_job("fake0,fake1"));
    for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
    EXPECT_NE(results[0].stderr_text.find("unreachable on fake1 port 1 (retry exceeded"),
              std::string::npos)
        << summary(results);
    EXPECT_NE(results[0].stderr_text.find("out of service"), std::string::npos) << summary(results);
  }
}

// An async IBV_EVENT_PORT_ERR on one rank's second rail, mid-collective: that rail goes out of
// service at once (no completion error needed: only the event is injected), the collective and
// those after it finish exact on the remaining rail, and the warnings name the HCA, the port and
// the rail. IBV_EVENT_PORT_ACTIVE then lets the rail rejoin.
TEST_F(VerbsTest, PortErrEventFailsOverAndPortActiveRejoins) {
  for (int world : {2, 3}) {
    auto results = run_job(
        world,
        [](int rank) {
          auto c = Communicator::init();
          all_reduce_rounds(*c, 2);
          const std::size_t count = 1 << 20;  // 8 MiB: many chunks on each rail
          std::vector<int64_t> v(count, rank + 1);
          auto work = c->all_reduce(v.data(), v.data(), count, DataType::kInt64, ReduceOp::kSum);
          if (rank == 0) fake().inject_async_event("fake1", IBV_EVENT_PORT_ERR);
          work.wait();
          const int64_t want = int64_t{c->size()} * (c->size() + 1) / 2;
          for (std::size_t i = 0; i < count; ++i) {
            CHECK(v[i] == want, "element {}: {} != {}", i, v[i], want);
          }
          all_reduce_rounds(*c, 20);
          if (rank == 0) fake().inject_async_event("fake1", IBV_EVENT_PORT_ACTIVE);
          // Probes go out every 100 ms while ops run: keep some running for over a second (the
          // same number on every rank, so that none leaves while the others still need it).
          for (int i = 0; i < 25; ++i) {
            all_reduce_rounds(*c, 2);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
        },
        verbs_job("fake0,fake1"));
    for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
    const std::string& log = results[0].stderr_text;
    EXPECT_NE(log.find("RDMA port fake1 port 1 went down (IBV_EVENT_PORT_ERR)"), std::string::npos)
        << summary(results);
    // "rail fake1:1 (<local GID> -> <peer GID>) to rank 1 is out of service (...)".
    EXPECT_NE(log.find("rail fake1:1 ("), std::string::npos) << summary(results);
    EXPECT_NE(log.find("to rank 1 is out of service (fake1 port 1 is down (IBV_EVENT_PORT_ERR))"),
              std::string::npos)
        << summary(results);
    EXPECT_NE(log.find("RDMA port fake1 port 1 is ACTIVE again"), std::string::npos)
        << summary(results);
    EXPECT_NE(log.find("to rank 1 is back in service (was: fake1 port 1 is down"),
              std::string::npos)
        << summary(results);
  }
}

// An async queue-pair error (IBV_EVENT_QP_FATAL) on one rail: that rail fails naming the queue
// pair, HCA and port, and the job finishes exact on the other.
TEST_F(VerbsTest, QpFatalEventFailsThatRail) {
  auto results = run_job(
      2,
      [](int rank) {
        auto c = Communicator::init();
        all_reduce_rounds(*c, 2);
        if (rank == 1) fake().inject_qp_event("fake0", IBV_EVENT_QP_FATAL);
        all_reduce_rounds(*c, 20);
      },
      verbs_job("fake0,fake1"));
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
  const std::string& log = results[1].stderr_text;
  EXPECT_NE(log.find("to rank 0 is out of service (peer 0 unreachable on fake0 port 1 (queue "
                     "pair 0x"),
            std::string::npos)
      << summary(results);
  EXPECT_NE(log.find("failed: IBV_EVENT_QP_FATAL)"), std::string::npos) << summary(results);
}

// With one port there is no rail to fail over to: IBV_EVENT_PORT_ERR fails the op at once with
// a PeerFailureError naming the peer, the HCA, the port and the event.
TEST_F(VerbsTest, PortErrEventOnTheOnlyPortIsAClearPeerFailure) {
  auto opt = verbs_job("fake0");
  opt.env["RAILCC_TIMEOUT"] = "10";
  auto results = run_job(
      2,
      [](int rank) {
        auto c = Communicator::init();
        try {
          all_reduce_rounds(*c, 2);
          if (rank == 1) fake().inject_async_event("fake0", IBV_EVENT_PORT_ERR);
          all_reduce_rounds(*c, 50);
        } catch (const Error& e) {
          const std::string m = e.what();
          if (rank == 1) {
            CHECK(m.find("peer 0 unreachable on fake0 port 1 (port down: IBV_EVENT_PORT_ERR; no "
                         "other port to fail over to)") != std::string::npos,
                  "rank 1's message: {}", m);
          }
          return;
        }
        CHECK(false, "no error after the only port went down");
      },
      opt);
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
  EXPECT_NE(results[1].stderr_text.find("RDMA port fake0 port 1 went down (IBV_EVENT_PORT_ERR)"),
            std::string::npos)
      << summary(results);
}

// Every rail down: the op fails naming the peer and each rail with its verbs status.
TEST_F(VerbsTest, AllRailsDownIsAPeerFailureNamingEachRail) {
  auto opt = verbs_job("fake0,fake1");
  opt.env["RAILCC_TIMEOUT"] = "10";
  opt.env["RAILCC_RAIL_TIMEOUT"] = "0.3";
  auto results = run_job(
      2,
      [](int rank) {
        auto c = Communicator::init();
        try {
          all_reduce_rounds(*c, 2);  // rank 0 may still be in the last of these: in the try
          if (rank == 1) {
            fake().set_port_down("fake0", true);
            fake().set_port_down("fake1", true);
          }
          all_reduce_rounds(*c, 20);
        } catch (const Error& e) {
          const std::string m = e.what();
          if (rank == 1) {
            CHECK(m.find("every rail to rank 0 is out of service") != std::string::npos &&
                      m.find("unreachable on fake0 port 1 (retry exceeded") != std::string::npos &&
                      m.find("unreachable on fake1 port 1 (retry exceeded") != std::string::npos,
                  "rank 1's message: {}", m);
          }
          return;
        }
        CHECK(false, "no error with every rail down");
      },
      opt);
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
}

// Without the double, this machine's real libibverbs finds no device: RAILCC_TRANSPORT=verbs
// fails init on every rank with a message saying so.
TEST(VerbsNoDevice, ForcedVerbsWithoutDeviceFailsInit) {
  transport::verbs::set_verbs_api_for_testing(nullptr);
  if (!transport::verbs::open_verbs_ports(Config::from_map({}), 0).ports.empty()) {
    GTEST_SKIP() << "this machine has an RDMA device";
  }
  JobOptions opt;
  opt.env["RAILCC_TRANSPORT"] = "verbs";
  opt.env["RAILCC_TIMEOUT"] = "20";
  auto results = run_job(
      2,
      [](int) {
        try {
          auto c = Communicator::init();
        } catch (const ConfigError& e) {
          const std::string m = e.what();
          CHECK(
              m.find("RAILCC_TRANSPORT=verbs, but no RDMA device was found") != std::string::npos ||
                  m.find("found no RDMA device") != std::string::npos,
              "message: {}", m);
          return;
        }
        CHECK(false, "init succeeded without an RDMA device");
      },
      opt);
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
}

}  // namespace
}  // namespace railcc::test
