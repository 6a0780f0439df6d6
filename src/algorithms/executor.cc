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
  Runner(Context& ctx, const Schedule& s, const Buffers& b)
      : ctx_(ctx), s_(s), b_(b), done_(s.steps.size(), nullptr) {
    std::vector<int> queue_of(2 * static_cast<std::size_t>(ctx.size()) + 1, -1);
    for (uint32_t i = 0; i < s.size(); ++i) {
      const Step& st = s.steps[i];
      std::size_t key = 2 * static_cast<std::size_t>(ctx.size());  // local steps
      if (st.op == StepOp::kSend) key = 2 * static_cast<std::size_t>(st.peer);
      if (st.op == StepOp::kRecv || st.op == StepOp::kRecvReduce) key = 2 * st.peer + 1;
      if (queue_of[key] < 0) {
        queue_of[key] = static_cast<int>(queues_.size());
        queues_.emplace_back();
      }
      queues_[queue_of[key]].steps.push_back(i);
    }
    for (uint32_t q = 0; q < queues_.size(); ++q) active_.push_back(q);
    left_ = s.size();
  }

  // Starts every step that can start; true once all have started.
  bool pump() {
    bool moved = true;
    while (moved && left_ > 0) {
      moved = false;
      for (std::size_t j = 0; j < active_.size();) {
        Queue& q = queues_[active_[j]];
        while (q.next < q.steps.size() && ready(q)) {
          start(q.steps[q.next]);
          ++q.next;
          q.cursor = 0;
          --left_;
          moved = true;
        }
        if (q.next == q.steps.size()) {  // exhausted: stop scanning it
          active_[j] = active_.back();
          active_.pop_back();
        } else {
          ++j;
        }
      }
    }
    return left_ == 0;
  }

 private:
  struct Queue {
    std::vector<uint32_t> steps;
    std::size_t next = 0;
    uint32_t cursor = 0;  // dependencies of the head known done, from dep_begin
  };

  bool is_done(uint32_t i) const { return done_[i] && *done_[i]; }

  bool ready(Queue& q) {
    const Step& st = s_.steps[q.steps[q.next]];
    while (prefix_ < st.after_all && is_done(prefix_)) ++prefix_;
    if (prefix_ < st.after_all) return false;
    if (q.cursor < st.dep_begin) q.cursor = st.dep_begin;
    while (q.cursor < st.dep_end && is_done(q.cursor)) ++q.cursor;
    return q.cursor >= st.dep_end;
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
        done_[i] = &ctx_.send(st.peer, src, st.bytes)->done;
        return;
      case StepOp::kRecv:
        done_[i] = &ctx_.recv(st.peer, dst, st.bytes)->done;
        return;
      case StepOp::kRecvReduce:
        done_[i] = &ctx_.recv_reduce(st.peer, dst, src, st.bytes)->done;
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
    done_[i] = &kDone;
  }

  Context& ctx_;
  const Schedule& s_;
  Buffers b_;
  std::vector<const bool*> done_;  // per step: its request's done flag; null until started
  std::vector<Queue> queues_;
  std::vector<uint32_t> active_;  // queues with steps not started
  uint32_t prefix_ = 0;           // steps before this index are all done
  std::size_t left_ = 0;          // steps not started
};

}  // namespace

void execute(Context& ctx, const Schedule& schedule, const Buffers& buffers) {
  Runner runner(ctx, schedule, buffers);
  if (!runner.pump()) ctx.progress_until([&] { return runner.pump(); });
  ctx.wait_all();
}

}  // namespace railcc::algo
