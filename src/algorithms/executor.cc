#include "src/algorithms/executor.h"

#include <cstring>

#include "kernels/cpu/reduce.h"

namespace railcc::algo {
namespace {

// Dataflow over one schedule. Steps live in queues (sends per peer, receives per peer, local
// steps); a queue's head starts once its dependencies are done. Posting order per queue is
// program order, which is all message matching needs.
class Runner {
 public:
  Runner(Context& ctx, const PreparedSchedule& p, const Buffers& b, ExecutorState& state)
      : ctx_(ctx), p_(p), s_(p.schedule), b_(b), st_(state) {
    st_.done.assign(s_.steps.size(), nullptr);
    st_.next.assign(p.queues(), 0);
    st_.cursor.assign(p.queues(), 0);
    st_.active.resize(p.queues());
    for (uint32_t q = 0; q < p.queues(); ++q) st_.active[q] = q;
    left_ = s_.size();
  }

  // Starts every step that can start; true once all have started.
  bool pump() {
    bool moved = true;
    while (moved && left_ > 0) {
      moved = false;
      for (std::size_t j = 0; j < st_.active.size();) {
        const uint32_t q = st_.active[j];
        const uint32_t length = p_.queue_begin[q + 1] - p_.queue_begin[q];
        while (st_.next[q] < length && ready(q)) {
          start(p_.queue_steps[p_.queue_begin[q] + st_.next[q]]);
          ++st_.next[q];
          st_.cursor[q] = 0;
          --left_;
          moved = true;
        }
        if (st_.next[q] == length) {  // exhausted: stop scanning it
          st_.active[j] = st_.active.back();
          st_.active.pop_back();
        } else {
          ++j;
        }
      }
    }
    return left_ == 0;
  }

 private:
  bool is_done(uint32_t i) const { return st_.done[i] && *st_.done[i]; }

  // Whether the first step not started of queue q may start.
  bool ready(uint32_t q) {
    const Step& st = s_.steps[p_.queue_steps[p_.queue_begin[q] + st_.next[q]]];
    while (prefix_ < st.after_all && is_done(prefix_)) ++prefix_;
    if (prefix_ < st.after_all) return false;
    uint32_t& cursor = st_.cursor[q];
    if (cursor < st.dep_begin) cursor = st.dep_begin;
    while (cursor < st.dep_end && is_done(cursor)) ++cursor;
    return cursor >= st.dep_end;
  }

  std::byte* ptr(Buf buf, std::size_t off) const {
    switch (buf) {
      case Buf::kSend:
        return const_cast<std::byte*>(b_.send) + off;
      case Buf::kRecv:
        return b_.recv + off;
      case Buf::kScratch:
        return b_.scratch + off;
    }
    return nullptr;
  }

  void start(uint32_t i) {
    static const bool kDone = true;
    const Step& st = s_.steps[i];
    const OpArgs& a = ctx_.args();
    const std::size_t elems = st.bytes / ctx_.elem_size();
    std::byte* dst = ptr(st.dst_buf, st.dst);
    std::byte* src = ptr(st.src_buf, st.src);
    switch (st.op) {
      case StepOp::kSend:
        st_.done[i] = &ctx_.send(st.peer, src, st.bytes)->done;
        return;
      case StepOp::kRecv:
        st_.done[i] = &ctx_.recv(st.peer, dst, st.bytes)->done;
        return;
      case StepOp::kRecvReduce:
        st_.done[i] = &ctx_.recv_reduce(st.peer, dst, src, st.bytes)->done;
        return;
      case StepOp::kCopy:
        if (st.bytes && dst != src) std::memmove(dst, src, st.bytes);
        break;
      case StepOp::kReduce:
        if (elems) {
          const uint64_t t0 = ctx_.trace_start();
          kernels::reduce(dst, dst, src, elems, a.dtype, a.redop);
          ctx_.trace_kernel("reduce", st.bytes, t0);
        }
        break;
      case StepOp::kDivide:
        if (elems) kernels::divide(dst, dst, elems, a.dtype, ctx_.size());
        break;
    }
    st_.done[i] = &kDone;
  }

  Context& ctx_;
  const PreparedSchedule& p_;
  const Schedule& s_;
  Buffers b_;
  ExecutorState& st_;
  uint32_t prefix_ = 0;   // steps before this index are all done
  std::size_t left_ = 0;  // steps not started
};

}  // namespace

void execute(Context& ctx, const PreparedSchedule& prepared, const Buffers& buffers) {
  Runner runner(ctx, prepared, buffers, ctx.executor_state());
  if (!runner.pump()) ctx.progress_until([&] { return runner.pump(); });
  ctx.wait_all();
}

void execute(Context& ctx, Schedule schedule, const Buffers& buffers) {
  execute(ctx, prepare(std::move(schedule), ctx.size()), buffers);
}

}  // namespace railcc::algo
