#include "src/core/communicator_impl.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>

#include "src/algorithms/mailbox.h"
#include "src/common/log.h"
#include "src/core/mesh.h"
#include "src/cuda/device_api.h"
#include "src/telemetry/flight_recorder.h"
#include "src/telemetry/metrics.h"
#include "src/telemetry/metrics_exporter.h"
#include "src/telemetry/trace.h"
#include "transport/shm/shared_memory.h"
#include "transport/verbs/verbs_mesh.h"

namespace railcc::detail {

using algo::OpArgs;
using wire::OpKind;

std::unique_ptr<CommunicatorImpl> CommunicatorImpl::create(CommParams params) {
  return std::unique_ptr<CommunicatorImpl>(new CommunicatorImpl(std::move(params)));
}

CommunicatorImpl::CommunicatorImpl(CommParams params)
    : p_(std::move(params)), timeout_ms_(p_.config.timeout.count()) {
  const auto start = Clock::now();
  core::Mesh mesh;
  if (p_.size > 1) {
    store_ = prefix_store(p_.root_store, fmt::format("railcc/comm/{:x}/", p_.comm_id));
    core::MeshParams mp{p_.rank,    p_.size, p_.comm_id, p_.job_key, p_.config.launch.store_addr,
                        p_.peer_key};
    mesh = core::build_mesh(*store_, mp, p_.config);
  } else {
    mesh.connections.resize(1);
  }
  engine_ = std::make_unique<core::Engine>(p_.rank, p_.size, p_.config, std::move(mesh), &abort_);
  {
    const auto& hosts = engine_->host_of();
    const bool one_host = hosts.empty() || std::all_of(hosts.begin(), hosts.end(),
                                                       [&](int h) { return h == hosts[0]; });
    cuda_ = std::make_unique<cuda::StreamOps>(p_.config, p_.rank, p_.size, store_, one_host);
  }
  if (!p_.config.trace_dir.empty()) {
    trace_ = std::make_unique<telemetry::TraceRecorder>(p_.config.trace_dir, p_.rank, p_.size,
                                                        p_.comm_id);
  }
  const int world_rank = p_.config.launch.rank >= 0 ? p_.config.launch.rank : p_.rank;
  // A single-rank communicator has no peer to wait on and nothing to compare: no recorder.
  if (p_.config.flight_recorder > 0 && p_.size > 1) {
    telemetry::FlightInfo info;
    info.rank = p_.rank;
    info.size = p_.size;
    info.world_rank = world_rank;
    info.comm_id = p_.comm_id;
    info.job = p_.job_key;
    info.dir = !p_.config.flight_dir.empty() ? p_.config.flight_dir
               : !p_.config.trace_dir.empty()
                   ? p_.config.trace_dir
                   : fmt::format("/tmp/railcc-flight-{:x}",
                                 p_.job_key ? p_.job_key : static_cast<uint64_t>(::getpid()));
    info.links.resize(p_.size);
    for (int r = 0; r < p_.size; ++r) {
      if (r != p_.rank) info.links[r] = engine_->connection(r).describe();
    }
    flight_ =
        std::make_unique<telemetry::FlightRecorder>(p_.config.flight_recorder, std::move(info));
    telemetry::install_dump_signal();
  }
  const int local_rank =
      p_.config.launch.local_rank >= 0 ? p_.config.launch.local_rank : world_rank;
  telemetry::start_metrics_exporter(p_.config.metrics, world_rank, local_rank);
  if (p_.config.telemetry) {
    op_metrics_ = std::make_unique<telemetry::Metrics::OpShard>(telemetry::Metrics::global());
  }
  RAILCC_LOG(kInfo, "init", "communicator {:x}: rank {} of {} ready in {:.1f} ms", p_.comm_id,
             p_.rank, p_.size,
             std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  hook_ = std::make_shared<HelpHook>();
  hook_->runner = this;
  worker_ = std::thread([this] { worker_loop(); });
}

CommunicatorImpl::~CommunicatorImpl() {
  {
    std::lock_guard lock(hook_->mutex);  // waits for a thread inside help()
    hook_->runner = nullptr;
  }
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    stop_requested_ = true;
  }
  queue_cv_.notify_all();
  worker_.join();
  engine_->set_flight(nullptr, 0);
  flight_.reset();  // no SIGUSR1 dump of a communicator going away
  if (trace_) {
    const std::string path = trace_->write();
    RAILCC_LOG(kInfo, "init", "rank {}: trace written to {}", p_.rank, path);
  }
  telemetry::flush_metrics();
}

namespace {
OpSummary summarize(const OpArgs& a, uint64_t seq) {
  return {a.op, seq, a.count, a.dtype, a.redop, a.root, a.peer, a.tag, a.is_send};
}
}  // namespace

Work CommunicatorImpl::enqueue(OpArgs args, const std::optional<CudaStream>& stream) {
  // CUDA buffers or a stream: enqueue the op's events and gate on the stream now (throws for a
  // bad call before anything is queued).
  std::unique_ptr<cuda::DeviceOp> device =
      cuda_->prepare(args, stream, wire::op_kind_name(args.op));
  // Small collectives may run on the thread that waits for them, so the worker is not woken
  // for them; it starts them within 2 x kStartLatency if nobody waits (see worker_loop()).
  // Not ops on the GPU: waiting for their stream is the worker's job.
  const bool inline_ok = !device && args.op != OpKind::kSendRecv &&
                         args.count * data_type_size(args.dtype) <= p_.config.inline_bytes;
  if (inline_ok && algo::mailbox_carries(args, p_.size, engine_->mailbox(), p_.config)) {
    if (std::shared_ptr<WorkState> done = run_now(args)) return Work(std::move(done));
  }
  auto work = std::make_shared<WorkState>();
  work->spin_us = p_.config.spin_us;
  if (device) work->gpu = device->completion();
  if (inline_ok) work->hook = hook_;
  bool wake;
  {
    std::lock_guard lock(mutex_);
    Op op;
    op.args = std::move(args);
    op.seq = op.args.op == OpKind::kSendRecv ? 0 : next_seq_++;
    op.work = work;
    op.device = std::move(device);
    const OpArgs& a = op.args;
    work->op = summarize(a, op.seq);
    if (flight_) {
      op.flight_id = flight_->enqueued(a.op, op.seq, a.count, a.dtype,
                                       a.op == OpKind::kSendRecv ? a.peer : -1);
    }
    queue_.push_back(std::move(op));
    ++queued_;
    // A parked worker is only woken for an op a waiting thread may run: it then starts it after
    // a tick nobody took it (see worker_loop()), like any such op.
    wake = !inline_ok || worker_parked_;
    if (!inline_ok) worker_needed_ = true;
    ++enqueued_;
  }
  if (wake) queue_cv_.notify_one();
  return Work(work);
}

bool CommunicatorImpl::starts_at_submission(const Op& op) const {
  return !op.device && op.args.op != OpKind::kSendRecv &&
         algo::mailbox_carries(op.args, p_.size, engine_->mailbox(), p_.config);
}

std::shared_ptr<WorkState> CommunicatorImpl::run_now(OpArgs& args) {
  std::unique_lock drive(drive_mutex_, std::try_to_lock);
  if (!drive) return nullptr;  // another thread runs ops: queue behind them
  // Peers in step arrive within microseconds; a longer wait here would only hold up a caller
  // that has other ops to submit first (even with RAILCC_SPIN_US set high against slow wake-ups).
  const auto budget = std::chrono::microseconds(std::min(p_.config.spin_us, 50));
  // Ops queued earlier come first (one deferred earlier, say), as long as they finish in time.
  Op op;
  bool blocked = false, numbered = false;
  while (!blocked && !numbered) {
    Op queued;
    {
      std::lock_guard lock(mutex_);
      if (queue_.empty()) {
        // Numbered under the queue's lock, in the same pass that found it empty (one lock per
        // op at 8 B): an op queued by another thread meanwhile comes after.
        op.seq = next_seq_++;
        op.coarse_ns = telemetry::coarse_now_ns();
        if (flight_) {
          op.flight_id =
              flight_->enqueued(args.op, op.seq, args.count, args.dtype, -1, op.coarse_ns);
        }
        numbered = true;
        break;
      }
      if (!starts_at_submission(queue_.front())) {
        blocked = true;
        break;
      }
      queued = std::move(queue_.front());
      queue_.pop_front();
      --queued_;
      ++dequeued_;
    }
    if (!run(queued, budget)) {
      queued.resumed = true;
      std::lock_guard lock(mutex_);
      queue_.push_front(std::move(queued));
      ++queued_;
      blocked = true;
    }
  }
  std::shared_ptr<WorkState> work;
  bool finished = false;
  if (!blocked) {
    op.args = std::move(args);
    work = std::make_shared<WorkState>();
    work->spin_us = p_.config.spin_us;
    work->op = summarize(op.args, op.seq);
    op.work = work;
    op.unshared = true;  // no Work refers to it until this returns
    finished = run(op, budget);
    op.unshared = false;
    if (!finished) {
      // A peer is late. The op waits at the head of the queue, before any op queued meanwhile;
      // whoever waits for it (or the worker) finishes it.
      op.resumed = true;
      work->hook = hook_;
      RAILCC_DEBUG("coll",
                   "rank {}: {} started at submission; peers not all there within {} us: "
                   "queued to finish later",
                   p_.rank, work->description(), budget.count());
    }
  }
  reap_p2p();
  const bool busy = !p2p_.empty() || engine_->control_pending();
  drive.unlock();
  if (finished && !busy) return work;
  std::lock_guard lock(mutex_);
  if (work && !finished) {
    queue_.push_front(std::move(op));
    ++queued_;
    ++enqueued_;
  }
  if (busy) {
    worker_needed_ = true;
    queue_cv_.notify_one();
  } else if (worker_parked_) {
    // Un-park the worker without calling for it: it starts the queued op only if nobody takes
    // one for a whole tick. Called for, it would run the queue with waits that block, and a
    // caller still submitting (benchmarks without waits) could no longer start ops itself.
    queue_cv_.notify_one();
  }
  return work;  // null when blocked: the caller queues the op
}

namespace {
// While ops keep coming the worker wakes this often, so an op queued without a wake-up call
// (one a waiting thread could run) starts within two ticks even if nobody waits for it.
constexpr auto kStartLatency = std::chrono::microseconds(500);
// After this long without ops the worker sleeps until the next op wakes it.
constexpr auto kParkAfter = std::chrono::milliseconds(100);
}  // namespace

void CommunicatorImpl::drain(const WorkState* until) {
  while (until == nullptr || !until->finished.load(std::memory_order_acquire)) {
    Op op;
    {
      std::lock_guard lock(mutex_);
      if (queue_.empty()) return;
      op = std::move(queue_.front());
      queue_.pop_front();
      --queued_;
      ++dequeued_;
    }
    if (op.args.op == OpKind::kSendRecv) {
      post_p2p(std::move(op));
    } else {
      run(op);
    }
  }
}

void CommunicatorImpl::help(const WorkState* until) {
  std::unique_lock drive(drive_mutex_, std::try_to_lock);
  if (!drive) return;  // the worker (or another thread) is running ops, ours among them
  drain(until);
  reap_p2p();
  const bool busy = !p2p_.empty() || engine_->control_pending();
  drive.unlock();
  std::lock_guard lock(mutex_);
  if (busy || !queue_.empty()) {
    worker_needed_ = true;
    queue_cv_.notify_one();
  }
}

void CommunicatorImpl::worker_loop() {
  bool busy = false;  // point-to-point ops or acknowledgements still need progress
  uint64_t seen = 0;  // enqueued_ at the last tick
  int quiet_ticks = 0;
  while (true) {
    bool stop;
    {
      std::unique_lock lock(mutex_);
      bool armed = false;     // ops were queued at the last tick...
      uint64_t snapshot = 0;  // ...and this many had been taken by then
      while (!busy && !worker_needed_ && !stopping_) {
        if (!queue_.empty()) {
          // Queued without a wake-up call: a waiting thread may run them. Start them only if
          // nobody took one for a whole tick (the user is not waiting yet).
          if (armed && dequeued_ == snapshot) break;
          armed = true;
          snapshot = dequeued_;
          queue_cv_.wait_for(lock, kStartLatency);
          continue;
        }
        armed = false;
        quiet_ticks = enqueued_ == seen ? quiet_ticks + 1 : 0;
        seen = enqueued_;
        if (quiet_ticks * kStartLatency < kParkAfter) {
          queue_cv_.wait_for(lock, kStartLatency);
        } else {
          worker_parked_ = true;
          queue_cv_.wait(lock);
          worker_parked_ = false;
        }
      }
      worker_needed_ = false;
      stop = stopping_;
    }
    std::lock_guard drive(drive_mutex_);
    drain(nullptr);
    reap_p2p();
    announce_abort();
    if (!p2p_.empty() && queued_.load() == 0) {
      wait_p2p();  // until an op is queued or one completes
      reap_p2p();
    }
    if (engine_->control_pending()) {
      engine_->flush_control(Deadline::after(std::chrono::milliseconds(timeout_ms_.load())));
    }
    busy = !p2p_.empty();
    if (stop && !busy && queued_.load() == 0) {
      const auto grace = std::min<long long>(timeout_ms_.load(), 10'000);
      engine_->flush_unacked(Deadline::after(std::chrono::milliseconds(grace)));
      return;
    }
  }
}

namespace {
WorkError make_error(ErrorCode code, const std::string& message) { return {code, message}; }
}  // namespace

void CommunicatorImpl::fail(ErrorCode code, const std::string& message) {
  engine_->abandon_all();
  {
    std::lock_guard lock(failure_mutex_);
    if (failure_code_ != ErrorCode::kOk) return;
    failure_code_ = code;
    failure_ = message;
    failed_.store(true, std::memory_order_release);
  }
  RAILCC_LOG(kError, "coll", "{}", message);
  // Tell every peer, so none of them waits for its timeout on our account.
  engine_->broadcast_error(code, message);
  if (flight_) {
    const char* kind = code == ErrorCode::kTimeout   ? "timeout"
                       : code == ErrorCode::kAborted ? "abort"
                                                     : "error";
    flight_->set_failure(kind, message);
    flight_->dump(kind);
  }
}

bool CommunicatorImpl::run(Op& op, std::chrono::microseconds defer_after) {
  if (failed_.load(std::memory_order_acquire)) {  // the lock only once something failed
    std::lock_guard lock(failure_mutex_);
    if (failure_code_ != ErrorCode::kOk) {
      if (flight_) flight_->finished(op.flight_id, false, nullptr, telemetry::steady_now_ns());
      op.work->finish(make_error(
          failure_code_,
          fmt::format("rank {}: {} not started: this communicator failed earlier and must be "
                      "destroyed: {}",
                      p_.rank, op.work->description(), failure_)));
      return true;
    }
  }
  if (p_.config.fault.enabled() && !op.resumed) inject_fault(op);
  auto where = [&] { return fmt::format("rank {}: {}", p_.rank, op.work->description()); };
  // The op's duration comes from two tick reads (a few ns each, see telemetry/clock.h). Its
  // absolute start, for the flight recorder, from the coarse clock; the trace (opt-in) pays for
  // the precise one.
  const bool timed = p_.config.telemetry || flight_;
  const uint64_t start_ticks = timed ? telemetry::ticks() : 0;
  // One coarse reading serves the deadline and the flight recorder (run_now() took it already).
  const uint64_t coarse_ns =
      op.coarse_ns && !op.resumed ? op.coarse_ns : telemetry::coarse_now_ns();
  const uint64_t start_ns = trace_ ? telemetry::steady_now_ns() : (flight_ ? coarse_ns : 0);
  // A deferred op keeps the deadline of its first start: retried at every submission, it must
  // still time out (naming the late ranks) rather than be retried forever.
  if (!op.deadline) op.deadline = op_deadline(coarse_ns);
  const Deadline deadline = *op.deadline;
  if (op.resumed && defer_after.count() >= 0 && deadline.expired()) {
    defer_after = std::chrono::microseconds(-1);
  }
  // Outlives the try block: on failure the connections still point at its requests until
  // fail() abandons them.
  algo::Context ctx(p_.rank, p_.size, p_.config, *engine_, op.args, op.seq, deadline, scratch_);
  ctx.set_trace(trace_.get());
  ctx.set_op_start(start_ticks, start_ns);
  if (defer_after.count() >= 0) ctx.set_defer_after(defer_after);
  if (flight_) {
    flight_->started(op.flight_id, start_ns);
    engine_->set_flight(flight_.get(), op.flight_id);
  }
  bool ok = false;
  uint64_t end_ns = 0, duration_ns = 0;
  // Before fail(), which dumps the flight recorder: the dump shows this op as failed.
  auto flight_end = [&] {
    duration_ns = timed ? telemetry::ticks_between_ns(start_ticks, telemetry::ticks()) : 0;
    end_ns = start_ns + duration_ns;
    if (!flight_) return;
    engine_->set_flight(nullptr, 0);
    flight_->finished(op.flight_id, ok, ctx.algorithm(), end_ns);
  };
  auto record = [&] {
    if (!p_.config.telemetry) return;
    const std::size_t bytes = op.args.count * data_type_size(op.args.dtype);
    op_metrics_->record(op.args.op, ctx.algorithm(), duration_ns, bytes, ok);
    if (trace_) {
      trace_->op(wire::op_kind_name(op.args.op), ctx.algorithm(), op.seq, bytes, start_ns, end_ns,
                 ok);
    }
    if (ok) note_straggler(ctx, duration_ns);
  };
  // Without the lock or a notify while no Work refers to the op yet (run_now's first try).
  auto finish = [&](WorkError e) { op.work->finish(std::move(e), /*shared=*/!op.unshared); };
  try {
    if (abort_) throw AbortedError("communicator aborted");
    RAILCC_DEBUG("coll", "{} starts", where());
    if (op.device) {
      cuda_->run_collective(*op.device, op.args, ctx, deadline, cuda_hooks(),
                            [&] { dispatch(ctx); });
    } else {
      dispatch(ctx);
      if (ctx.deferred()) {
        if (flight_) engine_->set_flight(nullptr, 0);  // its entry stays "started" until resumed
        return false;
      }
    }
    ok = true;
    flight_end();
    record();
    finish({});
    return true;
  } catch (const TimeoutError& e) {
    flight_end();
    const std::string msg = timeout_message(op, e.what());
    fail(ErrorCode::kTimeout, msg);
    finish(make_error(ErrorCode::kTimeout, msg));
  } catch (const Error& e) {
    flight_end();
    const std::string msg = fmt::format("{} failed: {}", where(), e.what());
    fail(e.code(), msg);
    finish(make_error(e.code(), msg));
  } catch (const std::exception& e) {
    flight_end();
    const std::string msg = fmt::format("{} failed: internal error: {}", where(), e.what());
    fail(ErrorCode::kInternal, msg);
    finish(make_error(ErrorCode::kInternal, msg));
  }
  record();
  return true;
}

Deadline CommunicatorImpl::op_deadline(uint64_t coarse_ns) const {
  const auto timeout = std::chrono::milliseconds(timeout_ms_.load(std::memory_order_relaxed));
  // A deadline a second or more away from the coarse clock (~8 ns to read here, against ~30 ns
  // for the precise one): it lags by at most a scheduler tick (~4 ms), 0.4% of the timeout.
  if (timeout < std::chrono::seconds(1)) return Deadline::after(timeout);
  return Deadline::after(timeout, Clock::time_point(std::chrono::nanoseconds(coarse_ns)));
}

void CommunicatorImpl::note_straggler(const algo::Context& ctx, uint64_t op_ns) {
  // The peer this op waited on longest came late if it got here after half of the op, and long
  // enough not to be noise. Not the wait itself: a large op waits on its peers' bytes for most of
  // its time, and both ranks of a pair would name each other. One such op is an event; a peer
  // late in most recent ops is named in a warning.
  constexpr uint64_t kLateNs = 5'000'000;
  const int peer = ctx.slowest_peer();
  const uint64_t lateness = ctx.slowest_peer_lateness_ns();
  const bool late = lateness >= kLateNs && lateness * 2 >= op_ns;
  if (!late) {
    if (!late_history_.empty()) late_history_.push_back(-1);
  } else {
    telemetry::Metrics::global().add_straggler_event(peer);
    late_history_.push_back(peer);
  }
  while (late_history_.size() > 10) late_history_.pop_front();
  if (!late) return;
  const auto times = std::count(late_history_.begin(), late_history_.end(), peer);
  const auto now = Clock::now();
  if (times >= 5 && now - last_straggler_warning_ > std::chrono::seconds(10)) {
    last_straggler_warning_ = now;
    RAILCC_WARN("coll",
                "rank {}: rank {} is a straggler: it arrived late in {} of the last {} "
                "collectives (it came {:.1f} ms after this rank to the latest, which took {:.1f} "
                "ms)",
                p_.rank, peer, times, late_history_.size(), lateness / 1e6, op_ns / 1e6);
  }
}

cuda::StreamOps::Hooks CommunicatorImpl::cuda_hooks() {
  cuda::StreamOps::Hooks h;
  h.abort = &abort_;
  h.idle = [this] {
    engine_->progress();
    if (!reaping_) reap_p2p();
  };
  return h;
}

void CommunicatorImpl::dispatch(algo::Context& ctx) {
  switch (ctx.args().op) {
    case OpKind::kAllReduce:
      return algo::all_reduce(ctx);
    case OpKind::kReduceScatter:
      return algo::reduce_scatter(ctx);
    case OpKind::kAllGather:
    case OpKind::kSplit:
      return algo::all_gather(ctx);
    case OpKind::kBroadcast:
      return algo::broadcast(ctx);
    case OpKind::kReduce:
      return algo::reduce(ctx);
    case OpKind::kGather:
      return algo::gather(ctx);
    case OpKind::kScatter:
      return algo::scatter(ctx);
    case OpKind::kAllToAll:
      return algo::all_to_all(ctx);
    case OpKind::kAllToAllv:
      return algo::all_to_allv(ctx);
    case OpKind::kSendRecv:
      return algo::send_recv(ctx);
    case OpKind::kBarrier:
      return algo::barrier(ctx);
    case OpKind::kNone:
    case OpKind::kCount_:
      break;
  }
  throw InternalError("unknown op kind");
}

WorkError CommunicatorImpl::failure_error(const std::string& description) {
  std::lock_guard lock(failure_mutex_);
  if (failure_code_ == ErrorCode::kOk) return {};
  return make_error(failure_code_,
                    fmt::format("rank {}: {} not completed: this communicator failed and must be "
                                "destroyed: {}",
                                p_.rank, description, failure_));
}

void CommunicatorImpl::post_p2p(Op op) {
  auto pending = std::make_unique<PendingP2P>();
  PendingP2P& p = *pending;
  p.op = std::move(op);
  const OpArgs& a = p.op.args;
  if (auto e = failure_error(p.op.work->description())) {
    if (flight_) flight_->finished(p.op.flight_id, false, nullptr, telemetry::steady_now_ns());
    p.op.work->finish(e);
    return;
  }
  if (flight_) flight_->started(p.op.flight_id, telemetry::steady_now_ns());
  p.deadline = Deadline::after(std::chrono::milliseconds(timeout_ms_.load()));
  if (p.op.device) {
    // Wait for the stream's earlier work and stage a device send before posting. The hooks may
    // finish other p2p ops meanwhile: this one joins p2p_ only afterwards.
    try {
      cuda_->start_p2p(*p.op.device, p.op.args, p.deadline, cuda_hooks());
    } catch (const Error& e) {
      const std::string msg =
          fmt::format("rank {}: {} failed: {}", p_.rank, p.op.work->description(), e.what());
      fail(e.code(), msg);
      p.op.work->finish(make_error(e.code(), msg));
      return;
    }
  }
  const std::size_t bytes = a.count * data_type_size(a.dtype);
  transport::Expectation what;
  what.op = OpKind::kSendRecv;
  what.dtype = a.dtype;
  what.count = a.count;
  what.tag = a.tag;
  p2p_.push_back(std::move(pending));
  try {
    // Posting may already fail: a message that arrived early may mismatch or fail its checksum.
    if (a.peer == p_.rank) {
      p.self = true;
      (a.is_send ? self_sends_ : self_recvs_).push_back(&p);
    } else if (a.is_send) {
      p.send.data = a.send;
      p.send.length = bytes;
      p.send.what = what;
      engine_->send(a.peer, &p.send);
    } else {
      p.recv.dst = a.recv;
      p.recv.length = bytes;
      p.recv.expect = what;
      engine_->recv(a.peer, &p.recv);
    }
    match_self_p2p();
  } catch (const Error& e) {
    if (flight_) flight_->finished(p.op.flight_id, false, nullptr, telemetry::steady_now_ns());
    fail(e.code(),
         fmt::format("rank {}: {} failed: {}", p_.rank, p.op.work->description(), e.what()));
  }
}

void CommunicatorImpl::match_self_p2p() {
  while (!self_sends_.empty() && !self_recvs_.empty()) {
    PendingP2P* s = self_sends_.front();
    PendingP2P* r = self_recvs_.front();
    self_sends_.pop_front();
    self_recvs_.pop_front();
    const OpArgs &sa = s->op.args, &ra = r->op.args;
    if (sa.tag != ra.tag || sa.count != ra.count || sa.dtype != ra.dtype) {
      throw MismatchError(fmt::format(
          "rank {} sends itself {} x {} with tag {} but receives {} x {} with tag {}", p_.rank,
          sa.count, data_type_name(sa.dtype), sa.tag, ra.count, data_type_name(ra.dtype), ra.tag));
    }
    const std::size_t bytes = sa.count * data_type_size(sa.dtype);
    if (bytes) std::memmove(ra.recv, sa.send, bytes);
    s->self_done = r->self_done = true;
  }
}

void CommunicatorImpl::reap_p2p() {
  if (reaping_) return;
  reaping_ = true;
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{reaping_};
  for (auto it = p2p_.begin(); it != p2p_.end();) {
    PendingP2P& p = **it;
    WorkError error;
    if (p.done() && p.op.device) {
      // Copy a device receive back and let the stream go on.
      try {
        cuda_->finish_p2p(*p.op.device, p.deadline, cuda_hooks());
      } catch (const Error& e) {
        const std::string msg =
            fmt::format("rank {}: {} failed: {}", p_.rank, p.op.work->description(), e.what());
        fail(e.code(), msg);
        error = make_error(e.code(), msg);
      }
    }
    if (!p.done()) {
      error = failure_error(p.op.work->description());
      if (!error && !abort_ && !p.deadline.expired()) {
        ++it;
        continue;
      }
      if (!error) {
        const std::string msg =
            abort_ ? fmt::format("rank {}: {} aborted", p_.rank, p.op.work->description())
                   : fmt::format(
                         "rank {}: {} timed out after {} s (RAILCC_TIMEOUT): rank {} never "
                         "posted the matching {}",
                         p_.rank, p.op.work->description(), timeout_ms_.load() / 1000.0,
                         p.op.args.peer, p.op.args.is_send ? "recv" : "send");
        const ErrorCode code = abort_ ? ErrorCode::kAborted : ErrorCode::kTimeout;
        if (flight_) flight_->finished(p.op.flight_id, false, nullptr, telemetry::steady_now_ns());
        fail(code, msg);
        error = make_error(code, msg);
      }
      std::erase(self_sends_, &p);
      std::erase(self_recvs_, &p);
    }
    if (flight_) flight_->finished(p.op.flight_id, !error, nullptr, telemetry::steady_now_ns());
    p.op.work->finish(error);
    it = p2p_.erase(it);
  }
}

void CommunicatorImpl::wait_p2p() {
  Deadline earliest = Deadline::never();
  for (const auto& p : p2p_) {
    if (p->deadline.time() < earliest.time()) earliest = p->deadline;
  }
  try {
    engine_->wait(
        [&] {
          if (queued_.load() > 0) return true;
          for (const auto& p : p2p_) {
            if (p->done()) return true;
          }
          return false;
        },
        earliest);
  } catch (const TimeoutError&) {
    // reap_p2p() names the op whose deadline passed.
  } catch (const Error& e) {
    fail(e.code(), fmt::format("rank {}: point-to-point op failed: {}", p_.rank, e.what()));
  }
}

// Names the ranks that never reached the op: each rank that timed out checks in at the store,
// and any rank we received data from for this op (or a later one) reached it too.
std::string CommunicatorImpl::timeout_message(const Op& op, const std::string& detail) {
  const long long ms = timeout_ms_.load();
  std::string msg = fmt::format("rank {}: {} timed out after {} s (RAILCC_TIMEOUT): {}", p_.rank,
                                op.work->description(), ms / 1000.0, detail);
  if (!store_ || op.seq == 0) return msg;
  try {
    store_->set(fmt::format("rollcall/{}/{}", op.seq, p_.rank), {1});
    const Deadline grace = Deadline::after(std::chrono::milliseconds(std::min(2000LL, ms)));
    std::string missing;
    while (true) {
      missing.clear();
      for (int r = 0; r < p_.size; ++r) {
        if (r == p_.rank || engine_->max_seq_seen(r) >= op.seq) continue;
        if (!store_->check(fmt::format("rollcall/{}/{}", op.seq, r))) {
          missing += (missing.empty() ? "" : ", ") + std::to_string(r);
        }
      }
      if (missing.empty() || grace.expired()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!missing.empty()) {
      msg += fmt::format("; rank(s) that never reached op #{}: {}", op.seq, missing);
    } else {
      msg += "; every rank reached this op, so a rank is stuck inside it";
    }
  } catch (const Error& e) {
    msg += fmt::format(" (could not ask the store which ranks are late: {})", e.what());
  }
  return msg;
}

std::vector<int64_t> CommunicatorImpl::gather_setup(const std::vector<int64_t>& mine) {
  std::vector<int64_t> all(mine.size() * p_.size);
  OpArgs a;
  a.op = OpKind::kSplit;
  a.send = reinterpret_cast<const std::byte*>(mine.data());
  a.recv = reinterpret_cast<std::byte*>(all.data());
  a.count = mine.size();
  a.dtype = DataType::kInt64;
  enqueue(std::move(a)).wait();
  return all;
}

std::shared_ptr<Communicator> CommunicatorImpl::split(int color, int key, uint64_t group_hash) {
  // Every rank learns every (color, key, group hash) through an ordered all_gather.
  const std::vector<int64_t> all = gather_setup({color, key, static_cast<int64_t>(group_hash)});
  const uint64_t split_index = ++split_count_;
  for (int r = 0; r < p_.size; ++r) {
    if (all[3 * r + 2] != static_cast<int64_t>(group_hash)) {
      throw MismatchError(
          fmt::format("new_group: rank {} and rank {} passed different rank lists", p_.rank, r));
    }
  }
  if (color < 0) return nullptr;
  std::vector<std::pair<int64_t, int>> members;  // (key, parent rank)
  for (int r = 0; r < p_.size; ++r) {
    if (all[3 * r] == color) members.emplace_back(all[3 * r + 1], r);
  }
  std::sort(members.begin(), members.end());
  CommParams child;
  child.config = p_.config;
  child.config.timeout = std::chrono::milliseconds(timeout_ms_.load());
  child.root_store = p_.root_store;
  child.size = static_cast<int>(members.size());
  for (int i = 0; i < child.size; ++i) {
    if (members[i].second == p_.rank) child.rank = i;
  }
  child.job_key = p_.job_key;
  child.peer_key = p_.peer_key;
  // Deterministic on every member: parent id, how many splits came before, and the color.
  uint64_t h =
      p_.comm_id * 0x9E3779B97F4A7C15ull ^ (split_index << 20) ^ static_cast<uint64_t>(color);
  h ^= h >> 29;
  child.comm_id = h * 0xBF58476D1CE4E5B9ull | 2;  // never 1, the world's id
  return std::make_shared<Communicator>(create(std::move(child)));
}

void CommunicatorImpl::inject_fault(const Op& op) {
  using Kind = FaultSpec::Kind;
  using Fault = transport::Connection::Fault;
  const FaultSpec& f = p_.config.fault;
  // The world communicator only (id 1), so op numbers mean what the test author counted.
  if (p_.comm_id != 1 || f.rank != p_.rank || p_.size < 2) return;
  if (op.seq != f.op && !(f.kind == Kind::kSlow && op.seq > f.op)) return;
  if (op.seq == f.op) {
    RAILCC_WARN("coll", "rank {}: RAILCC_FAULT injects '{}' at op #{} ({})", p_.rank,
                static_cast<int>(f.kind), op.seq, op.work->description());
  }
  const auto ms = std::chrono::milliseconds(f.ms);
  switch (f.kind) {
    case Kind::kNone:
      return;
    case Kind::kDelay:
    case Kind::kSlow:
      std::this_thread::sleep_for(ms);
      return;
    case Kind::kKill:
      if (f.ms == 0) ::raise(SIGKILL);
      std::thread([ms] {
        std::this_thread::sleep_for(ms);
        ::raise(SIGKILL);
      }).detach();
      return;
    case Kind::kDrop:
      engine_->connection((p_.rank + 1) % p_.size).inject_fault(Fault::kDrop);
      return;
    case Kind::kRail:
    case Kind::kCorrupt:
    case Kind::kStall:
      for (int r = 0; r < p_.size; ++r) {
        if (r == p_.rank) continue;
        engine_->connection(r).inject_fault(f.kind == Kind::kRail      ? Fault::kRail
                                            : f.kind == Kind::kCorrupt ? Fault::kCorrupt
                                                                       : Fault::kStall);
      }
      return;
  }
}

uint64_t CommunicatorImpl::register_buffer(const void* ptr, std::size_t bytes) {
  if (ptr == nullptr || bytes == 0) {
    throw InvalidArgumentError(
        fmt::format("rank {}: register_buffer needs a non-empty buffer (got {} bytes at {})",
                    p_.rank, bytes, ptr));
  }
  const uint64_t handle = next_buffer_handle_.fetch_add(1);
  // CUDA buffers reach the transport through host staging (src/cuda/staging_pool.h), never in
  // place, so only host memory is registered with the HCAs; the handle works either way.
  if (!cuda::classify_pointer(ptr).device) {
    transport::verbs::register_user_buffer(engine_->verbs_ports(), handle, ptr, bytes);
  }
  return handle;
}

void CommunicatorImpl::deregister_buffer(uint64_t handle) {
  transport::verbs::deregister_user_buffer(engine_->verbs_ports(), handle);
}

namespace {
// "1, 3 and 4"
std::string list_ranks(const std::vector<int>& ranks) {
  std::string s;
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    if (i > 0) s += i + 1 == ranks.size() ? " and " : ", ";
    s += std::to_string(ranks[i]);
  }
  return s;
}
}  // namespace

uint64_t CommunicatorImpl::register_window(const void* ptr, std::size_t bytes) {
  // Each rank tells the others: whether its buffer is usable, its pid, the allocation's fd, the
  // buffer's offset in it and length, and its RAILCC_SHM_WINDOW_BYTES.
  enum { kOk, kPid, kFd, kOffset, kBytes, kMinBytes, kFields };
  const auto region = ptr && bytes ? transport::find_shared_region(ptr, bytes) : std::nullopt;
  std::vector<int64_t> mine(kFields, 0);
  mine[kOk] = region.has_value();
  mine[kPid] = ::getpid();
  if (region) {
    mine[kFd] = region->fd;
    mine[kOffset] = static_cast<const std::byte*>(ptr) - region->base;
    mine[kBytes] = static_cast<int64_t>(bytes);
  }
  mine[kMinBytes] = static_cast<int64_t>(p_.config.shm_window_bytes);
  const std::vector<int64_t> all = gather_setup(mine);
  auto field = [&](int r, int f) { return all[r * kFields + f]; };
  std::vector<int> bad;
  for (int r = 0; r < p_.size; ++r) {
    if (!field(r, kOk)) bad.push_back(r);
  }
  if (!bad.empty()) {
    throw InvalidArgumentError(fmt::format(
        "rank {}: register_window: rank(s) {} passed a buffer that is empty or not inside memory "
        "from railcc::mem_alloc{}",
        p_.rank, list_ranks(bad),
        region ? "" : fmt::format(" (this rank: {} bytes at {})", bytes, ptr)));
  }
  // Every rank maps every peer's window where all ranks share this host (the mailbox says so);
  // elsewhere a window does nothing. The ranks then agree that all of them could.
  const bool local = engine_->mailbox() != nullptr;
  transport::ShmWindows::Window w;
  w.base.assign(p_.size, nullptr);
  w.bytes.assign(p_.size, 0);
  w.base[p_.rank] = static_cast<std::byte*>(const_cast<void*>(ptr));
  w.bytes[p_.rank] = bytes;
  w.local_region = region ? region->id : 0;
  std::string problem;
  for (int r = 0; local && r < p_.size && problem.empty(); ++r) {
    if (r == p_.rank) continue;
    try {
      const std::string who = fmt::format("rank {} (pid {})", r, field(r, kPid));
      w.mapped.emplace_back(static_cast<pid_t>(field(r, kPid)), static_cast<int>(field(r, kFd)),
                            static_cast<std::size_t>(field(r, kOffset)),
                            static_cast<std::size_t>(field(r, kBytes)), who.c_str());
      w.base[r] = w.mapped.back().data();
      w.bytes[r] = static_cast<std::size_t>(field(r, kBytes));
    } catch (const SystemError& e) {
      problem = e.what();
    }
  }
  const std::vector<int64_t> mapped = gather_setup({problem.empty() ? 1 : 0});
  bad.clear();
  for (int r = 0; r < p_.size; ++r) {
    if (!mapped[r]) bad.push_back(r);
  }
  if (!bad.empty()) {
    throw SystemError(fmt::format(
        "rank {}: register_window: rank(s) {} could not map their peers' "
        "windows{}",
        p_.rank, list_ranks(bad), problem.empty() ? "" : fmt::format(" (this rank: {})", problem)));
  }
  // 0 on any rank turns windows off for all; otherwise the largest threshold applies.
  std::size_t min_bytes = 0;
  bool off = false;
  for (int r = 0; r < p_.size; ++r) {
    const auto v = static_cast<std::size_t>(field(r, kMinBytes));
    off = off || v == 0;
    min_bytes = std::max(min_bytes, v);
  }
  const uint64_t handle = engine_->windows().add(std::move(w), off ? 0 : min_bytes);
  RAILCC_DEBUG("shm", "rank {}: window {} registered ({} bytes at {}; {})", p_.rank, handle, bytes,
               ptr,
               !local ? "ranks on several hosts: not used"
               : off  ? "RAILCC_SHM_WINDOW_BYTES=0 on some rank: not used"
                      : fmt::format("ops from {} bytes run in place", min_bytes));
  return handle;
}

void CommunicatorImpl::deregister_window(uint64_t handle) {
  const std::vector<int64_t> all = gather_setup({static_cast<int64_t>(handle)});
  for (int r = 0; r < p_.size; ++r) {
    if (all[r] != static_cast<int64_t>(handle)) {
      throw MismatchError(fmt::format(
          "rank {}: deregister_window: rank {} passed handle {}, this rank {}; every rank must "
          "deregister the same window at once",
          p_.rank, r, all[r], handle));
    }
  }
  if (!engine_->windows().remove(handle)) {
    throw InvalidArgumentError(fmt::format(
        "rank {}: deregister_window: no window has handle {} (not registered, or deregistered "
        "already)",
        p_.rank, handle));
  }
}

void CommunicatorImpl::abort() noexcept {
  abort_ = true;
  // Wake the worker even when no op is pending, so it tells every peer (see worker_loop()):
  // their ops fail now, naming this rank, instead of waiting for RAILCC_TIMEOUT.
  {
    std::lock_guard lock(mutex_);
    worker_needed_ = true;
  }
  queue_cv_.notify_one();
}

void CommunicatorImpl::announce_abort() {
  if (!abort_.load() || abort_announced_) return;
  abort_announced_ = true;
  fail(ErrorCode::kAborted,
       fmt::format("rank {} aborted the communicator (Communicator::abort)", p_.rank));
}

}  // namespace railcc::detail
