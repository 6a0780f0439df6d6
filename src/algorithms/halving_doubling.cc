// Rabenseifner: recursive halving reduce-scatter (each round swaps half of what is left with a
// partner at distance P/2, P/4, ...), then recursive doubling all-gather back. log2(P) latencies
// per phase and the ring's bandwidth term; a non-power of two folds its extra members first.
#include "src/algorithms/algorithms.h"
#include "src/algorithms/chunking.h"
#include "src/algorithms/context.h"

namespace railcc::algo {
namespace {

// Sends and receives one contiguous range of blocks in chunks (several tcp sockets carry them,
// and reduction overlaps arrival). Returns the receives it appended: the next round depends on
// them only. Waiting for our sends too would post the next receives late, and a large message
// that arrives before its receive is buffered and copied twice; the region a round writes was
// never sent in an unfinished round (it shrinks inside what we keep; the all-gather fills what
// partners reduced, which they send only after they received our part).
Deps exchange(Schedule& s, const Shape& sh, int peer, Ref send_from, std::size_t send_elems,
              Ref dst, const Ref* reduce_with, std::size_t recv_elems, Deps after) {
  const std::size_t es = sh.elem_size;
  const Chunks out(send_elems, es, sh.chunk_bytes), in(recv_elems, es, sh.chunk_bytes);
  for (std::size_t c = 0; c < out.n; ++c) {
    s.send(peer, send_from.at(out.begin(c) * es), out.length(c) * es, after);
  }
  const uint32_t first = s.size();
  for (std::size_t c = 0; c < in.n; ++c) {
    const Ref d = dst.at(in.begin(c) * es);
    if (reduce_with) {
      s.recv_reduce(peer, d, reduce_with->at(in.begin(c) * es), in.length(c) * es, after);
    } else {
      s.recv(peer, d, in.length(c) * es, after);
    }
  }
  return {first, s.size()};
}

}  // namespace

void hd_all_reduce(Schedule& s, const Group& g, const Shape& sh, Ref src, Ref dst,
                   std::size_t count) {
  const std::size_t es = sh.elem_size, bytes = count * es;
  const Fold fold(g.size());
  const int v = fold.virt(g.me);
  if (v < 0) {
    const uint32_t sent = s.send(g.at(g.me + 1), src, bytes);
    s.recv(g.at(g.me + 1), dst, bytes, Deps::on(sent));
    return;
  }
  Deps prev;
  Ref cur = src;  // where this member's partial vector lives
  if (g.me < 2 * fold.rem) {
    prev = Deps::on(s.recv_reduce(g.at(g.me - 1), dst, src, bytes));
    cur = dst;
  }
  const int p2 = fold.p2;
  auto off = [&](int block) { return block_offset(count, p2, block) * es; };
  auto elems = [&](int lo, int hi) { return (off(hi) - off(lo)) / es; };
  // Reduce-scatter: keep the half of [lo, hi) on our side of `mask`, give the other away.
  int lo = 0, hi = p2;
  for (int mask = p2 / 2; mask >= 1; mask /= 2) {
    const int partner = g.at(fold.real(v ^ mask));
    const int mid = lo + (hi - lo) / 2;
    const bool upper = (v & mask) != 0;
    const int keep_lo = upper ? mid : lo, keep_hi = upper ? hi : mid;
    const int give_lo = upper ? lo : mid, give_hi = upper ? mid : hi;
    const Ref with = cur.at(off(keep_lo));
    prev = exchange(s, sh, partner, cur.at(off(give_lo)), elems(give_lo, give_hi),
                    dst.at(off(keep_lo)), &with, elems(keep_lo, keep_hi), prev);
    cur = dst;
    lo = keep_lo, hi = keep_hi;
  }
  if (p2 == 1) prev = Deps::on(s.copy(dst, cur, bytes, prev));
  // All-gather: swap what we hold with partners at distance 1, 2, 4, ...
  for (int mask = 1; mask < p2; mask *= 2) {
    const int partner = g.at(fold.real(v ^ mask));
    const int size = hi - lo;
    const int other_lo = (v & mask) ? lo - size : lo + size;
    prev = exchange(s, sh, partner, dst.at(off(lo)), elems(lo, hi), dst.at(off(other_lo)), nullptr,
                    elems(other_lo, other_lo + size), prev);
    lo = std::min(lo, other_lo), hi = lo + 2 * size;
  }
  if (g.me < 2 * fold.rem) s.send(g.at(g.me - 1), dst, bytes, prev);
}

}  // namespace railcc::algo
