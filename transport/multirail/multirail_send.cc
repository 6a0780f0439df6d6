// MultiRailConnection, sending side: cutting messages into chunks, handing chunks to rails,
// writing frames, and retiring chunks as the receiver acknowledges them.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "src/common/crc32c.h"
#include "src/common/log.h"
#include "src/telemetry/metrics.h"
#include "src/telemetry/trace.h"
#include "transport/multirail/multirail_connection.h"

namespace railcc::transport {

using wire::FrameHeader;
using wire::FrameKind;

std::size_t MultiRailConnection::chunk_length(const OutMsg& m, uint32_t index) const {
  const std::size_t offset = index * options_.chunk_bytes;
  return std::min(options_.chunk_bytes, m.length - offset);
}

void MultiRailConnection::post_send(SendRequest* r) {
  FrameHeader& h = r->header;
  h = FrameHeader{};
  h.kind = static_cast<uint8_t>(FrameKind::kChunk);
  h.op = static_cast<uint8_t>(r->what.op);
  h.dtype = static_cast<uint8_t>(r->what.dtype);
  h.redop = static_cast<uint8_t>(r->what.redop);
  h.root = r->what.root;
  h.tag = r->what.tag;
  h.comm_id = comm_id_;
  h.seq = r->what.seq;
  h.msg_id = next_send_id_++;
  h.count = r->what.count;
  r->written = 0;
  r->done = false;
  OutMsg m;
  m.request = r;
  m.trace = r->trace;
  m.header = h;
  m.data = r->data;
  m.length = r->length;
  const std::size_t chunks = (r->length + options_.chunk_bytes - 1) / options_.chunk_bytes;
  m.chunks = static_cast<uint32_t>(std::max<std::size_t>(1, chunks));
  m.rail.assign(m.chunks, -1);
  m.written.assign(m.chunks, false);
  m.done.assign(m.chunks, false);
  out_.emplace(h.msg_id, std::move(m));
}

void MultiRailConnection::schedule() {
  // Chunks the peer refused go again once their pause is over; until the peer accepts data
  // again nothing new starts (it would only be refused too, and copied while it waits).
  if (!refused_.empty()) {
    if (Clock::now() < retry_at_) return;
    resend_.insert(resend_.begin(), refused_.begin(), refused_.end());
    refused_.clear();
  }
  // Resends first: they hold up messages that are otherwise complete.
  while (!resend_.empty()) {
    auto [msg, index] = resend_.front();
    auto it = out_.find(msg);
    if (it == out_.end() || it->second.done[index] || it->second.rail[index] >= 0) {
      resend_.pop_front();
      continue;
    }
    int rail = sched_.pick(chunk_length(it->second, index));
    if (rail < 0) return;
    if (auto avoid = avoid_rail_.find({msg, index}); avoid != avoid_rail_.end()) {
      if (rail == avoid->second) {
        const int other = any_rail_in_service(rail);
        if (other >= 0) rail = other;
      }
      avoid_rail_.erase(avoid);
    }
    resend_.pop_front();
    ++resent_chunks_;
    assign(msg, it->second, index, rail);
  }
  if (peer_busy_) return;
  for (auto& [msg, m] : out_) {
    while (m.next < m.chunks) {
      const int rail = sched_.pick(chunk_length(m, m.next));
      if (rail < 0) return;
      assign(msg, m, m.next, rail);
      ++m.next;
    }
  }
}

void MultiRailConnection::assign(uint64_t msg, OutMsg& m, uint32_t index, int rail) {
  const std::size_t length = chunk_length(m, index);
  m.rail[index] = static_cast<int8_t>(rail);
  m.written[index] = false;
  sched_.on_assigned(rail, length);
  Frame f;
  FrameHeader h = m.header;
  h.length = length;
  if (options_.checksums) h.flags |= wire::kChunkCrc;
  wire::seal(h);
  ChunkInfo c{};
  c.offset = index * options_.chunk_bytes;
  c.total = m.length;
  c.index = index;
  c.chunks = m.chunks;
  c.rail = static_cast<uint32_t>(rail);
  seal(c);
  std::memcpy(f.head.data(), &h, sizeof(h));
  std::memcpy(f.head.data() + sizeof(h), &c, sizeof(c));
  f.head_len = sizeof(h) + sizeof(c);
  f.payload = m.data + c.offset;
  f.payload_len = length;
  if (options_.checksums) {
    const uint64_t crc = crc32c(f.payload, length);  // padded to 8 bytes with zeros
    std::memcpy(f.head.data() + f.head_len, &crc, kCrcBytes);
    f.head_len += kCrcBytes;
  }
  if (corrupt_next_ && length > 0) {
    corrupt_next_ = false;
    auto bad = std::make_shared<std::string>(reinterpret_cast<const char*>(f.payload), length);
    (*bad)[length / 2] ^= 0x5A;
    f.payload = reinterpret_cast<const std::byte*>(bad->data());
    f.owned = std::move(bad);
    RAILCC_WARN("net",
                "RAILCC_FAULT: corrupting byte {} of chunk {} of message {} to rank {} on {}",
                c.offset + length / 2, index, msg, peer_, rail_name(rail));
  }
  f.is_chunk = true;
  f.trace = m.trace;
  f.msg = msg;
  f.index = index;
  rails_[rail].sendq.push_back(std::move(f));
}

FrameHeader MultiRailConnection::ack_header(uint64_t msg, uint32_t index, uint8_t flags) const {
  FrameHeader h{};
  h.kind = static_cast<uint8_t>(FrameKind::kAck);
  h.flags = flags;
  h.root = my_rank_;
  h.comm_id = comm_id_;
  h.msg_id = msg;
  h.count = index;
  wire::seal(h);
  return h;
}

void MultiRailConnection::queue_ctrl(int rail, const FrameHeader& h,
                                     std::shared_ptr<std::string> payload) {
  Frame f;
  std::memcpy(f.head.data(), &h, sizeof(h));
  f.head_len = sizeof(h);
  if (payload) {
    f.payload = reinterpret_cast<const std::byte*>(payload->data());
    f.payload_len = payload->size();
    f.owned = std::move(payload);
  }
  rails_[rail].ctrlq.push_back(std::move(f));
}

// The frame to write next on s: finish a started frame first; control frames go between chunk
// frames; chunks already acknowledged through another rail are skipped.
MultiRailConnection::Frame* MultiRailConnection::next_frame(RailState& s) {
  while (true) {
    if (s.writing_ctrl) return &s.ctrlq.front();
    if (!s.sendq.empty() && s.sendq.front().started) return &s.sendq.front();
    if (!s.ctrlq.empty()) {
      s.writing_ctrl = true;
      return &s.ctrlq.front();
    }
    if (s.sendq.empty()) return nullptr;
    Frame& f = s.sendq.front();
    if (f.is_chunk) {
      auto it = out_.find(f.msg);
      const int here = static_cast<int>(&s - rails_.data());
      if (it == out_.end() || it->second.done[f.index] || it->second.rail[f.index] != here) {
        s.sendq.pop_front();
        continue;
      }
    }
    return &f;
  }
}

void MultiRailConnection::pop_frame(RailState& s) {
  if (s.writing_ctrl) {
    s.ctrlq.pop_front();
    s.writing_ctrl = false;
  } else {
    s.sendq.pop_front();
  }
}

bool MultiRailConnection::progress_sends(int rail) {
  RailState& s = rails_[rail];
  bool moved = false;
  while (Frame* f = next_frame(s)) {
    const std::size_t total = f->head_len + f->payload_len;
    std::size_t n;
    if (f->written < f->head_len) {
      n = s.link.stream->write_some2(f->head.data() + f->written, f->head_len - f->written,
                                     f->payload, f->payload_len);
    } else {
      n = s.link.stream->write_some(f->payload + (f->written - f->head_len), total - f->written);
    }
    if (n == 0) break;
    moved = true;
    if (s.link.counters) s.link.counters->sent.fetch_add(n, std::memory_order_relaxed);
    s.last_progress = Clock::now();
    // Traced: the chunk's span runs from its first byte on the wire to its last.
    if (f->trace && !f->started) f->trace_start_ns = telemetry::steady_now_ns();
    f->started = true;
    f->written += n;
    if (f->written < total) break;
    const bool chunk = f->is_chunk;
    const uint64_t msg = f->msg;
    const uint32_t index = f->index;
    if (f->trace && chunk) {
      f->trace->rail(s.link.local.name.c_str(), rail, peer_, f->payload_len, f->trace_start_ns,
                     telemetry::steady_now_ns());
    }
    pop_frame(s);
    if (chunk) {
      auto it = out_.find(msg);
      if (it != out_.end() && it->second.rail[index] == rail) {
        it->second.written[index] = true;
        maybe_complete_send(msg, it->second);
      }
    }
  }
  return moved;
}

// Completes m's request once nothing of it waits to be written: the sender may then reuse its
// buffer, so chunks still unacknowledged are copied first.
void MultiRailConnection::maybe_complete_send(uint64_t msg, OutMsg& m) {
  if (!m.request || m.next < m.chunks) return;
  for (uint32_t i = 0; i < m.chunks; ++i) {
    if (!m.done[i] && (m.rail[i] < 0 || !m.written[i])) return;
  }
  detach_frames(msg);
  if (m.acked < m.chunks && m.length > 0) {
    m.copy.reset(new std::byte[m.length]);
    for (uint32_t i = 0; i < m.chunks; ++i) {
      if (m.done[i]) continue;
      const std::size_t offset = i * options_.chunk_bytes;
      std::memcpy(m.copy.get() + offset, m.data + offset, chunk_length(m, i));
    }
    m.data = m.copy.get();
  }
  m.request->written = m.length;
  m.request->done = true;
  m.request = nullptr;
}

// Nothing queued may point into m's memory any more: a started frame finishes from a copy,
// stale unstarted ones go.
void MultiRailConnection::detach_frames(uint64_t msg) {
  for (auto& s : rails_) {
    own_partial_front(s, msg, false);
    std::erase_if(s.sendq, [msg](const Frame& f) { return f.is_chunk && f.msg == msg; });
  }
}

// A chunk frame cut off mid-way must still be finished on its stream (the receiver expects the
// rest of it), but the sender's memory may go away: keep a private copy of the rest. With
// any_msg false only a frame of message `msg` is copied.
void MultiRailConnection::own_partial_front(RailState& s, uint64_t msg, bool any_msg) {
  if (s.sendq.empty()) return;
  Frame& f = s.sendq.front();
  if (!f.started || !f.is_chunk || (!any_msg && f.msg != msg)) return;
  auto rest = std::make_shared<std::string>();
  if (f.written < f.head_len) {
    rest->assign(reinterpret_cast<const char*>(f.head.data()) + f.written, f.head_len - f.written);
    if (f.payload_len > 0) rest->append(reinterpret_cast<const char*>(f.payload), f.payload_len);
  } else {
    rest->assign(reinterpret_cast<const char*>(f.payload) + (f.written - f.head_len),
                 f.head_len + f.payload_len - f.written);
  }
  f.head_len = 0;
  f.written = 0;
  f.payload = reinterpret_cast<const std::byte*>(rest->data());
  f.payload_len = rest->size();
  f.owned = std::move(rest);
  f.is_chunk = false;  // now just bytes that finish a frame
}

void MultiRailConnection::on_ack(int rail, const FrameHeader& h) {
  if (h.flags == wire::kAckPing) {
    queue_ctrl(rail, ack_header(0, 0, wire::kAckPong), nullptr);
    return;
  }
  if (h.flags == wire::kAckPong) {
    if (!sched_.in_service(rail)) rejoin(rail);
    return;
  }
  if (h.flags == wire::kAckBusy) {
    on_refused(h);
    return;
  }
  if (h.flags == wire::kAckCorrupt) {
    on_corrupt(rail, h);
    return;
  }
  auto it = out_.find(h.msg_id);
  if (it == out_.end()) return;  // a late duplicate of a finished message
  OutMsg& m = it->second;
  if (h.count >= m.chunks) {
    throw ProtocolError(fmt::format("rank {} acknowledged chunk {} of message {}, which has {}",
                                    peer_, h.count, h.msg_id, m.chunks));
  }
  const auto index = static_cast<uint32_t>(h.count);
  if (m.done[index]) return;
  m.done[index] = true;
  ++m.acked;
  if (peer_busy_ && refused_.empty()) {  // the peer takes data again
    peer_busy_ = false;
    retry_pause_ = std::chrono::microseconds(500);
  }
  if (m.rail[index] >= 0) sched_.on_acked(m.rail[index], chunk_length(m, index));
  if (m.acked == m.chunks) finish_send(h.msg_id);
}

void MultiRailConnection::on_refused(const FrameHeader& h) {
  auto it = out_.find(h.msg_id);
  if (it == out_.end()) return;
  OutMsg& m = it->second;
  if (h.count >= m.chunks) {
    throw ProtocolError(fmt::format("rank {} refused chunk {} of message {}, which has {}", peer_,
                                    h.count, h.msg_id, m.chunks));
  }
  const auto index = static_cast<uint32_t>(h.count);
  if (m.done[index] || m.rail[index] < 0) return;  // acknowledged by another copy, or queued
  sched_.on_refused(m.rail[index], chunk_length(m, index));
  m.rail[index] = -1;
  m.written[index] = false;
  refused_.emplace_back(h.msg_id, index);
  ++refused_chunks_;
  // The peer's buffer frees only as its application posts receives: back off up to 20 ms.
  if (!peer_busy_) retry_pause_ = std::chrono::microseconds(500);
  peer_busy_ = true;
  retry_at_ = Clock::now() + retry_pause_;
  retry_pause_ =
      std::min<std::chrono::microseconds>(retry_pause_ * 2, std::chrono::milliseconds(20));
}

void MultiRailConnection::on_corrupt(int rail, const FrameHeader& h) {
  auto it = out_.find(h.msg_id);
  if (it == out_.end()) return;
  OutMsg& m = it->second;
  if (h.count >= m.chunks) {
    throw ProtocolError(fmt::format("rank {} reported chunk {} of message {} corrupted; it has {}",
                                    peer_, h.count, h.msg_id, m.chunks));
  }
  const auto index = static_cast<uint32_t>(h.count);
  if (m.done[index] || m.rail[index] < 0) return;
  const int was = m.rail[index];
  // A link that corrupts every copy would loop forever: after a few resends the op fails.
  constexpr int kMaxCorruptResends = 8;
  if (++corrupt_resends_[h.msg_id] > kMaxCorruptResends) {
    throw ProtocolError(fmt::format(
        "data corrupted in flight: chunks of message {} to rank {} failed their CRC32C check {} "
        "times (last on {}); giving up",
        h.msg_id, peer_, kMaxCorruptResends, rail_name(was)));
  }
  RAILCC_WARN("net",
              "rank {} found chunk {} of message {} corrupted in flight on {} (CRC32C mismatch); "
              "sending it again",
              peer_, index, h.msg_id, rail_name(was));
  sched_.on_refused(was, chunk_length(m, index));
  m.rail[index] = -1;
  m.written[index] = false;
  avoid_rail_[{h.msg_id, index}] = was;
  resend_.emplace_front(h.msg_id, index);
  ++corrupt_chunks_;
  (void)rail;
}

void MultiRailConnection::finish_send(uint64_t msg) {
  auto it = out_.find(msg);
  detach_frames(msg);
  if (it->second.request) {
    it->second.request->written = it->second.length;
    it->second.request->done = true;
  }
  out_.erase(it);
  corrupt_resends_.erase(msg);
}

}  // namespace railcc::transport
