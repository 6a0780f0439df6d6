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
void exchange(Context& ctx, const std::byte* data, std::size_t bytes) {
  if (data && bytes) std::memcpy(ctx.mailbox()->payload(), data, bytes);
  ctx.mailbox_exchange(bytes);
}

}  // namespace

bool mailbox_applies(const Context& ctx, std::size_t bytes, bool empty_ok) {
  const transport::ShmMailbox* mb = ctx.mailbox();
  const std::string& algo = ctx.config().algo;
  return mb && (bytes > 0 || empty_ok) && bytes <= mb->capacity() &&
         (algo.empty() || algo == "auto");
}

void mailbox_all_reduce(Context& ctx) {
  const OpArgs& a = ctx.args();
  exchange(ctx, a.send, a.count * ctx.elem_size());
  reduce_posts(ctx, a.recv, 0, a.count);
  ctx.mailbox()->finish();
}

void mailbox_reduce(Context& ctx) {
  const OpArgs& a = ctx.args();
  exchange(ctx, a.send, a.count * ctx.elem_size());
  if (ctx.rank() == a.root) reduce_posts(ctx, a.recv, 0, a.count);
  ctx.mailbox()->finish();
}

void mailbox_reduce_scatter(Context& ctx) {
  const OpArgs& a = ctx.args();  // count = elements per rank
  const std::size_t es = ctx.elem_size();
  exchange(ctx, a.send, a.count * ctx.size() * es);
  reduce_posts(ctx, a.recv, a.count * ctx.rank() * es, a.count);
  ctx.mailbox()->finish();
}

void mailbox_all_gather(Context& ctx) {
  const OpArgs& a = ctx.args();  // count = elements per rank
  const std::size_t bytes = a.count * ctx.elem_size();
  exchange(ctx, a.send, bytes);
  const transport::ShmMailbox& mb = *ctx.mailbox();
  for (int r = 0; r < mb.size(); ++r) std::memcpy(a.recv + bytes * r, mb.payload(r), bytes);
  ctx.mailbox()->finish();
}

void mailbox_broadcast(Context& ctx) {
  const OpArgs& a = ctx.args();
  const std::size_t bytes = a.count * ctx.elem_size();
  const bool root = ctx.rank() == a.root;
  exchange(ctx, root ? a.send : nullptr, bytes);
  if (root) {
    if (a.recv != a.send) std::memmove(a.recv, a.send, bytes);
  } else {
    std::memcpy(a.recv, ctx.mailbox()->payload(a.root), bytes);
  }
  ctx.mailbox()->finish();
}

void mailbox_barrier(Context& ctx) {
  ctx.mailbox_exchange(0);
  ctx.mailbox()->finish();
}

}  // namespace railcc::algo
