#include "src/algorithms/all_pairs.h"

#include "src/algorithms/chunking.h"

namespace railcc::algo {

bool all_pairs_applies(const Context& ctx, std::size_t bytes) {
  // With 3+ ranks the ring forwards every block p-1 times and waits on each neighbour in turn,
  // so pulling directly pays off at a quarter of the size (measured: np4 from 1 MiB, np2 from
  // 4 MiB with the default).
  const std::size_t threshold = ctx.config().shm_single_copy_bytes;
  const std::size_t from = ctx.size() > 2 ? threshold / 4 : threshold;
  return threshold > 0 && bytes >= from && ctx.engine().single_copy_to_all();
}

void all_pairs_reduce_scatter(Context& ctx, const std::byte* send, std::byte* own_dst,
                              std::size_t count) {
  const int p = ctx.size(), r = ctx.rank();
  const std::size_t es = ctx.elem_size(), tile = ctx.config().chunk_bytes;
  auto offset = [&](int b) { return block_offset(count, p, b) * es; };
  auto elems = [&](int b) { return block_offset(count, p, b + 1) - block_offset(count, p, b); };
  // Offer every peer its block, in tiles. By reference this costs a frame per tile; the data
  // moves when the peer pulls it, and each send completes then.
  for (int k = 1; k < p; ++k) {
    const int q = (r + k) % p;
    const Chunks ch(elems(q), es, tile);
    for (std::size_t c = 0; c < ch.n; ++c) {
      ctx.send(q, send + offset(q) + ch.begin(c) * es, ch.length(c) * es, true);
    }
  }
  // Pull our block tile by tile, from every peer in turn: the tile being summed stays in cache
  // while each peer's part is added, so memory sees each input byte once and the result once.
  // Ranks start at different peers so they do not all read the same rank's memory at once.
  const Chunks ch(elems(r), es, tile);
  for (std::size_t c = 0; c < ch.n; ++c) {
    const std::size_t at = ch.begin(c) * es, bytes = ch.length(c) * es;
    const std::byte* acc = send + offset(r) + at;
    for (int k = 1; k < p; ++k) {
      ctx.wait(ctx.recv_reduce((r - k + p) % p, own_dst + at, acc, bytes));
      acc = own_dst + at;
    }
  }
}

void all_pairs_all_gather(Context& ctx, std::byte* buf, const std::byte* own, std::size_t count) {
  const int p = ctx.size(), r = ctx.rank();
  const std::size_t es = ctx.elem_size();
  auto offset = [&](int b) { return block_offset(count, p, b) * es; };
  auto length = [&](int b) { return offset(b + 1) - offset(b); };
  for (int k = 1; k < p; ++k) ctx.send((r + k) % p, own, length(r), true);
  for (int k = 1; k < p; ++k) {
    const int q = (r - k + p) % p;
    ctx.recv(q, buf + offset(q), length(q));
  }
}

}  // namespace railcc::algo
