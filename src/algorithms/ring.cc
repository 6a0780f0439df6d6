#include "src/algorithms/ring.h"

#include <vector>

#include "src/algorithms/chunking.h"

namespace railcc::algo {
namespace {

// A buffer of `count` elements seen by the ring: one block per rank, each sent in chunks.
struct RingLayout {
  RingLayout(const Context& ctx, std::size_t count)
      : count(count),
        p(ctx.size()),
        r(ctx.rank()),
        right((r + 1) % p),
        left((r - 1 + p) % p),
        es(ctx.elem_size()),
        chunk_bytes(ctx.config().chunk_bytes) {}
  // Index of block r + k, wrapping around the ring.
  int block(int k) const { return ((r + k) % p + p) % p; }
  std::size_t offset(int b) const { return block_offset(count, p, b) * es; }
  Chunks chunks(int b) const {
    return Chunks(block_offset(count, p, b + 1) - block_offset(count, p, b), es, chunk_bytes);
  }

  std::size_t count;
  int p, r, right, left;
  std::size_t es, chunk_bytes;
};

}  // namespace

void ring_reduce_scatter(Context& ctx, const std::byte* src, std::byte* work, std::byte* final_dst,
                         std::size_t count, std::vector<RecvRequest*>* final_recvs) {
  const RingLayout ring(ctx, count);
  const int p = ring.p;
  const std::size_t es = ring.es;
  // Receives of every step, posted up front in the order the left neighbour sends them.
  // Step k receives block r-k-2, reduced with our own input; the last step yields block r.
  std::vector<std::vector<RecvRequest*>> got(p - 1);
  for (int k = 0; k < p - 1; ++k) {
    const int b = ring.block(-k - 2);
    const Chunks ch = ring.chunks(b);
    std::byte* dst = k == p - 2 ? final_dst : work + ring.offset(b);
    for (std::size_t c = 0; c < ch.n; ++c) {
      got[k].push_back(ctx.recv_reduce(ring.left, dst + ch.begin(c) * es,
                                       src + ring.offset(b) + ch.begin(c) * es, ch.length(c) * es));
    }
  }
  // Step k sends block r-k-1: our input at step 0, then what arrived at step k-1.
  for (int k = 0; k < p - 1; ++k) {
    const int b = ring.block(-k - 1);
    const Chunks ch = ring.chunks(b);
    for (std::size_t c = 0; c < ch.n; ++c) {
      const std::size_t at = ring.offset(b) + ch.begin(c) * es;
      if (k == 0) {
        ctx.send(ring.right, src + at, ch.length(c) * es);
      } else {
        ctx.wait(got[k - 1][c]);
        ctx.send(ring.right, work + at, ch.length(c) * es);
      }
    }
  }
  if (final_recvs) *final_recvs = got[p - 2];
}

void ring_all_gather(Context& ctx, std::byte* buf, const std::byte* own, std::size_t count,
                     const std::vector<RecvRequest*>* own_ready,
                     void (*on_own_chunk)(Context&, std::byte*, std::size_t)) {
  const RingLayout ring(ctx, count);
  const int p = ring.p;
  const std::size_t es = ring.es;
  // Step k receives block r-k-1 from the left.
  std::vector<std::vector<RecvRequest*>> got(p - 1);
  for (int k = 0; k < p - 1; ++k) {
    const int b = ring.block(-k - 1);
    const Chunks ch = ring.chunks(b);
    for (std::size_t c = 0; c < ch.n; ++c) {
      got[k].push_back(
          ctx.recv(ring.left, buf + ring.offset(b) + ch.begin(c) * es, ch.length(c) * es));
    }
  }
  // Step k sends block r-k: our own block first, then what arrived at step k-1.
  for (int k = 0; k < p - 1; ++k) {
    const int b = ring.block(-k);
    const Chunks ch = ring.chunks(b);
    for (std::size_t c = 0; c < ch.n; ++c) {
      if (k == 0) {
        const std::byte* chunk = own + ch.begin(c) * es;
        if (own_ready) {
          ctx.wait((*own_ready)[c]);
          if (on_own_chunk) on_own_chunk(ctx, const_cast<std::byte*>(chunk), ch.length(c));
        }
        ctx.send(ring.right, chunk, ch.length(c) * es);
      } else {
        ctx.wait(got[k - 1][c]);
        ctx.send(ring.right, buf + ring.offset(b) + ch.begin(c) * es, ch.length(c) * es);
      }
    }
  }
}

}  // namespace railcc::algo
