#include "src/algorithms/algorithms.h"

#include "src/algorithms/ring.h"

namespace railcc::algo {

const char* algo_name(Algo a) {
  switch (a) {
    case Algo::kDirect:
      return "direct";
    case Algo::kRing:
      return "ring";
    case Algo::kTree:
      return "tree";
    case Algo::kHd:
      return "hd";
    case Algo::kRd:
      return "rd";
    case Algo::kHier:
      return "hier";
  }
  return "?";
}

std::optional<Algo> parse_algo(std::string_view name) {
  for (Algo a : kAllAlgos) {
    if (name == algo_name(a)) return a;
  }
  return std::nullopt;
}

Fold::Fold(int p) {
  while (p2 * 2 <= p) p2 *= 2;
  rem = p - p2;
}

Group Shape::world() const {
  Group g;
  g.ranks.resize(size);
  for (int r = 0; r < size; ++r) g.ranks[r] = r;
  g.me = rank;
  return g;
}

Schedule build_all_reduce(Algo a, const Shape& sh, Algo inter) {
  Schedule s;
  const Ref src{Buf::kSend, 0}, dst{Buf::kRecv, 0};
  const std::size_t bytes = sh.count * sh.elem_size;
  const Group g = sh.world();
  if (sh.size == 1) {
    s.copy(dst, src, bytes);
    return s;
  }
  Shape plain = sh;
  plain.avg = false;
  switch (a) {
    case Algo::kRing:
      ring_all_reduce(s, g, sh, src, dst, sh.count);  // divides inside its pipeline
      return s;
    case Algo::kDirect:
      direct_all_reduce(s, g, plain, src, dst, sh.count);
      break;
    case Algo::kTree:
      tree_all_reduce(s, g, plain, src, dst, sh.count);
      break;
    case Algo::kHd:
      hd_all_reduce(s, g, plain, src, dst, sh.count);
      break;
    case Algo::kRd:
      rd_all_reduce(s, g, plain, src, dst, sh.count);
      break;
    case Algo::kHier:
      if (!hier_all_reduce(s, plain, src, dst, sh.count, inter)) {
        return build_all_reduce(Algo::kRing, sh);
      }
      break;
  }
  if (sh.avg) {
    s.barrier();
    s.divide(dst, bytes);
  }
  return s;
}

}  // namespace railcc::algo
