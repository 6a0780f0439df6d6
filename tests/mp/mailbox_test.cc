// The shared-memory mailbox for small all_reduce ops (src/algorithms/mailbox.h): thousands of
// ops that reuse its two slots, mixed with ops too large for it and with several ops in flight;
// ranks that disagree about an op, whether both use the mailbox or only one; a rank that never
// posts; a rank that dies.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <thread>

#include "railcc/railcc.hpp"
#include "tests/mp/harness.h"

namespace railcc::test {
namespace {

using namespace std::chrono_literals;

JobOptions options(const std::string& timeout = "60") {
  JobOptions o;
  o.env["RAILCC_TRANSPORT"] = "shm";
  o.env["RAILCC_TIMEOUT"] = timeout;
  o.limit = std::chrono::seconds(120);
  return o;
}

// Rank r's element i of op k: small integers, so int32 sums are exact.
int32_t value(int r, std::size_t i, int k) {
  return static_cast<int32_t>((r + 1) * 7 + i % 13 + k % 101);
}

TEST(Mailbox, SmallOpsUseItAndLargerOnesDoNot) {
  JobOptions o = options();
  o.env["RAILCC_DEBUG"] = "algo";
  auto out = run_job(
      2,
      [](int) {
        auto c = Communicator::init();
        // 4 B; 2 MiB (the default limit, in two exchanges); 2 MiB + 4 B
        for (std::size_t count : {1, 524288, 524289}) {
          std::vector<int32_t> buf(count, 1);
          c->all_reduce(buf.data(), buf.data(), count, DataType::kInt32, ReduceOp::kSum).wait();
          CHECK(buf[0] == 2 && buf[count - 1] == 2, "{} elements: got {}", count, buf[0]);
        }
      },
      o);
  for (const auto& r : out) ASSERT_TRUE(r.ok()) << summary(out);
  const std::string& log = out[0].stderr_text;
  EXPECT_NE(log.find("all_reduce 4 bytes x 2 ranks -> mailbox"), std::string::npos) << log;
  EXPECT_NE(log.find("all_reduce 2097152 bytes x 2 ranks -> mailbox (reduce-scatter + all-gather"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("all_reduce 2097156 bytes x 2 ranks -> mailbox"), std::string::npos) << log;
}

// RAILCC_SHM_MAILBOX_BYTES differs between ranks: the smallest applies to all, and 0 on any rank
// turns the mailbox off for all. Either way every rank takes the same path.
TEST(Mailbox, RanksAgreeWhenTheirLimitsDiffer) {
  for (const char* limit : {"64", "0"}) {
    JobOptions o = options("20");
    o.env["RAILCC_DEBUG"] = "algo";
    auto out = run_job(
        3,
        [limit](int rank) {
          if (rank == 1) setenv("RAILCC_SHM_MAILBOX_BYTES", limit, 1);
          auto c = Communicator::init();
          for (std::size_t count : {4, 100}) {  // 16 B, 400 B
            std::vector<int32_t> buf(count, rank);
            c->all_reduce(buf.data(), buf.data(), count, DataType::kInt32, ReduceOp::kSum).wait();
            CHECK(buf[count - 1] == 3, "{} elements: got {}", count, buf[count - 1]);
            c->barrier().wait();
          }
        },
        o);
    for (const auto& r : out) ASSERT_TRUE(r.ok()) << summary(out);
    const std::string& log = out[0].stderr_text;
    const bool small_in_mailbox =
        log.find("all_reduce 16 bytes x 3 ranks -> mailbox") != std::string::npos;
    EXPECT_EQ(small_in_mailbox, std::string(limit) == "64") << log;
    EXPECT_EQ(log.find("all_reduce 400 bytes x 3 ranks -> mailbox"), std::string::npos) << log;
  }
}

// Many ops in a row, some in flight together, some too large for the mailbox in between, in
// place and out of place: every result exact. A slot overwritten too early shows up as a wrong
// sum (or a hang the harness reports).
// ThreadSanitizer runs this ~10x slower (144 s of the CI's TSan pass at 1500 ops); 210 ops still
// cycle through every size, in place and not (lcm of 7 sizes, 2 layouts, 3 in flight).
#if defined(__SANITIZE_THREAD__)
constexpr int kReuseOps = 210;
#else
constexpr int kReuseOps = 1500;
#endif

TEST(Mailbox, SlotsAreReusedSafely) {
  for (int world : {2, 3, 4}) {
    auto out = run_job(
        world,
        [](int rank) {
          auto c = Communicator::init();
          const int p = c->size();
          // 40001 x 4 B: two exchanges, blocks of unequal length; 524289 x 4 B: messages.
          constexpr std::size_t kCounts[] = {1, 3, 64, 8192, 40001, 2, 524289};
          constexpr int kInFlight = 3;
          std::vector<std::vector<int32_t>> send(kInFlight), recv(kInFlight);
          for (int k = 0; k < kReuseOps; k += kInFlight) {
            std::vector<Work> works;
            for (int j = 0; j < kInFlight; ++j) {
              const int op = k + j;
              const std::size_t n = kCounts[op % std::size(kCounts)];
              send[j].resize(n);
              for (std::size_t i = 0; i < n; ++i) send[j][i] = value(rank, i, op);
              const bool in_place = op % 2 == 0;
              recv[j].assign(n, -1);
              int32_t* dst = in_place ? send[j].data() : recv[j].data();
              works.push_back(
                  c->all_reduce(send[j].data(), dst, n, DataType::kInt32, ReduceOp::kSum));
            }
            for (int j = 0; j < kInFlight; ++j) {
              works[j].wait();
              const int op = k + j;
              const std::size_t n = kCounts[op % std::size(kCounts)];
              const std::vector<int32_t>& got = op % 2 == 0 ? send[j] : recv[j];
              for (std::size_t i = 0; i < n; ++i) {
                int32_t want = 0;
                for (int r = 0; r < p; ++r) want += value(r, i, op);
                CHECK(got[i] == want, "op {} ({} elements) element {}: got {}, want {}", op, n, i,
                      got[i], want);
              }
            }
          }
          // Every reduce op and an average, in the mailbox.
          std::vector<float> f(5, static_cast<float>(rank + 1)), g(5);
          c->all_reduce(f.data(), g.data(), 5, DataType::kFloat32, ReduceOp::kMax).wait();
          CHECK(g[4] == static_cast<float>(p), "max {}", g[4]);
          c->all_reduce(f.data(), g.data(), 5, DataType::kFloat32, ReduceOp::kMin).wait();
          CHECK(g[4] == 1.0f, "min {}", g[4]);
          c->all_reduce(f.data(), g.data(), 5, DataType::kFloat32, ReduceOp::kAvg).wait();
          CHECK(g[4] == (p + 1) / 2.0f, "avg {}", g[4]);
          c->all_reduce(f.data(), g.data(), 5, DataType::kFloat32, ReduceOp::kProd).wait();
          float prod = 1;
          for (int r = 1; r <= p; ++r) prod *= static_cast<float>(r);
          CHECK(g[4] == prod, "prod {}", g[4]);
        },
        options());
    for (const auto& r : out) ASSERT_TRUE(r.ok()) << "np " << world << "\n" << summary(out);
  }
}

// A small op starts on the caller's thread at submission (CommunicatorImpl::run_now). A peer
// that arrives late must not block the caller: the op is queued half-done and finishes when
// waited for, in order with the ops submitted after it.
TEST(Mailbox, LatePeerDefersTheOpWithoutBlockingTheCaller) {
  JobOptions o = options("20");
  o.env["RAILCC_DEBUG"] = "coll";
  auto out = run_job(
      3,
      [](int rank) {
        auto c = Communicator::init();
        for (int k = 0; k < 4; ++k) {
          if (rank == 2) std::this_thread::sleep_for(30ms);
          std::vector<int32_t> a(4, value(rank, 0, k)), b(2, value(rank, 1, k)), d(600, rank);
          Work wa = c->all_reduce(a.data(), a.data(), a.size(), DataType::kInt32, ReduceOp::kSum);
          Work wb = c->all_reduce(b.data(), b.data(), b.size(), DataType::kInt32, ReduceOp::kMax);
          Work wd = c->broadcast(d.data(), d.data(), d.size(), DataType::kInt32, k % 3);
          wd.wait();  // the last first: the queue runs them in order anyway
          wa.wait();
          wb.wait();
          const int32_t sum = value(0, 0, k) + value(1, 0, k) + value(2, 0, k);
          CHECK(a[3] == sum, "op {}: sum {}, want {}", k, a[3], sum);
          CHECK(b[1] == value(2, 1, k), "op {}: max {}, want {}", k, b[1], value(2, 1, k));
          CHECK(d[599] == k % 3, "op {}: broadcast {}, want {}", k, d[599], k % 3);
        }
      },
      o);
  for (const auto& r : out) ASSERT_TRUE(r.ok()) << summary(out);
  // Ranks 0 and 1 waited 30 ms for rank 2 each time: their first op was deferred.
  EXPECT_NE(out[0].stderr_text.find("peers not all there within"), std::string::npos)
      << out[0].stderr_text;
}

// Two communicators, their ops submitted in opposite orders on the two ranks, then waited for.
// An op started at submission must not hold the caller until its peers arrive, or each rank
// would wait for the other's first op until the timeout.
TEST(Mailbox, OpsOnTwoCommunicatorsSubmittedInOppositeOrders) {
  auto out = run_job(
      2,
      [](int rank) {
        auto c = Communicator::init();
        auto d = c->split(0, rank);
        for (int k = 0; k < 50; ++k) {
          std::vector<int32_t> x(3, rank + k), y(5, 2 * rank + k);
          auto on_c = [&] {
            return c->all_reduce(x.data(), x.data(), x.size(), DataType::kInt32, ReduceOp::kSum);
          };
          auto on_d = [&] {
            return d->all_reduce(y.data(), y.data(), y.size(), DataType::kInt32, ReduceOp::kSum);
          };
          Work first = rank == 0 ? on_c() : on_d();
          Work second = rank == 0 ? on_d() : on_c();
          first.wait();
          second.wait();
          CHECK(x[2] == 1 + 2 * k && y[4] == 2 + 2 * k, "op {}: got {} and {}", k, x[2], y[4]);
        }
      },
      options("20"));
  for (const auto& r : out) ASSERT_TRUE(r.ok()) << summary(out);
}

// Every op kind the mailbox carries, roots moving, in a long mixed sequence.
TEST(Mailbox, EveryOpKindInAMixedSequence) {
  for (int world : {2, 3, 5}) {
    auto out = run_job(
        world,
        [](int rank) {
          auto c = Communicator::init();
          const int p = c->size();
          const DataType i32 = DataType::kInt32;
          constexpr std::size_t n = 7;
          std::vector<int32_t> send(n * p), recv(n * p);
          for (int k = 0; k < 600; ++k) {
            const int root = k % p;
            for (std::size_t i = 0; i < send.size(); ++i) send[i] = value(rank, i, k);
            std::fill(recv.begin(), recv.end(), -1);
            auto sum = [&](std::size_t i) {
              int32_t s = 0;
              for (int r = 0; r < p; ++r) s += value(r, i, k);
              return s;
            };
            switch (k % 5) {
              case 0:
                c->barrier().wait();
                break;
              case 1:
                c->broadcast(send.data(), recv.data(), n, i32, root).wait();
                for (std::size_t i = 0; i < n; ++i) {
                  CHECK(recv[i] == value(root, i, k), "broadcast op {} [{}]", k, i);
                }
                break;
              case 2:
                c->reduce(send.data(), recv.data(), n, i32, ReduceOp::kSum, root).wait();
                for (std::size_t i = 0; rank == root && i < n; ++i) {
                  CHECK(recv[i] == sum(i), "reduce op {} [{}]: {}", k, i, recv[i]);
                }
                break;
              case 3:
                c->all_gather(send.data(), recv.data(), n, i32).wait();
                for (std::size_t i = 0; i < n * p; ++i) {
                  CHECK(recv[i] == value(static_cast<int>(i / n), i % n, k),
                        "all_gather op {} [{}]", k, i);
                }
                break;
              case 4:
                c->reduce_scatter(send.data(), recv.data(), n, i32, ReduceOp::kSum).wait();
                for (std::size_t i = 0; i < n; ++i) {
                  CHECK(recv[i] == sum(rank * n + i), "reduce_scatter op {} [{}]", k, i);
                }
                break;
            }
          }
        },
        options());
    for (const auto& r : out) ASSERT_TRUE(r.ok()) << "np " << world << "\n" << summary(out);
  }
}

// One rank's op is too large for the mailbox, the others' fits: one side exchanges messages,
// the other waits on the mailbox. Both must see a mismatch, not wait for the timeout.
TEST(Mailbox, CountMismatchAcrossPathsFailsEveryRank) {
  auto out = run_job(
      3,
      [](int rank) {
        auto c = Communicator::init();
        const std::size_t count = rank == 1 ? 10000 : 1000;  // 40000 B vs 4000 B
        std::vector<float> buf(count, 1.0f);
        const auto start = std::chrono::steady_clock::now();
        auto [code, msg] = expect_error([&] {
          c->all_reduce(buf.data(), buf.data(), count, DataType::kFloat32, ReduceOp::kSum).wait();
        });
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::fprintf(stderr, "ERR %s\n", msg.c_str());
        CHECK(code == ErrorCode::kMismatch, "code {}: {}", static_cast<int>(code), msg);
        CHECK(msg.find("mismatch") != std::string::npos, "{}", msg);
        CHECK(s < 10, "took {} s (RAILCC_TIMEOUT is 60)", s);
      },
      options());
  for (const auto& r : out) ASSERT_TRUE(r.ok()) << summary(out);
  // The rank that sees both descriptions names both counts.
  EXPECT_NE(out[1].stderr_text.find("10000"), std::string::npos) << summary(out);
  EXPECT_NE(out[1].stderr_text.find("1000"), std::string::npos) << summary(out);
}

TEST(Mailbox, TypeMismatchInsideTheMailboxFailsEveryRank) {
  auto out = run_job(
      2,
      [](int rank) {
        auto c = Communicator::init();
        std::vector<int32_t> buf(4, 1);
        auto [code, msg] = expect_error([&] {
          c->all_reduce(buf.data(), buf.data(), 4,
                        rank == 0 ? DataType::kInt32 : DataType::kFloat32, ReduceOp::kSum)
              .wait();
        });
        CHECK(code == ErrorCode::kMismatch, "code {}: {}", static_cast<int>(code), msg);
        CHECK(msg.find("int32") != std::string::npos && msg.find("float") != std::string::npos,
              "{}", msg);
      },
      options());
  for (const auto& r : out) ASSERT_TRUE(r.ok()) << summary(out);
}

TEST(Mailbox, TimeoutNamesTheRankThatNeverPosted) {
  auto out = run_job(
      3,
      [](int rank) {
        auto c = Communicator::init();
        float x = 1.0f;
        if (rank == 0) std::this_thread::sleep_for(3s);
        auto [code, msg] = expect_error(
            [&] { c->all_reduce(&x, &x, 1, DataType::kFloat32, ReduceOp::kSum).wait(); });
        // Rank 0 finds its peers posted, then timed out: it must fail too (expect_error), not
        // report success.
        if (rank != 0) {
          CHECK(code == ErrorCode::kTimeout, "{}", msg);
          CHECK(msg.find("still waiting on rank(s) 0 ") != std::string::npos, "{}", msg);
          CHECK(msg.find("never reached op #1: 0") != std::string::npos, "{}", msg);
        }
      },
      options("1"));
  for (const auto& r : out) ASSERT_TRUE(r.ok()) << summary(out);
}

// A rank that keeps submitting ops without waiting retries the deferred head op at every
// submission; it must still time out at RAILCC_TIMEOUT from the op's first start, naming the
// rank that never posted, not be retried forever.
TEST(Mailbox, DeferredOpStillTimesOutWhileTheCallerKeepsSubmitting) {
  auto out = run_job(
      2,
      [](int rank) {
        auto c = Communicator::init();
        float x = 1.0f;
        if (rank == 1) {
          std::this_thread::sleep_for(4s);  // never calls the op
          return;
        }
        Work first = c->all_reduce(&x, &x, 1, DataType::kFloat32, ReduceOp::kSum);
        // Faster than the worker's tick, so only the submissions retry the op. They all queue
        // behind it and never run, so they may share a buffer.
        float y = 1.0f;
        std::vector<Work> later;
        const auto give_up = std::chrono::steady_clock::now() + 3s;
        while (!first.is_completed() && std::chrono::steady_clock::now() < give_up) {
          later.push_back(c->all_reduce(&y, &y, 1, DataType::kFloat32, ReduceOp::kSum));
        }
        CHECK(first.is_completed(), "the op never timed out while ops kept coming ({} submitted)",
              later.size());
        auto [code, msg] = expect_error([&] { first.wait(); });
        CHECK(code == ErrorCode::kTimeout, "{}", msg);
        CHECK(msg.find("still waiting on rank(s) 1 ") != std::string::npos, "{}", msg);
      },
      options("1"));
  for (const auto& r : out) ASSERT_TRUE(r.ok()) << summary(out);
}

TEST(Mailbox, KilledRankIsNamed) {
  auto out = run_job(
      3,
      [](int rank) {
        auto c = Communicator::init();
        float x = 1.0f;
        const auto start = std::chrono::steady_clock::now();
        auto [code, msg] = expect_error([&] {
          for (int i = 0; i < 10'000'000; ++i) {
            if (rank == 1 && i == 1000) raise(SIGKILL);
            c->all_reduce(&x, &x, 1, DataType::kFloat32, ReduceOp::kMax).wait();
          }
        });
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        CHECK(code == ErrorCode::kPeerFailure, "{}", msg);
        CHECK(msg.find("rank 1") != std::string::npos, "{}", msg);
        CHECK(s < 10, "took {} s", s);
      },
      options("120"));
  EXPECT_EQ(out[1].signal, SIGKILL) << summary(out);
  EXPECT_TRUE(out[0].ok()) << summary(out);
  EXPECT_TRUE(out[2].ok()) << summary(out);
}

}  // namespace
}  // namespace railcc::test
