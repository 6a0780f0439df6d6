#include "src/algorithms/window.h"

#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "kernels/cpu/reduce.h"
#include "railcc/status.hpp"
#include "src/algorithms/chunking.h"
#include "src/algorithms/mailbox.h"

namespace railcc::algo {
namespace {

using transport::WindowRef;

// Every rank's buffers of the op, as mapped in this process.
struct Buffers {
  std::vector<const std::byte*> send;
  std::vector<std::byte*> recv;
};

// Posts where this rank's buffers lie and reads where every rank's do. False when some rank's
// are not all in windows (every rank sees the same posts, so all return false alike).
bool exchange_refs(Context& ctx, std::size_t send_bytes, std::size_t recv_bytes, Buffers& out) {
  const OpArgs& a = ctx.args();
  const transport::ShmWindows& w = ctx.engine().windows();
  transport::ShmMailbox& mb = *ctx.mailbox();
  const int n = ctx.size(), me = ctx.rank();
  WindowRef mine;
  std::tie(mine.send_window, mine.send_offset) = w.find(me, a.send, send_bytes);
  std::tie(mine.recv_window, mine.recv_offset) = w.find(me, a.recv, recv_bytes);
  std::memcpy(mb.payload(), &mine, sizeof mine);
  if (!ctx.mailbox_exchange(sizeof mine)) {
    throw InternalError("an op on windows was deferred");  // excluded by window_exchange_applies
  }
  std::vector<WindowRef> refs(n);
  bool all = true;
  for (int r = 0; r < n; ++r) {
    std::memcpy(&refs[r], mb.payload(r), sizeof(WindowRef));
    all = all && refs[r].in_windows();
  }
  mb.finish();
  if (!all) {
    ctx.continue_with_messages();
    return false;
  }
  out.send.resize(n);
  out.recv.resize(n);
  for (int r = 0; r < n; ++r) {
    out.send[r] = w.at(r, refs[r].send_window, refs[r].send_offset, send_bytes);
    out.recv[r] = w.at(r, refs[r].recv_window, refs[r].recv_offset, recv_bytes);
    if (!out.send[r] || !out.recv[r]) {
      throw MismatchError(fmt::format(
          "rank {} at collective #{}: rank {} names buffers outside its windows (send: window {} "
          "at {}, recv: window {} at {}, {} / {} bytes); its windows differ from this rank's",
          me, mb.latest_seq(me), r, refs[r].send_window, refs[r].send_offset, refs[r].recv_window,
          refs[r].recv_offset, send_bytes, recv_bytes));
    }
  }
  return true;
}

// dst[0, count) = reduction over ranks of send[r] + `at` bytes, tile by tile so the partial result
// stays in cache while every rank's part is added. This rank's own part comes first: in place,
// dst is that part, so it must be read before it is overwritten. (Each block is reduced by one
// rank only, so every rank still ends with the same bits.)
void reduce_block(Context& ctx, std::byte* dst, const Buffers& b, std::size_t at,
                  std::size_t count) {
  const OpArgs& a = ctx.args();
  const int n = ctx.size(), me = ctx.rank();
  const std::size_t es = ctx.elem_size();
  const uint64_t t = ctx.trace_start();
  const Chunks ch(count, es, n > 2 ? ctx.config().chunk_bytes : count * es);
  for (std::size_t c = 0; c < ch.n; ++c) {
    const std::size_t off = ch.begin(c) * es, len = ch.length(c);
    std::byte* out = dst + off;
    const std::size_t from = at + off;
    kernels::reduce(out, b.send[me] + from, b.send[(me + 1) % n] + from, len, a.dtype, a.redop);
    for (int k = 2; k < n; ++k) {
      kernels::reduce(out, out, b.send[(me + k) % n] + from, len, a.dtype, a.redop);
    }
    if (a.redop == ReduceOp::kAvg) kernels::divide(out, out, len, a.dtype, n);
  }
  ctx.trace_kernel("reduce", count * es * (n - 1), t);
}

// An exchange with nothing in it: every rank has reached this point of the op.
void sync(Context& ctx) {
  if (!ctx.mailbox_exchange(0)) throw InternalError("an op on windows was deferred");
  ctx.mailbox()->finish();
}

}  // namespace

bool window_exchange_applies(const Context& ctx, std::size_t bytes) {
  const transport::ShmMailbox* mb = ctx.mailbox();
  const std::string& algo = ctx.config().algo;
  return mb && ctx.size() > 1 && ctx.engine().windows().exchanges_refs(bytes) &&
         (algo.empty() || algo == "auto") &&
         !mailbox_carries(ctx.args(), ctx.size(), mb, ctx.config());
}

bool window_all_reduce(Context& ctx) {
  const OpArgs& a = ctx.args();
  const int n = ctx.size(), me = ctx.rank();
  const std::size_t es = ctx.elem_size(), bytes = a.count * es;
  Buffers b;
  if (!exchange_refs(ctx, bytes, bytes, b)) return false;
  auto lo = [&](int q) { return block_offset(a.count, n, q) * es; };
  const std::size_t own = block_offset(a.count, n, me + 1) - block_offset(a.count, n, me);
  reduce_block(ctx, a.recv + lo(me), b, lo(me), own);
  sync(ctx);
  const uint64_t t = ctx.trace_start();
  for (int k = 1; k < n; ++k) {
    const int q = (me + k) % n;  // ranks start at different owners
    std::memcpy(a.recv + lo(q), b.recv[q] + lo(q), lo(q + 1) - lo(q));
  }
  ctx.trace_kernel("copy", bytes - (lo(me + 1) - lo(me)), t);
  sync(ctx);
  return true;
}

bool window_reduce_scatter(Context& ctx) {
  const OpArgs& a = ctx.args();
  const int n = ctx.size(), me = ctx.rank();
  const std::size_t es = ctx.elem_size(), block = a.count * es;
  Buffers b;
  if (!exchange_refs(ctx, block * n, block, b)) return false;
  reduce_block(ctx, a.recv, b, block * me, a.count);
  sync(ctx);
  return true;
}

bool window_all_gather(Context& ctx) {
  const OpArgs& a = ctx.args();
  const int n = ctx.size(), me = ctx.rank();
  const std::size_t block = a.count * ctx.elem_size();
  Buffers b;
  if (!exchange_refs(ctx, block, block * n, b)) return false;
  const uint64_t t = ctx.trace_start();
  for (int k = 0; k < n; ++k) {
    const int q = (me + k) % n;
    std::byte* dst = a.recv + block * q;
    if (dst != b.send[q]) std::memmove(dst, b.send[q], block);  // in place: own block is there
  }
  ctx.trace_kernel("copy", block * n, t);
  sync(ctx);
  return true;
}

}  // namespace railcc::algo
