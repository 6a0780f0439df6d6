// Every error case of the foundation issue across real processes: ranks that disagree, ranks
// that never arrive, ranks that die, foreign connections, abort. Each must end in a clear error
// on every rank, quickly, never a hang.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "railcc/railcc.hpp"
#include "src/common/socket.h"
#include "tests/mp/harness.h"

namespace railcc::test {
namespace {

using namespace std::chrono_literals;

JobOptions options(const std::string& transport, const std::string& timeout = "30") {
  JobOptions o;
  o.env["RAILCC_TRANSPORT"] = transport;
  if (transport == "rails") {  // multi-rail over two loopback rails
    o.env["RAILCC_TRANSPORT"] = "tcp";
    o.env["RAILCC_RAILS"] = "lo,127.0.0.1";
  }
  o.env["RAILCC_TIMEOUT"] = timeout;
  o.limit = std::chrono::seconds(60);
  return o;
}

// Children report their error message on stderr as "ERR <code> <message>" for the parent.
void report(ErrorCode code, const std::string& msg) {
  std::fprintf(stderr, "ERR %d %s\n", static_cast<int>(code), msg.c_str());
}

class Errors : public ::testing::TestWithParam<std::string> {};

TEST_P(Errors, CountMismatchFailsEveryRank) {
  for (int world : {2, 3}) {
    auto out = run_job(
        world,
        [](int rank) {
          auto c = Communicator::init();
          const std::size_t count = rank == 1 ? 2'000'000 : 1'000'000;
          std::vector<float> buf(count, 1.0f);
          auto [code, msg] = expect_error([&] {
            c->all_reduce(buf.data(), buf.data(), count, DataType::kFloat32, ReduceOp::kSum).wait();
          });
          report(code, msg);
          CHECK(code == ErrorCode::kMismatch, "code {}: {}", static_cast<int>(code), msg);
          CHECK(msg.find("count") != std::string::npos, "no 'count' in: {}", msg);
        },
        options(GetParam()));
    for (const auto& o : out) ASSERT_TRUE(o.ok()) << summary(out);
    // The message names both counts.
    EXPECT_NE(out[0].stderr_text.find("2000000"), std::string::npos) << summary(out);
  }
}

TEST_P(Errors, OpAndCollectiveMismatch) {
  auto out = run_job(
      2,
      [](int rank) {
        auto c = Communicator::init();
        std::vector<int32_t> buf(100000, 1);
        auto [code, msg] = expect_error([&] {
          c->all_reduce(buf.data(), buf.data(), buf.size(), DataType::kInt32,
                        rank == 0 ? ReduceOp::kSum : ReduceOp::kMax)
              .wait();
        });
        report(code, msg);
        CHECK(code == ErrorCode::kMismatch, "{}", msg);
        CHECK(msg.find("sum") != std::string::npos && msg.find("max") != std::string::npos, "{}",
              msg);
        // The communicator is now unusable, and says why.
        auto [code2, msg2] = expect_error([&] { c->barrier().wait(); });
        CHECK(msg2.find("failed earlier") != std::string::npos, "{}", msg2);
      },
      options(GetParam()));
  for (const auto& o : out) ASSERT_TRUE(o.ok()) << summary(out);

  out = run_job(
      3,
      [](int rank) {
        auto c = Communicator::init();
        std::vector<int32_t> buf(1000, 1);
        auto [code, msg] = expect_error([&] {
          if (rank == 2) {
            c->broadcast(buf.data(), buf.data(), buf.size(), DataType::kInt32, 0).wait();
          } else {
            c->all_reduce(buf.data(), buf.data(), buf.size(), DataType::kInt32, ReduceOp::kSum)
                .wait();
          }
        });
        report(code, msg);
        CHECK(code == ErrorCode::kMismatch, "{}", msg);
        CHECK(msg.find("broadcast") != std::string::npos, "{}", msg);
      },
      options(GetParam()));
  for (const auto& o : out) ASSERT_TRUE(o.ok()) << summary(out);
}

TEST_P(Errors, TimeoutNamesTheRankThatNeverArrived) {
  auto out = run_job(
      3,
      [](int rank) {
        auto c = Communicator::init();
        std::vector<float> buf(1000, 1.0f);
        if (rank == 0) std::this_thread::sleep_for(3s);  // never reaches the op within 1 s
        const auto start = std::chrono::steady_clock::now();
        auto [code, msg] = expect_error([&] {
          c->all_reduce(buf.data(), buf.data(), buf.size(), DataType::kFloat32, ReduceOp::kSum)
              .wait();
        });
        report(code, msg);
        if (rank != 0) {
          CHECK(code == ErrorCode::kTimeout, "{}", msg);
          CHECK(msg.find("never reached op #1: 0") != std::string::npos, "{}", msg);
          CHECK(msg.find("all_reduce #1") != std::string::npos, "{}", msg);
        } else {
          // The late rank finds its peers already failed and fails at once.
          const double s =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          CHECK(s < 1.0, "late rank took {} s to fail: {}", s, msg);
        }
      },
      options(GetParam(), "1"));
  for (const auto& o : out) ASSERT_TRUE(o.ok()) << summary(out);
  for (int r : {1, 2}) EXPECT_LT(out[r].seconds, 8.0) << summary(out);
}

TEST_P(Errors, KilledRankIsNamedWithinSeconds) {
  auto out = run_job(
      3,
      [](int rank) {
        auto c = Communicator::init();
        std::vector<float> buf(4 << 20, 1.0f);
        if (rank == 1) {
          // Die in the middle of a large all_reduce.
          std::thread([] {
            std::this_thread::sleep_for(30ms);
            raise(SIGKILL);
          }).detach();
        }
        const auto start = std::chrono::steady_clock::now();
        auto [code, msg] = expect_error([&] {
          for (int i = 0; i < 1000; ++i) {
            c->all_reduce(buf.data(), buf.data(), buf.size(), DataType::kFloat32, ReduceOp::kSum)
                .wait();
          }
        });
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        report(code, msg);
        CHECK(code == ErrorCode::kPeerFailure, "{}", msg);
        CHECK(msg.find("rank 1") != std::string::npos, "{}", msg);
        CHECK(s < 10, "took {} s", s);
      },
      options(GetParam(), "120"));
  EXPECT_EQ(out[1].signal, SIGKILL) << summary(out);
  EXPECT_TRUE(out[0].ok()) << summary(out);
  EXPECT_TRUE(out[2].ok()) << summary(out);
}

TEST_P(Errors, AbortUnblocksAPendingOp) {
  auto out = run_job(
      2,
      [](int rank) {
        auto c = Communicator::init();
        std::vector<float> buf(1000, 1.0f);
        if (rank == 1) {
          std::this_thread::sleep_for(2s);  // never joins in time
          return;
        }
        std::thread aborter([&] {
          std::this_thread::sleep_for(200ms);
          c->abort();
        });
        const auto start = std::chrono::steady_clock::now();
        auto [code, msg] = expect_error([&] {
          c->all_reduce(buf.data(), buf.data(), buf.size(), DataType::kFloat32, ReduceOp::kSum)
              .wait();
        });
        aborter.join();
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        CHECK(code == ErrorCode::kAborted, "{}", msg);
        CHECK(s < 2, "abort took {} s", s);
      },
      options(GetParam()));
  EXPECT_TRUE(out[0].ok()) << summary(out);
}

// abort() on one rank fails the pending ops of the others within seconds, naming the rank that
// aborted, even though the aborting rank itself had no op in flight.
TEST_P(Errors, AbortOnOneRankFailsTheOthers) {
  auto out = run_job(
      3,
      [](int rank) {
        auto c = Communicator::init();
        std::vector<float> buf(1000, 1.0f);
        const auto start = std::chrono::steady_clock::now();
        if (rank == 0) {
          std::this_thread::sleep_for(300ms);
          c->abort();
          std::this_thread::sleep_for(500ms);  // keep the process (and its sockets) alive
          return;
        }
        auto [code, msg] = expect_error([&] {
          c->all_reduce(buf.data(), buf.data(), buf.size(), DataType::kFloat32, ReduceOp::kSum)
              .wait();
        });
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        report(code, msg);
        CHECK(code == ErrorCode::kAborted || code == ErrorCode::kPeerFailure, "{}", msg);
        CHECK(msg.find("rank 0 aborted") != std::string::npos, "{}", msg);
        CHECK(s < 5, "took {} s", s);
      },
      options(GetParam()));
  for (const auto& o : out) ASSERT_TRUE(o.ok()) << summary(out);
}

TEST_P(Errors, WorkWaitWithShortTimeoutThenCompletes) {
  auto out = run_job(
      2,
      [](int rank) {
        auto c = Communicator::init();
        float v = 1.0f;
        if (rank == 1) std::this_thread::sleep_for(500ms);
        Work w = c->all_reduce(&v, &v, 1, DataType::kFloat32, ReduceOp::kSum);
        if (rank == 0) {
          auto [code, msg] = expect_error([&] { w.wait(50ms); });
          CHECK(code == ErrorCode::kTimeout, "{}", msg);
          CHECK(!w.is_completed(), "completed too early");
        }
        w.wait();
        CHECK(v == 2.0f, "{}", v);
      },
      options(GetParam()));
  for (const auto& o : out) ASSERT_TRUE(o.ok()) << summary(out);
}

INSTANTIATE_TEST_SUITE_P(Transports, Errors, ::testing::Values("shm", "tcp", "rails"));

TEST(ErrorsTcp, ForeignConnectionsAreRejectedAndTheJobGoesOn) {
  auto out = run_job(
      2,
      [](int rank) {
        auto c = Communicator::init();
        const Config cfg = Config::from_env();
        if (rank == 0) {
          // Garbage to the store and to rank 1's peer port (read from the store like a stranger).
          auto store = connect_tcp_store(cfg.launch.store_addr, 5s);
          auto info = store->get("railcc/comm/1/peer/1", 5s);
          std::string text(info.begin(), info.end());
          std::vector<std::string> lines;
          for (std::size_t pos = 0; pos <= text.size();) {
            auto nl = text.find('\n', pos);
            lines.push_back(text.substr(pos, nl - pos));
            if (nl == std::string::npos) break;
            pos = nl + 1;
          }
          const char junk[] =
              "GET / HTTP/1.1\r\nHost: x\r\n\r\n 0123456789012345678901234567890123456789";
          for (const std::string& addr : {lines.at(2) + ":" + lines.at(3), cfg.launch.store_addr}) {
            auto fd = net::connect_to(net::resolve(addr, "test"), Deadline::after(5s), "target");
            net::write_all(fd.get(), junk, sizeof(junk), Deadline::after(5s));
          }
        } else {
          std::this_thread::sleep_for(300ms);  // block in poll so the listener is serviced
        }
        for (int i = 0; i < 20; ++i) {
          int32_t v = 1, sum = 0;
          if (rank == 0) std::this_thread::sleep_for(20ms);
          c->all_reduce(&v, &sum, 1, DataType::kInt32, ReduceOp::kSum).wait();
          CHECK(sum == 2, "sum {}", sum);
        }
      },
      options("tcp"));
  for (const auto& o : out) ASSERT_TRUE(o.ok()) << summary(out);
  EXPECT_NE(out[1].stderr_text.find("rejected connection"), std::string::npos) << summary(out);
}

}  // namespace
}  // namespace railcc::test
