#include "transport/stream_connection.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "src/common/crc32c.h"
#include "src/common/deadline.h"
#include "src/common/log.h"
#include "src/telemetry/metrics.h"
#include "transport/shm/cross_memory.h"

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

void StreamConnection::enable_single_copy(int peer_pid, std::size_t min_bytes) {
  peer_pid_ = peer_pid;
  single_copy_min_ = peer_pid > 0 ? std::max<std::size_t>(min_bytes, 1) : 0;
}

std::span<const std::byte> StreamConnection::payload_of(const SendRequest& r) const {
  if (!r.raw && r.header.kind == static_cast<uint8_t>(FrameKind::kRead)) {
    return {reinterpret_cast<const std::byte*>(&r.read_address), sizeof(r.read_address)};
  }
  if (&r == corrupted_request_) return {corrupted_payload_.data(), corrupted_payload_.size()};
  return {r.data, r.length};
}

std::string StreamConnection::who() const { return fmt::format("rank {}", peer_); }

std::string StreamConnection::describe() const {
  return streams_.empty() ? who() : streams_[0].stream->describe();
}

void StreamConnection::post_send(SendRequest* r) {
  FrameHeader& h = r->header;
  h = FrameHeader{};
  // A message to corrupt (RAILCC_FAULT) goes through the stream, where the fault is injected.
  const bool corrupt = corrupt_next_ && r->length > 0;
  const bool by_reference = !corrupt && single_copy_min_ > 0 &&
                            (r->length >= single_copy_min_ || (r->by_reference && r->length));
  h.kind = static_cast<uint8_t>(by_reference ? FrameKind::kRead : FrameKind::kData);
  r->read_address = reinterpret_cast<uintptr_t>(r->data);
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
  if (corrupt) {
    corrupt_next_ = false;
    corrupted_request_ = r;
    corrupted_payload_.assign(r->data, r->data + r->length);
    corrupted_payload_[r->length / 2] ^= std::byte{0x5A};
    RAILCC_WARN("net", "RAILCC_FAULT: corrupting byte {} of message {} to {} in flight",
                r->length / 2, h.msg_id, who());
  }
  if (checksums_ && r->length > 0) queue_checksum(*r);
}

void StreamConnection::queue_checksum(const SendRequest& r) {
  auto owned = std::make_unique<OwnedSend>();
  FrameHeader& h = owned->request.header;
  h.kind = static_cast<uint8_t>(FrameKind::kChecksum);
  h.root = my_rank_;
  h.comm_id = comm_id_;
  h.seq = r.header.seq;
  h.msg_id = r.header.msg_id;
  h.count = crc32c(r.data, r.length);  // of the data as the caller has it, before any fault
  wire::seal(h);
  streams_[h.msg_id % streams_.size()].sendq.push_back(&owned->request);
  owned_.push_back(std::move(owned));
}

void StreamConnection::inject_fault(Fault f) {
  if (f == Fault::kCorrupt) {
    corrupt_next_ = true;
    return;
  }
  if (f == Fault::kStall) {
    stalled_ = true;
    return;
  }
  for (auto& s : streams_) s.stream->inject_drop();
}

void StreamConnection::post_recv(RecvRequest* r) {
  r->msg_id = next_recv_id_++;
  r->received = 0;
  r->done = false;
  auto it = unexpected_.find(r->msg_id);
  if (it != unexpected_.end()) {
    check_expectation(it->second->header, *r);
    if (it->second->complete) {
      const Unexpected& u = *it->second;
      uint32_t crc = 0;
      if (u.header.kind == static_cast<uint8_t>(FrameKind::kRead)) {
        crc = read_remote(r, u.remote, r->msg_id);
      } else {
        deliver(r, 0, u.payload.data(), r->length);
        if (checksums_) crc = crc32c(u.payload.data(), u.payload.size());
      }
      complete_recv(r, crc, &u);
      erase_unexpected(r->msg_id);
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
  // On a stream that still works (an RDMA queue pair may have failed alone). Jump the queue, but
  // never into the middle of a frame already partly written.
  std::size_t pick = 0;
  while (pick + 1 < streams_.size() && !streams_[pick].stream->failure().empty()) ++pick;
  auto& q = streams_[pick].sendq;
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
        const auto payload = payload_of(*r);
        const auto* data = reinterpret_cast<const char*>(payload.data());
        if (r->written < header) {
          owned->payload.assign(reinterpret_cast<const char*>(&r->header) + r->written,
                                header - r->written);
          owned->payload.append(data, payload.size());
        } else {
          owned->payload.assign(data + (r->written - header), header + payload.size() - r->written);
        }
        owned->request.raw = true;
        owned->request.data = reinterpret_cast<const std::byte*>(owned->payload.data());
        owned->request.length = owned->payload.size();
        keep.push_back(&owned->request);
        owned_.push_back(std::move(owned));
      }
    }
    s.sendq = std::move(keep);
    // Their memory is about to go away. An RDMA write still reading it can only send garbage to
    // a peer that fails this op too (see broadcast_error), never corrupt memory here.
    s.unreleased.clear();
    if (s.in_payload && s.target) {
      s.target = nullptr;
      s.discard = true;
    }
  }
  posted_.clear();
  awaiting_crc_.clear();
  corrupted_request_ = nullptr;
  // The peer may still be reading those buffers; it fails its op too (see broadcast_error).
  awaiting_read_.clear();
}

bool StreamConnection::has_pending_sends() const {
  for (const auto& s : streams_) {
    if (!s.sendq.empty() || !s.unreleased.empty()) return true;
  }
  return false;
}

void StreamConnection::add_poll_fds(std::vector<pollfd>& fds) const {
  if (stalled_) return;
  for (const auto& s : streams_) {
    const int fd = s.stream->poll_fd();
    if (fd < 0) continue;
    // A held-back stream stays readable; polling it for input would only spin.
    const short in = s.stalled ? 0 : POLLIN;
    fds.push_back({fd, static_cast<short>(in | (s.sendq.empty() ? 0 : POLLOUT)), 0});
  }
}

bool StreamConnection::needs_peer() const {
  if (!posted_.empty() || !awaiting_read_.empty() || !awaiting_crc_.empty()) return true;
  for (const auto& s : streams_) {
    if (!s.sendq.empty() || !s.unreleased.empty() || s.in_payload || s.header_got > 0) {
      return true;
    }
  }
  return false;
}

void StreamConnection::check_alive() {
  if (!needs_peer()) return;
  // A peer that exits closes all its streams, but not at the same instant for us: the last
  // message may still be unread on another stream when this one already shows its end. So a
  // closed stream proves the peer gone only once every stream is closed and drained; a stream
  // that broke for a reason of its own (failure()) is fatal at once.
  std::size_t gone = 0;
  StreamState* first_gone = nullptr;
  for (auto& s : streams_) {
    if (!s.stream->peer_gone()) continue;
    if (std::string why = s.stream->failure(); !why.empty()) {
      throw PeerFailureError(
          fmt::format("rank {}: {}; {} is unusable while rank {} still "
                      "expects it in this op",
                      my_rank_, why, s.stream->describe(), my_rank_));
    }
    ++gone;
    if (!first_gone) first_gone = &s;
  }
  if (gone == 0) return;
  if (gone < streams_.size()) {
    progress();  // take what the other streams still hold; the peer's own close follows
    return;
  }
  throw PeerFailureError(
      fmt::format("{} is gone (its process exited or closed the connection) while rank {} still "
                  "expected it in this op; seen on {}",
                  who(), my_rank_, first_gone->stream->describe()));
}

bool StreamConnection::progress() {
  if (stalled_) return false;  // RAILCC_FAULT=stall: a hung link moves nothing, fails nothing
  bool moved = false;
  for (auto& s : streams_) {
    moved |= progress_sends(s);
    moved |= progress_recvs(s);
    moved |= finish_released(s);  // reading polled the completions that release in-place sends
  }
  return moved;
}

bool StreamConnection::finish_released(StreamState& s) {
  if (s.unreleased.empty()) return false;
  const uint64_t released = s.stream->released();
  bool any = false;
  while (!s.unreleased.empty() && s.unreleased.front().first <= released) {
    s.unreleased.front().second->done = true;
    s.unreleased.pop_front();
    any = true;
  }
  return any;
}

bool StreamConnection::progress_sends(StreamState& s) {
  bool moved = finish_released(s);
  while (!s.sendq.empty()) {
    SendRequest* r = s.sendq.front();
    constexpr std::size_t kHeader = sizeof(FrameHeader);
    const auto payload = payload_of(*r);
    const std::size_t total = r->raw ? payload.size() : kHeader + payload.size();
    const auto kind = static_cast<FrameKind>(r->header.kind);
    // Only the caller's own data messages may be read in place: control frames and private
    // copies (raw remainders, a corrupted copy) are freed as soon as they count as written.
    const bool in_place = !r->raw && kind == FrameKind::kData && r != corrupted_request_;
    std::size_t n;
    if (r->raw) {
      n = s.stream->write_some(payload.data() + r->written, payload.size() - r->written);
    } else if (r->written < kHeader) {
      const auto* header = reinterpret_cast<const std::byte*>(&r->header) + r->written;
      n = in_place
              ? s.stream->write_some2_in_place(header, kHeader - r->written, payload.data(),
                                               payload.size())
              : s.stream->write_some2(header, kHeader - r->written, payload.data(), payload.size());
    } else {
      const std::byte* rest = payload.data() + (r->written - kHeader);
      n = in_place ? s.stream->write_some2_in_place(nullptr, 0, rest, total - r->written)
                   : s.stream->write_some(rest, total - r->written);
    }
    if (n == 0) break;
    moved = true;
    r->written += n;
    s.accepted += n;
    if (r->written < total) break;
    s.sendq.pop_front();
    if (channel_ && !r->raw && (kind == FrameKind::kData || kind == FrameKind::kRead)) {
      channel_->sent.fetch_add(r->length, std::memory_order_relaxed);
    }
    if (!r->raw && kind == FrameKind::kRead) {
      awaiting_read_[r->header.msg_id] = r;  // done once the peer says it has read the data
      continue;
    }
    if (in_place && s.stream->released() < s.accepted) {
      // The HCA still reads the caller's buffer: an in-place all_reduce would overwrite it.
      s.unreleased.emplace_back(s.accepted, r);
      continue;
    }
    r->done = true;
    if (r == corrupted_request_) corrupted_request_ = nullptr;
    if (!r->raw && kind == FrameKind::kReadDone) --control_queued_;
    if (r->raw || kind == FrameKind::kError || kind == FrameKind::kReadDone ||
        kind == FrameKind::kChecksum) {
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
  s.crc = 0;
  const auto kind = static_cast<FrameKind>(h.kind);
  if (kind == FrameKind::kChecksum) {
    s.in_payload = false;
    s.header_got = 0;
    on_checksum(h);
    return;
  }
  if (kind == FrameKind::kError) {
    s.error_text.resize(h.length);
    return;
  }
  if (kind == FrameKind::kReadDone) {
    s.in_payload = false;
    s.header_got = 0;
    auto it = awaiting_read_.find(h.msg_id);
    if (it == awaiting_read_.end()) {
      throw ProtocolError(
          fmt::format("{} acknowledged message {}, which is not awaiting it", who(), h.msg_id));
    }
    it->second->done = true;
    awaiting_read_.erase(it);
    return;
  }
  if (kind == FrameKind::kRead && peer_pid_ == 0) {
    s.discard = true;
    throw ProtocolError(
        fmt::format("{} sent a message by reference, but this rank cannot read its memory "
                    "(cross-memory attach is off for this pair)",
                    who()));
  }
  if (kind != FrameKind::kData && kind != FrameKind::kRead) {
    throw ProtocolError(fmt::format("unexpected frame kind {} from {}", h.kind, who()));
  }
  if (h.msg_id != s.next_msg_id) {
    throw ProtocolError(fmt::format("{} sent message {} on {} where {} was due", who(), h.msg_id,
                                    s.stream->describe(), s.next_msg_id));
  }
  auto it = posted_.find(h.msg_id);
  if (it == posted_.end() && kind == FrameKind::kData && must_hold_back(h.length)) {
    // Leave the message in its stream (header kept) until its receive is posted or buffered
    // messages are claimed; progress_recvs() comes back here each time.
    if (!s.stalled) {
      RAILCC_DEBUG("net",
                   "{}: message {} ({} bytes) waits in {}: {} bytes of messages already wait "
                   "for receives (RAILCC_MAX_UNEXPECTED_BYTES={})",
                   who(), h.msg_id, h.length, s.stream->describe(), unexpected_bytes_,
                   unexpected_limit_);
    }
    s.stalled = true;
    s.in_payload = false;
    return;
  }
  s.stalled = false;
  s.next_msg_id += streams_.size();
  const auto op = static_cast<wire::OpKind>(h.op);
  if (op != wire::OpKind::kSendRecv && h.seq > max_seq_seen_) {
    max_seq_seen_ = h.seq;
    max_seq_ticks_ = telemetry::ticks();
  }
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
      if (kind == FrameKind::kData) u->payload.resize(h.length);
    } catch (const std::exception&) {  // bad_alloc, or length_error beyond max_size()
      s.discard = true;
      throw SystemError(
          fmt::format("out of memory buffering a {}-byte message from {} that "
                      "arrived before its receive was posted",
                      h.length, who()));
    }
    s.unexpected = u.get();
    unexpected_bytes_ += u->payload.size();
    unexpected_[h.msg_id] = std::move(u);
  }
  if (kind == FrameKind::kData && h.length == 0) finish_payload(s);
}

bool StreamConnection::must_hold_back(std::size_t length) const {
  if (length == 0 || !awaiting_read_.empty()) return false;
  return unexpected_bytes_ + length > unexpected_limit_;
}

void StreamConnection::erase_unexpected(uint64_t msg_id) {
  auto it = unexpected_.find(msg_id);
  if (it == unexpected_.end()) return;
  unexpected_bytes_ -= it->second->payload.size();
  unexpected_.erase(it);
}

void StreamConnection::finish_read_frame(StreamState& s) {
  s.in_payload = false;
  s.header_got = 0;
  const uint64_t msg_id = s.header.msg_id;
  if (s.target) {
    RecvRequest* r = s.target;
    s.target = nullptr;
    posted_.erase(msg_id);
    complete_recv(r, read_remote(r, s.read_address, msg_id));
    return;
  }
  Unexpected* u = s.unexpected;
  s.unexpected = nullptr;
  u->remote = s.read_address;
  u->complete = true;
  auto it = posted_.find(msg_id);
  if (it != posted_.end()) {  // posted while the address was still arriving
    RecvRequest* r = it->second;
    posted_.erase(it);
    complete_recv(r, read_remote(r, s.read_address, msg_id), u);
    erase_unexpected(msg_id);
  }
}

uint32_t StreamConnection::read_remote(RecvRequest* r, uint64_t address, uint64_t msg_id) {
  const std::string from = fmt::format("{} (pid {})", who(), peer_pid_);
  uint32_t crc = 0;
  try {
    if (r->reduce_with == nullptr) {
      cross_memory_read(peer_pid_, address, r->dst, r->length, from);
      if (checksums_) crc = crc32c(r->dst, r->length);
    } else {
      // Stage through a buffer that stays in cache, then reduce it with the local operand.
      constexpr std::size_t kBounce = 64 * 1024;
      if (!bounce_) bounce_.reset(new std::byte[kBounce]);
      const std::size_t esz = data_type_size(r->expect.dtype);
      const std::size_t step = kBounce - kBounce % esz;
      for (std::size_t off = 0; off < r->length; off += step) {
        const std::size_t n = std::min(step, r->length - off);
        cross_memory_read(peer_pid_, address + off, bounce_.get(), n, from);
        if (checksums_) crc = crc32c_extend(crc, bounce_.get(), n);
        deliver(r, off, bounce_.get(), n);
      }
    }
  } catch (const Error&) {
    // A sender whose op failed abandons its buffers, but only after telling us why: its error
    // frame is the better explanation (it names the rank at fault), so look for it first.
    receive_error_frames();
    throw;
  }
  r->received = r->length;
  if (channel_) channel_->received.fetch_add(r->length, std::memory_order_relaxed);
  queue_read_done(msg_id);
  return crc;
}

void StreamConnection::complete_recv(RecvRequest* r, uint32_t crc, const Unexpected* u) {
  if (!checksums_ || r->length == 0) {  // empty messages carry no checksum frame
    r->done = true;
    return;
  }
  if (u && u->has_expected_crc) {
    if (u->expected_crc != crc) corrupted(r->msg_id, u->expected_crc, crc);
    r->done = true;
    return;
  }
  awaiting_crc_[r->msg_id] = {r, crc};  // its kChecksum frame follows on the same stream
}

void StreamConnection::on_checksum(const FrameHeader& h) {
  if (!checksums_) {
    throw ConfigError(fmt::format(
        "{} sends checksums but rank {} does not: set RAILCC_CHECKSUM alike on every rank", who(),
        my_rank_));
  }
  const auto sent = static_cast<uint32_t>(h.count);
  if (auto it = awaiting_crc_.find(h.msg_id); it != awaiting_crc_.end()) {
    auto [r, got] = it->second;
    awaiting_crc_.erase(it);
    if (got != sent) corrupted(h.msg_id, sent, got);
    r->done = true;
    return;
  }
  if (auto it = unexpected_.find(h.msg_id); it != unexpected_.end()) {
    it->second->has_expected_crc = true;
    it->second->expected_crc = sent;
  }
  // Otherwise its receive was abandoned after a failure: nothing left to check.
}

void StreamConnection::corrupted(uint64_t msg_id, uint32_t sent, uint32_t got) const {
  throw ProtocolError(fmt::format(
      "data corrupted in flight: message {} from {} to rank {} failed its CRC32C check (sent "
      "0x{:08x}, received 0x{:08x}; RAILCC_CHECKSUM=1)",
      msg_id, who(), my_rank_, sent, got));
}

void StreamConnection::receive_error_frames() {
  const Deadline until = Deadline::after(std::chrono::milliseconds(100));
  int idle = 0;
  while (!until.expired() && idle < 1000) {
    bool moved = false;
    for (auto& s : streams_) moved |= progress_recvs(s);  // throws the peer's error, if any
    idle = moved ? 0 : idle + 1;
  }
}

void StreamConnection::queue_read_done(uint64_t msg_id) {
  auto owned = std::make_unique<OwnedSend>();
  SendRequest& r = owned->request;
  FrameHeader& h = r.header;
  h.kind = static_cast<uint8_t>(FrameKind::kReadDone);
  h.root = my_rank_;
  h.comm_id = comm_id_;
  h.msg_id = msg_id;
  wire::seal(h);
  // Ahead of queued data (the peer's send waits on it), never inside a frame partly written.
  auto& q = streams_[0].sendq;
  auto pos = q.begin();
  while (pos != q.end() && ((*pos)->written > 0 || (*pos)->raw)) ++pos;
  q.insert(pos, &r);
  owned_.push_back(std::move(owned));
  ++control_queued_;
  progress_sends(streams_[0]);
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
  if (channel_) channel_->received.fetch_add(h.length, std::memory_order_relaxed);
  if (s.target) {
    RecvRequest* r = s.target;
    posted_.erase(r->msg_id);
    s.target = nullptr;
    uint32_t crc = 0;
    if (checksums_) crc = r->reduce_with ? s.crc : crc32c(r->dst, h.length);
    complete_recv(r, crc);
    return;
  }
  Unexpected* u = s.unexpected;
  s.unexpected = nullptr;
  u->complete = true;
  auto it = posted_.find(h.msg_id);
  if (it != posted_.end()) {  // posted while the payload was still arriving
    RecvRequest* r = it->second;
    deliver(r, 0, u->payload.data(), r->length);
    posted_.erase(it);
    complete_recv(r, checksums_ ? crc32c(u->payload.data(), u->payload.size()) : 0, u);
    erase_unexpected(h.msg_id);
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
      if (s.header_got < sizeof(FrameHeader)) {
        const std::size_t n =
            s.stream->read_some(reinterpret_cast<std::byte*>(&s.header) + s.header_got,
                                sizeof(FrameHeader) - s.header_got);
        if (n == 0) return moved;
        moved = true;
        s.header_got += n;
        if (s.header_got < sizeof(FrameHeader)) return moved;
      }
      on_header(s);  // a held-back message (s.stalled) is looked at again on every call
      if (s.stalled) return moved;
      continue;
    }
    const std::size_t length = wire::wire_payload_bytes(s.header);
    if (s.header.kind == static_cast<uint8_t>(FrameKind::kRead) && !s.discard) {
      auto* addr = reinterpret_cast<std::byte*>(&s.read_address);
      const std::size_t n = s.stream->read_some(addr + s.payload_got, length - s.payload_got);
      if (n == 0) return moved;
      moved = true;
      s.payload_got += n;
      if (s.payload_got == length) finish_read_frame(s);
      continue;
    }
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
      if (checksums_) s.crc = crc32c_extend(s.crc, s.carry, esz);
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
      if (checksums_) s.crc = crc32c_extend(s.crc, avail.data(), n);
      deliver(r, s.payload_got, avail.data(), n);
      s.stream->consume(n);
      s.payload_got += n;
    }
    r->received = s.payload_got;
    if (s.payload_got == length) finish_payload(s);
  }
}

}  // namespace railcc::transport
