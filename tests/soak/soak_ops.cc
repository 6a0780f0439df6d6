#include "tests/soak/soak_ops.h"

#include <dirent.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "railcc/railcc.hpp"
#include "tests/mp/harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define RAILCC_SOAK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RAILCC_SOAK_ASAN 1
#endif
#endif
#if RAILCC_SOAK_ASAN
#include <sanitizer/lsan_interface.h>
#endif

namespace railcc::test {
namespace {

#if RAILCC_SOAK_ASAN
constexpr bool kUnderAsan = true;
#else
constexpr bool kUnderAsan = false;
#endif

constexpr std::size_t kMaxBytes = std::size_t{16} << 20;
constexpr std::size_t kMaxElems = kMaxBytes / sizeof(uint32_t);
constexpr uint32_t kPoison = 0xdeadbeef;

enum class Op {
  kAllReduce,
  kReduceScatter,
  kAllGather,
  kBroadcast,
  kReduce,
  kAllToAll,
  kGather,
  kScatter,
  kSendRecv,
  kBarrier,
  kCount,
};

struct Step {
  Op op;
  std::size_t bytes;  // the whole buffer of the op (per rank), so block ops stay within kMaxBytes
  int root;
  ReduceOp redop;
};

// Sizes from 8 B to 16 MiB, log-uniform within three bands (80% up to 64 KiB, 18% up to 1 MiB,
// 2% up to 16 MiB); the big band is rare, so most of the
// run is the many small ops where per-op leaks would show, yet the large paths (chunking,
// single copy) keep running too.
Step draw(std::mt19937_64& rng, int world) {
  std::uniform_real_distribution<double> unit(0, 1);
  const double band = unit(rng);
  const double lo = band < 0.8 ? 3 : band < 0.98 ? 16 : 20;
  const double hi = band < 0.8 ? 16 : band < 0.98 ? 20 : 24;
  Step s;
  s.op = static_cast<Op>(std::uniform_int_distribution<int>(0, int(Op::kCount) - 1)(rng));
  s.bytes = static_cast<std::size_t>(std::exp2(lo + (hi - lo) * unit(rng)));
  s.root = std::uniform_int_distribution<int>(0, world - 1)(rng);
  constexpr ReduceOp kOps[] = {ReduceOp::kSum, ReduceOp::kMax, ReduceOp::kMin};
  s.redop = kOps[std::uniform_int_distribution<int>(0, 2)(rng)];
  return s;
}

// What rank r contributes at element i of op `salt`: distinct per rank, element and op.
uint32_t value(int r, std::size_t i, uint64_t salt) {
  uint32_t x = static_cast<uint32_t>(r) * 0x9e3779b1u ^ static_cast<uint32_t>(i * 2654435761u) ^
               static_cast<uint32_t>(salt * 0x85ebca6bu);
  return x ^ (x >> 15);
}

uint32_t reduced(ReduceOp op, int world, std::size_t i, uint64_t salt) {
  uint32_t acc = value(0, i, salt);
  for (int r = 1; r < world; ++r) {
    const uint32_t v = value(r, i, salt);
    acc = op == ReduceOp::kSum   ? acc + v
          : op == ReduceOp::kMax ? std::max(acc, v)
                                 : std::min(acc, v);
  }
  return acc;
}

struct Usage {
  std::size_t rss_bytes = 0;
  std::size_t private_bytes = 0;  // resident minus shared: the heap, where a leak would grow
  int fds = 0;
};

Usage usage() {
  // Hand freed heap memory back first: glibc keeps freed blocks of the varying op sizes cached
  // (more so per thread arena), which reads as growth that is not live memory.
  malloc_trim(0);
  Usage u;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long size = 0, resident = 0, shared = 0;
    if (std::fscanf(f, "%lu %lu %lu", &size, &resident, &shared) == 3) {
      const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
      u.rss_bytes = resident * page;
      u.private_bytes = (resident - shared) * page;
    }
    std::fclose(f);
  }
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) u.fds += e->d_name[0] != '.';
    closedir(d);
  }
  return u;
}

class Runner {
 public:
  explicit Runner(Communicator& c)
      : c_(c), rank_(c.rank()), world_(c.size()), send_(kMaxElems), recv_(kMaxElems) {}

  void run(const Step& s, uint64_t salt) {
    const std::size_t n = std::max<std::size_t>(s.bytes / sizeof(uint32_t), 1);
    const std::size_t block = std::max<std::size_t>(n / world_, 1);
    const DataType t = DataType::kUint32;
    uint32_t* in = send_.data();
    uint32_t* out = recv_.data();
    std::fill_n(out, std::min(kMaxElems, std::max(n, block * world_)), kPoison);
    auto fill = [&](uint32_t* p, std::size_t count, int who) {
      for (std::size_t i = 0; i < count; ++i) p[i] = value(who, i, salt);
    };
    switch (s.op) {
      case Op::kAllReduce: {
        const bool in_place = salt % 2 == 1;
        fill(in_place ? out : in, n, rank_);
        c_.all_reduce(in_place ? out : in, out, n, t, s.redop).wait();
        for (std::size_t i = 0; i < n; ++i) expect(out[i], reduced(s.redop, world_, i, salt), s, i);
        break;
      }
      case Op::kReduceScatter:
        fill(in, block * world_, rank_);
        c_.reduce_scatter(in, out, block, t, s.redop).wait();
        for (std::size_t i = 0; i < block; ++i) {
          expect(out[i], reduced(s.redop, world_, rank_ * block + i, salt), s, i);
        }
        break;
      case Op::kAllGather:
        fill(in, block, rank_);
        c_.all_gather(in, out, block, t).wait();
        for (std::size_t i = 0; i < block * world_; ++i) {
          expect(out[i], value(int(i / block), i % block, salt), s, i);
        }
        break;
      case Op::kBroadcast:
        fill(in, n, rank_);
        c_.broadcast(in, out, n, t, s.root).wait();
        for (std::size_t i = 0; i < n; ++i) expect(out[i], value(s.root, i, salt), s, i);
        break;
      case Op::kReduce:
        fill(in, n, rank_);
        c_.reduce(in, out, n, t, s.redop, s.root).wait();
        if (rank_ != s.root) break;
        for (std::size_t i = 0; i < n; ++i) expect(out[i], reduced(s.redop, world_, i, salt), s, i);
        break;
      case Op::kAllToAll:
        fill(in, block * world_, rank_);
        c_.all_to_all(in, out, block, t).wait();
        for (std::size_t i = 0; i < block * world_; ++i) {
          expect(out[i], value(int(i / block), rank_ * block + i % block, salt), s, i);
        }
        break;
      case Op::kGather:
        fill(in, block, rank_);
        c_.gather(in, out, block, t, s.root).wait();
        if (rank_ != s.root) break;
        for (std::size_t i = 0; i < block * world_; ++i) {
          expect(out[i], value(int(i / block), i % block, salt), s, i);
        }
        break;
      case Op::kScatter:
        fill(in, block * world_, rank_);
        c_.scatter(in, out, block, t, s.root).wait();
        for (std::size_t i = 0; i < block; ++i) {
          expect(out[i], value(s.root, rank_ * block + i, salt), s, i);
        }
        break;
      case Op::kSendRecv: {
        // A ring: everyone sends to the next rank and receives from the previous one.
        const int next = (rank_ + 1) % world_, prev = (rank_ + world_ - 1) % world_;
        const auto tag = static_cast<uint32_t>(salt & 0xffff);
        fill(in, n, rank_);
        Work r = c_.recv(out, n, t, prev, tag);
        Work w = c_.send(in, n, t, next, tag);
        r.wait();
        w.wait();
        for (std::size_t i = 0; i < n; ++i) expect(out[i], value(prev, i, salt), s, i);
        break;
      }
      case Op::kBarrier:
        c_.barrier().wait();
        break;
      case Op::kCount:
        break;
    }
  }

 private:
  void expect(uint32_t got, uint32_t want, const Step& s, std::size_t i) const {
    CHECK(got == want, "rank {}: op {} ({} bytes, root {}) element {}: got {:#x}, want {:#x}",
          rank_, int(s.op), s.bytes, s.root, i, got, want);
  }

  Communicator& c_;
  int rank_, world_;
  std::vector<uint32_t> send_, recv_;  // reused: RSS then measures the library, not the test
};

void run_and_measure(int ops);

}  // namespace

void soak(int ops) {
  run_and_measure(ops);
#if RAILCC_SOAK_ASAN
  // The harness ends ranks with _exit, which skips LeakSanitizer's exit-time check: run it
  // here, once the communicator and every buffer are gone.
  CHECK(__lsan_do_recoverable_leak_check() == 0, "LeakSanitizer found leaks (see stderr)");
#endif
}

namespace {

void run_and_measure(int ops) {
  auto c = Communicator::init();
  Runner runner(*c);
  // Warm-up: every op at sizes from the largest down, twice, so buffers, scratch, connections
  // and the pages of the shared-memory rings (which mid-sized messages fill gradually; larger
  // ones bypass them by single copy) are all in place before the first measurement.
  uint64_t salt = 0;
  for (int round = 0; round < 2; ++round) {
    for (std::size_t bytes : {kMaxBytes, kMaxBytes / 4 - 64, std::size_t{1} << 20,
                              std::size_t{64} << 10, std::size_t{8}}) {
      for (int op = 0; op < int(Op::kCount); ++op) {
        runner.run({static_cast<Op>(op), bytes, op % c->size(), ReduceOp::kSum}, ++salt);
      }
    }
  }
  c->barrier().wait();
  const Usage before = usage();
  const auto start = std::chrono::steady_clock::now();
  std::mt19937_64 rng(20261125);  // the same sequence on every rank
  for (int i = 0; i < ops; ++i) runner.run(draw(rng, c->size()), ++salt);
  c->barrier().wait();
  const Usage after = usage();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr,
               "soak rank %d: %d ops in %.1f s; RSS %.1f -> %.1f MiB (private %.1f -> %.1f MiB); "
               "open fds %d -> %d\n",
               c->rank(), ops, seconds, before.rss_bytes / 1048576.0, after.rss_bytes / 1048576.0,
               before.private_bytes / 1048576.0, after.private_bytes / 1048576.0, before.fds,
               after.fds);
  // Allocator noise is allowed a little; a per-op leak is not. Private memory is where a leak
  // grows; total RSS also counts shared ring pages, bounded by RAILCC_SHM_RING_BYTES per peer.
  // Under AddressSanitizer freed memory sits in its quarantine, so RSS says nothing there; the
  // leak check in soak() replaces these two.
  auto allowed = [](std::size_t before) { return before + before / 10 + (std::size_t{8} << 20); };
  CHECK(kUnderAsan || after.private_bytes <= allowed(before.private_bytes),
        "rank {}: private memory grew from {} to {} bytes over {} ops", c->rank(),
        before.private_bytes, after.private_bytes, ops);
  CHECK(kUnderAsan || after.rss_bytes <= allowed(before.rss_bytes),
        "rank {}: RSS grew from {} to {} bytes over {} ops", c->rank(), before.rss_bytes,
        after.rss_bytes, ops);
  CHECK(after.fds == before.fds, "rank {}: open fds went from {} to {} over {} ops", c->rank(),
        before.fds, after.fds, ops);
}

}  // namespace

}  // namespace railcc::test
