// Asynchronous, ordered messaging with one peer over one or more Streams.
//
// Messages are numbered per connection; message m travels on stream m % streams, so several
// sockets carry a pipelined op in parallel while each stream stays FIFO. A receive posted as the
// n-th receive matches the n-th message. Messages that arrive before their receive is posted are
// buffered. Every header is validated and compared with what the receiver expects (op, sequence
// number, count, data type, reduce op, root, tag, length), so ranks that disagree get a
// MismatchError instead of silently wrong data.
#pragma once

#include <poll.h>

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"
#include "railcc/status.hpp"
#include "transport/stream.h"
#include "transport/wire_format.h"

namespace railcc::telemetry {
struct ChannelCounters;
}

namespace railcc::transport {

// What a receiver expects the sender's header to say.
struct Expectation {
  wire::OpKind op = wire::OpKind::kNone;
  DataType dtype = DataType::kUint8;
  ReduceOp redop = ReduceOp::kSum;
  uint64_t count = 0;
  int32_t root = -1;
  uint64_t seq = 0;
  uint32_t tag = 0;
  bool check_count = true;  // false for ops whose per-rank counts may differ (all_to_allv)
};

struct SendRequest {
  const std::byte* data = nullptr;
  std::size_t length = 0;
  Expectation what;  // describes the op to the receiver
  // Filled in by the connection.
  wire::FrameHeader header{};
  std::size_t written = 0;
  bool done = false;
  // Send by reference where the connection can (single copy), whatever the size: for
  // algorithms built on the receiver pulling data (see src/algorithms/all_pairs.h).
  bool by_reference = false;
  int peer = -1;              // set by the algorithm layer, for telemetry
  bool raw = false;           // internal: bytes that finish a frame cut short by abandon_requests()
  uint64_t read_address = 0;  // internal: payload of a kRead frame (where the data is)
};

struct RecvRequest {
  std::byte* dst = nullptr;
  std::size_t length = 0;  // exact payload bytes expected
  // When set, dst[i] = reduce_with[i] (op) incoming[i] instead of a copy.
  const std::byte* reduce_with = nullptr;
  Expectation expect;
  int peer = -1;  // set by the algorithm layer, for telemetry
  // Filled in by the connection.
  uint64_t msg_id = 0;
  std::size_t received = 0;
  bool done = false;
};

class Connection {
 public:
  Connection(int my_rank, int peer, uint64_t comm_id, std::vector<std::unique_ptr<Stream>> streams);
  ~Connection();

  int peer() const { return peer_; }
  // Sends messages of at least `min_bytes` by reference (kRead frames) and reads the peer's
  // kRead frames from process `peer_pid` by cross-memory attach. Both ends must enable it;
  // mesh setup probes each pair first (see transport/shm/cross_memory.h).
  void enable_single_copy(int peer_pid, std::size_t min_bytes);
  bool single_copy() const { return single_copy_min_ > 0; }
  // Counts the payload bytes of every message into `c` (telemetry); null = not counted.
  void set_channel(telemetry::ChannelCounters* c) { channel_ = c; }
  void post_send(SendRequest* r);
  void post_recv(RecvRequest* r);
  // Moves whatever bytes can move now. Returns true if anything moved. Throws railcc::Error on a
  // broken stream, a bad header, a mismatch or an error reported by the peer.
  bool progress();
  // After a failure: forgets every request of the failed op (their memory is about to go away).
  // A frame already partly written is finished from a private copy so the stream stays framed
  // and an error frame can still follow; a payload being received is read and dropped.
  void abandon_requests();
  // Best effort: queue an error frame so the peer fails its op with our message.
  void send_error(ErrorCode code, const std::string& message);
  bool has_pending_sends() const;
  // Acknowledgements still to be written: the peer's sends complete only once they are.
  bool has_pending_control() const { return control_queued_ > 0; }
  bool has_pending_recvs() const { return !posted_.empty(); }
  void add_poll_fds(std::vector<pollfd>& fds) const;
  // Throws PeerFailureError if the peer is gone while this rank still needs it.
  void check_alive();
  bool needs_peer() const;
  // Highest collective sequence number seen from this peer (0 = none): proof it reached that op.
  uint64_t max_seq_seen() const { return max_seq_seen_; }
  std::string describe() const;

 private:
  struct Unexpected {
    wire::FrameHeader header;
    std::vector<std::byte> payload;
    bool complete = false;
    uint64_t remote = 0;  // a kRead frame: the data's address in the peer
  };
  struct OwnedSend {
    SendRequest request;
    std::string payload;
  };
  struct StreamState {
    std::unique_ptr<Stream> stream;
    std::deque<SendRequest*> sendq;
    // Incoming frame being parsed.
    bool in_payload = false;
    wire::FrameHeader header{};
    std::size_t header_got = 0;
    uint64_t next_msg_id = 0;
    RecvRequest* target = nullptr;
    Unexpected* unexpected = nullptr;
    std::string error_text;
    std::size_t payload_got = 0;
    std::byte carry[16];        // one element split across a ring wrap or socket read
    uint64_t read_address = 0;  // payload of an incoming kRead frame
    std::size_t carry_len = 0;
    bool discard = false;  // drop the rest of the current payload (its receive was abandoned)
  };

  bool progress_sends(StreamState& s);
  bool progress_recvs(StreamState& s);
  void on_header(StreamState& s);
  void finish_payload(StreamState& s);
  void finish_read_frame(StreamState& s);
  // Fetches a kRead message's data from the peer into r (copy or reduce), then acknowledges it.
  void read_remote(RecvRequest* r, uint64_t address, uint64_t msg_id);
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
  std::deque<std::unique_ptr<OwnedSend>> owned_;
  uint64_t max_seq_seen_ = 0;
  // Single copy (cross-memory attach); off while peer_pid_ is 0.
  int peer_pid_ = 0;
  std::size_t single_copy_min_ = 0;
  std::map<uint64_t, SendRequest*> awaiting_read_;  // kRead frames sent, not yet acknowledged
  int control_queued_ = 0;
  telemetry::ChannelCounters* channel_ = nullptr;
  std::unique_ptr<std::byte[]> bounce_;  // cache-sized staging for reductions of remote data
};

}  // namespace railcc::transport
