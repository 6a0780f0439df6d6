// Splits a block of elements into pipeline chunks of at most RAILCC_CHUNK_BYTES. Both ends of a
// transfer compute the same split from the same (count, dtype, config), so no sizes travel.
#pragma once

#include <algorithm>
#include <cstddef>

namespace railcc::algo {

struct Chunks {
  std::size_t elems;      // elements in the block
  std::size_t per_chunk;  // elements per chunk (the last may be shorter)
  std::size_t n;          // number of chunks, at least 1 (a zero-byte message keeps ranks in step)

  Chunks(std::size_t block_elems, std::size_t elem_size, std::size_t chunk_bytes) {
    elems = block_elems;
    const std::size_t max_elems = std::max<std::size_t>(1, chunk_bytes / elem_size);
    n = std::max<std::size_t>(1, (block_elems + max_elems - 1) / max_elems);
    per_chunk = (block_elems + n - 1) / n;
    if (per_chunk == 0) per_chunk = 1;
  }
  std::size_t begin(std::size_t c) const { return std::min(elems, c * per_chunk); }
  std::size_t length(std::size_t c) const {
    return std::min(elems, (c + 1) * per_chunk) - begin(c);
  }
};

}  // namespace railcc::algo
