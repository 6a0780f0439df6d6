#include "src/core/engine.h"

#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "src/common/log.h"
#include "src/telemetry/flight_recorder.h"

namespace railcc::core {

Engine::Engine(int rank, int size, const Config& config, Mesh mesh, const std::atomic<bool>* abort)
    : rank_(rank), size_(size), config_(config), mesh_(std::move(mesh)), abort_(abort) {
  if (mesh_.listener) net::set_nonblocking(mesh_.listener.get());
  // More ranks on this host than CPUs they may use between them: the peer a wait is for
  // probably needs this very core, so a wait yields from its first idle poll instead of pausing
  // first. The CPUs are the union of the local ranks' affinities where every local peer's
  // segment says (ranks pinned one per core are not oversubscribed), else this process's.
  int local = 0;
  for (int r = 0; r < size_; ++r) {
    local += mesh_.host_of.empty() || mesh_.host_of[r] == mesh_.host_of[rank_];
  }
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof(cpus), &cpus) != 0) CPU_ZERO(&cpus);
  cpu_set_t all = cpus;
  int known = 1;
  for (const auto& seg : mesh_.peer_segments) {
    if (!seg) continue;
    CPU_OR(&all, &all, &seg->owner_cpus());
    ++known;
  }
  const int usable = known == local ? CPU_COUNT(&all) : CPU_COUNT(&cpus);
  tight_polls_ = usable > 0 && local > usable ? 0 : 64;
}

bool Engine::progress_all() {
  bool moved = false;
  for (auto& c : mesh_.connections) {
    if (c && c->progress()) {
      moved = true;
      last_mover_ = c->peer();
    }
  }
  return moved;
}

std::string Engine::pending_peers() const {
  std::string out;
  for (const auto& c : mesh_.connections) {
    if (c && c->needs_peer()) out += (out.empty() ? "" : ", ") + std::to_string(c->peer());
  }
  return out.empty() ? "(none)" : out;
}

uint64_t Engine::max_seq_seen(int peer) const {
  const auto& c = mesh_.connections[peer];
  const uint64_t seen = c ? c->max_seq_seen() : 0;
  return mesh_.mailbox ? std::max(seen, mesh_.mailbox->latest_seq(peer)) : seen;
}

bool Engine::single_copy_to_all() const {
  for (int q = 0; q < size_; ++q) {
    if (q != rank_ && !mesh_.connections[q]->single_copy()) return false;
  }
  return size_ > 1;
}

bool Engine::control_pending() const {
  for (const auto& c : mesh_.connections) {
    if (c && c->has_pending_control()) return true;
  }
  return false;
}

void Engine::flush_control(Deadline deadline) {
  try {
    wait([this] { return !control_pending(); }, deadline);
  } catch (const Error& e) {
    RAILCC_WARN("net", "rank {}: could not deliver acknowledgements: {}", rank_, e.what());
  }
}

void Engine::flush_unacked(Deadline deadline) {
  auto unacked = [this] {
    for (const auto& c : mesh_.connections) {
      if (c && c->has_unacked()) return true;
    }
    return false;
  };
  RAILCC_DEBUG("net", "rank {}: closing; unacknowledged data: {}", rank_, unacked());
  if (!unacked()) return;
  try {
    wait([&] { return !unacked(); }, deadline);
  } catch (const Error& e) {
    RAILCC_DEBUG("net", "rank {}: closing with data not yet confirmed: {}", rank_, e.what());
  }
}

void Engine::wait_until(void* done_state, bool (*done_fn)(void*), Deadline deadline) {
  auto done = [&] { return done_fn(done_state); };
  const auto spin = std::chrono::microseconds(config_.spin_us);
  // A peer on another core usually answers within a microsecond or two: poll that long with
  // only a pause between polls (no clock reads, no system calls), then yield the core while
  // RAILCC_SPIN_US lasts, then sleep.
  const int kTightPolls = tight_polls_;
  int idle_polls = 0;
  Clock::time_point idle_since{};
  Clock::time_point next_note{};  // flight recorder: when to refresh what this wait is on
  bool noted = false;
  while (true) {
    const uint32_t bell =
        mesh_.my_segment ? mesh_.my_segment->doorbell().seq.load(std::memory_order_seq_cst) : 0;
    const bool moved = progress_all();
    if (done()) {
      if (noted) flight_->wait_over(flight_id_);
      return;
    }
    if (abort_ && abort_->load(std::memory_order_relaxed)) {
      throw AbortedError(fmt::format("rank {}: communicator aborted", rank_));
    }
    if (moved) {
      idle_polls = 0;
      continue;
    }
    ++idle_polls;
    if (spin.count() > 0 && idle_polls < kTightPolls) {
      relax();
      continue;
    }
    const auto now = Clock::now();
    if (idle_polls == std::max(kTightPolls, 1)) idle_since = now;  // the yielding phase starts
    if (now - idle_since < spin) {
      std::this_thread::yield();
      continue;
    }
    for (auto& c : mesh_.connections) {
      if (c) c->check_alive();
    }
    if (idle_check_) idle_check_(idle_state_);
    // About to sleep: the wait is long enough to be worth recording (refreshed every 50 ms, as
    // the rail holding it up may change).
    if (flight_id_ != 0 && now >= next_note) {
      note_waiting(idle_since);
      noted = true;
      next_note = now + std::chrono::milliseconds(50);
    }
    if (deadline.expired()) {
      throw TimeoutError(fmt::format("still waiting on rank(s) {}", pending_peers()));
    }
    block(bell, deadline, done_state, done_fn);
  }
}

void Engine::note_waiting(Clock::time_point since) {
  using telemetry::FlightRecorder;
  int peers[FlightRecorder::kMaxWaits], rails[FlightRecorder::kMaxWaits];
  const char* names[FlightRecorder::kMaxWaits];
  int n = 0;
  for (const auto& c : mesh_.connections) {
    if (!c || !c->needs_peer()) continue;
    if (n < FlightRecorder::kMaxWaits) {
      const transport::Connection::Blocker b = c->blocking_rail();
      peers[n] = c->peer();
      rails[n] = b.rail;
      names[n] = b.name;
    }
    ++n;
  }
  // A mailbox exchange waits on the ranks that have not posted yet (no rail: shared memory).
  if (const transport::ShmMailbox* mb = mailbox()) {
    for (int r = 0; r < mb->size(); ++r) {
      if (!mb->waits_for(r)) continue;
      if (n < FlightRecorder::kMaxWaits) {
        peers[n] = r;
        rails[n] = -1;
        names[n] = nullptr;
      }
      ++n;
    }
  }
  const auto since_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(since.time_since_epoch());
  flight_->waiting(flight_id_, n, peers, rails, names, static_cast<uint64_t>(since_ns.count()));
}

void Engine::block(uint32_t doorbell_seen, Deadline deadline, void* done_state,
                   bool (*done)(void*)) {
  // Sleep at most 10 ms so abort, dead peers and the deadline are noticed promptly.
  const int cap = deadline.poll_ms(10);
  if (!mesh_.has_tcp && !mesh_.has_verbs && !mesh_.has_ucx) {
    if (mesh_.my_segment) mesh_.my_segment->wait_doorbell(doorbell_seen, cap, done, done_state);
    return;
  }
  pollfds_.clear();
  for (const auto& c : mesh_.connections) {
    if (c) c->add_poll_fds(pollfds_);
  }
  if (mesh_.listener) pollfds_.push_back({mesh_.listener.get(), POLLIN, 0});
  // With shared memory peers too, poll briefly: a doorbell cannot wake poll(). So with UCX:
  // its wake-up fd reports arrivals, but not every event that lets a pending send move (space
  // freed in a peer's shared-memory FIFO), so a sender must not sleep the whole tick.
  const bool brief = mesh_.my_segment || mesh_.has_ucx;
  ::poll(pollfds_.data(), pollfds_.size(), brief ? std::min(cap, 1) : cap);
  if (mesh_.listener && (pollfds_.back().revents & POLLIN)) reject_foreign_connections();
}

void Engine::reject_foreign_connections() {
  while (true) {
    const int fd = ::accept4(mesh_.listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    net::Fd owned(fd);
    RAILCC_WARN("net",
                "rejected connection from {} to rank {}'s peer port: every peer of this "
                "communicator is already connected",
                net::peer_endpoint(fd).to_string(), rank_);
  }
}

void Engine::abandon_all() {
  for (auto& c : mesh_.connections) {
    if (c) c->abandon_requests();
  }
}

void Engine::broadcast_error(ErrorCode code, const std::string& message) {
  abandon_all();
  for (auto& c : mesh_.connections) {
    if (c) c->send_error(code, message);
  }
  const Deadline flush = Deadline::after(std::chrono::milliseconds(200));
  while (!flush.expired()) {
    bool pending = false;
    for (auto& c : mesh_.connections) {
      if (!c) continue;
      try {
        c->progress();
      } catch (const std::exception&) {
        // The peer may be the one that failed; keep flushing the others.
      }
      pending |= c->has_pending_sends();
    }
    if (!pending) return;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

}  // namespace railcc::core
