// Pipelined ring building blocks (bandwidth-optimal: every rank sends and receives
// (P-1)/P of the data per phase). Blocks are split with block_offset(); each block travels in
// chunks, and a chunk is forwarded as soon as it has arrived, so the ring's steps overlap.
#pragma once

#include <cstddef>

#include "src/algorithms/context.h"

namespace railcc::algo {

// Reduces `count` elements of src across ranks. Block r of the result lands in final_dst; the
// other blocks pass through `work` (a buffer of count elements; may equal src). Returns without
// waiting for the last transfers: pass the final receives to the caller through `final_recvs`.
void ring_reduce_scatter(Context& ctx, const std::byte* src, std::byte* work, std::byte* final_dst,
                         std::size_t count, std::vector<RecvRequest*>* final_recvs);

// Fills every block of `buf` (count elements) from the rank that owns it; block r is read from
// `own` (may be buf + block r). If `own_ready` is given, chunk c of block r is sent only after
// own_ready[c] completed, and `on_own_chunk(c)` runs first (e.g. to divide for avg).
void ring_all_gather(Context& ctx, std::byte* buf, const std::byte* own, std::size_t count,
                     const std::vector<RecvRequest*>* own_ready,
                     void (*on_own_chunk)(Context&, std::byte*, std::size_t) = nullptr);

}  // namespace railcc::algo
