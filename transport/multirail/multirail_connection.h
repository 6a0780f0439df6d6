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
// A rail whose stream broke for good (an RDMA queue pair in the error state) and that can be
// re-created (RailLink::redial) gets a new stream, agreed with the peer over another rail,
// before it is probed (multirail_redial.cc).
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
#include "transport/multirail/rail_redial.h"
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
  // Makes a new stream once this one broke for good (null: it cannot be re-created).
  std::unique_ptr<RailRedial> redial;
  // Bytes written and read on this rail, headers included (telemetry; null = not counted).
  telemetry::ChannelCounters* counters = nullptr;
};

class MultiRailConnection final : public Connection {
 public:
  struct Options {
    std::size_t chunk_bytes = 128 * 1024;  // RAILCC_RAIL_CHUNK_BYTES
    // Unacknowledged bytes each rail may hold, in time at its measured rate (RailScheduler).
    // Kernel tcp sockets want 100 ms: on a CPU-bound host (2 cores driving 4 x 1 Gbit/s rails
    // both ways) acknowledgements come tens of ms late, and 20 ms windows collapsed rails to a
    // fifth of their speed (np 2, 64 MiB, 2 rails: 0.16-0.18 GB/s at 20 ms, 0.23 at 100 ms).
    // UCX rails keep 20 ms (ucx_mesh.cc).
    std::chrono::milliseconds window{100};
    std::chrono::milliseconds rail_timeout{500};  // RAILCC_RAIL_TIMEOUT
    // RAILCC_MAX_UNEXPECTED_BYTES: bytes of messages that arrived before their receive was
    // posted that this end buffers. A chunk of a further such message is refused (kAckBusy): the
    // sender keeps it, retries it after a growing pause and starts nothing new meanwhile.
    std::size_t max_unexpected_bytes = std::size_t{64} << 20;
    // RAILCC_CHECKSUM: every chunk carries the CRC32C of its payload; a chunk that fails the
    // check is not used, and the sender sends it again (on another rail where one is in
    // service). Receivers check whatever arrives with a CRC, whatever their own setting.
    bool checksums = false;
    // RAILCC_TIMEOUT: how long re-creating a broken rail waits for the peer's answer before it
    // gives up with a warning (the rail stays out of service and is tried again later).
    std::chrono::milliseconds redial_timeout{300'000};
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
  uint64_t max_seq_first_ticks() const override { return max_seq_ticks_; }
  std::string describe() const override;
  Blocker blocking_rail() const override;

  // Takes a rail out of service as if its link had gone down (tests; the health check).
  void fail_rail(int rail, const std::string& why);
  const RailScheduler& scheduler() const { return sched_; }
  // Chunks sent again after their rail failed, since the start (tests, logs).
  uint64_t resent_chunks() const { return resent_chunks_; }
  // Chunks the peer refused for lack of buffer space (sending side), and the bytes of early
  // messages buffered now (receiving side); tests and logs.
  uint64_t refused_chunks() const { return refused_chunks_; }
  // Chunks the peer found corrupted and that were sent again (RAILCC_CHECKSUM).
  uint64_t corrupt_chunks() const { return corrupt_chunks_; }
  // Streams rail `rail` has had after its first (tests, logs).
  uint32_t rail_epoch(int rail) const { return rails_[rail].epoch; }

  std::size_t buffered_bytes() const { return buffered_bytes_; }

 private:
  // Header, ChunkInfo and (kChunkCrc) the payload's CRC32C padded to 8 bytes.
  static constexpr std::size_t kCrcBytes = 8;
  static constexpr std::size_t kMaxHead = sizeof(wire::FrameHeader) + sizeof(ChunkInfo) + kCrcBytes;

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
  // Where an incoming frame's payload goes; kText: `text` (kError, kRedial frames).
  enum class Sink { kNone, kDiscard, kDirect, kStage, kText };
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
    std::string text;
    bool refused = false;  // the chunk being read is dropped and answered with kAckBusy
    bool has_crc = false;  // the chunk being read carries its CRC32C (kChunkCrc)
    uint32_t crc = 0;
    // Re-creating its stream (multirail_redial.cc). `epoch` counts the streams it has had after
    // the first; both ends move to the same one, so frames about an older one are ignored.
    enum class Redial { kIdle, kOpened, kConnected } redial = Redial::kIdle;
    uint32_t epoch = 0;
    bool peer_ready = false;          // the peer connected its end of `epoch`
    std::unique_ptr<Stream> pending;  // kConnected: the new stream, unused until the peer is ready
    Clock::time_point redial_since{}, redial_after{};
  };

  // Sending (multirail_send.cc).
  void schedule();
  void assign(uint64_t msg, OutMsg& m, uint32_t index, int rail);
  bool progress_sends(int rail);
  Frame* next_frame(RailState& s);
  void pop_frame(RailState& s);
  void on_ack(int rail, const wire::FrameHeader& h);
  // The peer had no room for a chunk: take it back, to retry after a pause.
  void on_refused(const wire::FrameHeader& h);
  // The peer found a chunk corrupted: send it again, avoiding the rail it came over.
  void on_corrupt(int rail, const wire::FrameHeader& h);
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
  // Forgets a message being received, releasing what it buffered.
  std::map<uint64_t, InMsg>::iterator drop_incoming(std::map<uint64_t, InMsg>::iterator it);
  bool is_completed(uint64_t msg) const;
  void mark_completed(uint64_t msg);
  // Re-creating broken rails (multirail_redial.cc).
  // Whether an out-of-service rail needs a new stream (or is getting one) rather than a probe.
  bool needs_redial(int rail) const;
  // The lowest-numbered rail in service but `rail`, or -1: one end's redial frames all go
  // there, so they arrive in the order they were sent.
  int redial_via(int rail) const;
  void start_redial(int rail, uint32_t epoch);
  void on_redial(int via, const wire::FrameHeader& h, const std::string& data);
  void check_redial(int rail, Clock::time_point now);
  void install_stream(int rail, std::unique_ptr<Stream> stream);
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
  uint64_t max_seq_ticks_ = 0;  // when its first chunk arrived
  uint64_t resent_chunks_ = 0;
  // Flow control (RAILCC_MAX_UNEXPECTED_BYTES). Receiving: bytes held by buffered messages.
  // Sending: refused chunks wait in refused_ until retry_at_; while peer_busy_ no new chunk is
  // started, so memory stays bounded on both ends however far ahead this rank runs.
  std::size_t buffered_bytes_ = 0;
  std::deque<std::pair<uint64_t, uint32_t>> refused_;
  bool peer_busy_ = false;
  Clock::time_point retry_at_{};
  std::chrono::microseconds retry_pause_{500};
  uint64_t refused_chunks_ = 0;
  // RAILCC_CHECKSUM (sending side), RAILCC_FAULT=corrupt (the next chunk leaves with a flipped
  // byte), chunks to resend away from the rail that corrupted them, and how often each message
  // had to be resent for corruption (a link that corrupts everything fails the op).
  bool corrupt_next_ = false;
  std::map<std::pair<uint64_t, uint32_t>, int> avoid_rail_;
  std::map<uint64_t, int> corrupt_resends_;
  uint64_t corrupt_chunks_ = 0;
  Clock::time_point next_health_{};
  Clock::time_point last_probe_{};
  Clock::time_point no_rails_since_{};  // when the last rail went out of service
  Clock::time_point last_weights_log_{};
  int stalled_rail_ = -1;  // RAILCC_FAULT=stall: this rail moves nothing
};

}  // namespace railcc::transport
