// Windows (Communicator::register_window, src/algorithms/window.h): ranks of one host reduce from
// each other's registered buffers in place (all_reduce, reduce_scatter, all_gather, broadcast,
// reduce). Every size (count below the rank count included), in
// place and out of place, with several ops in flight; a rank whose buffer is not in a window
// (everyone falls back together); deregistration; and registrations that must fail on every rank.
#include <gtest/gtest.h>

#include <cstring>
#include <span>

#include "railcc/railcc.hpp"
#include "tests/mp/harness.h"

namespace railcc::test {
namespace {

// RAILCC_SHM_MAILBOX_BYTES=64 keeps the mailbox (windows need it to agree) but carries only ops of
// at most 64 bytes, so the window path is taken from 4 bytes up (RAILCC_SHM_WINDOW_BYTES=4).
JobOptions options(const std::string& window_bytes = "4") {
  JobOptions o;
  o.env["RAILCC_TRANSPORT"] = "shm";
  o.env["RAILCC_TIMEOUT"] = "60";
  o.env["RAILCC_SHM_MAILBOX_BYTES"] = "64";
  o.env["RAILCC_SHM_WINDOW_BYTES"] = window_bytes;
  o.env["RAILCC_DEBUG"] = "algo";
  o.limit = std::chrono::seconds(120);
  return o;
}

int32_t value(int r, std::size_t i, int k) {
  return static_cast<int32_t>((r + 1) * 7 + i % 13 + k % 101);
}

// Memory from mem_alloc, freed at scope exit.
struct Shared {
  explicit Shared(std::size_t bytes) : p(mem_alloc(bytes)) {}
  ~Shared() { mem_free(p); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(p);
  }
  void* p;
};

std::size_t count_of(const std::string& log, const std::string& what) {
  std::size_t n = 0;
  for (auto at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
  return n;
}

TEST(Window, EveryCollectiveAndSizeInPlace) {
  for (int world : {2, 3, 4}) {
    auto out = run_job(
        world,
        [](int rank) {
          auto c = Communicator::init();
          const int p = c->size();
          constexpr std::size_t kMax = 300001;  // elements; odd, so blocks differ in length
          // Four regions of kMax * p elements: a, b and the out-of-place results of each.
          Shared mem(4 * kMax * p * sizeof(int32_t));
          const uint64_t w = c->register_window(mem.p, 4 * kMax * p * sizeof(int32_t));
          int32_t* a = mem.as<int32_t>();
          int32_t* b = a + kMax * p;
          int op = 0;
          for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{5},
                                std::size_t{1000}, std::size_t{65537}, kMax}) {
            for (bool in_place : {true, false}) {
              ++op;
              // all_reduce, two in flight (the second on the other half of the window).
              for (std::size_t i = 0; i < n; ++i) a[i] = b[i] = value(rank, i, op);
              int32_t* da = in_place ? a : a + 2 * kMax * p;
              int32_t* db = in_place ? b : a + 3 * kMax * p;
              Work w1 = c->all_reduce(a, da, n, DataType::kInt32, ReduceOp::kSum);
              Work w2 = c->all_reduce(b, db, n, DataType::kInt32, ReduceOp::kMax);
              w1.wait();
              w2.wait();
              for (std::size_t i = 0; i < n; ++i) {
                int32_t sum = 0, max = 0;
                for (int r = 0; r < p; ++r) sum += value(r, i, op);
                max = value(p - 1, i, op);
                CHECK(da[i] == sum, "all_reduce n {} op {} [{}]: {} != {}", n, op, i, da[i], sum);
                CHECK(db[i] == max, "max n {} [{}]: {} != {}", n, i, db[i], max);
              }
              // reduce_scatter: n elements per rank.
              ++op;
              for (std::size_t i = 0; i < n * p; ++i) a[i] = value(rank, i, op);
              int32_t* rs = in_place ? a + n * rank : b;
              c->reduce_scatter(a, rs, n, DataType::kInt32, ReduceOp::kSum).wait();
              for (std::size_t i = 0; i < n; ++i) {
                int32_t sum = 0;
                for (int r = 0; r < p; ++r) sum += value(r, n * rank + i, op);
                CHECK(rs[i] == sum, "reduce_scatter n {} [{}]: {} != {}", n, i, rs[i], sum);
              }
              // broadcast and reduce, from a root that moves round.
              ++op;
              const int root = op % p;
              for (std::size_t i = 0; i < n; ++i) a[i] = value(rank, i, op);
              int32_t* bc = in_place ? a : b;
              c->broadcast(a, bc, n, DataType::kInt32, root).wait();
              for (std::size_t i = 0; i < n; ++i) {
                CHECK(bc[i] == value(root, i, op), "broadcast n {} root {} [{}]", n, root, i);
              }
              ++op;
              for (std::size_t i = 0; i < n; ++i) a[i] = value(rank, i, op);
              int32_t* rd = in_place ? a : b;
              c->reduce(a, rd, n, DataType::kInt32, ReduceOp::kSum, root).wait();
              for (std::size_t i = 0; rank == root && i < n; ++i) {
                int32_t sum = 0;
                for (int r = 0; r < p; ++r) sum += value(r, i, op);
                CHECK(rd[i] == sum, "reduce n {} root {} [{}]: {} != {}", n, root, i, rd[i], sum);
              }
              // all_gather: in place when send is our block of recv.
              ++op;
              int32_t* ag_send = in_place ? b + n * rank : a;
              for (std::size_t i = 0; i < n; ++i) ag_send[i] = value(rank, i, op);
              c->all_gather(ag_send, b, n, DataType::kInt32).wait();
              for (int r = 0; r < p; ++r) {
                for (std::size_t i = 0; i < n; ++i) {
                  CHECK(b[n * r + i] == value(r, i, op), "all_gather n {} block {} [{}]", n, r, i);
                }
              }
            }
          }
          // An average of floats, exact for these values.
          float* f = mem.as<float>();
          for (int i = 0; i < 1000; ++i) f[i] = static_cast<float>(rank + 1);
          c->all_reduce(f, f, 1000, DataType::kFloat32, ReduceOp::kAvg).wait();
          CHECK(f[999] == (p + 1) / 2.0f, "avg {}", f[999]);
          c->deregister_window(w);
        },
        options());
    for (const auto& r : out) ASSERT_TRUE(r.ok()) << "np " << world << "\n" << summary(out);
    const std::string& log = out[0].stderr_text;
    // all_reduce: 2 ops x 2 (in place or not) x 3 counts above the mailbox's 64 bytes, and the
    // average; every other collective at least at 1000 elements, in place and not.
    EXPECT_EQ(
        count_of(log, "all_reduce 4000 bytes x " + std::to_string(world) + " ranks -> window"), 5u)
        << log;
    const std::string block = std::to_string(4000 * world);
    for (const std::string& op :
         {"algo: reduce_scatter " + block, "algo: all_gather " + block,
          std::string("algo: broadcast 4000"), std::string("algo: reduce 4000")}) {
      EXPECT_EQ(count_of(log, op + " bytes x " + std::to_string(world) + " ranks -> window"), 2u)
          << op << "\n"
          << log;
    }
  }
}

// all_reduce in windows publishes its progress tile by tile and waits on its peers' tiles between
// two mailbox exchanges. A peer that is done and has posted the next exchange (or the next op's
// first) meanwhile is no mismatch: many small tiles and 8-byte ops in between make that likely.
TEST(Window, ManyTilesBetweenSmallOps) {
  for (int world : {2, 3}) {
    JobOptions o = options();
    o.env["RAILCC_SHM_MAILBOX_BYTES"] = "4K";
    o.env["RAILCC_CHUNK_BYTES"] = "4K";
    auto out = run_job(
        world,
        [](int rank) {
          auto c = Communicator::init();
          const int p = c->size();
          constexpr std::size_t kN = 20000;  // 80 KB: 10 tiles of 4K per rank at np 2, 7 at np 3
          Shared mem(kN * sizeof(int32_t));
          c->register_window(mem.p, kN * sizeof(int32_t));
          int32_t* buf = mem.as<int32_t>();
          for (int k = 0; k < 300; ++k) {
            for (std::size_t i = 0; i < kN; ++i) buf[i] = value(rank, i, k);
            c->all_reduce(buf, buf, kN, DataType::kInt32, ReduceOp::kSum).wait();
            int64_t x = rank;
            c->all_reduce(&x, &x, 1, DataType::kInt64, ReduceOp::kSum).wait();
            CHECK(x == p * (p - 1) / 2, "op {}: small sum {}", k, x);
            for (std::size_t i = 0; i < kN; i += 101) {
              int32_t want = 0;
              for (int r = 0; r < p; ++r) want += value(r, i, k);
              CHECK(buf[i] == want, "op {} [{}]: {} != {}", k, i, buf[i], want);
            }
          }
        },
        o);
    for (const auto& r : out) ASSERT_TRUE(r.ok()) << "np " << world << "\n" << summary(out);
  }
}

// Ops larger than the last-level cache copy with non-temporal stores (window.cc): results exact,
// in place and out of place, with a length that leaves unaligned heads and tails.
TEST(Window, OpsLargerThanTheCacheStreamTheirCopies) {
  auto out = run_job(
      2,
      [](int rank) {
        auto c = Communicator::init();
        constexpr std::size_t kN = (36u << 20) / 4 + 3;  // 36 MiB + 12 B of int32
        Shared mem(2 * kN * sizeof(int32_t));
        c->register_window(mem.p, 2 * kN * sizeof(int32_t));
        int32_t* a = mem.as<int32_t>();
        for (bool in_place : {true, false}) {
          for (std::size_t i = 0; i < kN; ++i) a[i] = value(rank, i, in_place);
          int32_t* dst = in_place ? a : a + kN;
          c->all_reduce(a + 0, dst, kN, DataType::kInt32, ReduceOp::kSum).wait();
          for (std::size_t i = 0; i < kN; ++i) {
            const int32_t want = value(0, i, in_place) + value(1, i, in_place);
            CHECK(dst[i] == want, "in place {} [{}]: {} != {}", in_place, i, dst[i], want);
          }
        }
      },
      options());
  for (const auto& r : out) ASSERT_TRUE(r.ok()) << summary(out);
  EXPECT_EQ(count_of(out[0].stderr_text, "-> window"), 2u) << out[0].stderr_text;
}

// Rank 1 passes a buffer outside its windows: every rank sees it in the refs and runs the op the
// usual way, with the right result. Once rank 1 uses its window too, the window path is back.
TEST(Window, OneRankOutsideItsWindowsFallsBackEverywhere) {
  auto out = run_job(
      3,
      [](int rank) {
        auto c = Communicator::init();
        constexpr std::size_t kN = 100000;
        Shared mem(kN * sizeof(int32_t));
        c->register_window(mem.p, kN * sizeof(int32_t));
        std::vector<int32_t> plain(kN);
        for (int k = 0; k < 2; ++k) {
          int32_t* buf = rank == 1 && k == 0 ? plain.data() : mem.as<int32_t>();
          for (std::size_t i = 0; i < kN; ++i) buf[i] = value(rank, i, k);
          c->all_reduce(buf, buf, kN, DataType::kInt32, ReduceOp::kSum).wait();
          for (std::size_t i = 0; i < kN; i += 997) {
            const int32_t want = value(0, i, k) + value(1, i, k) + value(2, i, k);
            CHECK(buf[i] == want, "op {} [{}]: {} != {}", k, i, buf[i], want);
          }
        }
      },
      options());
  for (const auto& r : out) ASSERT_TRUE(r.ok()) << summary(out);
  for (const auto& r : out) EXPECT_EQ(count_of(r.stderr_text, "-> window"), 1u) << r.stderr_text;
}

// After deregister_window the buffer is an ordinary one again; RAILCC_SHM_WINDOW_BYTES=0 on one
// rank turns windows off for all.
TEST(Window, DeregisteredOrTurnedOffWindowsAreNotUsed) {
  for (bool off : {false, true}) {
    JobOptions o = options();
    auto out = run_job(
        2,
        [off](int rank) {
          if (off && rank == 1) setenv("RAILCC_SHM_WINDOW_BYTES", "0", 1);
          auto c = Communicator::init();
          constexpr std::size_t kN = 50000;
          Shared mem(kN * sizeof(int32_t));
          const uint64_t w = c->register_window(mem.p, kN * sizeof(int32_t));
          int32_t* buf = mem.as<int32_t>();
          for (int k = 0; k < 2; ++k) {
            if (k == 1) c->deregister_window(w);
            for (std::size_t i = 0; i < kN; ++i) buf[i] = value(rank, i, k);
            c->all_reduce(buf, buf, kN, DataType::kInt32, ReduceOp::kSum).wait();
            CHECK(buf[kN - 1] == value(0, kN - 1, k) + value(1, kN - 1, k), "op {}", k);
          }
        },
        o);
    for (const auto& r : out) ASSERT_TRUE(r.ok()) << summary(out);
    EXPECT_EQ(count_of(out[0].stderr_text, "-> window"), off ? 0u : 1u) << out[0].stderr_text;
  }
}

// Memory not from mem_alloc, or an empty buffer, on one rank fails registration on every rank,
// naming it; so does deregistering different windows.
TEST(Window, BadRegistrationFailsEveryRank) {
  auto out = run_job(
      3,
      [](int rank) {
        auto c = Communicator::init();
        Shared mem(4096);
        std::vector<char> plain(4096);
        auto [code, msg] = expect_error([&] {
          c->register_window(rank == 2 ? static_cast<void*>(plain.data()) : mem.p, 4096);
        });
        CHECK(code == ErrorCode::kInvalidArgument, "code {}: {}", static_cast<int>(code), msg);
        CHECK(msg.find("rank(s) 2 passed a buffer") != std::string::npos, "{}", msg);
        CHECK(msg.find("railcc::mem_alloc") != std::string::npos, "{}", msg);
        // Past the end of the allocation is outside it too.
        std::tie(code, msg) = expect_error(
            [&] { c->register_window(static_cast<char*>(mem.p) + 1, rank == 0 ? 4096 : 8); });
        CHECK(msg.find("rank(s) 0 passed") != std::string::npos, "{}", msg);
        // The communicator still works, and windows still register.
        const uint64_t w1 = c->register_window(mem.p, 2048);
        const uint64_t w2 = c->register_window(static_cast<char*>(mem.p) + 2048, 2048);
        std::tie(code, msg) = expect_error([&] { c->deregister_window(rank == 0 ? w2 : w1); });
        CHECK(code == ErrorCode::kMismatch, "code {}: {}", static_cast<int>(code), msg);
        c->deregister_window(w1);
        c->deregister_window(w2);
        std::tie(code, msg) = expect_error([&] { c->deregister_window(w2); });
        CHECK(code == ErrorCode::kInvalidArgument, "{}", msg);
        int32_t x = rank;
        c->all_reduce(&x, &x, 1, DataType::kInt32, ReduceOp::kSum).wait();
        CHECK(x == 3, "{}", x);
      },
      options());
  for (const auto& r : out) ASSERT_TRUE(r.ok()) << summary(out);
}

}  // namespace
}  // namespace railcc::test
