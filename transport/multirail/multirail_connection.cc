// MultiRailConnection: construction and the Connection plumbing. Sending, receiving and rail
// health live in multirail_send.cc, multirail_receive.cc and multirail_health.cc.
#include "transport/multirail/multirail_connection.h"

#include <fmt/format.h>

#include <algorithm>

#include "src/common/log.h"

namespace railcc::transport {
namespace {
// Chunks never split an element (at most 16 bytes), so each can be reduced on its own.
MultiRailConnection::Options aligned(MultiRailConnection::Options o) {
  o.chunk_bytes = std::max<std::size_t>(16, o.chunk_bytes / 16 * 16);
  return o;
}
}  // namespace

MultiRailConnection::MultiRailConnection(int my_rank, int peer, uint64_t comm_id,
                                         std::vector<RailLink> rails, Options options)
    : my_rank_(my_rank),
      peer_(peer),
      comm_id_(comm_id),
      options_(aligned(options)),
      sched_(static_cast<int>(rails.size()), options_.chunk_bytes, options_.window) {
  const auto now = Clock::now();
  rails_.resize(rails.size());
  for (std::size_t i = 0; i < rails.size(); ++i) {
    rails_[i].link = std::move(rails[i]);
    rails_[i].last_progress = rails_[i].last_rx = now;
  }
}

MultiRailConnection::~MultiRailConnection() = default;

std::string MultiRailConnection::rail_name(int rail) const {
  const RailLink& l = rails_[rail].link;
  return fmt::format("{} ({} -> {})", l.local.name, l.local.address, l.peer_address);
}

std::string MultiRailConnection::describe() const {
  std::string out = fmt::format("rank {} over {} rail(s):", peer_, rails_.size());
  for (int i = 0; i < static_cast<int>(rails_.size()); ++i) {
    out += ' ';
    out += rail_name(i);
  }
  return out;
}

bool MultiRailConnection::progress() {
  const auto now = Clock::now();
  if (now >= next_health_) check_health(now);
  schedule();
  bool moved = false;
  for (int i = 0; i < static_cast<int>(rails_.size()); ++i) {
    if (i == stalled_rail_) continue;  // RAILCC_FAULT=stall
    moved |= progress_sends(i);
    moved |= progress_recvs(i);
  }
  // Acknowledgements read above may have freed window space.
  if (moved) schedule();
  return moved;
}

bool MultiRailConnection::has_unacked() {
  if (sched_.rails_in_service() == 0) return false;  // nothing could carry a resend
  bool any = false;
  for (const auto& [msg, m] : out_) any |= m.acked < m.chunks;
  if (!any) return false;
  for (auto& s : rails_) {
    if (!s.link.stream->peer_gone()) return true;
  }
  return false;  // the peer closed every rail: it has what it needed, or never will
}

bool MultiRailConnection::has_pending_sends() const {
  for (const auto& [msg, m] : out_) {
    if (m.request) return true;
  }
  for (const auto& s : rails_) {
    if (!s.sendq.empty() || !s.ctrlq.empty()) return true;
  }
  return false;
}

void MultiRailConnection::add_poll_fds(std::vector<pollfd>& fds) const {
  for (int i = 0; i < static_cast<int>(rails_.size()); ++i) {
    const RailState& s = rails_[i];
    const int fd = i == stalled_rail_ ? -1 : s.link.stream->poll_fd();
    if (fd < 0) continue;
    const bool writing = !s.sendq.empty() || !s.ctrlq.empty();
    fds.push_back({fd, static_cast<short>(POLLIN | (writing ? POLLOUT : 0)), 0});
  }
}

bool MultiRailConnection::needs_peer() const {
  if (!posted_.empty()) return true;
  // Completed sends whose last chunks await acknowledgement do not need the peer: if it is gone
  // now, it got them.
  for (const auto& [msg, m] : out_) {
    if (m.request) return true;
  }
  for (int i = 0; i < static_cast<int>(rails_.size()); ++i) {
    const RailState& s = rails_[i];
    if (sched_.in_service(i) && (s.in_payload || s.head_got > 0)) return true;
  }
  return false;
}

void MultiRailConnection::check_alive() {
  if (!needs_peer()) return;
  // The peer's process is gone when every rail's stream says so; one closed rail alone is a
  // rail failure.
  int gone = 0;
  for (int i = 0; i < static_cast<int>(rails_.size()); ++i) {
    if (rails_[i].link.stream->peer_gone()) {
      ++gone;
      const std::string why = rails_[i].link.stream->failure();
      fail_rail(i, why.empty() ? "connection closed" : why);
    }
  }
  if (gone == static_cast<int>(rails_.size())) {
    // Streams that know why they broke (RDMA completion errors) say more than "gone".
    for (const auto& r : rails_) {
      if (!r.link.stream->failure().empty()) throw_no_rails();
    }
    throw PeerFailureError(
        fmt::format("rank {} is gone (its process exited or closed every rail) while rank {} still "
                    "expected it in this op; seen on {}",
                    peer_, my_rank_, describe()));
  }
}

void MultiRailConnection::abandon_requests() {
  for (auto& s : rails_) {
    own_partial_front(s, 0, true);
    std::erase_if(s.sendq, [](const Frame& f) { return f.is_chunk; });
    if (s.in_payload && (s.sink == Sink::kDirect || s.sink == Sink::kStage)) {
      s.sink = Sink::kDiscard;
    }
  }
  out_.clear();
  resend_.clear();
  refused_.clear();
  peer_busy_ = false;
  avoid_rail_.clear();
  corrupt_resends_.clear();
  for (auto it = incoming_.begin(); it != incoming_.end();) {
    if (it->second.target) {
      const uint64_t id = it->first;
      it = drop_incoming(it);
      mark_completed(id);  // late chunks of it are dropped
    } else {
      ++it;
    }
  }
  posted_.clear();
}

void MultiRailConnection::send_error(ErrorCode code, const std::string& message) {
  if (rails_.empty()) return;
  auto text = std::make_shared<std::string>(message.substr(0, wire::kMaxErrorPayload));
  wire::FrameHeader h{};
  h.kind = static_cast<uint8_t>(wire::FrameKind::kError);
  h.root = my_rank_;
  h.tag = static_cast<uint32_t>(code);
  h.comm_id = comm_id_;
  h.length = text->size();
  wire::seal(h);
  const int rail = any_rail_in_service(-1);
  queue_ctrl(rail < 0 ? 0 : rail, h, std::move(text));
}

void MultiRailConnection::inject_fault(Fault f) {
  switch (f) {
    case Fault::kCorrupt:
      corrupt_next_ = true;  // the next chunk assigned leaves with a flipped byte
      return;
    case Fault::kRail:
      RAILCC_WARN("net", "RAILCC_FAULT: taking rail {} to rank {} down", rails_[0].link.local.name,
                  peer_);
      rails_[0].link.stream->inject_drop();
      return;
    case Fault::kStall:
      RAILCC_WARN("net", "RAILCC_FAULT: rail {} to rank {} stops moving bytes",
                  rails_[0].link.local.name, peer_);
      stalled_rail_ = 0;
      return;
    case Fault::kDrop:
      for (auto& s : rails_) s.link.stream->inject_drop();
      return;
  }
}

}  // namespace railcc::transport
