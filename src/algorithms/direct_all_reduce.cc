// One round: latency-optimal for tiny messages at small rank counts. Every member reduces the
// same slots in the same order, so all members get bit-identical results.
#include "src/algorithms/algorithms.h"

namespace railcc::algo {

void direct_all_reduce(Schedule& s, const Group& g, const Shape& sh, Ref src, Ref dst,
                       std::size_t count) {
  const int p = g.size(), me = g.me;
  const std::size_t bytes = count * sh.elem_size;
  if (p == 1) {
    s.copy(dst, src, bytes);
    return;
  }
  const Ref slots = s.scratch(bytes * p);
  // Our own contribution goes through a slot too: dst may alias src.
  s.copy(slots.at(bytes * me), src, bytes);
  for (int k = 1; k < p; ++k) {  // staggered so not every rank hits member 0 first
    s.recv(g.at(me - k), slots.at(bytes * ((me - k + p) % p)), bytes);
    s.send(g.at(me + k), src, bytes);
  }
  s.barrier();  // every send has left src before dst (perhaps src) is written
  s.copy(dst, slots, bytes);
  for (int q = 1; q < p; ++q) s.reduce(dst, slots.at(bytes * q), bytes);
}

}  // namespace railcc::algo
