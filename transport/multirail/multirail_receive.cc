// MultiRailConnection, receiving side: parses frames on every rail, places chunks into their
// message, drops chunks it already has, acknowledges whole chunks and completes receives.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "src/common/crc32c.h"
#include "src/common/log.h"
#include "src/telemetry/metrics.h"
#include "transport/multirail/multirail_connection.h"

namespace railcc::transport {

using wire::FrameHeader;
using wire::FrameKind;

bool MultiRailConnection::is_completed(uint64_t msg) const {
  return msg < completed_below_ || completed_above_.count(msg) > 0;
}

void MultiRailConnection::mark_completed(uint64_t msg) {
  completed_above_.insert(msg);
  // Keep the set small: fold the contiguous prefix into the watermark.
  while (!completed_above_.empty() && *completed_above_.begin() == completed_below_) {
    completed_above_.erase(completed_above_.begin());
    ++completed_below_;
  }
}

void MultiRailConnection::post_recv(RecvRequest* r) {
  r->msg_id = next_recv_id_++;
  r->received = 0;
  r->done = false;
  auto it = incoming_.find(r->msg_id);
  if (it != incoming_.end()) {
    InMsg& m = it->second;
    check_expectation(m.header, *r, my_rank_, peer_, comm_id_);
    if (m.got == m.chunks) {
      deliver(r, 0, m.buffer.data(), r->length);
      r->received = r->length;
      r->done = true;
      drop_incoming(it);
      mark_completed(r->msg_id);
      return;
    }
    // Part of it is buffered: the rest keeps landing in the buffer, delivered when complete.
    m.target = r;
  }
  posted_[r->msg_id] = r;
}

bool MultiRailConnection::progress_recvs(int rail) {
  RailState& s = rails_[rail];
  bool moved = false;
  while (true) {
    if (!s.in_payload) {
      const auto* h = reinterpret_cast<const FrameHeader*>(s.head.data());
      std::size_t want = sizeof(FrameHeader);
      if (s.head_got >= sizeof(FrameHeader) && h->kind == static_cast<uint8_t>(FrameKind::kChunk)) {
        want += sizeof(ChunkInfo);
        if (h->flags & wire::kChunkCrc) want += kCrcBytes;
      }
      const std::size_t n = s.link.stream->read_some(s.head.data() + s.head_got, want - s.head_got);
      if (n == 0) return moved;
      moved = true;
      if (s.link.counters) s.link.counters->received.fetch_add(n, std::memory_order_relaxed);
      s.head_got += n;
      if (s.head_got == sizeof(FrameHeader)) {
        if (auto bad = wire::validate(*h)) {
          throw ProtocolError(
              fmt::format("garbage from rank {} on rail {}: {}", peer_, rail_name(rail), *bad));
        }
        if (h->kind == static_cast<uint8_t>(FrameKind::kChunk)) continue;
      }
      if (s.head_got < want) continue;
      on_frame(rail);
      continue;
    }
    const auto* h = reinterpret_cast<const FrameHeader*>(s.head.data());
    const std::size_t length = h->length;
    std::size_t n = 0;
    switch (s.sink) {
      case Sink::kText:
        n = s.link.stream->read_some(s.text.data() + s.payload_got, length - s.payload_got);
        break;
      case Sink::kDirect:
        n = s.link.stream->read_some(s.direct + s.payload_got, length - s.payload_got);
        break;
      case Sink::kStage:
        n = s.link.stream->read_some(s.stage.data() + s.payload_got, length - s.payload_got);
        break;
      case Sink::kDiscard: {
        std::byte sink[4096];
        n = s.link.stream->read_some(sink, std::min(sizeof(sink), length - s.payload_got));
        break;
      }
      case Sink::kNone:
        break;
    }
    if (n == 0 && s.payload_got < length) return moved;
    moved = true;
    if (s.link.counters) s.link.counters->received.fetch_add(n, std::memory_order_relaxed);
    s.payload_got += n;
    if (s.payload_got == length) finish_chunk(rail);
  }
}

void MultiRailConnection::on_frame(int rail) {
  RailState& s = rails_[rail];
  const FrameHeader h = *reinterpret_cast<const FrameHeader*>(s.head.data());
  s.last_rx = s.last_progress = Clock::now();
  s.payload_got = 0;
  s.sink = Sink::kDiscard;
  s.refused = false;
  s.has_crc = false;
  const auto kind = static_cast<FrameKind>(h.kind);
  if (kind == FrameKind::kAck) {
    s.head_got = 0;
    if (h.comm_id != comm_id_) {
      throw ProtocolError(fmt::format("rank {} sent a frame of communicator {:x} on {:x}", peer_,
                                      h.comm_id, comm_id_));
    }
    on_ack(rail, h);
    return;
  }
  s.in_payload = true;
  if (kind == FrameKind::kError || kind == FrameKind::kRedial) {
    s.sink = Sink::kText;
    s.text.assign(h.length, '\0');
    if (h.length == 0) finish_chunk(rail);
    return;
  }
  if (kind != FrameKind::kChunk) {
    s.in_payload = false;
    s.head_got = 0;
    throw ProtocolError(fmt::format("unexpected frame kind {} from rank {} on rail {}", h.kind,
                                    peer_, rail_name(rail)));
  }
  ChunkInfo c;
  std::memcpy(&c, s.head.data() + sizeof(FrameHeader), sizeof(c));
  if (auto bad = validate(c, h)) {
    throw ProtocolError(
        fmt::format("garbage from rank {} on rail {}: {}", peer_, rail_name(rail), *bad));
  }
  if (h.flags & wire::kChunkCrc) {
    uint64_t crc = 0;
    std::memcpy(&crc, s.head.data() + sizeof(FrameHeader) + sizeof(ChunkInfo), kCrcBytes);
    s.has_crc = true;
    s.crc = static_cast<uint32_t>(crc);
  }
  on_chunk(rail, h, c);
  if (h.length == 0) finish_chunk(rail);
}

void MultiRailConnection::on_chunk(int rail, const FrameHeader& h, const ChunkInfo& c) {
  RailState& s = rails_[rail];
  if (static_cast<wire::OpKind>(h.op) != wire::OpKind::kSendRecv && h.seq > max_seq_seen_) {
    max_seq_seen_ = h.seq;
    max_seq_ticks_ = telemetry::ticks();
  }
  if (is_completed(h.msg_id)) return;  // a resent copy; acknowledged again when read
  auto it = incoming_.find(h.msg_id);
  if (it == incoming_.end()) {
    InMsg m;
    m.header = h;
    m.header.length = c.total;  // what the receive is checked against: the whole message
    m.total = c.total;
    m.chunks = c.chunks;
    m.done.assign(c.chunks, false);
    m.first_rx = Clock::now();
    auto p = posted_.find(h.msg_id);
    if (p != posted_.end()) {
      // On a mismatch this throws and the chunk's payload is read and dropped.
      check_expectation(m.header, *p->second, my_rank_, peer_, comm_id_);
      m.target = p->second;
    } else {
      if (c.total > 0 && buffered_bytes_ + c.total > options_.max_unexpected_bytes) {
        s.refused = true;  // read and dropped; the sender keeps it and tries again later
        return;
      }
      m.buffered = true;
      try {
        m.buffer.resize(c.total);
      } catch (const std::bad_alloc&) {
        throw SystemError(fmt::format(
            "out of memory buffering a {}-byte message from rank {} that arrived before its "
            "receive was posted",
            c.total, peer_));
      }
      buffered_bytes_ += c.total;
    }
    it = incoming_.emplace(h.msg_id, std::move(m)).first;
  }
  InMsg& m = it->second;
  if (c.chunks != m.chunks || c.total != m.total) {
    throw ProtocolError(
        fmt::format("rank {} sent message {} as {} chunk(s) of {} bytes, then as {} "
                    "of {} on rail {}",
                    peer_, h.msg_id, m.chunks, m.total, c.chunks, c.total, rail_name(rail)));
  }
  if (m.done[c.index]) return;
  s.chunk_msg = h.msg_id;
  s.chunk_index = c.index;
  if (m.buffered) {
    s.sink = Sink::kDirect;
    s.direct = m.buffer.data() + c.offset;
  } else if (m.target->reduce_with == nullptr) {
    // A copy may land twice (a resent chunk racing the original): same bytes, harmless.
    s.sink = Sink::kDirect;
    s.direct = m.target->dst + c.offset;
  } else {
    // A reduction must apply exactly once: stage the whole chunk, reduce it when complete.
    s.sink = Sink::kStage;
    s.stage.resize(h.length);
  }
}

void MultiRailConnection::finish_chunk(int rail) {
  RailState& s = rails_[rail];
  const FrameHeader h = *reinterpret_cast<const FrameHeader*>(s.head.data());
  s.in_payload = false;
  s.head_got = 0;
  const Sink sink = s.sink;
  s.sink = Sink::kNone;
  if (sink == Sink::kText && h.kind == static_cast<uint8_t>(FrameKind::kRedial)) {
    on_redial(rail, h, s.text);
    return;
  }
  if (sink == Sink::kText) {
    const auto code = static_cast<ErrorCode>(h.tag);
    throw_error(code == ErrorCode::kOk ? ErrorCode::kPeerFailure : code,
                fmt::format("rank {} failed: {}", h.root, s.text));
  }
  ChunkInfo c;
  std::memcpy(&c, s.head.data() + sizeof(FrameHeader), sizeof(c));
  // Acknowledge on the rail it came from; if that rail is out of service, on another.
  int ack_rail = rail;
  if (!sched_.in_service(rail)) {
    const int other = any_rail_in_service(rail);
    if (other >= 0) ack_rail = other;
  }
  if (s.refused) {
    s.refused = false;
    queue_ctrl(ack_rail, ack_header(h.msg_id, c.index, wire::kAckBusy), nullptr);
    return;
  }
  if (s.has_crc && (sink == Sink::kDirect || sink == Sink::kStage)) {
    // Checked where the bytes landed, so a late duplicate that overwrote them is caught too.
    const std::byte* landed = sink == Sink::kStage ? s.stage.data() : s.direct;
    if (crc32c(landed, h.length) != s.crc) {
      RAILCC_WARN("net",
                  "chunk {} of message {} from rank {} arrived corrupted on {} (CRC32C "
                  "mismatch); asking for it again",
                  c.index, h.msg_id, peer_, rail_name(rail));
      queue_ctrl(ack_rail, ack_header(h.msg_id, c.index, wire::kAckCorrupt), nullptr);
      return;
    }
  }
  queue_ctrl(ack_rail, ack_header(h.msg_id, c.index, 0), nullptr);
  if (sink == Sink::kDiscard) return;
  auto it = incoming_.find(h.msg_id);
  if (it == incoming_.end()) return;  // abandoned meanwhile
  InMsg& m = it->second;
  if (m.done[c.index]) return;  // the other copy finished first
  if (sink == Sink::kStage) deliver(m.target, c.offset, s.stage.data(), h.length);
  m.done[c.index] = true;
  // Another copy of this chunk still arriving (on a rail that failed and came back) must not
  // write into memory the receiver may already have handed back to the user.
  for (auto& other : rails_) {
    if (&other != &s && other.in_payload && other.chunk_msg == h.msg_id &&
        other.chunk_index == c.index &&
        (other.sink == Sink::kDirect || other.sink == Sink::kStage)) {
      other.sink = Sink::kDiscard;
    }
  }
  ++m.got;
  if (m.target && !m.buffered) m.target->received += h.length;
  if (m.got == m.chunks) complete(h.msg_id);
}

void MultiRailConnection::complete(uint64_t msg) {
  auto it = incoming_.find(msg);
  InMsg& m = it->second;
  if (!m.target) return;  // stays buffered until its receive is posted
  RecvRequest* r = m.target;
  if (m.buffered) deliver(r, 0, m.buffer.data(), r->length);
  r->received = r->length;
  r->done = true;
  posted_.erase(msg);
  drop_incoming(it);
  mark_completed(msg);
}

std::map<uint64_t, MultiRailConnection::InMsg>::iterator MultiRailConnection::drop_incoming(
    std::map<uint64_t, InMsg>::iterator it) {
  if (it->second.buffered) buffered_bytes_ -= std::min(buffered_bytes_, it->second.buffer.size());
  return incoming_.erase(it);
}

}  // namespace railcc::transport
