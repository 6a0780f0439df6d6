// A Stream over one UCP endpoint's stream API: the byte stream every railcc transport provides,
// so StreamConnection's framing, checksums and fault injection run over UCX unchanged (and UCX
// picks the wire: tcp, shared memory, or an RDMA NIC on a cluster).
//
// Sending: write_some copies into a staging ring (the caller may reuse its buffer as soon as the
// call returns, but a UCP send holds its buffer until it completes) and posts one
// ucp_stream_send_nbx per contiguous piece; a piece's bytes are reused once it and every piece
// before it completed. A full ring is the back-pressure: write_some returns 0.
//
// Receiving: ucp_stream_recv_data_nb lends the bytes UCX already holds, so peek() shows them in
// place (a reduction reads straight out of UCX's buffer) and consume() gives them back once read.
//
// Failure: the endpoint's error handler records the UCS status; failure() then names the peer
// and the status, and peer_gone() turns true once the bytes that did arrive are read. Endpoints
// to other hosts use UCP_ERR_HANDLING_MODE_PEER. Endpoints to peers on this host do not: UCX
// 1.13's shared-memory transports cannot detect peer failure, so asking for it would rule them
// out (UCX would pick tcp, or nothing with UCX_TLS=sm); those peers are watched by process id
// instead (a pidfd), which notices a killed process at once. A closing stream sends its peer a
// Goodbye active message first (ucx_worker.h), so a normal close or RAILCC_FAULT=drop is seen at
// the other end at once too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "src/common/socket.h"
#include "transport/stream.h"
#include "transport/ucx/ucx_worker.h"

namespace railcc::transport::ucx {

class UcxStream final : public Stream {
 public:
  static constexpr std::size_t kMaxSend = 256 * 1024;  // largest single ucp_stream_send_nbx

  // Connects to the worker at `peer_address` (from the store). `peer_pid` > 0: the peer runs on
  // this host with that pid. `who` names it in messages, e.g. "rank 3 (ucx)". Throws
  // PeerFailureError naming the peer and UCX status when no transport in UCX_TLS reaches it.
  UcxStream(std::shared_ptr<UcxWorker> worker, int peer, const std::vector<uint8_t>& peer_address,
            int peer_pid, std::size_t stage_bytes, std::string who);
  ~UcxStream() override;

  std::size_t write_some(const void* data, std::size_t n) override;
  std::size_t write_some2(const void* a, std::size_t na, const void* b, std::size_t nb) override;
  std::span<const std::byte> peek() override;
  void consume(std::size_t n) override;
  int poll_fd() const override { return worker_->wait_fd(); }
  bool peer_gone() override;
  std::string failure() const override { return failure_; }
  // Closes our endpoint as a pulled cable would: the peer's endpoint fails too
  // (UCS_ERR_CONNECTION_RESET), on its next progress.
  void inject_drop() override;
  std::string describe() const override { return who_; }

  // The peer's Goodbye arrived (see ucx_worker.h): it closed, or dropped us on purpose.
  void on_goodbye(Goodbye::Kind kind);

  // Work UCX finished that no future event will announce: bytes waiting in this endpoint's
  // queue (taken now, peek() returns them), or sends completed since the last look (their
  // staging space released now). Called before the worker sleeps.
  bool has_work();

  // UCX reported an error on `ep` (UcxWorker::on_endpoint_error routes it here): breaks the
  // stream when `ep` is this stream's endpoint, else does nothing and returns false.
  bool on_endpoint_error(ucp_ep_h ep, ucs_status_t status);

  // Bytes posted and not yet completed (tests).
  std::size_t in_flight() const { return static_cast<std::size_t>(posted_ - released_); }

 private:
  struct Piece {
    void* request = nullptr;  // null once complete
    uint64_t end = 0;         // posted_ after this piece
  };
  static void on_error(void* arg, ucp_ep_h ep, ucs_status_t status);
  void reap();  // releases the staging bytes of completed pieces, in order
  void break_stream(std::string why);
  // Closes the endpoint (flushing first unless `force`), waiting at most `limit_ms` for it.
  void close_endpoint(bool force, int limit_ms);
  // Breaks the stream when the peer's process is gone (a death, not a close).
  void note_if_exited();
  void release_rx();
  // Tells the peer we are closing (best effort, bounded), so it does not wait for us.
  void send_goodbye(Goodbye::Kind kind);
  bool peer_exited() const;  // the peer's process on this host is gone

  std::shared_ptr<UcxWorker> worker_;
  const UcxApi& api_;
  int peer_;
  int peer_pid_;
  net::Fd pidfd_;  // the local peer's pidfd, when the kernel has pidfd_open
  std::string who_;
  ucp_ep_h ep_ = nullptr;
  // Sending: a ring of stage_bytes_; byte counters run from 0 for the life of the stream.
  std::unique_ptr<std::byte[]> stage_;
  std::size_t stage_bytes_;
  uint64_t posted_ = 0;
  uint64_t released_ = 0;
  std::deque<Piece> pieces_;
  // Receiving: the data UCX lent us, and how much of it was consumed.
  std::byte* rx_ = nullptr;
  std::size_t rx_len_ = 0, rx_off_ = 0;
  std::string failure_;
  bool peer_died_ = false;  // its process exited (note_if_exited)
  bool closed_ = false;     // the peer said goodbye: gone once its bytes are read
};

}  // namespace railcc::transport::ucx
