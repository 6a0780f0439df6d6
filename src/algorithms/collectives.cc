// Algorithm choice per collective. Small messages take the one-round direct path (latency),
// large ones the pipelined ring (bandwidth); RAILCC_SMALL_MSG_BYTES sets the boundary.
#include <cstring>

#include "kernels/cpu/reduce.h"
#include "src/algorithms/all_pairs.h"
#include "src/algorithms/chunking.h"
#include "src/algorithms/context.h"
#include "src/algorithms/direct.h"
#include "src/algorithms/ring.h"

namespace railcc::algo {
namespace {

void divide_chunk(Context& ctx, std::byte* data, std::size_t elems) {
  kernels::divide(data, data, elems, ctx.args().dtype, ctx.size());
}

bool small(const Context& ctx, std::size_t bytes) {
  return bytes <= ctx.config().small_message_bytes;
}

}  // namespace

void all_reduce(Context& ctx) {
  const OpArgs& a = ctx.args();
  const std::size_t bytes = a.count * ctx.elem_size();
  if (ctx.size() == 1 || small(ctx, bytes) || a.count < static_cast<std::size_t>(ctx.size())) {
    direct_reduce(ctx, -1);
    return;
  }
  const int r = ctx.rank();
  std::byte* own = a.recv + block_offset(a.count, ctx.size(), r) * ctx.elem_size();
  if (all_pairs_applies(ctx, bytes)) {
    ctx.set_algorithm("all_pairs");
    all_pairs_reduce_scatter(ctx, a.send, own, a.count);
    if (a.redop == ReduceOp::kAvg) {
      divide_chunk(ctx, own,
                   block_offset(a.count, ctx.size(), r + 1) - block_offset(a.count, ctx.size(), r));
    }
    all_pairs_all_gather(ctx, a.recv, own, a.count);
    ctx.wait_all();
    return;
  }
  ctx.set_algorithm("ring");
  std::vector<RecvRequest*> final_recvs;
  ring_reduce_scatter(ctx, a.send, a.recv, own, a.count, &final_recvs);
  ring_all_gather(ctx, a.recv, own, a.count, &final_recvs,
                  a.redop == ReduceOp::kAvg ? divide_chunk : nullptr);
  ctx.wait_all();
}

void reduce_scatter(Context& ctx) {
  const OpArgs& a = ctx.args();  // count = elements per rank
  const std::size_t total = a.count * ctx.size();
  const std::size_t es = ctx.elem_size();
  if (ctx.size() == 1) {
    if (a.count && a.recv != a.send) std::memmove(a.recv, a.send, a.count * es);
  } else if (all_pairs_applies(ctx, total * es)) {
    ctx.set_algorithm("all_pairs");
    all_pairs_reduce_scatter(ctx, a.send, a.recv, total);
    ctx.wait_all();
  } else {
    ctx.set_algorithm("ring");
    // Intermediate blocks need a full-size buffer; block r lands in recv directly.
    ring_reduce_scatter(ctx, a.send, ctx.scratch(total * es), a.recv, total, nullptr);
    ctx.wait_all();
  }
  if (a.redop == ReduceOp::kAvg) kernels::divide(a.recv, a.recv, a.count, a.dtype, ctx.size());
}

void all_gather(Context& ctx) {
  const OpArgs& a = ctx.args();  // count = elements per rank
  const std::size_t es = ctx.elem_size();
  std::byte* own = a.recv + a.count * ctx.rank() * es;
  if (a.count && own != a.send) std::memmove(own, a.send, a.count * es);
  if (ctx.size() > 1 && all_pairs_applies(ctx, a.count * ctx.size() * es)) {
    ctx.set_algorithm("all_pairs");
    all_pairs_all_gather(ctx, a.recv, own, a.count * ctx.size());
    ctx.wait_all();
  } else if (ctx.size() > 1) {
    ctx.set_algorithm("ring");
    ring_all_gather(ctx, a.recv, own, a.count * ctx.size(), nullptr);
    ctx.wait_all();
  }
}

void broadcast(Context& ctx) {
  const OpArgs& a = ctx.args();
  const int p = ctx.size(), r = ctx.rank();
  const std::size_t es = ctx.elem_size(), bytes = a.count * es;
  if (r == a.root && bytes && a.send != a.recv) std::memmove(a.recv, a.send, bytes);
  if (p == 1) return;
  if (small(ctx, bytes) || p == 2) {
    if (r == a.root) {
      for (int q = 0; q < p; ++q) {
        if (q != r) ctx.send(q, a.recv, bytes);
      }
    } else {
      ctx.recv(a.root, a.recv, bytes);
    }
    ctx.wait_all();
    return;
  }
  // Pipelined chain root -> root+1 -> ...: each chunk is forwarded as soon as it arrives.
  ctx.set_algorithm("chain");
  const int pos = (r - a.root + p) % p;
  const int prev = (r - 1 + p) % p, next = (r + 1) % p;
  const Chunks ch(a.count, es, ctx.config().chunk_bytes);
  std::vector<RecvRequest*> got;
  if (pos > 0) {
    for (std::size_t c = 0; c < ch.n; ++c) {
      got.push_back(ctx.recv(prev, a.recv + ch.begin(c) * es, ch.length(c) * es));
    }
  }
  if (pos < p - 1) {
    for (std::size_t c = 0; c < ch.n; ++c) {
      if (pos > 0) ctx.wait(got[c]);
      ctx.send(next, a.recv + ch.begin(c) * es, ch.length(c) * es);
    }
  }
  ctx.wait_all();
}

void reduce(Context& ctx) {
  const OpArgs& a = ctx.args();
  const int p = ctx.size(), r = ctx.rank();
  const std::size_t es = ctx.elem_size(), bytes = a.count * es;
  if (p == 1 || small(ctx, bytes) || a.count < static_cast<std::size_t>(p)) {
    direct_reduce(ctx, a.root);
    return;
  }
  // Ring reduce-scatter, then every rank sends its reduced block to the root.
  ctx.set_algorithm("ring");
  std::byte* work = ctx.scratch(bytes);
  std::byte* own = work + block_offset(a.count, p, r) * es;
  ring_reduce_scatter(ctx, a.send, work, own, a.count, nullptr);
  ctx.wait_all();
  const std::size_t own_elems = block_offset(a.count, p, r + 1) - block_offset(a.count, p, r);
  if (a.redop == ReduceOp::kAvg) kernels::divide(own, own, own_elems, a.dtype, p);
  if (r != a.root) {
    ctx.send(a.root, own, own_elems * es);
  } else {
    for (int q = 0; q < p; ++q) {
      const std::size_t off = block_offset(a.count, p, q) * es;
      const std::size_t len = block_offset(a.count, p, q + 1) * es - off;
      if (q == r) {
        if (len) std::memcpy(a.recv + off, own, len);
      } else {
        ctx.recv(q, a.recv + off, len);
      }
    }
  }
  ctx.wait_all();
}

}  // namespace railcc::algo
