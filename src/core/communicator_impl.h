// The machinery behind railcc::Communicator: queued ops run in order on the Engine, either on the
// communicator's worker thread or, for small collectives, on the user thread that waits for them
// (help()): a hand-off between threads costs more than a small op itself, above all when ranks
// outnumber cores. Whoever runs ops holds drive_mutex_.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "railcc/communicator.hpp"
#include "src/algorithms/context.h"
#include "src/core/engine.h"
#include "src/core/work_state.h"
#include "src/cuda/stream_ops.h"
#include "src/telemetry/metrics.h"

namespace railcc::telemetry {
class TraceRecorder;
class FlightRecorder;
}  // namespace railcc::telemetry

namespace railcc::detail {

struct CommParams {
  Config config;
  std::shared_ptr<Store> root_store;    // null for a single-process communicator
  std::shared_ptr<StoreServer> server;  // set on the rank that hosts the rendezvous
  int rank = 0;
  int size = 1;
  uint64_t comm_id = 1;
  uint64_t job_key = 0;
  std::array<uint8_t, 32> peer_key{};  // authenticates peer sockets (src/bootstrap/auth.h)
};

class CommunicatorImpl final : public OpRunner {
 public:
  static std::unique_ptr<CommunicatorImpl> create(CommParams params);
  ~CommunicatorImpl() override;

  int rank() const { return p_.rank; }
  int size() const { return p_.size; }
  const Config& config() const { return p_.config; }
  void set_timeout(std::chrono::milliseconds t) { timeout_ms_ = t.count(); }

  // Queues an op; collectives take the next sequence number (p2p ops do not). With CUDA buffers
  // or a stream, the op is first enqueued on that stream (src/cuda/stream_ops.h).
  Work enqueue(algo::OpArgs args, const std::optional<CudaStream>& stream = std::nullopt);
  std::shared_ptr<Communicator> split(int color, int key, uint64_t group_hash);
  void abort() noexcept;
  // Communicator::register_buffer / deregister_buffer.
  uint64_t register_buffer(const void* ptr, std::size_t bytes);
  void deregister_buffer(uint64_t handle);
  // Communicator::register_window / deregister_window.
  uint64_t register_window(const void* ptr, std::size_t bytes);
  void deregister_window(uint64_t handle);
  void help(const WorkState* until) override;

 private:
  struct Op {
    algo::OpArgs args;
    uint64_t seq = 0;
    uint64_t flight_id = 0;  // its flight recorder entry (0: not recorded)
    std::shared_ptr<WorkState> work;
    std::unique_ptr<cuda::DeviceOp> device;  // CUDA buffers or stream; null for host ops
    std::optional<Deadline> deadline;        // set when the op first starts
    uint64_t coarse_ns = 0;  // coarse clock at submission, when run_now() started it
    bool resumed = false;    // started at submission and deferred (see run_now()): fault injected
    bool unshared = false;   // run by run_now() before any Work refers to `work`
  };

  // A point-to-point op posted by the worker; it completes while later ops run, so a rank can
  // post a receive and then a send without deadlocking.
  struct PendingP2P {
    Op op;
    transport::SendRequest send;
    transport::RecvRequest recv;
    Deadline deadline;
    bool self = false;  // peer == rank: matched against the other direction locally
    bool self_done = false;
    bool done() const { return self ? self_done : (op.args.is_send ? send.done : recv.done); }
  };

  explicit CommunicatorImpl(CommParams params);
  // Every rank's `mine` (each the same length), in rank order, through a collective queued after
  // the ops before it: how communicator setup calls (split, windows) agree.
  std::vector<int64_t> gather_setup(const std::vector<int64_t>& mine);
  void worker_loop();
  // Runs queued ops in order until `until` has finished (null: until the queue is empty).
  void drain(const WorkState* until);
  // Runs `op` to its end; with `defer_after` >= 0, returns false instead once a mailbox exchange
  // has waited that long for its peers (the op's part is posted; run it again to finish it).
  bool run(Op& op, std::chrono::microseconds defer_after = std::chrono::microseconds(-1));
  // A small host collective through the shared-memory mailbox, submitted while no other thread
  // runs ops, starts on the caller's thread at once, after the queued ops that can do the same:
  // no queue, no hand-off, and most often done before the call returns. Each op's peers get
  // RAILCC_SPIN_US to post their parts; a late peer never blocks the caller longer, since the op
  // then waits at the head of the queue like any other (a caller may submit ops on other
  // communicators before it waits, in any order). Returns null, leaving `args` alone, when the
  // op has to be queued instead.
  std::shared_ptr<WorkState> run_now(algo::OpArgs& args);
  // A queued op whose wait can be cut short: a host op through the mailbox (see run_now()).
  bool starts_at_submission(const Op& op) const;
  void post_p2p(Op op);
  void match_self_p2p();
  // Finishes completed point-to-point ops; fails them all once the communicator failed.
  void reap_p2p();
  // After abort(): fails the communicator and sends every peer an error frame naming this rank.
  void announce_abort();
  // RAILCC_FAULT (tests): injects the configured fault when `op` is the one it names.
  void inject_fault(const Op& op);
  void wait_p2p();
  WorkError failure_error(const std::string& description);
  void dispatch(algo::Context& ctx);
  std::string timeout_message(const Op& op, const std::string& detail);
  void fail(ErrorCode code, const std::string& message);
  void note_straggler(const algo::Context& ctx, uint64_t op_ns);
  // RAILCC_TIMEOUT (or set_timeout) from `coarse_ns` (telemetry::coarse_now_ns(), just read).
  Deadline op_deadline(uint64_t coarse_ns) const;
  // What the CUDA path's waits run meanwhile: connections progress, p2p ops finish.
  cuda::StreamOps::Hooks cuda_hooks();

  CommParams p_;
  std::shared_ptr<Store> store_;  // prefixed with this communicator's id
  std::unique_ptr<core::Engine> engine_;
  // CUDA buffers and streams. Declared before queue_ and p2p_, so destroyed after their ops.
  std::unique_ptr<cuda::StreamOps> cuda_;
  std::atomic<bool> abort_{false};
  bool abort_announced_ = false;  // worker only
  std::atomic<long long> timeout_ms_;
  uint64_t next_seq_ = 1;                        // guarded by mutex_
  uint64_t split_count_ = 0;                     // splits are collective, so equal on every rank
  std::atomic<uint64_t> next_buffer_handle_{1};  // register_buffer; 0 is never a handle
  std::mutex mutex_;
  std::condition_variable queue_cv_;
  std::deque<Op> queue_;
  bool stopping_ = false;
  std::atomic<int> queued_{0};  // ops in queue_, readable without the mutex
  std::atomic<bool> stop_requested_{false};
  std::mutex drive_mutex_;          // held while running ops or touching engine_, p2p_, scratch_
  std::shared_ptr<HelpHook> hook_;  // lets waiting threads run ops (see help())
  // Guarded by mutex_: the worker sleeps without a wake-up call per op while ops keep coming.
  bool worker_parked_ = false;  // asleep until notified
  bool worker_needed_ = false;  // help() left work only the worker finishes (p2p, later ops)
  uint64_t enqueued_ = 0;       // ops ever queued: the worker parks once it stops growing
  uint64_t dequeued_ = 0;       // ops ever taken from the queue
  algo::Scratch scratch_;       // reused by every op: no page faults per call
  std::deque<std::unique_ptr<PendingP2P>> p2p_;  // worker thread only
  std::deque<PendingP2P*> self_sends_, self_recvs_;
  bool reaping_ = false;  // inside reap_p2p() (the CUDA waits it runs must not re-enter it)
  // Set once an op failed: the ranks are out of step and every later op fails the same way.
  std::mutex failure_mutex_;
  std::atomic<bool> failed_{false};  // failure_code_ is set: ops check this without the lock
  ErrorCode failure_code_ = ErrorCode::kOk;
  std::string failure_;
  std::unique_ptr<telemetry::TraceRecorder> trace_;    // RAILCC_TRACE
  std::unique_ptr<telemetry::FlightRecorder> flight_;  // RAILCC_FLIGHT_RECORDER
  // This communicator's op metrics (RAILCC_TELEMETRY); recorded under drive_mutex_.
  std::unique_ptr<telemetry::Metrics::OpShard> op_metrics_;
  std::deque<int> late_history_;  // drive_mutex_: late peer of recent ops (-1 = none late)
  Clock::time_point last_straggler_warning_{};
  std::thread worker_;
};

}  // namespace railcc::detail
