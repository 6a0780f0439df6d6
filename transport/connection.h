// Asynchronous, ordered messaging with one peer: the requests every transport takes and the
// Connection interface the engine drives.
//
// Messages are numbered per connection; a receive posted as the n-th receive matches the n-th
// message. Messages that arrive before their receive is posted are buffered. Every header is
// validated and compared with what the receiver expects (op, sequence number, count, data type,
// reduce op, root, tag, length), so ranks that disagree get a MismatchError instead of silently
// wrong data.
#pragma once

#include <poll.h>

#include <cstddef>
#include <string>
#include <vector>

#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"
#include "railcc/status.hpp"
#include "transport/wire_format.h"

namespace railcc::telemetry {
struct ChannelCounters;
class TraceRecorder;
}  // namespace railcc::telemetry

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
  int peer = -1;  // set by the algorithm layer, for telemetry
  // RAILCC_TRACE: where the transport records per-rail spans of this message (null: not traced),
  // and when the algorithm posted it and first saw it done (its step span).
  telemetry::TraceRecorder* trace = nullptr;
  uint64_t trace_posted_ns = 0, trace_done_ns = 0;
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
  // RAILCC_TRACE: where deliver() records reduce-kernel spans (null: not traced), and the step
  // span's ends (see SendRequest).
  telemetry::TraceRecorder* trace = nullptr;
  uint64_t trace_posted_ns = 0, trace_done_ns = 0;
  // Filled in by the connection.
  uint64_t msg_id = 0;
  std::size_t received = 0;
  bool done = false;
};

// One peer as the engine and the algorithms see it, whatever carries the bytes: a
// StreamConnection (one or more streams, message m on stream m % K) or a MultiRailConnection
// (every large message striped over independent rails). All calls are non-blocking and made
// from the communicator's worker thread.
class Connection {
 public:
  virtual ~Connection() = default;

  virtual int peer() const = 0;
  virtual void post_send(SendRequest* r) = 0;
  virtual void post_recv(RecvRequest* r) = 0;
  // Moves whatever bytes can move now. Returns true if anything moved. Throws railcc::Error on a
  // broken stream, a bad header, a mismatch or an error reported by the peer.
  virtual bool progress() = 0;
  // After a failure: forgets every request of the failed op (their memory is about to go away).
  // A frame already partly written is finished from a private copy so the stream stays framed
  // and an error frame can still follow; a payload being received is read and dropped.
  virtual void abandon_requests() = 0;
  // Best effort: queue an error frame so the peer fails its op with our message.
  virtual void send_error(ErrorCode code, const std::string& message) = 0;
  virtual bool has_pending_sends() const = 0;
  virtual bool has_pending_recvs() const = 0;
  virtual void add_poll_fds(std::vector<pollfd>& fds) const = 0;
  // Throws PeerFailureError if the peer is gone while this rank still needs it.
  virtual void check_alive() = 0;
  virtual bool needs_peer() const = 0;
  // Highest collective sequence number seen from this peer (0 = none): proof it reached that op.
  virtual uint64_t max_seq_seen() const = 0;
  // telemetry::ticks() when the first frame of collective max_seq_seen() arrived (0: unknown).
  // Against an op's start it tells a peer that came late from one whose bytes take long to move.
  virtual uint64_t max_seq_first_ticks() const { return 0; }
  virtual std::string describe() const = 0;
  // True when large messages to and from this peer move by single copy (shared memory with
  // cross-memory attach, see StreamConnection::enable_single_copy).
  virtual bool single_copy() const { return false; }
  // Sent data the peer has not confirmed yet and that this end still holds a copy of, to resend
  // on another rail if the one it went out on fails. A closing communicator waits for it.
  // False once the peer is gone (nothing would ever confirm it).
  virtual bool has_unacked() { return false; }
  // Acknowledgements still to be written: the peer's sends complete only once they are.
  virtual bool has_pending_control() const { return false; }
  // Fault injection (RAILCC_FAULT, tests only): kDrop closes every stream to the peer, kRail
  // only the first rail of a multi-rail connection, kCorrupt flips one payload byte of the next
  // message sent, kStall stops moving bytes on the first rail (the whole connection when it has
  // one path) while its link stays up.
  enum class Fault { kDrop, kRail, kCorrupt, kStall };
  virtual void inject_fault(Fault f) = 0;
  // Counts the payload bytes of every message into `c` (telemetry); null = not counted.
  virtual void set_channel(telemetry::ChannelCounters* c) { (void)c; }
  // Flight recorder: the rail holding this connection up while the engine waits on the peer
  // (it owes data and has moved nothing for longest), or rail -1 when no one rail is to blame
  // (a single-path connection, or the peer itself is silent). `name` lives as long as the
  // connection. Called only when a wait sleeps, so it may scan.
  struct Blocker {
    int rail = -1;
    const char* name = nullptr;
  };
  virtual Blocker blocking_rail() const { return {}; }
};

// Throws MismatchError (or ProtocolError for a foreign communicator) when the header `h` from
// `peer` does not describe the op the receive r expects.
void check_expectation(const wire::FrameHeader& h, const RecvRequest& r, int my_rank, int peer,
                       uint64_t comm_id);
// Copies `n` payload bytes to r's destination at `offset`, or reduces them into it.
void deliver(RecvRequest* r, std::size_t offset, const std::byte* src, std::size_t n);

}  // namespace railcc::transport
