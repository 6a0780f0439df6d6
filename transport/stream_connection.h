// A Connection over one or more Streams (shared memory, or several tcp sockets to one address).
//
// Message m travels whole on stream m % streams, so several sockets carry a pipelined op in
// parallel while each stream stays FIFO.
#pragma once

#include <poll.h>

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "transport/connection.h"
#include "transport/stream.h"

namespace railcc::transport {

class StreamConnection final : public Connection {
 public:
  // Interface methods: see transport/connection.h.
  StreamConnection(int my_rank, int peer, uint64_t comm_id,
                   std::vector<std::unique_ptr<Stream>> streams);
  ~StreamConnection() override;

  int peer() const override { return peer_; }
  void post_send(SendRequest* r) override;
  void post_recv(RecvRequest* r) override;
  bool progress() override;
  void abandon_requests() override;
  void send_error(ErrorCode code, const std::string& message) override;
  bool has_pending_sends() const override;
  bool has_pending_recvs() const override { return !posted_.empty(); }
  void add_poll_fds(std::vector<pollfd>& fds) const override;
  void check_alive() override;
  bool needs_peer() const override;
  uint64_t max_seq_seen() const override { return max_seq_seen_; }
  uint64_t max_seq_first_ticks() const override { return max_seq_ticks_; }
  std::string describe() const override;
  bool single_copy() const override { return single_copy_min_ > 0; }
  bool has_pending_control() const override { return control_queued_ > 0; }
  void set_channel(telemetry::ChannelCounters* c) override { channel_ = c; }
  void inject_fault(Fault f) override;

  // RAILCC_CHECKSUM: every message is followed by a kChecksum frame with the CRC32C of its
  // payload, and a receive completes only once the CRC of what arrived matches. Both ends must
  // enable it (every rank reads the same config).
  void enable_checksums() { checksums_ = true; }

  // RAILCC_MAX_UNEXPECTED_BYTES: how many payload bytes of messages that arrived before their
  // receive was posted this connection may buffer. Beyond it, a stream whose next message has no
  // receive yet stops being read until one is posted (or buffered messages are claimed): the data
  // waits in the ring or socket, the sender's writes stall, and memory stays bounded however far
  // ahead the peer runs. Posted receives are never held up by this, as a stream carries messages
  // in receive order; while we await the peer's read acknowledgement (single copy) it is not
  // applied, since that acknowledgement may sit behind the message.
  void set_unexpected_limit(std::size_t bytes) { unexpected_limit_ = bytes; }
  std::size_t unexpected_bytes() const { return unexpected_bytes_; }

  // Sends messages of at least `min_bytes` (or asking for it) by reference (kRead frames) and
  // reads the peer's kRead frames from process `peer_pid` by cross-memory attach. Both ends must
  // enable it; mesh setup probes each pair first (see transport/shm/cross_memory.h).
  void enable_single_copy(int peer_pid, std::size_t min_bytes);

 private:
  struct Unexpected {
    wire::FrameHeader header;
    std::vector<std::byte> payload;
    bool complete = false;
    uint64_t remote = 0;            // a kRead frame: the data's address in the peer
    bool has_expected_crc = false;  // its kChecksum frame arrived (RAILCC_CHECKSUM)
    uint32_t expected_crc = 0;
  };
  struct OwnedSend {
    SendRequest request;
    std::string payload;
  };
  struct StreamState {
    std::unique_ptr<Stream> stream;
    std::deque<SendRequest*> sendq;
    // Zero copy: bytes the stream accepted (its write calls' count, see Stream::released()), and
    // the requests fully written in place whose memory it still reads, with the count at their
    // last byte: each is done once released() reaches it, as the caller may then reuse it.
    uint64_t accepted = 0;
    std::deque<std::pair<uint64_t, SendRequest*>> unreleased;
    // Incoming frame being parsed.
    bool in_payload = false;
    wire::FrameHeader header{};
    std::size_t header_got = 0;
    uint64_t next_msg_id = 0;
    RecvRequest* target = nullptr;
    Unexpected* unexpected = nullptr;
    std::string error_text;
    std::size_t payload_got = 0;
    std::byte carry[16];  // one element split across a ring wrap or socket read
    std::size_t carry_len = 0;
    uint64_t read_address = 0;  // payload of an incoming kRead frame
    bool discard = false;       // drop the rest of the current payload (its receive was abandoned)
    uint32_t crc = 0;           // CRC32C of the payload reduced so far (RAILCC_CHECKSUM)
    bool stalled = false;       // header parsed, message unexpected and over the limit: wait
  };

  bool progress_sends(StreamState& s);
  // Completes the in-place sends whose bytes the stream no longer reads; true if any.
  bool finish_released(StreamState& s);
  bool progress_recvs(StreamState& s);
  void on_header(StreamState& s);
  // Whether a message of `length` bytes without a posted receive must wait in its stream.
  bool must_hold_back(std::size_t length) const;
  // Drops a buffered message (handed to its receive) and its share of the limit.
  void erase_unexpected(uint64_t msg_id);
  void finish_payload(StreamState& s);
  void finish_read_frame(StreamState& s);
  // Fetches a kRead message's data from the peer into r (copy or reduce), then acknowledges it.
  // Returns the CRC32C of the data read when checksums are on (else 0).
  uint32_t read_remote(RecvRequest* r, uint64_t address, uint64_t msg_id);
  // r received its whole payload, whose CRC32C is `crc`: done now, or (checksums on) once its
  // kChecksum frame agrees. `expected` is that frame's CRC if it came first.
  void complete_recv(RecvRequest* r, uint32_t crc, const Unexpected* u = nullptr);
  void on_checksum(const wire::FrameHeader& h);
  [[noreturn]] void corrupted(uint64_t msg_id, uint32_t sent, uint32_t got) const;
  void queue_checksum(const SendRequest& r);
  void queue_read_done(uint64_t msg_id);
  // After a failed read: parses what the peer sent next for a short while, so its error frame
  // (if it failed first) is thrown instead of our read error.
  void receive_error_frames();
  std::span<const std::byte> payload_of(const SendRequest& r) const;
  // Copies or reduces `n` payload bytes at `offset` of r from src.
  void deliver(RecvRequest* r, std::size_t offset, const std::byte* src, std::size_t n);
  void check_expectation(const wire::FrameHeader& h, const RecvRequest& r) const;
  std::string who() const;

  int my_rank_;
  int peer_;
  uint64_t comm_id_;
  std::vector<StreamState> streams_;
  uint64_t next_send_id_ = 0;
  uint64_t next_recv_id_ = 0;
  std::map<uint64_t, RecvRequest*> posted_;
  std::map<uint64_t, std::unique_ptr<Unexpected>> unexpected_;
  std::size_t unexpected_bytes_ = 0;  // payload bytes held in unexpected_
  std::size_t unexpected_limit_ = std::size_t{64} << 20;
  std::deque<std::unique_ptr<OwnedSend>> owned_;
  uint64_t max_seq_seen_ = 0;
  uint64_t max_seq_ticks_ = 0;  // when its first frame arrived
  // Single copy (cross-memory attach); off while peer_pid_ is 0.
  int peer_pid_ = 0;
  std::size_t single_copy_min_ = 0;
  std::map<uint64_t, SendRequest*> awaiting_read_;  // kRead frames sent, not yet acknowledged
  int control_queued_ = 0;
  telemetry::ChannelCounters* channel_ = nullptr;
  std::unique_ptr<std::byte[]> bounce_;  // cache-sized staging for reductions of remote data
  bool checksums_ = false;
  std::map<uint64_t, std::pair<RecvRequest*, uint32_t>> awaiting_crc_;  // msg -> (recv, got CRC)
  // RAILCC_FAULT=corrupt: the next message sent leaves with one byte flipped (from this copy).
  bool corrupt_next_ = false;
  bool stalled_ = false;  // RAILCC_FAULT=stall
  const SendRequest* corrupted_request_ = nullptr;
  std::vector<std::byte> corrupted_payload_;
};

}  // namespace railcc::transport
