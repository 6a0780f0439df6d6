// Algorithm choice per collective. When every rank shares one host and buffers were registered
// as windows, all_reduce, reduce_scatter, all_gather, broadcast and reduce ops from
// RAILCC_SHM_WINDOW_BYTES up whose buffers lie in windows run in place on them (window.h).
// Otherwise, when every rank shares one host, all_reduce, reduce_scatter, all_gather, broadcast,
// reduce and barrier ops that post up to RAILCC_SHM_MAILBOX_BYTES per rank go through the
// shared-memory mailbox (mailbox.h). Between ranks of one host that read each other's memory
// (single copy) and from RAILCC_SHM_SINGLE_COPY_BYTES up, all_reduce, reduce_scatter and all_gather
// run all-pairs (all_pairs.h) unless RAILCC_ALGO forces another. Otherwise all_reduce asks the cost
// model (cost_model.h) unless RAILCC_ALGO forces one; reduce_scatter and all_gather run the ring
// schedule. broadcast and reduce take the one-round direct path up to RAILCC_SMALL_MSG_BYTES, then
// a pipelined chain / ring.
#include <cstring>

#include "kernels/cpu/reduce.h"
#include "src/algorithms/algorithms.h"
#include "src/algorithms/all_pairs.h"
#include "src/algorithms/chunking.h"
#include "src/algorithms/context.h"
#include "src/algorithms/cost_model.h"
#include "src/algorithms/direct.h"
#include "src/algorithms/executor.h"
#include "src/algorithms/mailbox.h"
#include "src/algorithms/ring.h"
#include "src/algorithms/window.h"
#include "src/common/log.h"

namespace railcc::algo {
namespace {

Shape shape(const Context& ctx, std::size_t count) {
  Shape sh;
  sh.rank = ctx.rank();
  sh.size = ctx.size();
  sh.count = count;
  sh.elem_size = ctx.elem_size();
  sh.chunk_bytes = ctx.config().chunk_bytes;
  sh.avg = ctx.args().redop == ReduceOp::kAvg;
  return sh;
}

void run(Context& ctx, Schedule s) {
  const OpArgs& a = ctx.args();
  std::byte* scratch = ctx.scratch(s.scratch_bytes);
  execute(ctx, std::move(s), {a.send, a.recv, scratch});
}

// All-pairs single copy, unless RAILCC_ALGO forces an algorithm.
bool use_all_pairs(const Context& ctx, std::size_t bytes) {
  return (ctx.config().algo.empty() || ctx.config().algo == "auto") &&
         all_pairs_applies(ctx, bytes);
}

bool small(const Context& ctx, std::size_t bytes) {
  return bytes <= ctx.config().small_message_bytes;
}

}  // namespace

void all_reduce(Context& ctx) {
  const OpArgs& a = ctx.args();
  const Config& cfg = ctx.config();
  const std::size_t bytes = a.count * ctx.elem_size();
  if (window_exchange_applies(ctx, bytes) && window_all_reduce(ctx)) {
    ctx.set_algorithm("window");
    RAILCC_DEBUG("algo", "all_reduce {} bytes x {} ranks -> window (every buffer registered)",
                 bytes, ctx.size());
    return;
  }
  if (mailbox_applies(ctx, bytes)) {
    ctx.set_algorithm("mailbox");
    RAILCC_DEBUG("algo", "all_reduce {} bytes x {} ranks -> mailbox ({}every rank on this host)",
                 bytes, ctx.size(),
                 mailbox_two_phases(bytes, ctx.size()) ? "reduce-scatter + all-gather, " : "");
    return mailbox_all_reduce(ctx);
  }
  if (ctx.size() > 1 && a.count >= static_cast<std::size_t>(ctx.size()) &&
      use_all_pairs(ctx, bytes)) {
    ctx.set_algorithm("all_pairs");
    RAILCC_DEBUG("algo", "all_reduce {} bytes x {} ranks -> all_pairs (single copy to every peer)",
                 bytes, ctx.size());
    const int r = ctx.rank();
    std::byte* own = a.recv + block_offset(a.count, ctx.size(), r) * ctx.elem_size();
    all_pairs_reduce_scatter(ctx, a.send, own, a.count);
    if (a.redop == ReduceOp::kAvg) {
      kernels::divide(
          own, own, block_offset(a.count, ctx.size(), r + 1) - block_offset(a.count, ctx.size(), r),
          a.dtype, ctx.size());
    }
    all_pairs_all_gather(ctx, a.recv, own, a.count);
    ctx.wait_all();
    return;
  }
  const ScheduleCache::Key key{a.count, ctx.elem_size(), a.redop == ReduceOp::kAvg};
  const ScheduleCache::Entry* e = ctx.schedule_cache().find(key);
  if (e) {
    RAILCC_DEBUG("algo", "all_reduce {} bytes x {} ranks -> {} (as last time for this size)", bytes,
                 ctx.size(), e->algorithm);
  } else {
    std::vector<int> hosts = Layout::host_of(ctx.host_of(), cfg.ranks_per_host);
    hosts.resize(ctx.size(), 0);
    Shape sh = shape(ctx, a.count);
    sh.host_of = &hosts;
    const Decision d = choose(CostModel::from_config(cfg), Layout::of(hosts), bytes,
                              cfg.chunk_bytes, parse_algo(cfg.algo));
    RAILCC_DEBUG("algo", "{}", d.describe(bytes, ctx.size()));
    sh.chunk_bytes = d.chosen.chunk_bytes;
    e = &ctx.schedule_cache().insert(
        key, algo_name(d.chosen.algo),
        prepare(build_all_reduce(d.chosen.algo, sh, d.chosen.inter), ctx.size()));
  }
  ctx.set_algorithm(e->algorithm);
  const PreparedSchedule& p = e->prepared;
  execute(ctx, p, {a.send, a.recv, ctx.scratch(p.schedule.scratch_bytes)});
}

void reduce_scatter(Context& ctx) {
  const OpArgs& a = ctx.args();  // count = elements per rank
  const std::size_t total = a.count * ctx.size(), es = ctx.elem_size();
  if (window_exchange_applies(ctx, total * es) && window_reduce_scatter(ctx)) {
    ctx.set_algorithm("window");
    RAILCC_DEBUG("algo", "reduce_scatter {} bytes x {} ranks -> window", total * es, ctx.size());
    return;
  }
  if (mailbox_applies(ctx, total * es)) {
    ctx.set_algorithm("mailbox");
    return mailbox_reduce_scatter(ctx);
  }
  if (ctx.size() > 1 && use_all_pairs(ctx, total * es)) {
    ctx.set_algorithm("all_pairs");
    all_pairs_reduce_scatter(ctx, a.send, a.recv, total);
    ctx.wait_all();
    if (a.redop == ReduceOp::kAvg) kernels::divide(a.recv, a.recv, a.count, a.dtype, ctx.size());
    return;
  }
  ctx.set_algorithm("ring");
  const Shape sh = shape(ctx, total);
  Schedule s;
  const Ref out{Buf::kRecv, 0};
  if (ctx.size() == 1) {
    s.copy(out, {Buf::kSend, 0}, a.count * es);
  } else {
    // Intermediate blocks need a full-size buffer; block r lands in recv directly.
    ring_reduce_scatter(s, sh.world(), sh, {Buf::kSend, 0}, s.scratch(total * es), out, total,
                        nullptr);
  }
  if (sh.avg) {
    s.barrier();
    s.divide(out, a.count * es);
  }
  run(ctx, s);
}

void all_gather(Context& ctx) {
  const OpArgs& a = ctx.args();  // count = elements per rank
  const std::size_t es = ctx.elem_size();
  if (window_exchange_applies(ctx, a.count * ctx.size() * es) && window_all_gather(ctx)) {
    ctx.set_algorithm("window");
    RAILCC_DEBUG("algo", "all_gather {} bytes x {} ranks -> window", a.count * ctx.size() * es,
                 ctx.size());
    return;
  }
  if (mailbox_applies(ctx, a.count * es)) {
    ctx.set_algorithm("mailbox");
    return mailbox_all_gather(ctx);
  }
  if (ctx.size() > 1 && use_all_pairs(ctx, a.count * ctx.size() * es)) {
    ctx.set_algorithm("all_pairs");
    std::byte* own = a.recv + a.count * ctx.rank() * es;
    if (a.count && own != a.send) std::memmove(own, a.send, a.count * es);
    all_pairs_all_gather(ctx, a.recv, own, a.count * ctx.size());
    ctx.wait_all();
    return;
  }
  ctx.set_algorithm("ring");
  const Shape sh = shape(ctx, a.count * ctx.size());
  Schedule s;
  const Ref own{Buf::kRecv, a.count * ctx.rank() * es};
  s.copy(own, {Buf::kSend, 0}, a.count * es);
  s.barrier();
  ring_all_gather(s, sh.world(), sh, {Buf::kRecv, 0}, own, sh.count, nullptr, false);
  run(ctx, s);
}

void broadcast(Context& ctx) {
  const OpArgs& a = ctx.args();
  const int p = ctx.size(), r = ctx.rank();
  const std::size_t es = ctx.elem_size(), bytes = a.count * es;
  if (window_exchange_applies(ctx, bytes) && window_broadcast(ctx)) {
    ctx.set_algorithm("window");
    RAILCC_DEBUG("algo", "broadcast {} bytes x {} ranks -> window", bytes, ctx.size());
    return;
  }
  if (mailbox_applies(ctx, bytes)) {
    ctx.set_algorithm("mailbox");
    return mailbox_broadcast(ctx);
  }
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
  if (window_exchange_applies(ctx, bytes) && window_reduce(ctx)) {
    ctx.set_algorithm("window");
    RAILCC_DEBUG("algo", "reduce {} bytes x {} ranks -> window", bytes, ctx.size());
    return;
  }
  if (mailbox_applies(ctx, bytes)) {
    ctx.set_algorithm("mailbox");
    return mailbox_reduce(ctx);
  }
  if (p == 1 || small(ctx, bytes) || a.count < static_cast<std::size_t>(p)) {
    direct_reduce(ctx, a.root);
    return;
  }
  // Ring reduce-scatter, then every rank sends its reduced block to the root.
  ctx.set_algorithm("ring");
  const Shape sh = shape(ctx, a.count);
  Schedule s;
  const Ref work = s.scratch(bytes);
  const Ref own = work.at(block_offset(a.count, p, r) * es);
  ring_reduce_scatter(s, sh.world(), sh, {Buf::kSend, 0}, work, own, a.count, nullptr);
  s.barrier();
  const std::size_t own_bytes =
      (block_offset(a.count, p, r + 1) - block_offset(a.count, p, r)) * es;
  if (sh.avg) {
    s.divide(own, own_bytes);
    s.barrier();  // the block leaves only once divided (RAILCC_CHECKSUM caught the race)
  }
  if (r != a.root) {
    s.send(a.root, own, own_bytes);
  } else {
    for (int q = 0; q < p; ++q) {
      const Ref at{Buf::kRecv, block_offset(a.count, p, q) * es};
      const std::size_t len = block_offset(a.count, p, q + 1) * es - at.off;
      if (q == r) {
        s.copy(at, own, len);
      } else {
        s.recv(q, at, len);
      }
    }
  }
  run(ctx, s);
}

}  // namespace railcc::algo
