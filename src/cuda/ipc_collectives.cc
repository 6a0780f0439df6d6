#include "src/cuda/ipc_collectives.h"

#include <algorithm>

#include "railcc/status.hpp"

namespace railcc::cuda {

using wire::OpKind;

bool ipc_supports(OpKind op) {
  return op == OpKind::kAllReduce || op == OpKind::kReduceScatter || op == OpKind::kAllGather ||
         op == OpKind::kBroadcast || op == OpKind::kReduce;
}

namespace {

struct Run {
  algo::Context& ctx;
  const algo::OpArgs& a;
  const IpcScratch* scratch;
  DeviceApi& api;
  StreamHandle s;
  const std::function<void()>& sync;
  int n, r;
  std::size_t es;
  // Blocks start on 16-byte boundaries, so the kernels use vector loads on every block.
  std::size_t unit;

  void barrier() { algo::barrier(ctx); }
  void copy(void* dst, const void* src, std::size_t elems) {
    if (elems && dst != src) api.copy_async(dst, src, elems * es, s);
  }
  // dst = op over the n ranks' input regions at element offset `at`, `len` elements, reduced in
  // rank order (so every rank computes a block the same way); finishes avg.
  void reduce_from_peers(std::byte* dst, std::size_t at, std::size_t len) {
    if (len == 0) return;
    std::vector<const void*> inputs(static_cast<std::size_t>(n));
    for (int q = 0; q < n; ++q) inputs[q] = scratch->in[q] + at * es;
    const ReduceOp op = a.redop == ReduceOp::kAvg ? ReduceOp::kSum : a.redop;
    api.reduce(dst, inputs.data(), n, len, a.dtype, op, s);
    if (a.redop == ReduceOp::kAvg) api.divide(dst, dst, len, a.dtype, static_cast<uint64_t>(n), s);
  }
  // Start of block i of `len` elements cut into n blocks of whole units.
  std::size_t block(std::size_t len, int i) const {
    const std::size_t units = (len + unit - 1) / unit;
    return std::min(len, algo::block_offset(units, n, i) * unit);
  }
  // Elements per chunk when `per_rank` parts of it must fit one region.
  std::size_t chunk(std::size_t per_rank) const {
    std::size_t c = scratch->region_bytes / es / per_rank;
    if (c > unit) c -= c % unit;
    if (c == 0) throw InternalError("CUDA IPC scratch region smaller than one element");
    return c;
  }
};

// One rank: the result is a copy (avg of one rank is its input).
void run_single(Run& x) {
  const algo::OpArgs& a = x.a;
  const std::size_t c = a.count;
  if (a.op == OpKind::kReduceScatter || a.op == OpKind::kAllGather || a.op == OpKind::kAllReduce ||
      a.op == OpKind::kBroadcast || a.op == OpKind::kReduce) {
    x.copy(a.recv, a.send, c);
  }
  x.sync();
}

void all_reduce(Run& x) {
  const algo::OpArgs& a = x.a;
  const std::size_t step = x.chunk(1);
  for (std::size_t off = 0; off < a.count; off += step) {
    const std::size_t len = std::min(step, a.count - off);
    x.copy(x.scratch->in[x.r], a.send + off * x.es, len);
    x.sync();
    x.barrier();  // B1: every input chunk is in place
    const std::size_t b0 = x.block(len, x.r), b1 = x.block(len, x.r + 1);
    x.reduce_from_peers(x.scratch->out[x.r] + b0 * x.es, b0, b1 - b0);
    x.sync();
    x.barrier();  // B2: every block is reduced
    for (int q = 0; q < x.n; ++q) {
      const std::size_t q0 = x.block(len, q), q1 = x.block(len, q + 1);
      x.copy(a.recv + (off + q0) * x.es, x.scratch->out[q] + q0 * x.es, q1 - q0);
    }
    x.sync();
  }
}

void reduce_scatter(Run& x) {
  const algo::OpArgs& a = x.a;  // count = elements per rank
  const std::size_t step = x.chunk(static_cast<std::size_t>(x.n));
  for (std::size_t off = 0; off < a.count; off += step) {
    const std::size_t len = std::min(step, a.count - off);
    // Block q of this chunk goes to slot q of the input region.
    for (int q = 0; q < x.n; ++q) {
      x.copy(x.scratch->in[x.r] + q * len * x.es, a.send + (q * a.count + off) * x.es, len);
    }
    x.sync();
    x.barrier();  // B1
    x.reduce_from_peers(a.recv + off * x.es, x.r * len, len);
    x.sync();
    x.barrier();  // B2: the peers' input regions are free again
  }
}

void all_gather(Run& x) {
  const algo::OpArgs& a = x.a;  // count = elements per rank
  const std::size_t step = x.chunk(1);
  for (std::size_t off = 0; off < a.count; off += step) {
    const std::size_t len = std::min(step, a.count - off);
    x.copy(x.scratch->in[x.r], a.send + off * x.es, len);
    x.sync();
    x.barrier();  // B1
    for (int q = 0; q < x.n; ++q) {
      std::byte* dst = a.recv + (q * a.count + off) * x.es;
      x.copy(dst, q == x.r ? a.send + off * x.es : x.scratch->in[q], len);
    }
    x.sync();
    x.barrier();  // B2
  }
}

void broadcast(Run& x) {
  const algo::OpArgs& a = x.a;
  const bool root = a.root == x.r;
  if (root) x.copy(a.recv, a.send, a.count);
  const std::size_t step = x.chunk(1);
  for (std::size_t off = 0; off < a.count; off += step) {
    const std::size_t len = std::min(step, a.count - off);
    if (root) x.copy(x.scratch->in[x.r], a.send + off * x.es, len);
    x.sync();
    x.barrier();  // B1
    if (!root) x.copy(a.recv + off * x.es, x.scratch->in[a.root], len);
    x.sync();
    x.barrier();  // B2
  }
}

void reduce(Run& x) {
  const algo::OpArgs& a = x.a;
  const std::size_t step = x.chunk(1);
  for (std::size_t off = 0; off < a.count; off += step) {
    const std::size_t len = std::min(step, a.count - off);
    x.copy(x.scratch->in[x.r], a.send + off * x.es, len);
    x.sync();
    x.barrier();  // B1
    if (a.root == x.r) x.reduce_from_peers(a.recv + off * x.es, 0, len);
    x.sync();
    x.barrier();  // B2
  }
}

}  // namespace

void run_ipc(algo::Context& ctx, const algo::OpArgs& a, const IpcScratch* scratch, DeviceApi& api,
             StreamHandle s, const std::function<void()>& sync) {
  const std::size_t es = data_type_size(a.dtype);
  Run x{ctx,  a,          scratch,    api, s,
        sync, ctx.size(), ctx.rank(), es,  std::max<std::size_t>(16 / es, 1)};
  if (x.n == 1) return run_single(x);
  if (!scratch) throw InternalError("CUDA IPC collective without a mapped scratch");
  switch (a.op) {
    case OpKind::kAllReduce:
      return all_reduce(x);
    case OpKind::kReduceScatter:
      return reduce_scatter(x);
    case OpKind::kAllGather:
      return all_gather(x);
    case OpKind::kBroadcast:
      return broadcast(x);
    case OpKind::kReduce:
      return reduce(x);
    default:
      throw InternalError("run_ipc: unsupported op");
  }
}

}  // namespace railcc::cuda
