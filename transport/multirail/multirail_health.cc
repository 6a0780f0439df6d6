// MultiRailConnection, rail health: takes failed rails out of service (resending what they
// owed), probes them, brings them back, and fails the op when no rail is left.
#include <fmt/format.h>

#include <algorithm>

#include "src/common/log.h"
#include "src/telemetry/metrics.h"
#include "transport/multirail/multirail_connection.h"

namespace railcc::transport {
namespace {
// How often link state is read and rates are folded in; cheap (a sysfs read per rail).
constexpr auto kHealthPeriod = std::chrono::milliseconds(10);
// How often an out-of-service rail whose link is up is asked whether it works again.
constexpr auto kProbePeriod = std::chrono::milliseconds(100);
}  // namespace

int MultiRailConnection::any_rail_in_service(int except) const {
  int best = -1;
  for (int i = 0; i < static_cast<int>(rails_.size()); ++i) {
    if (i == except || !sched_.in_service(i)) continue;
    if (best < 0 || sched_.outstanding(i) < sched_.outstanding(best)) best = i;
  }
  return best;
}

void MultiRailConnection::fail_rail(int rail, const std::string& why) {
  if (!sched_.in_service(rail)) return;
  RailState& s = rails_[rail];
  sched_.set_in_service(rail, false);
  s.down_reason = why;
  s.last_ping = Clock::time_point{};
  // Chunks it still owed go back to the queue; a frame it had started is finished from a copy
  // (if the rail comes back, the receiver drops it as a duplicate).
  own_partial_front(s, 0, true);
  std::erase_if(s.sendq, [](const Frame& f) { return f.is_chunk; });
  std::size_t owed = 0;
  for (auto& [msg, m] : out_) {
    for (uint32_t i = 0; i < m.chunks; ++i) {
      if (m.rail[i] == rail && !m.done[i]) {
        m.rail[i] = -1;
        resend_.emplace_back(msg, i);
        ++owed;
      }
    }
  }
  // Acknowledgements and errors waiting on it move to a rail that works.
  const int other = any_rail_in_service(rail);
  if (other >= 0) {
    std::deque<Frame> keep;
    while (!s.ctrlq.empty()) {
      Frame& f = s.ctrlq.front();
      const auto* h = reinterpret_cast<const wire::FrameHeader*>(f.head.data());
      const bool probe = h->kind == static_cast<uint8_t>(wire::FrameKind::kAck) && h->flags != 0;
      if ((s.writing_ctrl && keep.empty()) || probe) {
        keep.push_back(std::move(f));
      } else {
        rails_[other].ctrlq.push_back(std::move(f));
      }
      s.ctrlq.pop_front();
    }
    s.ctrlq = std::move(keep);
  }
  RAILCC_WARN("net",
              "rank {}: rail {} to rank {} is out of service ({}); resending {} chunk(s) on the "
              "{} other rail(s)",
              my_rank_, rail_name(rail), peer_, why, owed, sched_.rails_in_service());
}

void MultiRailConnection::rejoin(int rail) {
  RailState& s = rails_[rail];
  sched_.set_in_service(rail, true);
  s.last_progress = s.last_rx = Clock::now();
  RAILCC_WARN("net", "rank {}: rail {} to rank {} is back in service (was: {})", my_rank_,
              rail_name(rail), peer_, s.down_reason);
  s.down_reason.clear();
}

// Unacknowledged chunks on the rail, empty ones included (a barrier's messages carry no bytes,
// so the scheduler's outstanding byte count cannot see them).
bool MultiRailConnection::awaits_ack_on(int rail) const {
  for (const auto& [msg, m] : out_) {
    for (uint32_t i = 0; i < m.chunks; ++i) {
      if (m.rail[i] == rail && m.written[i] && !m.done[i]) return true;
    }
  }
  return false;
}

void MultiRailConnection::check_health(Clock::time_point now) {
  next_health_ = now + kHealthPeriod;
  sched_.measure(now);
  const auto timeout = options_.rail_timeout;
  bool stalled_candidate = false;
  for (int i = 0; i < static_cast<int>(rails_.size()); ++i) {
    RailState& s = rails_[i];
    // An interface's link (tcp rails) or the stream's own (an RDMA port event).
    const std::string down = link_is_up(s.link.local.ifname)
                                 ? s.link.stream->link_down()
                                 : fmt::format("link of {} is down", s.link.local.ifname);
    const bool link_up = down.empty();
    if (sched_.in_service(i)) {
      if (!link_up) {
        fail_rail(i, down);
        continue;
      }
      // A stream that knows it broke (an RDMA completion error) fails its rail at once.
      if (std::string why = s.link.stream->failure(); !why.empty()) {
        fail_rail(i, why);
        continue;
      }
      const bool owes = sched_.outstanding(i) > 0 || !s.sendq.empty() || awaits_ack_on(i);
      if (!owes || now - s.last_progress < timeout) continue;
      // Quiet while owing data: the rail is at fault only if the peer is heard on another rail
      // since; otherwise the peer itself is slow and RAILCC_TIMEOUT decides.
      stalled_candidate = true;
      for (int j = 0; j < static_cast<int>(rails_.size()); ++j) {
        if (j != i && sched_.in_service(j) && rails_[j].last_rx > s.last_progress + timeout) {
          fail_rail(i, fmt::format("moved nothing for {} ms while the peer answered on {} "
                                   "(RAILCC_RAIL_TIMEOUT)",
                                   std::chrono::duration_cast<std::chrono::milliseconds>(
                                       now - s.last_progress)
                                       .count(),
                                   rails_[j].link.local.name));
          break;
        }
      }
    } else if (link_up && needs_redial(i)) {
      check_redial(i, now);  // a stream that broke for good answers no probe
    } else if (link_up && now - s.last_ping >= kProbePeriod && s.ctrlq.empty()) {
      s.last_ping = now;
      queue_ctrl(i, ack_header(0, 0, wire::kAckPing), nullptr);
    }
  }
  // Ask the peer for a sign of life on the healthy rails, so a stalled one can be told apart.
  if (stalled_candidate && now - last_probe_ >= timeout / 4) {
    last_probe_ = now;
    for (int j = 0; j < static_cast<int>(rails_.size()); ++j) {
      if (sched_.in_service(j)) queue_ctrl(j, ack_header(0, 0, wire::kAckPing), nullptr);
    }
  }
  check_slow_rails(now);
  if (now - last_weights_log_ >= std::chrono::seconds(1) && log::enabled(LogLevel::kDebug, "net")) {
    last_weights_log_ = now;
    std::string line;
    const auto w = sched_.weights();
    for (int i = 0; i < static_cast<int>(rails_.size()); ++i) {
      line += fmt::format(" {}={:.0f}MB/s,{:.2f}", rails_[i].link.local.name, sched_.rate(i) / 1e6,
                          w[i]);
    }
    RAILCC_DEBUG("net", "rank {}: rails to rank {} (rate, share):{}", my_rank_, peer_, line);
  }
  // A flapping link gets RAILCC_RAIL_TIMEOUT to come back before the op gives up.
  if (sched_.rails_in_service() > 0) {
    no_rails_since_ = Clock::time_point{};
  } else if (no_rails_since_ == Clock::time_point{}) {
    no_rails_since_ = now;
  } else if (now - no_rails_since_ >= timeout && needs_peer()) {
    throw_no_rails();
  }
}

void MultiRailConnection::check_slow_rails(Clock::time_point now) {
  // Slow: in service and busy, yet below a quarter of the fastest rail's measured rate for a
  // whole second (congestion, a bad cable, a misconfigured switch port, a tc throttle).
  constexpr double kSlowShare = 0.25;
  constexpr auto kSustained = std::chrono::seconds(1);
  double fastest = 0;
  for (int i = 0; i < static_cast<int>(rails_.size()); ++i) {
    if (sched_.in_service(i)) fastest = std::max(fastest, sched_.rate(i));
  }
  for (int i = 0; i < static_cast<int>(rails_.size()); ++i) {
    RailState& s = rails_[i];
    const bool busy = now - s.last_progress < kSustained;
    const bool slow = sched_.in_service(i) && busy && fastest > 0 && sched_.rate(i) > 0 &&
                      sched_.rate(i) < kSlowShare * fastest;
    if (!slow) {
      s.slow_since = Clock::time_point{};
      continue;
    }
    if (s.slow_since == Clock::time_point{}) s.slow_since = now;
    if (now - s.slow_since < kSustained) continue;
    if (s.last_slow_warning != Clock::time_point{} &&
        now - s.last_slow_warning < std::chrono::seconds(10)) {
      continue;
    }
    s.last_slow_warning = now;
    if (s.link.counters) s.link.counters->slow_events.fetch_add(1, std::memory_order_relaxed);
    RAILCC_WARN("net",
                "rank {}: rail {} to rank {} is slow: {:.1f} MB/s against {:.1f} MB/s on the "
                "fastest rail for over {} s (it keeps a proportional share of the traffic)",
                my_rank_, rail_name(i), peer_, sched_.rate(i) / 1e6, fastest / 1e6,
                std::chrono::duration_cast<std::chrono::seconds>(now - s.slow_since).count());
  }
}

void MultiRailConnection::throw_no_rails() const {
  std::string list;
  for (int i = 0; i < static_cast<int>(rails_.size()); ++i) {
    list += fmt::format("{}{}: {}", list.empty() ? "" : "; ", rail_name(i),
                        rails_[i].down_reason.empty() ? "in service" : rails_[i].down_reason);
  }
  throw PeerFailureError(fmt::format(
      "rank {}: every rail to rank {} is out of service, the op cannot complete ({}). Check the "
      "links named in RAILCC_RAILS",
      my_rank_, peer_, list));
}

}  // namespace railcc::transport

namespace railcc::transport {

Connection::Blocker MultiRailConnection::blocking_rail() const {
  // Of the rails that owe the peer something (chunks to write, or acknowledgements to get), the
  // one quiet for longest: while the others drain, it is the one the wait hangs on.
  Blocker b;
  Clock::time_point oldest = Clock::time_point::max();
  for (int i = 0; i < static_cast<int>(rails_.size()); ++i) {
    const RailState& s = rails_[i];
    if (!sched_.in_service(i)) continue;
    const bool owes = sched_.outstanding(i) > 0 || !s.sendq.empty() || awaits_ack_on(i);
    if (owes && s.last_progress < oldest) {
      oldest = s.last_progress;
      b.rail = i;
      b.name = s.link.local.name.c_str();
    }
  }
  if (b.rail >= 0) return b;
  // Owing nothing, this end waits for a message the peer has begun to send: its missing chunks
  // are on the rail that has been quiet longest, if another rail delivered since.
  bool partial = false;
  for (const auto& [msg, m] : incoming_) partial |= m.target && m.got < m.chunks;
  if (!partial) return b;
  Clock::time_point newest = Clock::time_point::min();
  for (int i = 0; i < static_cast<int>(rails_.size()); ++i) {
    if (!sched_.in_service(i)) continue;
    newest = std::max(newest, rails_[i].last_rx);
    if (rails_[i].last_rx < oldest) {
      oldest = rails_[i].last_rx;
      b.rail = i;
      b.name = rails_[i].link.local.name.c_str();
    }
  }
  if (b.rail >= 0 && !(oldest < newest)) b = {};  // every rail equally quiet: none to blame
  return b;
}

}  // namespace railcc::transport
