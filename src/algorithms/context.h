// What an algorithm sees of the communicator: its rank, the peers it can post sends and
// receives to, a wait with the op's deadline, and scratch memory. Algorithms know nothing about
// sockets or shared memory (see transport/connection.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "railcc/config.hpp"
#include "src/algorithms/scratch.h"
#include "src/common/deadline.h"
#include "src/core/engine.h"
#include "transport/connection.h"

namespace railcc::telemetry {
class TraceRecorder;
}

namespace railcc::algo {

using transport::Expectation;
using transport::RecvRequest;
using transport::SendRequest;

// Arguments of one op, as the user passed them (validated before the op is queued).
struct OpArgs {
  wire::OpKind op = wire::OpKind::kNone;
  const std::byte* send = nullptr;
  std::byte* recv = nullptr;
  std::size_t count = 0;  // elements; meaning depends on the op (see communicator.hpp)
  DataType dtype = DataType::kUint8;
  ReduceOp redop = ReduceOp::kSum;
  int root = -1;
  int peer = -1;
  uint32_t tag = 0;
  bool is_send = false;  // point-to-point direction
  std::vector<std::size_t> send_counts, send_displs, recv_counts, recv_displs;  // all_to_allv
};

class Context {
 public:
  Context(int rank, int size, const Config& config, core::Engine& engine, const OpArgs& args,
          uint64_t seq, Deadline deadline, Scratch& scratch);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // The op's collective number (equal on every rank).
  uint64_t seq() const { return expect_.seq; }
  const Config& config() const { return config_; }
  const OpArgs& args() const { return args_; }
  std::size_t elem_size() const { return elem_; }
  const core::Engine& engine() const { return engine_; }
  // Names the algorithm that ran (a string literal), for metrics, traces and logs.
  void set_algorithm(const char* name) { algorithm_ = name; }
  const char* algorithm() const { return algorithm_; }
  // Where waits are recorded (null = not traced).
  void set_trace(telemetry::TraceRecorder* t) { trace_ = t; }
  // When the op started, in telemetry::ticks() (the start of its first wait; 0 = unknown) and,
  // when traced, in steady_now_ns() (to place tick-timed waits on the trace's clock).
  void set_op_start(uint64_t ticks, uint64_t ns) {
    wait_from_ticks_ = op_start_ticks_ = ticks;
    op_start_ns_ = ns;
  }
  // The peer this op waited on longest (straggler detection).
  int slowest_peer() const { return slowest_peer_; }
  // How late slowest_peer() came to this op, as far as this rank can tell (needs set_op_start).
  // Through the mailbox its post is its arrival: the wait on it. Through messages, from this op's
  // start to the peer's first frame of the op (0 if that was there first, or the peer is already
  // past this op). A large op waits on its peers most of the time without any of them being late.
  uint64_t slowest_peer_lateness_ns() const;
  // Host index of every rank as the bootstrap found them (empty for a single rank).
  const std::vector<int>& host_of() const { return engine_.host_of(); }

  // by_reference: let the peer read the data from our memory where it can (single copy).
  SendRequest* send(int peer, const void* data, std::size_t bytes, bool by_reference = false);
  RecvRequest* recv(int peer, void* dst, std::size_t bytes);
  // dst = local (op) incoming; dst may equal local.
  RecvRequest* recv_reduce(int peer, void* dst, const void* local, std::size_t bytes);
  void wait(const RecvRequest* r);
  // Progresses every connection until done() holds (or the op's deadline passes).
  void progress_until(const std::function<bool()>& done);
  void wait_all();
  // The shared-memory mailbox (null unless every rank shares this host; see shm_mailbox.h).
  transport::ShmMailbox* mailbox() const { return engine_.mailbox(); }
  // Posts this rank's part of the op (written to mailbox()->payload() first, `bytes` long) and
  // waits until every peer has posted theirs. Times out naming the ranks that did not. Posts
  // nothing if the part is already out (a deferred op run again).
  // Returns false only when the op may be deferred (set_defer_after) and the peers were late.
  [[nodiscard]] bool mailbox_exchange(std::size_t bytes);
  // The op's exchanges through the mailbox are over (every peer posted to them) and it goes on
  // with messages, on every rank alike: peers' posts for this op no longer mean they took
  // another path.
  void continue_with_messages() {
    mailbox_op_ = false;
    messages_after_mailbox_ = true;
  }
  // An op started on the caller's thread at submission: a mailbox exchange waits at most
  // `budget` for its peers, then gives up rather than block the caller longer. The op then
  // returns at once with deferred() set: this rank's part is posted, and running the op again
  // (without a budget) finishes it.
  void set_defer_after(std::chrono::microseconds budget) { defer_after_ = budget; }
  bool deferred() const { return deferred_; }
  // Scratch memory owned by the op.
  std::byte* scratch(std::size_t bytes);
  // The executor's per-step state and the communicator's schedule cache (see scratch.h).
  ExecutorState& executor_state() { return scratch_.executor; }
  ScheduleCache& schedule_cache() { return scratch_.schedules; }
  // A local reduction kernel's span (RAILCC_TRACE): trace_start() before it (0 when not
  // tracing), trace_kernel() after.
  uint64_t trace_start() const;
  void trace_kernel(const char* name, std::size_t bytes, uint64_t start_ns) const;

 private:
  int rank_, size_;
  const Config& config_;
  core::Engine& engine_;
  const OpArgs& args_;
  Expectation expect_;
  Deadline deadline_;
  std::size_t elem_;
  // Books a wait from `start_ticks` (telemetry::ticks()) to now on `peer`.
  void account_wait(int peer, uint64_t start_ticks);
  // When a wait starts, in ticks: the op's start for its first wait, else now.
  uint64_t wait_start();
  // Engine idle check (see Engine::set_idle_check): with a mailbox, fails the op when a peer took
  // the other path for it (a mismatch) or, in a mailbox op, when a late peer died.
  static void idle_check(void* self);
  void check_mailbox_peers();
  // Tracing: notes when each request was first seen done (called after every progress round),
  // and records a step span per request before they are cleared.
  void stamp_done();
  void record_steps();

  const char* algorithm_ = "direct";
  telemetry::TraceRecorder* trace_ = nullptr;
  uint64_t wait_from_ticks_ = 0;
  uint64_t op_start_ticks_ = 0, op_start_ns_ = 0;
  std::chrono::microseconds defer_after_{-1};  // < 0: never defer
  bool deferred_ = false;
  bool mailbox_op_ = false;              // this op went through the mailbox
  bool messages_after_mailbox_ = false;  // see continue_with_messages()
  bool idle_check_set_ = false;          // this context installed the engine's idle check
  int slowest_peer_ = -1;
  uint64_t slowest_wait_ns_ = 0;
  Scratch& scratch_;
  std::deque<SendRequest>& sends_;  // scratch_'s, emptied for each op
  std::deque<RecvRequest>& recvs_;
};

// Splits `count` elements into `parts` nearly equal blocks; block i is [offset(i), offset(i+1)).
inline std::size_t block_offset(std::size_t count, int parts, int i) {
  const std::size_t base = count / parts, extra = count % parts;
  return base * i + std::min<std::size_t>(i, extra);
}

// Entry points, one per collective (see the .cc file of each algorithm).
void all_reduce(Context& ctx);
void reduce_scatter(Context& ctx);
void all_gather(Context& ctx);
void broadcast(Context& ctx);
void reduce(Context& ctx);
void gather(Context& ctx);
void scatter(Context& ctx);
void all_to_all(Context& ctx);
void all_to_allv(Context& ctx);
void send_recv(Context& ctx);
void barrier(Context& ctx);

}  // namespace railcc::algo
