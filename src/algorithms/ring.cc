#include "src/algorithms/ring.h"

#include <vector>

#include "src/algorithms/chunking.h"

namespace railcc::algo {
namespace {
int mod(int a, int p) { return ((a % p) + p) % p; }
}  // namespace

void ring_reduce_scatter(Context& ctx, const std::byte* src, std::byte* work, std::byte* final_dst,
                         std::size_t count, std::vector<RecvRequest*>* final_recvs) {
  const int p = ctx.size(), r = ctx.rank();
  const int right = mod(r + 1, p), left = mod(r - 1, p);
  const std::size_t es = ctx.elem_size();
  auto off = [&](int block) { return block_offset(count, p, block) * es; };
  auto elems = [&](int block) {
    return block_offset(count, p, block + 1) - block_offset(count, p, block);
  };
  // Receives of every step, posted up front in the order the left neighbour sends them.
  // Step k receives block r-k-2, reduced with our own input; the last step yields block r.
  std::vector<std::vector<RecvRequest*>> got(p - 1);
  for (int k = 0; k < p - 1; ++k) {
    const int b = mod(r - k - 2, p);
    const Chunks ch(elems(b), es, ctx.config().chunk_bytes);
    std::byte* dst = k == p - 2 ? final_dst : work + off(b);
    for (std::size_t c = 0; c < ch.n; ++c) {
      got[k].push_back(ctx.recv_reduce(left, dst + ch.begin(c) * es,
                                       src + off(b) + ch.begin(c) * es, ch.length(c) * es));
    }
  }
  // Step k sends block r-k-1: our input at step 0, then what arrived at step k-1.
  for (int k = 0; k < p - 1; ++k) {
    const int b = mod(r - k - 1, p);
    const Chunks ch(elems(b), es, ctx.config().chunk_bytes);
    for (std::size_t c = 0; c < ch.n; ++c) {
      const std::size_t at = off(b) + ch.begin(c) * es;
      if (k == 0) {
        ctx.send(right, src + at, ch.length(c) * es);
      } else {
        ctx.wait(got[k - 1][c]);
        ctx.send(right, work + at, ch.length(c) * es);
      }
    }
  }
  if (final_recvs) *final_recvs = got[p - 2];
}

void ring_all_gather(Context& ctx, std::byte* buf, const std::byte* own, std::size_t count,
                     const std::vector<RecvRequest*>* own_ready,
                     void (*on_own_chunk)(Context&, std::byte*, std::size_t)) {
  const int p = ctx.size(), r = ctx.rank();
  const int right = mod(r + 1, p), left = mod(r - 1, p);
  const std::size_t es = ctx.elem_size();
  auto off = [&](int block) { return block_offset(count, p, block) * es; };
  auto elems = [&](int block) {
    return block_offset(count, p, block + 1) - block_offset(count, p, block);
  };
  // Step k receives block r-k-1 from the left.
  std::vector<std::vector<RecvRequest*>> got(p - 1);
  for (int k = 0; k < p - 1; ++k) {
    const int b = mod(r - k - 1, p);
    const Chunks ch(elems(b), es, ctx.config().chunk_bytes);
    for (std::size_t c = 0; c < ch.n; ++c) {
      got[k].push_back(ctx.recv(left, buf + off(b) + ch.begin(c) * es, ch.length(c) * es));
    }
  }
  // Step k sends block r-k: our own block first, then what arrived at step k-1.
  for (int k = 0; k < p - 1; ++k) {
    const int b = mod(r - k, p);
    const Chunks ch(elems(b), es, ctx.config().chunk_bytes);
    for (std::size_t c = 0; c < ch.n; ++c) {
      if (k == 0) {
        const std::byte* chunk = own + ch.begin(c) * es;
        if (own_ready) {
          ctx.wait((*own_ready)[c]);
          if (on_own_chunk) on_own_chunk(ctx, const_cast<std::byte*>(chunk), ch.length(c));
        }
        ctx.send(right, chunk, ch.length(c) * es);
      } else {
        ctx.wait(got[k - 1][c]);
        ctx.send(right, buf + off(b) + ch.begin(c) * es, ch.length(c) * es);
      }
    }
  }
}

}  // namespace railcc::algo
