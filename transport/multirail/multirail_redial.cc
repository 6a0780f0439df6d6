// MultiRailConnection, re-creating broken rails. A rail whose stream broke for good (an RDMA
// queue pair in the error state) gets a new stream once its link is up again, agreed with the
// peer over a rail still in service:
//
//   kRedialOpen(rail, epoch, data)  whichever end notices first sends its new end's data; the
//                                   other fails the rail too, and answers with its own
//   kRedialReady(rail, epoch)       each end, once connected to the other's data
//
// Neither end touches the new stream before both are ready (an RDMA send to a queue pair not
// yet ready to receive breaks the connection once its retries run out): it waits aside until
// then. Then it replaces the old one, and the rail is probed and rejoins like any other (kAck
// ping/pong, multirail_health.cc).
//
// Nothing is lost or delivered twice: failing the rail queued everything it had not had
// acknowledged for the other rails, and a receiver drops a chunk it already has and
// acknowledges it again, as for any resend. What was half-written or half-read on the old
// stream goes with it; the new one starts at a frame boundary. The epoch (streams the rail has
// had) tells both ends which attempt a frame belongs to; the old queue pair's completions go
// with its completion queue.
#include <fmt/format.h>

#include "src/common/log.h"
#include "transport/multirail/multirail_connection.h"

namespace railcc::transport {
namespace {
// Least time between two attempts on one rail: a link that breaks every new stream at once
// (a port that is down without saying so) must not spin.
constexpr auto kRedialPause = std::chrono::seconds(1);
}  // namespace

bool MultiRailConnection::needs_redial(int rail) const {
  const RailState& s = rails_[rail];
  return s.link.redial &&
         (s.redial != RailState::Redial::kIdle || !s.link.stream->failure().empty());
}

int MultiRailConnection::redial_via(int rail) const {
  for (int i = 0; i < static_cast<int>(rails_.size()); ++i) {
    if (i != rail && sched_.in_service(i)) return i;
  }
  return -1;
}

void MultiRailConnection::check_redial(int rail, Clock::time_point now) {
  RailState& s = rails_[rail];
  if (s.redial != RailState::Redial::kIdle) {
    if (now - s.redial_since < options_.redial_timeout) return;
    RAILCC_WARN("net",
                "rank {}: re-creating rail {} to rank {} failed: rank {} did not answer within "
                "{} ms (RAILCC_TIMEOUT); the rail stays out of service and is tried again later",
                my_rank_, rail_name(rail), peer_, peer_, options_.redial_timeout.count());
    s.redial = RailState::Redial::kIdle;
    s.redial_after = now + options_.redial_timeout;
    s.pending.reset();
    return;
  }
  if (now >= s.redial_after) start_redial(rail, s.epoch + 1);
}

void MultiRailConnection::start_redial(int rail, uint32_t epoch) {
  RailState& s = rails_[rail];
  const int via = redial_via(rail);
  if (via < 0) return;
  const auto now = Clock::now();
  s.redial_after = now + kRedialPause;
  s.pending.reset();  // connected for an attempt the peer has moved past
  std::string data;
  try {
    data = s.link.redial->open();
  } catch (const Error& e) {
    RAILCC_WARN("net", "rank {}: cannot re-create rail {} to rank {}: {}", my_rank_,
                rail_name(rail), peer_, e.what());
    return;
  }
  s.epoch = epoch;
  s.redial = RailState::Redial::kOpened;
  s.peer_ready = false;
  s.redial_since = now;
  wire::FrameHeader h{};
  h.kind = static_cast<uint8_t>(wire::FrameKind::kRedial);
  h.flags = wire::kRedialOpen;
  h.root = my_rank_;
  h.comm_id = comm_id_;
  h.seq = epoch;
  h.count = static_cast<uint64_t>(rail);
  h.length = data.size();
  wire::seal(h);
  queue_ctrl(via, h, std::make_shared<std::string>(std::move(data)));
  RAILCC_INFO("net", "rank {}: re-creating rail {} to rank {} (stream {}), agreed over {}",
              my_rank_, rail_name(rail), peer_, epoch, rails_[via].link.local.name);
}

void MultiRailConnection::on_redial(int via, const wire::FrameHeader& h, const std::string& data) {
  if (h.count >= rails_.size() || !rails_[h.count].link.redial) {
    throw ProtocolError(
        fmt::format("rank {} asked on rail {} to re-create rail {}, which it cannot", peer_,
                    rail_name(via), h.count));
  }
  const int rail = static_cast<int>(h.count);
  RailState& s = rails_[rail];
  const auto epoch = static_cast<uint32_t>(h.seq);
  using Redial = RailState::Redial;
  if (h.flags == wire::kRedialReady) {
    if (epoch != s.epoch || s.redial == Redial::kIdle) return;  // an attempt given up on
    s.peer_ready = true;
  } else if (epoch > s.epoch) {
    // The peer started: its end broke (ours may not know yet). A link still down here leaves it
    // unanswered, and the attempt dead to this end: once the link is up, this end starts the
    // next one, which the peer follows; if it never is, the peer gives up after RAILCC_TIMEOUT.
    if (std::string down = s.link.stream->link_down(); !down.empty()) {
      RAILCC_WARN("net", "rank {}: rank {} asks to re-create rail {}, but {}", my_rank_, peer_,
                  rail_name(rail), down);
      s.epoch = epoch;
      s.redial = Redial::kIdle;
      s.pending.reset();
      s.link.stream->inject_drop();  // the peer's end is gone: this one is of no use either
      return;
    }
    fail_rail(rail, fmt::format("rank {} is re-creating it", peer_));
    start_redial(rail, epoch);
  }
  if (h.flags == wire::kRedialOpen && s.epoch == epoch && s.redial == Redial::kOpened) {
    try {
      s.pending = s.link.redial->connect(data);
    } catch (const Error& e) {
      RAILCC_WARN("net", "rank {}: re-creating rail {} to rank {} failed: {}", my_rank_,
                  rail_name(rail), peer_, e.what());
      s.redial = Redial::kIdle;
      return;
    }
    s.redial = Redial::kConnected;
    wire::FrameHeader ready = h;
    ready.flags = wire::kRedialReady;
    ready.root = my_rank_;
    ready.length = 0;
    wire::seal(ready);
    const int other = redial_via(rail);
    queue_ctrl(other >= 0 ? other : via, ready, nullptr);
  }
  if (s.redial == Redial::kConnected && s.peer_ready && s.epoch == epoch) {
    s.redial = Redial::kIdle;
    install_stream(rail, std::move(s.pending));
    s.last_ping = Clock::time_point{};  // probe it at once
    RAILCC_WARN("net", "rank {}: rail {} to rank {} reconnected (stream {}); probing it", my_rank_,
                rail_name(rail), peer_, epoch);
  }
}

void MultiRailConnection::install_stream(int rail, std::unique_ptr<Stream> stream) {
  RailState& s = rails_[rail];
  // Broken on purpose first: nothing on the old stream is worth waiting for.
  s.link.stream->inject_drop();
  s.link.stream = std::move(stream);
  s.sendq.clear();
  s.ctrlq.clear();
  s.writing_ctrl = false;
  s.head_got = 0;
  s.in_payload = false;
  s.payload_got = 0;
  s.sink = Sink::kNone;
  s.stage.clear();
  s.text.clear();
  s.refused = false;
  s.has_crc = false;
}

}  // namespace railcc::transport
