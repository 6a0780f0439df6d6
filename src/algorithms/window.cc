#include "src/algorithms/window.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "kernels/cpu/copy.h"
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

// Which ranks' buffers an op reads or writes in place.
enum class Uses {
  kAll,        // every rank's input and output (all_reduce, reduce_scatter, all_gather)
  kRootInput,  // the root's input only (broadcast)
  kRootOutput  // every rank's input and the root's output (reduce)
};

// Posts where this rank's buffers lie and reads where every rank's do. False when a buffer the op
// uses is not in a window (every rank sees the same posts, so all return false alike).
bool exchange_refs(Context& ctx, std::size_t send_bytes, std::size_t recv_bytes, Buffers& out,
                   Uses uses = Uses::kAll) {
  const OpArgs& a = ctx.args();
  const transport::ShmWindows& w = ctx.engine().windows();
  transport::ShmMailbox& mb = *ctx.mailbox();
  const int n = ctx.size(), me = ctx.rank();
  auto uses_send = [&](int r) { return uses != Uses::kRootInput || r == a.root; };
  auto uses_recv = [&](int r) {
    return uses == Uses::kAll || (uses == Uses::kRootOutput && r == a.root);
  };
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
    all = all && (!uses_send(r) || refs[r].send_window >= 0) &&
          (!uses_recv(r) || refs[r].recv_window >= 0);
  }
  mb.finish();
  if (!all) {
    ctx.continue_with_messages();
    return false;
  }
  out.send.assign(n, nullptr);
  out.recv.assign(n, nullptr);
  for (int r = 0; r < n; ++r) {
    if (uses_send(r)) out.send[r] = w.at(r, refs[r].send_window, refs[r].send_offset, send_bytes);
    if (uses_recv(r)) out.recv[r] = w.at(r, refs[r].recv_window, refs[r].recv_offset, recv_bytes);
    if ((uses_send(r) && !out.send[r]) || (uses_recv(r) && !out.recv[r])) {
      throw MismatchError(fmt::format(
          "rank {} at collective #{}: rank {} names buffers outside its windows (send: window {} "
          "at {}, recv: window {} at {}, {} / {} bytes); its windows differ from this rank's",
          me, ctx.seq(), r, refs[r].send_window, refs[r].send_offset, refs[r].recv_window,
          refs[r].recv_offset, send_bytes, recv_bytes));
    }
  }
  return true;
}

// out[0, len) = reduction over ranks of send[r] + `from` bytes, starting with rank `first`'s
// part: in place, out is that rank's part, so it must be read before it is overwritten. (Each
// block is reduced by one rank only, so every rank still ends with the same bits.)
void reduce_tile(Context& ctx, std::byte* out, const Buffers& b, std::size_t from, std::size_t len,
                 int first) {
  const OpArgs& a = ctx.args();
  const int n = ctx.size();
  kernels::reduce(out, b.send[first] + from, b.send[(first + 1) % n] + from, len, a.dtype, a.redop);
  for (int k = 2; k < n; ++k) {
    kernels::reduce(out, out, b.send[(first + k) % n] + from, len, a.dtype, a.redop);
  }
  if (a.redop == ReduceOp::kAvg) kernels::divide(out, out, len, a.dtype, n);
}

// dst[0, count) = the reduction of every rank's send + `at` bytes, tile by tile so the partial
// result stays in cache while every rank's part is added.
void reduce_block(Context& ctx, std::byte* dst, const Buffers& b, std::size_t at, std::size_t count,
                  int first) {
  const std::size_t es = ctx.elem_size();
  const uint64_t t = ctx.trace_start();
  const Chunks ch(count, es, ctx.config().chunk_bytes);
  for (std::size_t c = 0; c < ch.n; ++c) {
    const std::size_t off = ch.begin(c) * es;
    reduce_tile(ctx, dst + off, b, at + off, ch.length(c), first);
  }
  ctx.trace_kernel("reduce", count * es * (ctx.size() - 1), t);
}

// Ops from this size up copy their peers' blocks with non-temporal stores: the copies are the
// last touch of those bytes in the op, and once the buffers outgrow the last-level cache, normal
// stores would first read every destination line from memory and then push out the lines the
// peers are about to read. (np2 64 MiB: 1.1-1.3x; below the cache size they cost, in place most.)
// The last-level cache that CPU 0 shares with its neighbours, from sysfs (sysconf's L3 figure
// is the whole package's on some AMD parts, 12 times too large); 32 MiB when unknown.
std::size_t stream_copies_from() {
  static const std::size_t from = [] {
    std::size_t bytes = std::size_t{32} << 20;
    if (std::FILE* f = std::fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r")) {
      unsigned long long v = 0;
      char unit = 0;
      if (std::fscanf(f, "%llu%c", &v, &unit) >= 1 && v > 0) {
        bytes = v << (unit == 'K' ? 10 : unit == 'M' ? 20 : 0);
      }
      std::fclose(f);
    }
    return bytes;
  }();
  return from;
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
  // Each rank reduces its block tile by tile and publishes how many tiles are done; between its
  // own tiles it copies the peers' finished ones, while they are still in the cache they were
  // written to, rather than waiting for whole blocks.
  transport::ShmMailbox& mb = *ctx.mailbox();
  auto lo = [&](int q) { return block_offset(a.count, n, q) * es; };
  auto tiles = [&](int q) {
    return Chunks(block_offset(a.count, n, q + 1) - block_offset(a.count, n, q), es,
                  ctx.config().chunk_bytes);
  };
  // Progress of this op: its collective number above, tiles done below.
  const uint64_t tag = (ctx.seq() & 0xFFFFFFFFull) << 32;
  auto done_tiles = [&](int q) -> std::size_t {
    const uint64_t v = mb.progress(q);
    return (v & ~0xFFFFFFFFull) == tag ? static_cast<std::size_t>(v & 0xFFFFFFFFull) : 0;
  };
  std::vector<std::size_t> copied(n, 0);  // tiles of rank q's block copied so far
  const bool stream = bytes >= stream_copies_from();
  // Copies rank q's finished tiles; true once all are here.
  auto copy_ready = [&](int q) {
    const Chunks ch = tiles(q);
    const std::size_t ready = std::min(done_tiles(q), ch.n);
    if (copied[q] == ready) return copied[q] == ch.n;
    const uint64_t t = ctx.trace_start();
    const std::size_t from = lo(q) + ch.begin(copied[q]) * es;
    const std::size_t len = (ch.begin(ready - 1) + ch.length(ready - 1)) * es + lo(q) - from;
    if (stream) {
      kernels::copy_streaming(a.recv + from, b.recv[q] + from, len);
    } else {
      std::memcpy(a.recv + from, b.recv[q] + from, len);
    }
    ctx.trace_kernel("copy", len, t);
    copied[q] = ready;
    return copied[q] == ch.n;
  };
  const Chunks mine = tiles(me);
  for (std::size_t c = 0; c < mine.n; ++c) {
    const std::size_t off = lo(me) + mine.begin(c) * es;
    const uint64_t t = ctx.trace_start();
    reduce_tile(ctx, a.recv + off, b, off, mine.length(c), me);
    ctx.trace_kernel("reduce", mine.length(c) * es * (n - 1), t);
    mb.publish_progress(tag | (c + 1));
    for (int k = 1; k < n; ++k) copy_ready((me + k) % n);
  }
  for (int k = 1; k < n; ++k) {
    const int q = (me + k) % n;
    try {
      ctx.progress_until([&] { return copy_ready(q); });
    } catch (const TimeoutError&) {
      throw TimeoutError(fmt::format(
          "still waiting on rank {} to reduce its block of collective #{} in its window ({} of "
          "{} tiles done)",
          q, ctx.seq(), done_tiles(q), tiles(q).n));
    }
  }
  sync(ctx);
  return true;
}

bool window_reduce_scatter(Context& ctx) {
  const OpArgs& a = ctx.args();
  const int n = ctx.size(), me = ctx.rank();
  const std::size_t es = ctx.elem_size(), block = a.count * es;
  Buffers b;
  if (!exchange_refs(ctx, block * n, block, b)) return false;
  reduce_block(ctx, a.recv, b, block * me, a.count, me);
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

bool window_broadcast(Context& ctx) {
  const OpArgs& a = ctx.args();
  const std::size_t bytes = a.count * ctx.elem_size();
  Buffers b;
  if (!exchange_refs(ctx, bytes, bytes, b, Uses::kRootInput)) return false;
  const uint64_t t = ctx.trace_start();
  if (ctx.rank() != a.root) {
    std::memcpy(a.recv, b.send[a.root], bytes);
  } else if (a.recv != a.send) {
    std::memmove(a.recv, a.send, bytes);
  }
  ctx.trace_kernel("copy", bytes, t);
  sync(ctx);  // the root's input is read until every rank is here
  return true;
}

bool window_reduce(Context& ctx) {
  const OpArgs& a = ctx.args();
  const int n = ctx.size(), me = ctx.rank();
  const std::size_t es = ctx.elem_size(), bytes = a.count * es;
  Buffers b;
  if (!exchange_refs(ctx, bytes, bytes, b, Uses::kRootOutput)) return false;
  // Every rank reduces its block of all inputs straight into the root's output. In place the
  // root's output is its input, so the root's part is read first.
  const std::size_t lo = block_offset(a.count, n, me) * es;
  const std::size_t own = block_offset(a.count, n, me + 1) - block_offset(a.count, n, me);
  reduce_block(ctx, b.recv[a.root] + lo, b, lo, own, a.root);
  sync(ctx);  // the root returns only once every block is in its output
  return true;
}

}  // namespace railcc::algo
