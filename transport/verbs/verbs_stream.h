// A Stream over one reliable-connected queue pair: the byte stream every railcc transport
// provides, so StreamConnection (framing, matching, reductions) and MultiRailConnection (one
// port per rail) run over RDMA unchanged.
//
// Data: the receiver exposes a registered ring (RAILCC_IB_RING_BYTES); the sender copies bytes
// into a registered staging ring at the same offsets and RDMA-WRITEs them into the peer's ring
// with an immediate holding the byte count, in pieces of at most kMaxWrite. The immediate makes
// the receiver's HCA consume a posted receive and raise a completion, and RC delivers in order,
// so the receiver knows exactly which bytes have landed.
//
// Zero copy: write_some2_in_place RDMA-writes a large piece straight from the caller's memory
// when it lies inside a buffer the application registered (RAILCC_IB_ZCOPY_BYTES, user_buffers.h)
// with that buffer's lkey, into the same ring offsets a staged write would use; released() then
// holds back at the first such write not yet completed, so the caller keeps the memory unchanged
// until the HCA has read it. Flow control is the same for both paths.
//
// Flow control: the receiver returns credits with a small SEND (bytes consumed, writes seen)
// whenever a quarter of the ring or of the write window has been consumed. The sender never has
// more than ring-size bytes unconsumed nor kWriteWindow writes unacknowledged, so it never
// overruns the ring nor the receiver's posted receives.
//
// Completions are polled from the stream's calls (the progress engine's loop); when the CQ is
// empty it is armed, and poll_fd() (the completion channel) wakes an idle engine. A failed
// completion breaks the stream: failure() then names the peer, HCA, port and verbs status, and
// peer_gone() turns true once the bytes that did arrive are read.
#pragma once

#include <infiniband/verbs.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "transport/stream.h"
#include "transport/verbs/verbs_port.h"

namespace railcc::transport::verbs {

// What a peer needs to connect to one of our queue pairs (exchanged through the store).
struct QpInfo {
  uint32_t qpn = 0;
  uint16_t lid = 0;
  ibv_gid gid{};
  uint32_t psn = 0;
  uint8_t mtu = 0;  // ibv_mtu
  uint64_t ring_addr = 0;
  uint32_t ring_rkey = 0;
  uint64_t ring_bytes = 0;

  std::string to_string() const;
  // Throws ProtocolError naming `what` when `text` is not a QpInfo.
  static QpInfo parse(const std::string& text, const std::string& what);
};

class VerbsStream final : public Stream {
 public:
  static constexpr std::size_t kMaxWrite = 128 * 1024;  // largest single RDMA write
  static constexpr int kWriteWindow = 64;               // writes in flight to the peer's ring
  static constexpr int kSendDepth = 2 * kWriteWindow;   // send queue: writes and credit messages
  static constexpr int kRecvDepth = 2 * kWriteWindow;   // posted receives: immediates and credits

  // Creates the queue pair (INIT) and its rings on `port`. `peer` is the peer's rank; `who` names
  // it in messages, e.g. "rank 3 (verbs mlx5_0 port 1, QP 1/2)".
  // `zcopy_bytes`: the smallest piece written in place (0: never, see RAILCC_IB_ZCOPY_BYTES).
  VerbsStream(std::shared_ptr<VerbsPort> port, int peer, std::size_t ring_bytes, std::string who,
              std::size_t zcopy_bytes = 0);
  ~VerbsStream() override;

  QpInfo local_info() const { return local_; }
  // Moves the queue pair to RTR and RTS towards `remote` and posts the receives. Throws
  // SystemError or ProtocolError naming the HCA, port and peer.
  void connect(const QpInfo& remote);

  std::size_t write_some(const void* data, std::size_t n) override;
  std::size_t write_some2(const void* a, std::size_t na, const void* b, std::size_t nb) override;
  std::size_t write_some2_in_place(const void* a, std::size_t na, const void* b,
                                   std::size_t nb) override;
  uint64_t released() const override { return in_place_.empty() ? sent_ : in_place_.front().first; }
  std::span<const std::byte> peek() override;
  void consume(std::size_t n) override;
  int poll_fd() const override;
  bool peer_gone() override;
  std::string failure() const override { return failure_; }
  // Set while the port's last event took it down ("mlx5_0 port 1 is down
  // (IBV_EVENT_PORT_ERR)"); clears when it is ACTIVE again.
  std::string link_down() override;
  // With `fatal`, the port going down breaks the stream at once (single port: there is no other
  // rail to fail over to, and waiting only ends in "retry exceeded" or RAILCC_TIMEOUT). Without
  // (a multi-rail rail), it only reports link_down() so the rail can rejoin when the port is back.
  void set_port_down_fatal(bool fatal) { port_down_fatal_ = fatal; }
  // This end only: the peer finds out through its failed writes or its idle probes.
  void inject_drop() override { break_stream("dropped on purpose (RAILCC_FAULT)"); }
  std::string describe() const override { return who_; }

 private:
  struct Buffer {
    std::byte* data = nullptr;
    std::size_t bytes = 0;
    ibv_mr* mr = nullptr;
  };
  Buffer allocate(std::size_t bytes, int access);
  void free_buffer(Buffer& b);
  void teardown();  // destroys whatever was created (destructor, failed constructor)
  // Polls the CQ (and the completion channel); returns completions handled.
  int poll();
  // Reads the port's async events (rate-limited in PortEvents) and breaks the stream on a fatal
  // one: its queue pair or device failed, or (port_down_fatal_) its port went down.
  void check_port_events();
  void on_completion(const ibv_wc& wc);
  void post_recv(uint32_t slot);
  // Sends a credit when a quarter of the ring or window is due, or always with `force` (a probe).
  void maybe_send_credit(bool force);
  std::size_t writable() const;
  // Copies n bytes (from up to two pieces) into the staging ring and posts the write(s).
  void post_write(const void* a, std::size_t na, const void* b, std::size_t nb);
  // write_some2 and its in-place form: pieces as large as the ring and write window allow; with
  // `lkey` (the payload `b` lies in a registered buffer) the payload goes straight from `b`.
  std::size_t write_pieces(const void* a, std::size_t na, const void* b, std::size_t nb,
                           std::optional<uint32_t> lkey);
  // Posts one write of n bytes read in place from `data` (registered with `lkey`).
  void post_write_in_place(const void* data, std::size_t n, uint32_t lkey);
  // Posts the RDMA write with immediate of `sge` to the peer's ring at `off`.
  void post_ring_write(const ibv_sge& sge, std::size_t off);
  void break_stream(std::string why);
  [[noreturn]] void fail_setup(const char* what, int err) const;

  std::shared_ptr<VerbsPort> port_;
  VerbsApi& api_;
  int peer_;
  std::string who_;
  std::size_t ring_bytes_;
  std::size_t zcopy_bytes_;
  ibv_comp_channel* channel_ = nullptr;
  ibv_cq* cq_ = nullptr;
  ibv_qp* qp_ = nullptr;
  Buffer ring_;     // the peer writes here
  Buffer stage_;    // we write from here
  Buffer control_;  // credit messages: kSendDepth outgoing slots, then kRecvDepth incoming
  QpInfo local_, remote_;
  bool connected_ = false;
  bool armed_ = false;
  bool port_down_fatal_ = false;
  // Sending (byte counters run from 0 for the life of the stream).
  uint64_t sent_ = 0;            // bytes posted
  uint64_t write_done_ = 0;      // bytes whose write completed here (staging reusable)
  uint64_t write_finished_ = 0;  // bytes whose write completed, with success or not
  // In-place writes not yet completed, as [first, last) byte counts: the HCA may still read them.
  std::deque<std::pair<uint64_t, uint64_t>> in_place_;
  uint64_t peer_consumed_ = 0;     // bytes the peer has read (its last credit)
  uint64_t writes_posted_ = 0;     // RDMA writes posted
  uint64_t peer_writes_seen_ = 0;  // writes the peer has seen complete (its last credit)
  int sends_outstanding_ = 0;      // send-queue entries not yet completed
  uint64_t credits_posted_ = 0;
  // Receiving.
  uint64_t arrived_ = 0;          // bytes landed in our ring
  uint64_t consumed_ = 0;         // bytes read from it
  uint64_t writes_seen_ = 0;      // immediates received
  uint64_t credited_bytes_ = 0;   // consumed_ as of our last credit message
  uint64_t credited_writes_ = 0;  // writes_seen_ as of our last credit message
  std::string failure_;           // why the stream broke; empty while healthy
  std::chrono::steady_clock::time_point last_probe_{};  // see peer_gone()
};

}  // namespace railcc::transport::verbs
