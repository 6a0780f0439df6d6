// Recursive doubling: in round k, members 2^k apart swap their whole partial vectors and reduce.
// log2(P) rounds of the full message: the fewest latencies for small messages. A non-power of
// two folds its extra members onto partners first (see Fold) and hands them the result last.
#include "src/algorithms/algorithms.h"

namespace railcc::algo {

void rd_all_reduce(Schedule& s, const Group& g, const Shape& sh, Ref src, Ref dst,
                   std::size_t count) {
  const std::size_t bytes = count * sh.elem_size;
  const Fold fold(g.size());
  const int v = fold.virt(g.me);
  if (v < 0) {  // sits out: hand over the input, get the result back
    const uint32_t sent = s.send(g.at(g.me + 1), src, bytes);
    s.recv(g.at(g.me + 1), dst, bytes, Deps::on(sent));
    return;
  }
  Deps prev;
  if (g.me < 2 * fold.rem) {
    prev = Deps::on(s.recv_reduce(g.at(g.me - 1), dst, src, bytes));
  } else {
    prev = Deps::on(s.copy(dst, src, bytes));
  }
  for (int mask = 1; mask < fold.p2; mask *= 2) {
    const int partner = g.at(fold.real(v ^ mask));
    // The partner's data lands aside: dst is still being sent while it arrives.
    const Ref tmp = s.scratch(bytes);
    const uint32_t sent = s.send(partner, dst, bytes, prev);
    const uint32_t got = s.recv(partner, tmp, bytes);
    prev = Deps::on(s.reduce(dst, tmp, bytes, {sent, got + 1}));
  }
  if (g.me < 2 * fold.rem) s.send(g.at(g.me - 1), dst, bytes, prev);
}

}  // namespace railcc::algo
