#include "src/tools/sim/simulator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <queue>
#include <unordered_map>

namespace railcc::sim {
namespace {

using algo::Buf;
using algo::Schedule;
using algo::Step;
using algo::StepOp;

uint64_t fingerprint(uint64_t rank, uint64_t i) {  // splitmix64
  uint64_t z = (rank << 32 | i) + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool is_recv(StepOp op) { return op == StepOp::kRecv || op == StepOp::kRecvReduce; }

struct Queue {
  std::vector<uint32_t> steps;
  std::size_t next = 0;
  uint32_t cursor = 0;
};

struct Rank {
  const Schedule* s = nullptr;
  std::vector<double> done_at;   // < 0 until done
  std::vector<uint32_t> msg_of;  // message number of a send/recv on its pair
  std::vector<Queue> queues;
  std::vector<uint32_t> active;  // queues with steps not started
  bool local_busy = false;       // a local step runs (they run one at a time)
  uint32_t prefix = 0;
  std::size_t finished = 0;
  double egress_free[2] = {0, 0}, ingress_free[2] = {0, 0};  // per level: intra, inter
  std::vector<uint64_t> send, recv, scratch;
};

struct Message {
  std::size_t bytes = 0;
  double arrival = -1;  // set when the send starts
  std::vector<uint64_t> payload;
  int recv_step = -1;  // the matching receive once it started
  double recv_start = 0;
};

struct Event {
  double time;
  int prio;      // send completions first: their payload is captured before it is delivered
  uint64_t seq;  // FIFO among equal times: deterministic runs
  int rank;
  uint32_t step;
  bool operator>(const Event& o) const {
    if (time != o.time) return time > o.time;
    return prio != o.prio ? prio > o.prio : seq > o.seq;
  }
};

class Sim {
 public:
  Sim(const std::vector<Schedule>& sch, const Params& p) : p_(p), ranks_(sch.size()) {
    const int n = static_cast<int>(sch.size());
    for (int r = 0; r < n; ++r) {
      Rank& k = ranks_[r];
      k.s = &sch[r];
      k.done_at.assign(sch[r].steps.size(), -1);
      k.msg_of.assign(sch[r].steps.size(), 0);
      std::unordered_map<int64_t, int> queue_of;
      for (uint32_t i = 0; i < sch[r].size(); ++i) {
        const Step& st = sch[r].steps[i];
        int64_t key = -1;
        if (st.op == StepOp::kSend) key = 2 * int64_t{st.peer};
        if (is_recv(st.op)) key = 2 * int64_t{st.peer} + 1;
        auto [it, fresh] = queue_of.emplace(key, static_cast<int>(k.queues.size()));
        if (fresh) k.queues.emplace_back();
        k.queues[it->second].steps.push_back(i);
      }
      for (uint32_t q = 0; q < k.queues.size(); ++q) k.active.push_back(q);
      steps_ += sch[r].steps.size();
      if (p.cores_per_host > 0) {
        const std::size_t h = static_cast<std::size_t>(p.host_of[r]);
        if (cores_.size() <= h) cores_.resize(h + 1);
        cores_[h].resize(static_cast<std::size_t>(p.cores_per_host));
      }
      if (p.verify) {
        const std::size_t elems = p.count;
        k.recv.assign(elems, 0);
        k.scratch.assign(sch[r].scratch_bytes / 8 + 1, 0);
        auto& in = p.in_place ? k.recv : k.send;
        in.resize(elems);
        for (std::size_t i = 0; i < elems; ++i) in[i] = fingerprint(r, i);
      }
    }
  }

  Result run() {
    Result res;
    res.steps = steps_;
    try {
      for (int r = 0; r < static_cast<int>(ranks_.size()); ++r) pump(r, 0);
      while (!events_.empty()) {
        const Event e = events_.top();
        events_.pop();
        now_ = e.time;
        complete(e);
        pump(e.rank, e.time);
      }
      check_finished();
      if (p_.verify) check_values();
    } catch (const std::runtime_error& e) {
      res.ok = false;
      res.error = e.what();
    }
    res.seconds = end_;
    return res;
  }

 private:
  int level(int a, int b) const { return p_.host_of[a] == p_.host_of[b] ? 0 : 1; }
  const algo::Level& link(int lv) const { return lv ? p_.cost.inter : p_.cost.intra; }
  bool shared_cores() const { return p_.cores_per_host > 0; }

  // Runs `seconds` of CPU work of rank r, ready at `ready`, in the earliest idle stretch of one
  // of its host's CPUs (without preempting work already placed there); returns when it ends.
  // Work is placed as the simulation meets it, and some of it is ready only later (a receive's
  // copy), so a CPU keeps a list of busy intervals rather than a single "free at" time.
  double on_cpu(int r, double ready, double seconds) {
    if (!shared_cores()) return ready + seconds;
    ready = std::max(ready, now_);
    Cpu* best = nullptr;
    double best_start = 0;
    for (Cpu& cpu : cores_[static_cast<std::size_t>(p_.host_of[r])]) {
      while (!cpu.empty() && cpu.front().second <= now_) cpu.pop_front();  // in the past
      double start = ready;
      for (const auto& [s, e] : cpu) {
        if (start + seconds <= s) break;
        start = std::max(start, e);
      }
      if (!best || start < best_start) best = &cpu, best_start = start;
    }
    const auto at = std::lower_bound(best->begin(), best->end(),
                                     std::make_pair(best_start, best_start + seconds));
    best->insert(at, {best_start, best_start + seconds});
    return best_start + seconds;
  }

  uint64_t* mem(int r, Buf b, std::size_t off) {
    Rank& k = ranks_[r];
    const std::size_t i = off / 8;
    switch (b) {
      case Buf::kSend:
        return (p_.in_place ? k.recv.data() : k.send.data()) + i;
      case Buf::kRecv:
        return k.recv.data() + i;
      case Buf::kScratch:
        return k.scratch.data() + i;
    }
    return nullptr;
  }
  void check_range(int r, Buf b, std::size_t off, std::size_t bytes) {
    const Rank& k = ranks_[r];
    const std::size_t have = b == Buf::kScratch ? k.s->scratch_bytes : p_.count * p_.elem_size;
    if (off + bytes > have) {
      throw std::runtime_error(fmt::format("rank {} touches bytes [{}, {}) of a {}-byte buffer {}",
                                           r, off, off + bytes, have, static_cast<int>(b)));
    }
  }

  Message& message(int from, int to, uint32_t n) {
    auto& ch = channels_[static_cast<uint64_t>(from) * ranks_.size() + to];
    if (ch.size() <= n) ch.resize(n + 1);
    return ch[n];
  }

  bool ready(Rank& k, Queue& q) {
    const Step& st = k.s->steps[q.steps[q.next]];
    if (k.local_busy && st.op != StepOp::kSend && !is_recv(st.op)) return false;
    while (k.prefix < st.after_all && k.done_at[k.prefix] >= 0) ++k.prefix;
    if (k.prefix < st.after_all) return false;
    q.cursor = std::max(q.cursor, st.dep_begin);
    while (q.cursor < st.dep_end && k.done_at[q.cursor] >= 0) ++q.cursor;
    return q.cursor >= st.dep_end;
  }

  void pump(int r, double now) {
    Rank& k = ranks_[r];
    bool moved = true;
    while (moved) {
      moved = false;
      for (std::size_t j = 0; j < k.active.size();) {
        Queue& q = k.queues[k.active[j]];
        while (q.next < q.steps.size() && ready(k, q)) {
          start(r, q.steps[q.next], now);
          ++q.next;
          q.cursor = 0;
          moved = true;
        }
        if (q.next == q.steps.size()) {  // exhausted: stop scanning it (O(1) swap-remove)
          k.active[j] = k.active.back();
          k.active.pop_back();
        } else {
          ++j;
        }
      }
    }
  }

  void start(int r, uint32_t i, double now) {
    Rank& k = ranks_[r];
    const Step& st = k.s->steps[i];
    const double g = p_.cost.gamma * st.bytes;
    if (p_.verify) {
      if (st.op != StepOp::kSend) check_range(r, st.dst_buf, st.dst, st.bytes);
      if (st.op == StepOp::kSend || st.op == StepOp::kRecvReduce || st.op == StepOp::kCopy ||
          st.op == StepOp::kReduce) {
        check_range(r, st.src_buf, st.src, st.bytes);
      }
    }
    switch (st.op) {
      case StepOp::kSend: {
        if (st.peer < 0 || st.peer >= static_cast<int>(ranks_.size()) || st.peer == r) {
          throw std::runtime_error(fmt::format("rank {} step {} sends to rank {}", r, i, st.peer));
        }
        const int lv = level(r, st.peer);
        const uint32_t n = sent_[static_cast<uint64_t>(r) * ranks_.size() + st.peer]++;
        k.msg_of[i] = n;
        // A quarter of α is the sender's per-message overhead (it occupies the link, so many
        // small messages do not overlap for free); the rest is flight time. Same as the model.
        // Over shared memory the sender's share is a copy into the ring, on one of the host's CPUs.
        const double t0 = std::max(now, k.egress_free[lv]);
        const double busy = algo::kOverheadShare * link(lv).alpha + st.bytes * link(lv).beta;
        const double left = lv == 0 ? on_cpu(r, t0, busy) : t0 + busy;
        k.egress_free[lv] = left;
        Message& m = message(r, st.peer, n);
        m.bytes = st.bytes;
        m.arrival = left + (1 - algo::kOverheadShare) * link(lv).alpha;
        push(left, 0, r, i);
        if (m.recv_step >= 0) deliver(st.peer, r, n);
        return;
      }
      case StepOp::kRecv:
      case StepOp::kRecvReduce: {
        if (st.peer < 0 || st.peer >= static_cast<int>(ranks_.size()) || st.peer == r) {
          throw std::runtime_error(
              fmt::format("rank {} step {} receives from rank {}", r, i, st.peer));
        }
        const uint32_t n = received_[static_cast<uint64_t>(st.peer) * ranks_.size() + r]++;
        k.msg_of[i] = n;
        Message& m = message(st.peer, r, n);
        m.recv_step = static_cast<int>(i);
        m.recv_start = now;
        if (m.arrival >= 0) deliver(r, st.peer, n);
        return;
      }
      case StepOp::kCopy:
      case StepOp::kReduce:
      case StepOp::kDivide:
        // Like the executor: the effect happens when the step starts, and the rank's CPU is
        // busy until it is done (the next local step waits, see ready()).
        if (p_.verify) apply_local(r, st);
        k.local_busy = true;
        push(on_cpu(r, now, st.op == StepOp::kCopy ? g / 2 : g), 1, r, i);
        return;
    }
  }

  void push(double t, int prio, int rank, uint32_t step) {
    events_.push({t, prio, next_seq_++, rank, step});
  }

  void apply_local(int r, const Step& st) {
    const std::size_t n = st.bytes / 8;
    uint64_t* dst = mem(r, st.dst_buf, st.dst);
    const uint64_t* src = st.op == StepOp::kDivide ? nullptr : mem(r, st.src_buf, st.src);
    if (st.op == StepOp::kCopy && n) std::memmove(dst, src, n * 8);
    if (st.op == StepOp::kReduce) {
      for (std::size_t j = 0; j < n; ++j) dst[j] += src[j];
    }
  }

  // Both ends of message n from `from` to `to` are known: schedule the receive's completion.
  void deliver(int to, int from, uint32_t n) {
    Message& m = message(from, to, n);
    Rank& k = ranks_[to];
    const Step& st = k.s->steps[m.recv_step];
    if (m.bytes != st.bytes) {
      throw std::runtime_error(
          fmt::format("mismatch: message {} from rank {} to rank {} has {} bytes but rank {} "
                      "step {} expects {}",
                      n, from, to, m.bytes, to, m.recv_step, st.bytes));
    }
    const int lv = level(to, from);
    const double copy = st.bytes * link(lv).beta;
    double t = 0;
    if (lv == 0 && shared_cores()) {
      // The receiver's copy out of the ring needs a CPU of its own. It streams behind the
      // sender's copy in, so it may start as long before the message is complete as it takes
      // itself (and cannot end before). A receive that reduces does it in that same pass (the
      // executor reduces straight out of the ring), at the slower of the two rates.
      const bool reduce = st.op == StepOp::kRecvReduce;
      const double work = reduce ? std::max(copy, p_.cost.gamma * st.bytes) : copy;
      const double ready = std::max({m.recv_start, k.ingress_free[lv], m.arrival - work});
      t = std::max(m.arrival, on_cpu(to, ready, work));
      k.ingress_free[lv] = t;
    } else {
      t = std::max({m.arrival, m.recv_start, k.ingress_free[lv] + copy});
      k.ingress_free[lv] = t;
      if (st.op == StepOp::kRecvReduce) t += p_.cost.gamma * st.bytes;
    }
    push(t, 1, to, static_cast<uint32_t>(m.recv_step));
  }

  void complete(const Event& e) {
    Rank& k = ranks_[e.rank];
    const Step& st = k.s->steps[e.step];
    k.done_at[e.step] = e.time;
    ++k.finished;
    if (!is_recv(st.op) && st.op != StepOp::kSend) k.local_busy = false;
    end_ = std::max(end_, e.time);
    if (!p_.verify) {
      if (is_recv(st.op)) message(st.peer, e.rank, k.msg_of[e.step]) = Message{};
      return;
    }
    const std::size_t n = st.bytes / 8;
    switch (st.op) {
      case StepOp::kSend: {
        Message& m = message(e.rank, st.peer, k.msg_of[e.step]);
        const uint64_t* src = mem(e.rank, st.src_buf, st.src);
        m.payload.assign(src, src + n);
        return;
      }
      case StepOp::kRecv:
      case StepOp::kRecvReduce: {
        Message& m = message(st.peer, e.rank, k.msg_of[e.step]);
        uint64_t* dst = mem(e.rank, st.dst_buf, st.dst);
        const uint64_t* local =
            st.op == StepOp::kRecvReduce ? mem(e.rank, st.src_buf, st.src) : nullptr;
        for (std::size_t j = 0; j < n; ++j) dst[j] = (local ? local[j] : 0) + m.payload[j];
        m = Message{};
        return;
      }
      case StepOp::kCopy:
      case StepOp::kReduce:
      case StepOp::kDivide:
        return;  // applied when it started
    }
  }

  void check_finished() {
    for (std::size_t r = 0; r < ranks_.size(); ++r) {
      const Rank& k = ranks_[r];
      if (k.finished == k.s->steps.size()) continue;
      for (uint32_t i = 0; i < k.s->size(); ++i) {
        if (k.done_at[i] >= 0) continue;
        const Step& st = k.s->steps[i];
        throw std::runtime_error(fmt::format(
            "deadlock: rank {} never finishes step {} ({} {} bytes {} rank {}); {} of {} done", r,
            i, static_cast<int>(st.op), st.bytes, st.op == StepOp::kSend ? "to" : "from", st.peer,
            k.finished, k.s->steps.size()));
      }
    }
    for (const auto& [key, n] : sent_) {
      auto it = received_.find(key);
      const uint32_t got = it == received_.end() ? 0 : it->second;
      if (got != n) {
        throw std::runtime_error(
            fmt::format("rank {} sends {} messages to rank {}, which receives {}",
                        key / ranks_.size(), n, key % ranks_.size(), got));
      }
    }
    for (const auto& [key, n] : received_) {
      if (!sent_.count(key)) {
        throw std::runtime_error(fmt::format("rank {} receives {} messages rank {} never sends",
                                             key % ranks_.size(), n, key / ranks_.size()));
      }
    }
  }

  void check_values() {
    const std::size_t n = ranks_.size();
    for (std::size_t i = 0; i < p_.count; ++i) {
      uint64_t want = 0;
      for (std::size_t r = 0; r < n; ++r) want += fingerprint(r, i);
      for (std::size_t r = 0; r < n; ++r) {
        if (ranks_[r].recv[i] != want) {
          throw std::runtime_error(fmt::format(
              "rank {} element {} of {} lacks some rank's contribution or has one twice", r, i,
              p_.count));
        }
        if (!p_.in_place && ranks_[r].send[i] != fingerprint(r, i)) {
          throw std::runtime_error(fmt::format("rank {} overwrote its input at {}", r, i));
        }
      }
    }
  }

  const Params& p_;
  std::vector<Rank> ranks_;
  std::size_t steps_ = 0;
  using Cpu = std::deque<std::pair<double, double>>;  // busy [start, end), sorted by start
  std::vector<std::vector<Cpu>> cores_;               // per host, its CPUs
  double now_ = 0;                                    // time of the event being handled
  std::unordered_map<uint64_t, std::vector<Message>> channels_;
  std::unordered_map<uint64_t, uint32_t> sent_, received_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  double end_ = 0;
  uint64_t next_seq_ = 0;
};

}  // namespace

Result simulate(const std::vector<algo::Schedule>& schedules, const Params& params) {
  return Sim(schedules, params).run();
}

}  // namespace railcc::sim
