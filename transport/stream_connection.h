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
  std::string describe() const override;

 private:
  struct Unexpected {
    wire::FrameHeader header;
    std::vector<std::byte> payload;
    bool complete = false;
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
    std::byte carry[16];  // one element split across a ring wrap or socket read
    std::size_t carry_len = 0;
    bool discard = false;  // drop the rest of the current payload (its receive was abandoned)
  };

  bool progress_sends(StreamState& s);
  bool progress_recvs(StreamState& s);
  void on_header(StreamState& s);
  void finish_payload(StreamState& s);
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
};

}  // namespace railcc::transport
