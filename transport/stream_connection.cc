#include "transport/stream_connection.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace railcc::transport {

using wire::FrameHeader;
using wire::FrameKind;

StreamConnection::StreamConnection(int my_rank, int peer, uint64_t comm_id,
                                   std::vector<std::unique_ptr<Stream>> streams)
    : my_rank_(my_rank), peer_(peer), comm_id_(comm_id) {
  streams_.resize(streams.size());
  for (std::size_t i = 0; i < streams.size(); ++i) {
    streams_[i].stream = std::move(streams[i]);
    streams_[i].next_msg_id = i;
  }
}

StreamConnection::~StreamConnection() = default;

std::string StreamConnection::who() const { return fmt::format("rank {}", peer_); }

std::string StreamConnection::describe() const {
  return streams_.empty() ? who() : streams_[0].stream->describe();
}

void StreamConnection::post_send(SendRequest* r) {
  FrameHeader& h = r->header;
  h = FrameHeader{};
  h.kind = static_cast<uint8_t>(FrameKind::kData);
  h.op = static_cast<uint8_t>(r->what.op);
  h.dtype = static_cast<uint8_t>(r->what.dtype);
  h.redop = static_cast<uint8_t>(r->what.redop);
  h.root = r->what.root;
  h.tag = r->what.tag;
  h.comm_id = comm_id_;
  h.seq = r->what.seq;
  h.msg_id = next_send_id_++;
  h.count = r->what.count;
  h.length = r->length;
  wire::seal(h);
  r->written = 0;
  r->done = false;
  streams_[h.msg_id % streams_.size()].sendq.push_back(r);
}

void StreamConnection::post_recv(RecvRequest* r) {
  r->msg_id = next_recv_id_++;
  r->received = 0;
  r->done = false;
  auto it = unexpected_.find(r->msg_id);
  if (it != unexpected_.end()) {
    check_expectation(it->second->header, *r);
    if (it->second->complete) {
      deliver(r, 0, it->second->payload.data(), r->length);
      r->done = true;
      unexpected_.erase(it);
      return;
    }
  }
  // Either nothing has arrived yet, or the frame is being buffered right now; finish_payload()
  // hands it over when complete.
  posted_[r->msg_id] = r;
}

void StreamConnection::send_error(ErrorCode code, const std::string& message) {
  if (streams_.empty()) return;
  auto owned = std::make_unique<OwnedSend>();
  owned->payload = message.substr(0, wire::kMaxErrorPayload);
  SendRequest& r = owned->request;
  r.data = reinterpret_cast<const std::byte*>(owned->payload.data());
  r.length = owned->payload.size();
  FrameHeader& h = r.header;
  h.kind = static_cast<uint8_t>(FrameKind::kError);
  h.root = my_rank_;
  h.tag = static_cast<uint32_t>(code);
  h.comm_id = comm_id_;
  h.length = r.length;
  wire::seal(h);
  // Jump the queue, but never into the middle of a frame already partly written.
  auto& q = streams_[0].sendq;
  auto pos = q.begin();
  // A raw remainder (see abandon_requests) is the tail of a frame too, even if not started.
  if (pos != q.end() && ((*pos)->written > 0 || (*pos)->raw)) ++pos;
  q.insert(pos, &r);
  owned_.push_back(std::move(owned));
}

void StreamConnection::abandon_requests() {
  for (auto& s : streams_) {
    std::deque<SendRequest*> keep;
    for (std::size_t i = 0; i < s.sendq.size(); ++i) {
      SendRequest* r = s.sendq[i];
      const bool ours = std::any_of(owned_.begin(), owned_.end(),
                                    [r](const auto& o) { return &o->request == r; });
      if (ours) {
        keep.push_back(r);
      } else if (i == 0 && r->written > 0) {
        // Copy what is left of this frame so the peer still sees whole frames.
        auto owned = std::make_unique<OwnedSend>();
        const std::size_t header = sizeof(FrameHeader);
        if (r->written < header) {
          owned->payload.assign(reinterpret_cast<const char*>(&r->header) + r->written,
                                header - r->written);
          owned->payload.append(reinterpret_cast<const char*>(r->data), r->length);
        } else {
          owned->payload.assign(reinterpret_cast<const char*>(r->data) + (r->written - header),
                                header + r->length - r->written);
        }
        owned->request.raw = true;
        owned->request.data = reinterpret_cast<const std::byte*>(owned->payload.data());
        owned->request.length = owned->payload.size();
        keep.push_back(&owned->request);
        owned_.push_back(std::move(owned));
      }
    }
    s.sendq = std::move(keep);
    if (s.in_payload && s.target) {
      s.target = nullptr;
      s.discard = true;
    }
  }
  posted_.clear();
}

bool StreamConnection::has_pending_sends() const {
  for (const auto& s : streams_) {
    if (!s.sendq.empty()) return true;
  }
  return false;
}

void StreamConnection::add_poll_fds(std::vector<pollfd>& fds) const {
  for (const auto& s : streams_) {
    const int fd = s.stream->poll_fd();
    if (fd < 0) continue;
    fds.push_back({fd, static_cast<short>(POLLIN | (s.sendq.empty() ? 0 : POLLOUT)), 0});
  }
}

bool StreamConnection::needs_peer() const {
  if (!posted_.empty()) return true;
  for (const auto& s : streams_) {
    if (!s.sendq.empty() || s.in_payload || s.header_got > 0) return true;
  }
  return false;
}

void StreamConnection::check_alive() {
  if (!needs_peer()) return;
  for (auto& s : streams_) {
    if (s.stream->peer_gone()) {
      throw PeerFailureError(fmt::format(
          "{} is gone (its process exited or closed the connection) while rank {} still "
          "expected it in this op; seen on {}",
          who(), my_rank_, s.stream->describe()));
    }
  }
}

bool StreamConnection::progress() {
  bool moved = false;
  for (auto& s : streams_) {
    moved |= progress_sends(s);
    moved |= progress_recvs(s);
  }
  return moved;
}

bool StreamConnection::progress_sends(StreamState& s) {
  bool moved = false;
  while (!s.sendq.empty()) {
    SendRequest* r = s.sendq.front();
    constexpr std::size_t kHeader = sizeof(FrameHeader);
    const std::size_t total = r->raw ? r->length : kHeader + r->length;
    std::size_t n;
    if (r->raw) {
      n = s.stream->write_some(r->data + r->written, r->length - r->written);
    } else if (r->written < kHeader) {
      n = s.stream->write_some2(reinterpret_cast<const std::byte*>(&r->header) + r->written,
                                kHeader - r->written, r->data, r->length);
    } else {
      n = s.stream->write_some(r->data + (r->written - kHeader), total - r->written);
    }
    if (n == 0) break;
    moved = true;
    r->written += n;
    if (r->written < total) break;
    r->done = true;
    s.sendq.pop_front();
    if (r->raw || r->header.kind == static_cast<uint8_t>(FrameKind::kError)) {
      std::erase_if(owned_, [r](const auto& o) { return &o->request == r; });
    }
  }
  return moved;
}

void StreamConnection::check_expectation(const FrameHeader& h, const RecvRequest& r) const {
  transport::check_expectation(h, r, my_rank_, peer_, comm_id_);
}

void StreamConnection::on_header(StreamState& s) {
  FrameHeader& h = s.header;
  if (auto bad = wire::validate(h)) {
    throw ProtocolError(
        fmt::format("garbage from {} on {}: {}", who(), s.stream->describe(), *bad));
  }
  s.in_payload = true;
  s.payload_got = 0;
  s.carry_len = 0;
  s.target = nullptr;
  s.unexpected = nullptr;
  s.error_text.clear();
  const auto kind = static_cast<FrameKind>(h.kind);
  if (kind == FrameKind::kError) {
    s.error_text.resize(h.length);
    return;
  }
  if (kind != FrameKind::kData) {
    throw ProtocolError(fmt::format("unexpected frame kind {} from {}", h.kind, who()));
  }
  if (h.msg_id != s.next_msg_id) {
    throw ProtocolError(fmt::format("{} sent message {} on {} where {} was due", who(), h.msg_id,
                                    s.stream->describe(), s.next_msg_id));
  }
  s.next_msg_id += streams_.size();
  const auto op = static_cast<wire::OpKind>(h.op);
  if (op != wire::OpKind::kSendRecv && h.seq > max_seq_seen_) max_seq_seen_ = h.seq;
  auto it = posted_.find(h.msg_id);
  if (it != posted_.end()) {
    try {
      check_expectation(h, *it->second);
    } catch (...) {
      s.discard = true;  // keep the stream framed: the payload is read and dropped
      throw;
    }
    s.target = it->second;
  } else {
    auto u = std::make_unique<Unexpected>();
    u->header = h;
    try {
      u->payload.resize(h.length);
    } catch (const std::bad_alloc&) {
      s.discard = true;
      throw SystemError(
          fmt::format("out of memory buffering a {}-byte message from {} that "
                      "arrived before its receive was posted",
                      h.length, who()));
    }
    s.unexpected = u.get();
    unexpected_[h.msg_id] = std::move(u);
  }
  if (h.length == 0) finish_payload(s);
}

void StreamConnection::finish_payload(StreamState& s) {
  s.in_payload = false;
  s.header_got = 0;
  const FrameHeader& h = s.header;
  if (static_cast<FrameKind>(h.kind) == FrameKind::kError) {
    const auto code = static_cast<ErrorCode>(h.tag);
    throw_error(code == ErrorCode::kOk ? ErrorCode::kPeerFailure : code,
                fmt::format("rank {} failed: {}", h.root, s.error_text));
  }
  if (s.target) {
    s.target->done = true;
    posted_.erase(s.target->msg_id);
    s.target = nullptr;
    return;
  }
  Unexpected* u = s.unexpected;
  s.unexpected = nullptr;
  u->complete = true;
  auto it = posted_.find(h.msg_id);
  if (it != posted_.end()) {  // posted while the payload was still arriving
    RecvRequest* r = it->second;
    deliver(r, 0, u->payload.data(), r->length);
    r->done = true;
    posted_.erase(it);
    unexpected_.erase(h.msg_id);
  }
}

void StreamConnection::deliver(RecvRequest* r, std::size_t offset, const std::byte* src,
                               std::size_t n) {
  transport::deliver(r, offset, src, n);
}

bool StreamConnection::progress_recvs(StreamState& s) {
  bool moved = false;
  while (true) {
    if (!s.in_payload) {
      const std::size_t n =
          s.stream->read_some(reinterpret_cast<std::byte*>(&s.header) + s.header_got,
                              sizeof(FrameHeader) - s.header_got);
      if (n == 0) return moved;
      moved = true;
      s.header_got += n;
      if (s.header_got < sizeof(FrameHeader)) return moved;
      on_header(s);
      continue;
    }
    const std::size_t length = s.header.length;
    if (!s.error_text.empty() || (s.header.kind == static_cast<uint8_t>(FrameKind::kError))) {
      const std::size_t n =
          s.stream->read_some(s.error_text.data() + s.payload_got, length - s.payload_got);
      if (n == 0 && s.payload_got < length) return moved;
      s.payload_got += n;
      moved = true;
      if (s.payload_got == length) finish_payload(s);
      continue;
    }
    if (s.discard) {
      if (s.payload_got < length) {
        std::byte sink[4096];
        const std::size_t n =
            s.stream->read_some(sink, std::min(sizeof(sink), length - s.payload_got));
        if (n == 0) return moved;
        moved = true;
        s.payload_got += n;
      }
      if (s.payload_got == length) {
        s.discard = false;
        s.in_payload = false;
        s.header_got = 0;
      }
      continue;
    }
    if (s.unexpected) {
      const std::size_t n =
          s.stream->read_some(s.unexpected->payload.data() + s.payload_got, length - s.payload_got);
      if (n == 0) return moved;
      moved = true;
      s.payload_got += n;
      if (s.payload_got == length) finish_payload(s);
      continue;
    }
    RecvRequest* r = s.target;
    if (r->reduce_with == nullptr) {
      const std::size_t n = s.stream->read_some(r->dst + s.payload_got, length - s.payload_got);
      if (n == 0) return moved;
      moved = true;
      s.payload_got += n;
      r->received = s.payload_got;
      if (s.payload_got == length) finish_payload(s);
      continue;
    }
    // Reduce straight out of the stream's buffer (the shm ring or the socket buffer): no copy.
    const std::size_t esz = data_type_size(r->expect.dtype);
    if (s.carry_len > 0) {
      s.carry_len += s.stream->read_some(s.carry + s.carry_len, esz - s.carry_len);
      if (s.carry_len < esz) return moved;
      deliver(r, s.payload_got, s.carry, esz);
      s.payload_got += esz;
      s.carry_len = 0;
      moved = true;
    } else {
      auto avail = s.stream->peek();
      if (avail.empty()) return moved;
      moved = true;
      std::size_t n = std::min(avail.size(), length - s.payload_got);
      n -= n % esz;
      if (n == 0) {  // less than one element is contiguous: assemble it in the carry
        s.carry_len = s.stream->read_some(s.carry, esz);
        continue;
      }
      deliver(r, s.payload_got, avail.data(), n);
      s.stream->consume(n);
      s.payload_got += n;
    }
    r->received = s.payload_got;
    if (s.payload_got == length) finish_payload(s);
  }
}

}  // namespace railcc::transport
