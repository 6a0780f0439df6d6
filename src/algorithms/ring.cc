#include "src/algorithms/ring.h"

#include "src/algorithms/chunking.h"
#include "src/algorithms/context.h"

namespace railcc::algo {
namespace {

// A buffer of `count` elements seen by the ring: one block per member, each sent in chunks.
struct RingLayout {
  RingLayout(const Group& g, const Shape& sh, std::size_t count)
      : count(count),
        p(g.size()),
        r(g.me),
        right(g.at(g.me + 1)),
        left(g.at(g.me - 1)),
        es(sh.elem_size),
        chunk_bytes(sh.chunk_bytes) {}
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

void ring_reduce_scatter(Schedule& s, const Group& g, const Shape& sh, Ref src, Ref work,
                         Ref final_dst, std::size_t count, std::vector<uint32_t>* final_steps) {
  const RingLayout ring(g, sh, count);
  const int p = ring.p;
  const std::size_t es = ring.es;
  // Step k receives block r-k-2, reduced with our own input; the last step yields block r.
  std::vector<std::vector<uint32_t>> got(p - 1);
  for (int k = 0; k < p - 1; ++k) {
    const int b = ring.block(-k - 2);
    const Chunks ch = ring.chunks(b);
    const Ref dst = k == p - 2 ? final_dst : work.at(ring.offset(b));
    for (std::size_t c = 0; c < ch.n; ++c) {
      got[k].push_back(s.recv_reduce(ring.left, dst.at(ch.begin(c) * es),
                                     src.at(ring.offset(b) + ch.begin(c) * es), ch.length(c) * es));
    }
  }
  // Step k sends block r-k-1: our input at step 0, then what arrived at step k-1.
  for (int k = 0; k < p - 1; ++k) {
    const int b = ring.block(-k - 1);
    const Chunks ch = ring.chunks(b);
    for (std::size_t c = 0; c < ch.n; ++c) {
      const std::size_t at = ring.offset(b) + ch.begin(c) * es;
      if (k == 0) {
        s.send(ring.right, src.at(at), ch.length(c) * es);
      } else {
        s.send(ring.right, work.at(at), ch.length(c) * es, Deps::on(got[k - 1][c]));
      }
    }
  }
  if (final_steps) *final_steps = p > 1 ? got[p - 2] : std::vector<uint32_t>{};
}

void ring_all_gather(Schedule& s, const Group& g, const Shape& sh, Ref buf, Ref own,
                     std::size_t count, const std::vector<uint32_t>* own_ready, bool divide_own) {
  const RingLayout ring(g, sh, count);
  const int p = ring.p;
  const std::size_t es = ring.es;
  // Step k receives block r-k-1 from the left.
  std::vector<std::vector<uint32_t>> got(p - 1);
  for (int k = 0; k < p - 1; ++k) {
    const int b = ring.block(-k - 1);
    const Chunks ch = ring.chunks(b);
    for (std::size_t c = 0; c < ch.n; ++c) {
      got[k].push_back(
          s.recv(ring.left, buf.at(ring.offset(b) + ch.begin(c) * es), ch.length(c) * es));
    }
  }
  // Step k sends block r-k: our own block first, then what arrived at step k-1.
  for (int k = 0; k < p - 1; ++k) {
    const int b = ring.block(-k);
    const Chunks ch = ring.chunks(b);
    for (std::size_t c = 0; c < ch.n; ++c) {
      if (k == 0) {
        const Ref chunk = own.at(ch.begin(c) * es);
        Deps d;
        if (own_ready) {
          d = Deps::on((*own_ready)[c]);
          if (divide_own) d = Deps::on(s.divide(chunk, ch.length(c) * es, d));
        }
        s.send(ring.right, chunk, ch.length(c) * es, d);
      } else {
        s.send(ring.right, buf.at(ring.offset(b) + ch.begin(c) * es), ch.length(c) * es,
               Deps::on(got[k - 1][c]));
      }
    }
  }
}

void ring_all_reduce(Schedule& s, const Group& g, const Shape& sh, Ref src, Ref dst,
                     std::size_t count) {
  if (g.size() == 1) {
    s.copy(dst, src, count * sh.elem_size);
    return;
  }
  const Ref own = dst.at(block_offset(count, g.size(), g.me) * sh.elem_size);
  std::vector<uint32_t> final_steps;
  ring_reduce_scatter(s, g, sh, src, dst, own, count, &final_steps);
  ring_all_gather(s, g, sh, dst, own, count, &final_steps, sh.avg);
}

}  // namespace railcc::algo
