// All-pairs reduce-scatter and all-gather, for ranks that read each other's memory directly
// (shared memory with single copy, see transport/shm/cross_memory.h). Every rank offers each
// peer that peer's block by reference and pulls its own block from every peer, so a rank's work
// never waits for a neighbour to forward data: with more ranks than cores, a rank that is not
// running holds nobody up except at the two hand-over points. One copy per byte moved.
#pragma once

#include <cstddef>

#include "src/algorithms/context.h"

namespace railcc::algo {

// True when every peer's data reaches this rank by single copy (the case these are built for)
// and the op moves at least RAILCC_SHM_SINGLE_COPY_BYTES with 2 ranks, a quarter of that with
// more (below that, data that stays in cache is copied faster through the rings than the kernel
// copies it between processes).
bool all_pairs_applies(const Context& ctx, std::size_t op_bytes);

// recv[block r] = reduction over ranks of send[block r] (blocks of `count` split by rank).
void all_pairs_reduce_scatter(Context& ctx, const std::byte* send, std::byte* own_dst,
                              std::size_t count);
// buf[block q] = rank q's block, for every q; our block is already at `own`.
void all_pairs_all_gather(Context& ctx, std::byte* buf, const std::byte* own, std::size_t count);

}  // namespace railcc::algo
