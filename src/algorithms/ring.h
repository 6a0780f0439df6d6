// Pipelined ring (bandwidth-optimal: every rank sends and receives (P-1)/P of the data per
// phase). Blocks are split with block_offset(); each block travels in chunks, and a chunk is
// forwarded as soon as it has arrived, so the ring's steps overlap.
#pragma once

#include <cstddef>
#include <vector>

#include "src/algorithms/schedule.h"

namespace railcc::algo {

// Reduces `count` elements at src across the group. Block g.me of the result lands in
// final_dst; the other blocks pass through `work` (count elements; may equal src). The steps
// that complete the own block, one per chunk, go to final_steps when given.
void ring_reduce_scatter(Schedule& s, const Group& g, const Shape& sh, Ref src, Ref work,
                         Ref final_dst, std::size_t count, std::vector<uint32_t>* final_steps);

// Fills every block of `buf` (count elements) from the member that owns it; the own block is
// read from `own`. With own_ready, chunk c of the own block is sent only after own_ready[c]
// completed, and divided by the rank count first when `divide_own`.
void ring_all_gather(Schedule& s, const Group& g, const Shape& sh, Ref buf, Ref own,
                     std::size_t count, const std::vector<uint32_t>* own_ready, bool divide_own);

// Both in sequence, pipelined into each other: src (count elements) -> dst.
void ring_all_reduce(Schedule& s, const Group& g, const Shape& sh, Ref src, Ref dst,
                     std::size_t count);

}  // namespace railcc::algo
