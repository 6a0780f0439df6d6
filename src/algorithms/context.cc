#include "src/algorithms/context.h"

#include <fmt/format.h>

#include "src/telemetry/metrics.h"
#include "src/telemetry/trace.h"

namespace railcc::algo {

Context::Context(int rank, int size, const Config& config, core::Engine& engine, const OpArgs& args,
                 uint64_t seq, Deadline deadline, Scratch& scratch)
    : rank_(rank),
      size_(size),
      config_(config),
      engine_(engine),
      args_(args),
      deadline_(deadline),
      elem_(data_type_size(args.dtype)),
      scratch_(scratch),
      sends_(scratch.sends),
      recvs_(scratch.recvs) {
  // A failed op's requests were abandoned by the connections before this op started.
  sends_.clear();
  recvs_.clear();
  expect_.op = args.op;
  expect_.dtype = args.dtype;
  expect_.redop = args.redop;
  expect_.count = args.count;
  expect_.root = args.root;
  expect_.seq = seq;
  expect_.tag = args.tag;
  expect_.check_count = args.op != wire::OpKind::kAllToAllv && args.op != wire::OpKind::kBarrier;
  if (engine_.mailbox() && seq != 0) {
    engine_.set_idle_check(&Context::idle_check, this);
    idle_check_set_ = true;
  }
}

Context::~Context() {
  if (idle_check_set_) engine_.set_idle_check(nullptr, nullptr);
}

void Context::idle_check(void* self) { static_cast<Context*>(self)->check_mailbox_peers(); }

void Context::check_mailbox_peers() {
  // The op went on with messages after every rank posted to the mailbox for it: the posts match
  // (each exchange checks them), so the paths cannot differ.
  if (messages_after_mailbox_) return;
  transport::ShmMailbox& mb = *engine_.mailbox();
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    if (mailbox_op_) {
      // Between two of the op's exchanges (window.cc waits on peers' progress there) a peer may
      // have posted the next one already: with no post of this rank's to compare, only check
      // that it lives.
      if (mb.posted() && mb.arrived(r)) continue;
      mb.check_alive(r);
      // Its message for this op came through the stream: it chose messages, this rank the
      // mailbox, so the two called different ops (sizes, types or settings).
      if (engine_.connection(r).max_seq_seen() >= expect_.seq) {
        const wire::FrameHeader theirs = mb.latest_post(r);
        throw MismatchError(fmt::format(
            "mismatch between rank {} and rank {}: rank {} sent collective #{} as messages while "
            "rank {} posted its {} of {} bytes to the shared-memory mailbox (up to {} bytes go "
            "there): the ranks called different ops or set RAILCC_ALGO differently (rank {}'s "
            "latest mailbox post is collective #{})",
            rank_, r, r, expect_.seq, rank_, wire::op_kind_name(expect_.op), expect_.count * elem_,
            mb.capacity(), r, theirs.seq));
      }
    } else if (mb.latest_seq(r) == expect_.seq) {
      // The peer posted this op to the mailbox while this rank exchanges messages for it.
      wire::FrameHeader theirs = mb.latest_post(r);
      RecvRequest mine;
      mine.expect = expect_;
      mine.length = theirs.length;
      transport::check_expectation(theirs, mine, rank_, r, 0);
      throw MismatchError(fmt::format(
          "mismatch between rank {} and rank {} at collective #{}: rank {} used the shared-memory "
          "mailbox and rank {} did not: are RAILCC_ALGO or RAILCC_SHM_MAILBOX_BYTES set "
          "differently?",
          rank_, r, expect_.seq, r, rank_));
    }
  }
}

bool Context::mailbox_exchange(std::size_t bytes) {
  transport::ShmMailbox& mb = *engine_.mailbox();
  mailbox_op_ = true;
  if (!mb.posted()) mb.post(expect_, bytes);
  int next = 0;    // peers below `next` have arrived
  int stuck = -1;  // the peer the last unsuccessful check stopped at
  auto all_arrived = [&] {
    while (next < size_ && (next == rank_ || mb.arrived(next))) ++next;
    if (next == size_) return true;
    stuck = next;
    return false;
  };
  const bool arrived =
      defer_after_.count() >= 0 ? engine_.poll_for(all_arrived, defer_after_) : all_arrived();
  if (arrived) {
    // A peer that posted and then failed (its timeout, say) said so by an error frame: read it,
    // so this rank does not report success for an op its peers report failed.
    engine_.progress();
    return true;
  }
  if (defer_after_.count() >= 0) {
    deferred_ = true;
    return false;
  }
  const uint64_t start = config_.telemetry ? wait_start() : 0;
  try {
    engine_.wait(all_arrived, deadline_);
  } catch (const TimeoutError&) {
    std::string late;
    for (int r = 0; r < size_; ++r) {
      if (r != rank_ && !mb.arrived(r)) late += (late.empty() ? "" : ", ") + std::to_string(r);
    }
    throw TimeoutError(fmt::format(
        "still waiting on rank(s) {} to post their part of collective #{} to the shared-memory "
        "mailbox",
        late, expect_.seq));
  }
  // The peer that arrived last is the one this rank waited for.
  if (config_.telemetry) account_wait(stuck, start);
  return true;
}

SendRequest* Context::send(int peer, const void* data, std::size_t bytes, bool by_reference) {
  SendRequest& r = sends_.emplace_back();
  r.by_reference = by_reference;
  r.peer = peer;
  r.data = static_cast<const std::byte*>(data);
  r.length = bytes;
  r.what = expect_;
  if (trace_) {
    r.trace = trace_;
    r.trace_posted_ns = telemetry::steady_now_ns();
  }
  engine_.send(peer, &r);
  return &r;
}

RecvRequest* Context::recv(int peer, void* dst, std::size_t bytes) {
  return recv_reduce(peer, dst, nullptr, bytes);
}

RecvRequest* Context::recv_reduce(int peer, void* dst, const void* local, std::size_t bytes) {
  RecvRequest& r = recvs_.emplace_back();
  r.dst = static_cast<std::byte*>(dst);
  r.length = bytes;
  r.reduce_with = static_cast<const std::byte*>(local);
  r.peer = peer;
  r.expect = expect_;
  if (trace_) {
    r.trace = trace_;
    r.trace_posted_ns = telemetry::steady_now_ns();
  }
  // The kernels treat avg as sum; the algorithm divides once at the end.
  engine_.recv(peer, &r);
  return &r;
}

void Context::account_wait(int peer, uint64_t start_ticks) {
  const uint64_t end_ticks = telemetry::ticks();
  const uint64_t waited_ns = telemetry::ticks_between_ns(start_ticks, end_ticks);
  telemetry::Metrics::global().add_peer_wait(peer, waited_ns);
  if (waited_ns > slowest_wait_ns_) {
    slowest_wait_ns_ = waited_ns;
    slowest_peer_ = peer;
  }
  if (trace_) {
    const uint64_t start_ns =
        op_start_ns_ + telemetry::ticks_between_ns(op_start_ticks_, start_ticks);
    trace_->wait(peer, start_ns, start_ns + waited_ns);
  }
}

uint64_t Context::slowest_peer_lateness_ns() const {
  if (slowest_peer_ < 0) return 0;
  if (mailbox_op_) return slowest_wait_ns_;
  const transport::Connection* c = engine_.find_connection(slowest_peer_);
  if (!c) return slowest_wait_ns_;
  const uint64_t seen = c->max_seq_seen();
  if (seen > expect_.seq) return 0;
  const uint64_t first = c->max_seq_first_ticks();
  // No frame of this op came from the peer (it only took ours), or the transport does not say
  // when: its wait is all there is to go by.
  if (seen < expect_.seq || first == 0) return slowest_wait_ns_;
  return telemetry::ticks_between_ns(op_start_ticks_, first);
}

void Context::stamp_done() {
  uint64_t now = 0;
  for (auto& r : sends_) {
    if (r.done && r.trace_done_ns == 0)
      r.trace_done_ns = now ? now : (now = telemetry::steady_now_ns());
  }
  for (auto& r : recvs_) {
    if (r.done && r.trace_done_ns == 0)
      r.trace_done_ns = now ? now : (now = telemetry::steady_now_ns());
  }
}

void Context::record_steps() {
  stamp_done();
  const uint64_t now = telemetry::steady_now_ns();
  for (const auto& r : sends_) {
    trace_->step(true, r.peer, r.length, r.trace_posted_ns,
                 r.trace_done_ns ? r.trace_done_ns : now);
  }
  for (const auto& r : recvs_) {
    trace_->step(false, r.peer, r.length, r.trace_posted_ns,
                 r.trace_done_ns ? r.trace_done_ns : now);
  }
}

uint64_t Context::wait_start() {
  // Before an op's first wait it has only posted requests (and copied a little): the op's start,
  // read already for its duration, stands in for the wait's and saves a clock read per op.
  if (const uint64_t t = wait_from_ticks_) {
    wait_from_ticks_ = 0;
    return t;
  }
  return telemetry::ticks();
}

uint64_t Context::trace_start() const { return trace_ ? telemetry::steady_now_ns() : 0; }

void Context::trace_kernel(const char* name, std::size_t bytes, uint64_t start_ns) const {
  if (trace_) trace_->kernel(name, bytes, start_ns, telemetry::steady_now_ns());
}

void Context::wait(const RecvRequest* r) {
  if (r->done) return;
  if (trace_) {
    // Traced: every round also stamps the requests it completed (step spans).
    const uint64_t start = wait_start();
    engine_.wait(
        [&] {
          stamp_done();
          return r->done;
        },
        deadline_);
    if (config_.telemetry) account_wait(r->peer, start);
    return;
  }
  if (!config_.telemetry) return engine_.wait([r] { return r->done; }, deadline_);
  const uint64_t start = wait_start();
  engine_.wait([r] { return r->done; }, deadline_);
  account_wait(r->peer, start);
}

void Context::progress_until(const std::function<bool()>& done) {
  if (done()) return;
  if (trace_) {
    const uint64_t start = wait_start();
    engine_.wait(
        [&] {
          stamp_done();
          return done();
        },
        deadline_);
    if (config_.telemetry) account_wait(engine_.last_mover(), start);
    return;
  }
  if (!config_.telemetry) return engine_.wait(done, deadline_);
  const uint64_t start = wait_start();
  engine_.wait(done, deadline_);
  account_wait(engine_.last_mover(), start);
}

void Context::wait_all() {
  std::size_t sends_done = 0, recvs_done = 0;  // prefixes known complete
  int last_peer = -1;  // whose request completed last: the one this rank waited for
  auto all_done = [&] {
    // Requests complete roughly in posting order, so advancing two cursors is cheap.
    while (sends_done < sends_.size() && sends_[sends_done].done) {
      last_peer = sends_[sends_done++].peer;
    }
    while (recvs_done < recvs_.size() && recvs_[recvs_done].done) {
      last_peer = recvs_[recvs_done++].peer;
    }
    if (trace_) stamp_done();
    // Acknowledgements of single-copy reads too: the peer's op ends only when it has them.
    return sends_done == sends_.size() && recvs_done == recvs_.size() && !engine_.control_pending();
  };
  if (!all_done()) {
    const uint64_t start = config_.telemetry ? wait_start() : 0;
    engine_.wait(all_done, deadline_);
    if (config_.telemetry) account_wait(last_peer, start);
  }
  if (trace_) record_steps();
  sends_.clear();
  recvs_.clear();
}

std::byte* Context::scratch(std::size_t bytes) { return scratch_.get(bytes); }

}  // namespace railcc::algo
