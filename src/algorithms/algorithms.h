// The all_reduce algorithms, each a Schedule generator in its own file. Every generator appends
// this rank's steps for reducing `count` elements at src across group g into dst (src may equal
// dst); they do not divide for avg (build_all_reduce does, or the ring does it in its pipeline).
#pragma once

#include <optional>
#include <string_view>

#include "src/algorithms/schedule.h"

namespace railcc::algo {

enum class Algo { kDirect, kRing, kTree, kHd, kRd, kHier };
inline constexpr Algo kAllAlgos[] = {Algo::kDirect, Algo::kRing, Algo::kTree,
                                     Algo::kHd,     Algo::kRd,   Algo::kHier};

const char* algo_name(Algo a);
std::optional<Algo> parse_algo(std::string_view name);

// direct.cc: every member sends its whole input to every other; each reduces in member order.
void direct_all_reduce(Schedule& s, const Group& g, const Shape& sh, Ref src, Ref dst,
                       std::size_t count);
// tree.cc: double binary tree, pipelined in chunks of sh.chunk_bytes.
void tree_all_reduce(Schedule& s, const Group& g, const Shape& sh, Ref src, Ref dst,
                     std::size_t count);
// halving_doubling.cc: Rabenseifner reduce-scatter + all-gather; non-powers of two fold first.
void hd_all_reduce(Schedule& s, const Group& g, const Shape& sh, Ref src, Ref dst,
                   std::size_t count);
// recursive_doubling.cc: log2(P) rounds exchanging the whole vector (small messages).
void rd_all_reduce(Schedule& s, const Group& g, const Shape& sh, Ref src, Ref dst,
                   std::size_t count);
// hierarchical.cc: reduce-scatter in the host, `inter` among ranks with the same local index,
// all-gather in the host. False (nothing appended) if hosts hold different numbers of ranks.
bool hier_all_reduce(Schedule& s, const Shape& sh, Ref src, Ref dst, std::size_t count, Algo inter);

// The whole op for rank sh.rank: send buffer -> recv buffer, divided for avg. `inter` is the
// inner algorithm of kHier. Falls back to the ring when `a` does not apply (uneven hosts).
Schedule build_all_reduce(Algo a, const Shape& sh, Algo inter = Algo::kRing);

// Fold of a non-power-of-two group onto its largest power of two (used by hd and rd): the first
// 2*rem members pair up, the even one of a pair hands its data to the odd one and sits out.
struct Fold {
  explicit Fold(int p);
  int p2 = 1, rem = 0;
  // Index among the p2 participants, or -1 for a member that sits out.
  int virt(int i) const { return i < 2 * rem ? (i % 2 ? i / 2 : -1) : i - rem; }
  int real(int v) const { return v < rem ? 2 * v + 1 : v + rem; }
};

}  // namespace railcc::algo
