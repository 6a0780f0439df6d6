// Hierarchical, rail-aligned: a ring reduce-scatter among the ranks of each host (shared
// memory), then an all_reduce of each rank's block among the ranks with the same local index on
// every host (on a rail-optimized cluster that is one rail, so no two ranks share a NIC), then a
// ring all-gather inside the host. Inter-host traffic is 1/L of the vector per rank for L ranks
// per host.
#include <map>

#include "src/algorithms/algorithms.h"
#include "src/algorithms/context.h"
#include "src/algorithms/ring.h"

namespace railcc::algo {

bool hier_all_reduce(Schedule& s, const Shape& sh, Ref src, Ref dst, std::size_t count,
                     Algo inter) {
  std::map<int, std::vector<int>> hosts;  // host -> its ranks, ascending
  for (int r = 0; r < sh.size; ++r) hosts[sh.host(r)].push_back(r);
  const std::vector<int>& mine = hosts[sh.host(sh.rank)];
  Group local, rail;
  local.ranks = mine;
  for (int i = 0; i < local.size(); ++i) {
    if (mine[i] == sh.rank) local.me = i;
  }
  for (const auto& [host, ranks] : hosts) {
    if (ranks.size() != mine.size()) return false;
    if (host == sh.host(sh.rank)) rail.me = rail.size();
    rail.ranks.push_back(ranks[local.me]);
  }
  const std::size_t es = sh.elem_size;
  const std::size_t lo = block_offset(count, local.size(), local.me);
  const std::size_t n = block_offset(count, local.size(), local.me + 1) - lo;
  const Ref own = dst.at(lo * es);
  if (local.size() > 1) {
    ring_reduce_scatter(s, local, sh, src, dst, own, count, nullptr);
  } else {
    s.copy(dst, src, count * es);
  }
  s.barrier();
  switch (inter) {
    case Algo::kTree:
      tree_all_reduce(s, rail, sh, own, own, n);
      break;
    case Algo::kHd:
      hd_all_reduce(s, rail, sh, own, own, n);
      break;
    case Algo::kRd:
      rd_all_reduce(s, rail, sh, own, own, n);
      break;
    case Algo::kDirect:
      direct_all_reduce(s, rail, sh, own, own, n);
      break;
    default:
      ring_all_reduce(s, rail, sh, own, own, n);
      break;
  }
  s.barrier();
  if (local.size() > 1) ring_all_gather(s, local, sh, dst, own, count, nullptr, false);
  return true;
}

}  // namespace railcc::algo
