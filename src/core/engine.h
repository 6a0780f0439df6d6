// Drives every Connection of one communicator from the communicator's worker thread: posts
// requests, moves bytes, and waits with a deadline. Waiting spins for RAILCC_SPIN_US, then sleeps
// on the shared-memory doorbell or poll(), so 4+ ranks on 2 cores do not starve each other.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "railcc/config.hpp"
#include "src/common/deadline.h"
#include "src/common/socket.h"
#include "src/telemetry/clock.h"
#include "transport/connection.h"
#include "transport/shm/shm_mailbox.h"
#include "transport/shm/shm_segment.h"
#include "transport/shm/shm_windows.h"

namespace railcc::transport::verbs {
struct VerbsPorts;
}

namespace railcc::telemetry {
class FlightRecorder;
}

namespace railcc::core {

// Everything a communicator's connections need to stay alive.
struct Mesh {
  std::vector<std::unique_ptr<transport::Connection>> connections;  // by peer rank; null for self
  std::unique_ptr<transport::ShmSegment> my_segment;                // null without shm peers
  std::vector<std::unique_ptr<transport::ShmSegment>> peer_segments;
  // Small collectives through the segments' mailboxes; only when every rank is a local shm peer.
  std::unique_ptr<transport::ShmMailbox> mailbox;
  net::Fd listener;  // peer port; connections arriving after init are rejected
  bool has_tcp = false;
  bool has_verbs = false;    // some peer is reached over RDMA (completion channels to poll)
  bool has_ucx = false;      // peers are reached over UCX (the worker's wake-up fd to poll)
  std::vector<int> host_of;  // host index of each rank (equal = same host); empty: one host
  // The RDMA ports the verbs connections use, where buffers are registered for zero-copy sends
  // (Communicator::register_buffer); null without verbs peers.
  std::shared_ptr<transport::verbs::VerbsPorts> verbs_ports;
};

class Engine {
 public:
  Engine(int rank, int size, const Config& config, Mesh mesh, const std::atomic<bool>* abort);

  transport::Connection& connection(int peer) { return *mesh_.connections[peer]; }
  // Null for this rank itself (and any peer without a connection).
  const transport::Connection* find_connection(int peer) const {
    return mesh_.connections[peer].get();
  }
  const std::vector<int>& host_of() const { return mesh_.host_of; }
  transport::verbs::VerbsPorts* verbs_ports() const { return mesh_.verbs_ports.get(); }
  // Small collectives through shared memory; null unless every rank shares this host.
  transport::ShmMailbox* mailbox() const { return mesh_.mailbox.get(); }
  // Buffers registered as windows (Communicator::register_window; used only with a mailbox).
  transport::ShmWindows& windows() { return windows_; }
  const transport::ShmWindows& windows() const { return windows_; }
  // Called by every wait before it sleeps (after the spin phase), so a wait can notice what no
  // connection reports (a peer that died or called another op while this rank waits on its
  // mailbox). May throw; null: none.
  void set_idle_check(void (*check)(void*), void* state) {
    idle_check_ = check;
    idle_state_ = state;
  }
  void send(int peer, transport::SendRequest* r) { mesh_.connections[peer]->post_send(r); }
  void recv(int peer, transport::RecvRequest* r) { mesh_.connections[peer]->post_recv(r); }

  // Progresses until done() holds. Throws TimeoutError at the deadline (naming the peers this
  // rank still waits on), AbortedError after abort(), or whatever a connection throws.
  // (A template over the predicate, so no std::function is allocated per wait.)
  template <typename Done>
  void wait(Done&& done, Deadline deadline) {
    using D = std::remove_reference_t<Done>;
    wait_until(
        const_cast<void*>(static_cast<const void*>(&done)),
        [](void* d) { return static_cast<bool>((*static_cast<D*>(d))()); }, deadline);
  }
  // Polls done() for about `budget` (at least 16 polls), without progressing connections or
  // sleeping: a pause between polls, or a yield when ranks outnumber cores. True once done()
  // holds. The clock (the tick counter) is read every 16th poll only, so a peer that answers
  // within a few polls costs no clock read at all.
  template <typename Done>
  bool poll_for(Done&& done, std::chrono::microseconds budget) {
    if (done()) return true;
    const uint64_t budget_ns = static_cast<uint64_t>(budget.count()) * 1000;
    uint64_t since = 0;
    for (unsigned i = 1;; ++i) {
      if (tight_polls_ == 0) {
        std::this_thread::yield();
      } else {
        relax();
      }
      if (done()) return true;
      if ((i & 15) != 0) continue;
      const uint64_t now = telemetry::ticks();
      if (since == 0) {
        since = now;
      } else if (telemetry::ticks_between_ns(since, now) >= budget_ns) {
        return false;
      }
    }
  }
  // One pass over every connection without waiting; true if bytes moved.
  bool progress() { return progress_all(); }
  // Drops every posted request (after a failure, before their owners go away).
  void abandon_all();
  // Sends an error frame to every peer and flushes for a short while (best effort).
  void broadcast_error(ErrorCode code, const std::string& message);
  // Peers this rank still needs (pending receives or sends), e.g. "1, 3".
  std::string pending_peers() const;
  // The latest collective number `peer` is known to have reached (messages and mailbox posts).
  uint64_t max_seq_seen(int peer) const;
  // True while some connection still has to write an acknowledgement a peer waits for.
  bool control_pending() const;
  // The flight recorder entry of the op being run (id 0: none): a wait that sleeps records in it
  // which peers, and which rail to each, it waits on.
  void set_flight(telemetry::FlightRecorder* recorder, uint64_t id) {
    flight_ = recorder;
    flight_id_ = recorder ? id : 0;
  }
  // The peer whose bytes moved last: after a wait, the one this rank was waiting for.
  int last_mover() const { return last_mover_; }
  // True when every peer exchanges large messages by single copy (see Connection).
  bool single_copy_to_all() const;
  // Progresses until no acknowledgement is left to write (best effort, bounded by `deadline`):
  // called before the worker sleeps, since a peer's op may not finish before they are out.
  void flush_control(Deadline deadline);
  // Before the communicator closes: waits until every peer confirmed the data sent to it (the
  // multi-rail copies kept for resending), so a rail that failed at the very end loses nothing.
  // Gives up quietly at the deadline or when a peer is gone.
  void flush_unacked(Deadline deadline);

 private:
  void wait_until(void* done_state, bool (*done)(void*), Deadline deadline);
  // A pause instruction: polls without starving a sibling hyperthread.
  static void relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }
  bool progress_all();
  // Sleeps until an event, at most 10 ms; not at all if done() holds once this rank counts as
  // sleeping (see ShmSegment::ring_doorbell_if_sleeping).
  void block(uint32_t doorbell_seen, Deadline deadline, void* done_state, bool (*done)(void*));
  void reject_foreign_connections();
  void note_waiting(Clock::time_point since);

  int rank_;
  int size_;
  Config config_;
  Mesh mesh_;
  transport::ShmWindows windows_;
  const std::atomic<bool>* abort_;
  std::vector<pollfd> pollfds_;
  int last_mover_ = -1;
  telemetry::FlightRecorder* flight_ = nullptr;
  uint64_t flight_id_ = 0;
  int tight_polls_ = 64;  // idle polls with only a pause between them; 0 when oversubscribed
  void (*idle_check_)(void*) = nullptr;
  void* idle_state_ = nullptr;
};

}  // namespace railcc::core
