// A Connection to one peer over several independent rails (one Stream per rail, each bound to
// that rail's interface).
//
// Sending: every message is cut into chunks of RAILCC_RAIL_CHUNK_BYTES (a smaller message is one
// chunk) and each chunk is handed to the rail the RailScheduler picks, so large messages stripe
// over all rails in proportion to their measured throughput. A chunk travels as a kChunk frame:
// the usual FrameHeader plus a ChunkInfo (offset, index), so the receiver places it wherever it
// arrives from. The receiver acknowledges every whole chunk (kAck); a send is done when all its
// chunks are acknowledged, and until then the sender can resend any of them.
//
// Failover: a rail whose link goes down, or that stops moving while the peer still answers on
// other rails (RAILCC_RAIL_TIMEOUT), is taken out of service with a warning naming it; its
// unacknowledged chunks are resent on the others and the receiver drops the copies it already
// has. An out-of-service rail is probed (kAck ping/pong) and rejoins once it answers. When no
// rail is left for RAILCC_RAIL_TIMEOUT the op fails with an error naming every rail and the peer.
#pragma once

#include <array>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "transport/connection.h"
#include "transport/multirail/chunk_info.h"
#include "transport/multirail/rail_scheduler.h"
#include "transport/multirail/rail_spec.h"
#include "transport/stream.h"

namespace railcc::telemetry {
struct ChannelCounters;
class TraceRecorder;
}  // namespace railcc::telemetry

namespace railcc::transport {

// One rail to the peer: our end and the stream over it.
struct RailLink {
  RailSpec local;            // our interface and address
  std::string peer_address;  // the peer's address on this rail (for messages)
  std::unique_ptr<Stream> stream;
  // Bytes written and read on this rail, headers included (telemetry; null = not counted).
  telemetry::ChannelCounters* counters = nullptr;
};

class MultiRailConnection final : public Connection {
 public:
  struct Options {
    std::size_t chunk_bytes = 128 * 1024;         // RAILCC_RAIL_CHUNK_BYTES
    std::chrono::milliseconds rail_timeout{500};  // RAILCC_RAIL_TIMEOUT
  };
  // Interface methods: see transport/connection.h.
  MultiRailConnection(int my_rank, int peer, uint64_t comm_id, std::vector<RailLink> rails,
                      Options options);
  ~MultiRailConnection() override;

  int peer() const override { return peer_; }
  void post_send(SendRequest* r) override;
  void inject_fault(Fault f) override;
  void post_recv(RecvRequest* r) override;
  bool progress() override;
  void abandon_requests() override;
  void send_error(ErrorCode code, const std::string& message) override;
  bool has_pending_sends() const override;
  bool has_unacked() override;
  bool has_pending_recvs() const override { return !posted_.empty(); }
  void add_poll_fds(std::vector<pollfd>& fds) const override;
  void check_alive() override;
  bool needs_peer() const override;
  uint64_t max_seq_seen() const override { return max_seq_seen_; }
  std::string describe() const override;
  Blocker blocking_rail() const override;

  // Takes a rail out of service as if its link had gone down (tests; the health check).
  void fail_rail(int rail, const std::string& why);
  const RailScheduler& scheduler() const { return sched_; }
  // Chunks sent again after their rail failed, since the start (tests, logs).
  uint64_t resent_chunks() const { return resent_chunks_; }

 private:
  static constexpr std::size_t kMaxHead = sizeof(wire::FrameHeader) + sizeof(ChunkInfo);

  // One frame queued on a rail.
  struct Frame {
    std::array<std::byte, kMaxHead> head{};
    std::size_t head_len = 0;
    const std::byte* payload = nullptr;
    std::size_t payload_len = 0;
    std::size_t written = 0;
    bool started = false;
    bool is_chunk = false;  // a chunk of msg/index, written from the sender's memory
    telemetry::TraceRecorder* trace = nullptr;  // RAILCC_TRACE: record a span per chunk
    uint64_t trace_start_ns = 0;
    uint64_t msg = 0;
    uint32_t index = 0;
    std::shared_ptr<std::string> owned;  // bytes this frame owns (error text, a cut-off tail)
  };
  // A message being sent. Its request completes once every chunk is written (as on a plain
  // stream); chunks not yet acknowledged then live on in `copy` until they are, so they can still
  // be resent.
  struct OutMsg {
    SendRequest* request = nullptr;             // null once completed
    telemetry::TraceRecorder* trace = nullptr;  // the request's, kept for resends
    wire::FrameHeader header{};
    const std::byte* data = nullptr;  // the request's buffer, then `copy`
    std::size_t length = 0;
    std::unique_ptr<std::byte[]> copy;
    uint32_t chunks = 1;
    uint32_t next = 0;          // first chunk never assigned to a rail
    uint32_t acked = 0;         // chunks the receiver confirmed
    std::vector<int8_t> rail;   // rail carrying each chunk; -1 = waiting to be (re)sent
    std::vector<bool> written;  // wholly written on rail[i]
    std::vector<bool> done;     // acknowledged
  };
  // A message being received.
  struct InMsg {
    wire::FrameHeader header{};
    uint64_t total = 0;
    uint32_t chunks = 1;
    uint32_t got = 0;
    std::vector<bool> done;
    RecvRequest* target = nullptr;
    bool buffered = false;  // chunks land in `buffer` (arrived before the receive was posted)
    Clock::time_point first_rx{};  // its first chunk began arriving (blocking_rail)
    std::vector<std::byte> buffer;
  };
  enum class Sink { kNone, kDiscard, kDirect, kStage, kError };
  struct RailState {
    RailLink link;
    std::deque<Frame> sendq;  // chunk frames; the front may be partly written
    std::deque<Frame> ctrlq;  // acks, probes, errors: slipped in between chunk frames
    bool writing_ctrl = false;
    std::string down_reason;  // empty while in service
    Clock::time_point last_progress{}, last_rx{}, last_ping{};
    Clock::time_point slow_since{}, last_slow_warning{};  // slow-rail detection
    // Incoming frame.
    std::array<std::byte, kMaxHead> head{};
    std::size_t head_got = 0;
    bool in_payload = false;
    std::size_t payload_got = 0;
    Sink sink = Sink::kNone;
    uint64_t chunk_msg = 0;  // the chunk being read (kDirect, kStage)
    uint32_t chunk_index = 0;
    std::byte* direct = nullptr;
    std::vector<std::byte> stage;
    std::string error_text;
  };

  // Sending (multirail_send.cc).
  void schedule();
  void assign(uint64_t msg, OutMsg& m, uint32_t index, int rail);
  bool progress_sends(int rail);
  Frame* next_frame(RailState& s);
  void pop_frame(RailState& s);
  void on_ack(int rail, const wire::FrameHeader& h);
  void maybe_complete_send(uint64_t msg, OutMsg& m);
  void detach_frames(uint64_t msg);
  void finish_send(uint64_t msg);
  void own_partial_front(RailState& s, uint64_t msg, bool any_msg);
  void queue_ctrl(int rail, const wire::FrameHeader& h, std::shared_ptr<std::string> payload);
  wire::FrameHeader ack_header(uint64_t msg, uint32_t index, uint8_t flags) const;
  std::size_t chunk_length(const OutMsg& m, uint32_t index) const;
  // Receiving (multirail_receive.cc).
  bool progress_recvs(int rail);
  void on_frame(int rail);
  void on_chunk(int rail, const wire::FrameHeader& h, const ChunkInfo& c);
  void finish_chunk(int rail);
  void complete(uint64_t msg);
  bool is_completed(uint64_t msg) const;
  void mark_completed(uint64_t msg);
  // Health (multirail_health.cc).
  bool awaits_ack_on(int rail) const;
  void check_health(Clock::time_point now);
  // Names a rail that keeps moving at a fraction of the fastest one (warning + metric).
  void check_slow_rails(Clock::time_point now);
  void rejoin(int rail);
  int any_rail_in_service(int except) const;
  [[noreturn]] void throw_no_rails() const;
  std::string rail_name(int rail) const;

  int my_rank_;
  int peer_;
  uint64_t comm_id_;
  Options options_;
  std::vector<RailState> rails_;
  RailScheduler sched_;
  uint64_t next_send_id_ = 0;
  uint64_t next_recv_id_ = 0;
  std::map<uint64_t, OutMsg> out_;
  std::deque<std::pair<uint64_t, uint32_t>> resend_;
  std::map<uint64_t, RecvRequest*> posted_;
  std::map<uint64_t, InMsg> incoming_;
  uint64_t completed_below_ = 0;  // every message below this id is complete
  std::set<uint64_t> completed_above_;
  uint64_t max_seq_seen_ = 0;
  uint64_t resent_chunks_ = 0;
  Clock::time_point next_health_{};
  Clock::time_point last_probe_{};
  Clock::time_point no_rails_since_{};  // when the last rail went out of service
  Clock::time_point last_weights_log_{};
  int stalled_rail_ = -1;  // RAILCC_FAULT=stall: this rail moves nothing
};

}  // namespace railcc::transport
