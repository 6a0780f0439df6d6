#include "src/algorithms/mailbox.h"

#include <cstring>

#include "kernels/cpu/reduce.h"

namespace railcc::algo {
namespace {

// out = post 0 op post 1 op ... (each post offset by `at` bytes), then / ranks for avg.
void reduce_posts(Context& ctx, std::byte* out, std::size_t at, std::size_t count) {
  const OpArgs& a = ctx.args();
  const transport::ShmMailbox& mb = *ctx.mailbox();
  const uint64_t t = ctx.trace_start();
  kernels::reduce(out, mb.payload(0) + at, mb.payload(1) + at, count, a.dtype, a.redop);
  for (int r = 2; r < mb.size(); ++r) {
    kernels::reduce(out, out, mb.payload(r) + at, count, a.dtype, a.redop);
  }
  if (a.redop == ReduceOp::kAvg) kernels::divide(out, out, count, a.dtype, mb.size());
  ctx.trace_kernel("reduce", count * ctx.elem_size() * (mb.size() - 1), t);
}

// Posts `bytes` of `data` (null: only the op's description) and waits for every peer's post.
// False: the op was deferred (see Context::set_defer_after) and must return at once.
[[nodiscard]] bool exchange(Context& ctx, const std::byte* data, std::size_t bytes) {
  // A deferred op run again has its part posted already (and peers may be reading it).
  if (data && bytes && !ctx.mailbox()->posted()) std::memcpy(ctx.mailbox()->payload(), data, bytes);
  return ctx.mailbox_exchange(bytes);
}

}  // namespace

namespace {
bool fits(const transport::ShmMailbox* mb, const Config& config, std::size_t bytes, bool empty_ok) {
  const std::string& algo = config.algo;
  return mb && (bytes > 0 || empty_ok) && bytes <= mb->capacity() &&
         (algo.empty() || algo == "auto");
}
}  // namespace

bool mailbox_applies(const Context& ctx, std::size_t bytes, bool empty_ok) {
  return fits(ctx.mailbox(), ctx.config(), bytes, empty_ok);
}

bool mailbox_two_phases(std::size_t bytes, int size) {
  return size > 1 && bytes >= kMailboxTwoPhaseBytes;
}

bool mailbox_carries(const OpArgs& a, int size, const transport::ShmMailbox* mb,
                     const Config& config) {
  using wire::OpKind;
  const std::size_t bytes = a.count * data_type_size(a.dtype);
  switch (a.op) {
    case OpKind::kAllReduce:  // two exchanges cannot resume half-way
      return !mailbox_two_phases(bytes, size) && fits(mb, config, bytes, false);
    case OpKind::kReduce:
    case OpKind::kBroadcast:
    case OpKind::kAllGather:  // count = elements per rank
      return fits(mb, config, bytes, false);
    case OpKind::kReduceScatter:  // count = elements per rank, each rank posts all of them
      return fits(mb, config, bytes * size, false);
    case OpKind::kBarrier:
      return size > 1 && fits(mb, config, 0, true);
    default:
      return false;
  }
}

void mailbox_all_reduce(Context& ctx) {
  const OpArgs& a = ctx.args();
  const std::size_t es = ctx.elem_size(), bytes = a.count * es;
  if (!exchange(ctx, a.send, bytes)) return;
  transport::ShmMailbox& mb = *ctx.mailbox();
  if (!mailbox_two_phases(bytes, ctx.size())) {
    reduce_posts(ctx, a.recv, 0, a.count);
    mb.finish();
    return;
  }
  // Reduce-scatter: each rank reduces its block of every post into its next post, at the
  // block's place. That slot's previous exchange was read by every peer before it posted to the
  // one just made, so it is free while peers still read this exchange's slot.
  const int n = ctx.size(), me = ctx.rank();
  const std::size_t lo = block_offset(a.count, n, me), hi = block_offset(a.count, n, me + 1);
  std::byte* next = mb.next_payload();
  reduce_posts(ctx, next + lo * es, lo * es, hi - lo);
  mb.finish();
  // All-gather: every rank copies each block from the post of the rank that reduced it. The
  // post is the whole buffer's size, so blocks sit at the same offsets as in `recv`.
  if (!ctx.mailbox_exchange(bytes)) return;  // never deferred (mailbox_carries)
  const uint64_t t = ctx.trace_start();
  for (int q = 0; q < n; ++q) {
    const std::size_t qlo = block_offset(a.count, n, q) * es;
    const std::size_t qhi = block_offset(a.count, n, q + 1) * es;
    std::memcpy(a.recv + qlo, mb.payload(q) + qlo, qhi - qlo);
  }
  ctx.trace_kernel("copy", bytes, t);
  mb.finish();
}

void mailbox_reduce(Context& ctx) {
  const OpArgs& a = ctx.args();
  if (!exchange(ctx, a.send, a.count * ctx.elem_size())) return;
  if (ctx.rank() == a.root) reduce_posts(ctx, a.recv, 0, a.count);
  ctx.mailbox()->finish();
}

void mailbox_reduce_scatter(Context& ctx) {
  const OpArgs& a = ctx.args();  // count = elements per rank
  const std::size_t es = ctx.elem_size();
  if (!exchange(ctx, a.send, a.count * ctx.size() * es)) return;
  reduce_posts(ctx, a.recv, a.count * ctx.rank() * es, a.count);
  ctx.mailbox()->finish();
}

void mailbox_all_gather(Context& ctx) {
  const OpArgs& a = ctx.args();  // count = elements per rank
  const std::size_t bytes = a.count * ctx.elem_size();
  if (!exchange(ctx, a.send, bytes)) return;
  const transport::ShmMailbox& mb = *ctx.mailbox();
  for (int r = 0; r < mb.size(); ++r) std::memcpy(a.recv + bytes * r, mb.payload(r), bytes);
  ctx.mailbox()->finish();
}

void mailbox_broadcast(Context& ctx) {
  const OpArgs& a = ctx.args();
  const std::size_t bytes = a.count * ctx.elem_size();
  const bool root = ctx.rank() == a.root;
  if (!exchange(ctx, root ? a.send : nullptr, bytes)) return;
  if (root) {
    if (a.recv != a.send) std::memmove(a.recv, a.send, bytes);
  } else {
    std::memcpy(a.recv, ctx.mailbox()->payload(a.root), bytes);
  }
  ctx.mailbox()->finish();
}

void mailbox_barrier(Context& ctx) {
  if (!ctx.mailbox_exchange(0)) return;
  ctx.mailbox()->finish();
}

}  // namespace railcc::algo
