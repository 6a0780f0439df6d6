#include "transport/verbs/verbs_stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "railcc/status.hpp"
#include "src/common/deadline.h"
#include "src/common/log.h"
#include "transport/verbs/user_buffers.h"
#include "transport/verbs/verbs_errors.h"

namespace railcc::transport::verbs {
namespace {

// wr_id = kind << 56 | detail (bytes of a write, slot of a receive).
enum WrKind : uint64_t { kWrite = 1, kCredit = 2, kRecv = 3 };
constexpr uint64_t wr_id(WrKind kind, uint64_t detail) { return kind << 56 | detail; }
constexpr WrKind wr_kind(uint64_t id) { return static_cast<WrKind>(id >> 56); }
constexpr uint64_t wr_detail(uint64_t id) { return id & ((uint64_t{1} << 56) - 1); }

// A credit message: how far the receiver has read, and how many writes it has seen.
struct Credit {
  uint64_t consumed;
  uint64_t writes_seen;
};
constexpr std::size_t kSlot = sizeof(Credit);

std::size_t round_to_pages(std::size_t n) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

}  // namespace

std::string QpInfo::to_string() const {
  std::string gid_hex;
  for (uint8_t b : gid.raw) gid_hex += fmt::format("{:02x}", b);
  return fmt::format("{} {} {} {} {} {} {} {}", qpn, lid, gid_hex, psn, mtu, ring_addr, ring_rkey,
                     ring_bytes);
}

QpInfo QpInfo::parse(const std::string& text, const std::string& what) {
  QpInfo q;
  std::istringstream in(text);
  std::string gid_hex;
  unsigned lid = 0, mtu = 0;
  in >> q.qpn >> lid >> gid_hex >> q.psn >> mtu >> q.ring_addr >> q.ring_rkey >> q.ring_bytes;
  if (!in || gid_hex.size() != 32 || q.ring_bytes == 0 || mtu < IBV_MTU_256 || mtu > IBV_MTU_4096) {
    throw ProtocolError(fmt::format("malformed queue-pair address from {}: '{}'", what, text));
  }
  for (int i = 0; i < 16; ++i) {
    q.gid.raw[i] = static_cast<uint8_t>(std::stoul(gid_hex.substr(2 * i, 2), nullptr, 16));
  }
  q.lid = static_cast<uint16_t>(lid);
  q.mtu = static_cast<uint8_t>(mtu);
  return q;
}

VerbsStream::VerbsStream(std::shared_ptr<VerbsPort> port, int peer, std::size_t ring_bytes,
                         std::string who, std::size_t zcopy_bytes)
    : port_(std::move(port)),
      api_(port_->api()),
      peer_(peer),
      who_(std::move(who)),
      ring_bytes_(ring_bytes),
      zcopy_bytes_(zcopy_bytes) {
  try {
    channel_ = api_.create_comp_channel(port_->context());
    if (!channel_) fail_setup("ibv_create_comp_channel", errno);
    // get_cq_event is called only to clear a wake-up: it must never block the engine.
    fcntl(channel_->fd, F_SETFL, fcntl(channel_->fd, F_GETFL) | O_NONBLOCK);
    cq_ = api_.create_cq(port_->context(), kSendDepth + kRecvDepth, this, channel_, 0);
    if (!cq_) fail_setup("ibv_create_cq", errno);
    ibv_qp_init_attr init{};
    init.send_cq = cq_;
    init.recv_cq = cq_;
    init.qp_type = IBV_QPT_RC;
    init.cap.max_send_wr = kSendDepth;
    init.cap.max_recv_wr = kRecvDepth;
    init.cap.max_send_sge = 1;
    init.cap.max_recv_sge = 1;
    qp_ = api_.create_qp(port_->pd(), &init);
    if (!qp_) fail_setup("ibv_create_qp", errno);
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_INIT;
    attr.pkey_index = 0;
    attr.port_num = static_cast<uint8_t>(port_->port());
    attr.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;
    if (int rc = api_.modify_qp(
            qp_, &attr, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS)) {
      fail_setup("moving the queue pair to INIT", rc);
    }
    ring_ = allocate(ring_bytes_, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
    stage_ = allocate(ring_bytes_, IBV_ACCESS_LOCAL_WRITE);
    control_ = allocate(round_to_pages((kSendDepth + kRecvDepth) * kSlot), IBV_ACCESS_LOCAL_WRITE);
    // Receives may be posted before the connection exists; the peer's first write needs one.
    for (uint32_t slot = 0; slot < kRecvDepth; ++slot) post_recv(slot);
  } catch (...) {
    teardown();
    throw;
  }
  std::random_device rd;
  local_.qpn = qp_->qp_num;
  local_.lid = port_->lid();
  local_.gid = port_->gid();
  local_.psn = rd() & 0xffffff;
  local_.mtu = static_cast<uint8_t>(port_->active_mtu());
  local_.ring_addr = reinterpret_cast<uintptr_t>(ring_.data);
  local_.ring_rkey = ring_.mr->rkey;
  local_.ring_bytes = ring_bytes_;
}

VerbsStream::~VerbsStream() {
  // RDMA has no kernel buffer behind it: a write still in flight dies with the queue pair. Let
  // the last data writes land (a peer still reads them) before tearing down, for a bounded time.
  // Credits are not waited for: the peer may be gone already, and they would only time out.
  if (connected_ && failure_.empty() && write_done_ < sent_) {
    const Deadline until = Deadline::after(std::chrono::seconds(2));
    while (failure_.empty() && write_done_ < sent_ && !until.expired()) {
      if (poll() == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
  teardown();
}

void VerbsStream::teardown() {
  if (qp_) {
    port_->events().forget_qp(qp_->qp_num);
    api_.destroy_qp(qp_);
  }
  if (cq_) api_.destroy_cq(cq_);
  if (channel_) api_.destroy_comp_channel(channel_);
  qp_ = nullptr, cq_ = nullptr, channel_ = nullptr;
  free_buffer(ring_);
  free_buffer(stage_);
  free_buffer(control_);
}

void VerbsStream::fail_setup(const char* what, int err) const {
  throw SystemError(fmt::format("{} failed on {} for the connection to {}: {}", what,
                                port_->describe(), who_, std::strerror(err)));
}

VerbsStream::Buffer VerbsStream::allocate(std::size_t bytes, int access) {
  Buffer b;
  b.bytes = round_to_pages(bytes);
  b.data = static_cast<std::byte*>(
      std::aligned_alloc(static_cast<std::size_t>(sysconf(_SC_PAGESIZE)), b.bytes));
  if (!b.data) {
    throw SystemError(
        fmt::format("out of memory allocating a {}-byte RDMA ring for {}", b.bytes, who_));
  }
  std::memset(b.data, 0, b.bytes);
  try {
    b.mr = port_->cache().acquire(b.data, b.bytes, access);
  } catch (...) {
    std::free(b.data);
    throw;
  }
  return b;
}

void VerbsStream::free_buffer(Buffer& b) {
  if (!b.data) return;
  port_->cache().release(b.mr);
  port_->cache().invalidate(b.data, b.bytes);
  std::free(b.data);
  b = Buffer{};
}

void VerbsStream::connect(const QpInfo& remote) {
  remote_ = remote;
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_RTR;
  attr.path_mtu = static_cast<ibv_mtu>(std::min<int>(local_.mtu, remote.mtu));
  attr.dest_qp_num = remote.qpn;
  attr.rq_psn = remote.psn;
  attr.max_dest_rd_atomic = 1;
  attr.min_rnr_timer = 12;  // 0.64 ms before the peer retries a write we had no receive for
  attr.ah_attr.port_num = static_cast<uint8_t>(port_->port());
  attr.ah_attr.dlid = remote.lid;
  if (port_->roce()) {  // RoCE routes by GID (a GRH on every packet); InfiniBand by LID
    attr.ah_attr.is_global = 1;
    attr.ah_attr.grh.dgid = remote.gid;
    attr.ah_attr.grh.sgid_index = static_cast<uint8_t>(port_->gid_index());
    attr.ah_attr.grh.hop_limit = 255;
  }
  if (int rc =
          api_.modify_qp(qp_, &attr,
                         IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
                             IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER)) {
    fail_setup("moving the queue pair to RTR", rc);
  }
  attr = ibv_qp_attr{};
  attr.qp_state = IBV_QPS_RTS;
  attr.timeout = 14;  // 4.096 us * 2^14 = 67 ms per try
  attr.retry_cnt = 7;
  attr.rnr_retry = 7;  // receiver not ready: retry forever (credits keep it rare)
  attr.sq_psn = local_.psn;
  attr.max_rd_atomic = 1;
  if (int rc = api_.modify_qp(qp_, &attr,
                              IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
                                  IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC)) {
    fail_setup("moving the queue pair to RTS", rc);
  }
  connected_ = true;
}

void VerbsStream::post_recv(uint32_t slot) {
  ibv_sge sge{};
  sge.addr = reinterpret_cast<uintptr_t>(control_.data + (kSendDepth + slot) * kSlot);
  sge.length = kSlot;
  sge.lkey = control_.mr->lkey;
  ibv_recv_wr wr{};
  wr.wr_id = wr_id(kRecv, slot);
  wr.sg_list = &sge;
  wr.num_sge = 1;
  ibv_recv_wr* bad = nullptr;
  if (int rc = api_.post_recv(qp_, &wr, &bad)) {
    if (!connected_) fail_setup("ibv_post_recv", rc);
    break_stream(fmt::format("ibv_post_recv failed on {} for peer {}: {}", port_->describe(), peer_,
                             std::strerror(rc)));
  }
}

void VerbsStream::break_stream(std::string why) {
  if (!failure_.empty()) return;
  failure_ = std::move(why);
  // Not a warning by itself: a peer that already closed its communicator makes our last credit
  // fail too. The connection reports it when this stream is still needed (check_alive, rails).
  RAILCC_DEBUG("net", "{}: {}", who_, failure_);
}

void VerbsStream::check_port_events() {
  PortEvents& events = port_->events();
  events.poll();
  if (!events.trouble() || !failure_.empty() || !qp_) return;
  if (std::string event = events.qp_failure(qp_->qp_num); !event.empty()) {
    break_stream(fmt::format("peer {} unreachable on {} (queue pair 0x{:x} failed: {})", peer_,
                             port_->describe(), qp_->qp_num, event));
  } else if (port_down_fatal_) {
    if (std::string event = events.port_down(); !event.empty()) {
      break_stream(
          fmt::format("peer {} unreachable on {} (port down: {}; no other port to fail over to)",
                      peer_, port_->describe(), event));
    }
  }
}

std::string VerbsStream::link_down() {
  check_port_events();
  if (!port_->events().trouble()) return {};
  const std::string event = port_->events().port_down();
  return event.empty() ? event : fmt::format("{} is down ({})", port_->describe(), event);
}

int VerbsStream::poll() {
  if (!cq_) return 0;
  check_port_events();
  if (armed_) {
    // Clear the channel so poll() sleeps again; each event re-arms nothing by itself.
    ibv_cq* ev_cq = nullptr;
    void* ev_ctx = nullptr;
    while (api_.get_cq_event(channel_, &ev_cq, &ev_ctx) == 0) {
      api_.ack_cq_events(ev_cq, 1);
      armed_ = false;
    }
  }
  int handled = 0;
  ibv_wc wc[32];
  for (int pass = 0; pass < 2; ++pass) {
    while (true) {
      const int n = api_.poll_cq(cq_, 32, wc);
      if (n < 0) {
        break_stream(fmt::format("ibv_poll_cq failed on {} for peer {}", port_->describe(), peer_));
        return handled;
      }
      for (int i = 0; i < n; ++i) on_completion(wc[i]);
      handled += n;
      if (n < 32) break;
    }
    if (handled > 0 || armed_) break;
    // Empty: arm the CQ so the channel wakes a sleeping engine, then look once more for a
    // completion that slipped in before the arming.
    if (api_.req_notify_cq(cq_, 0) == 0) armed_ = true;
  }
  if (handled > 0) maybe_send_credit(false);
  return handled;
}

void VerbsStream::on_completion(const ibv_wc& wc) {
  const WrKind kind = wr_kind(wc.wr_id);
  if (kind == kWrite || kind == kCredit) --sends_outstanding_;
  if (kind == kWrite) {
    // Completed either way (a failed or flushed write is not read any more): in-place bytes
    // up to here are the caller's again. Send completions arrive in posting order.
    write_finished_ += wr_detail(wc.wr_id);
    while (!in_place_.empty() && in_place_.front().second <= write_finished_) {
      in_place_.pop_front();
    }
  }
  if (wc.status != IBV_WC_SUCCESS) {
    // Flushes follow the first error; that first one is the cause worth reporting.
    if (wc.status != IBV_WC_WR_FLUSH_ERR || failure_.empty()) {
      const char* during = kind == kWrite    ? "RDMA write with immediate"
                           : kind == kCredit ? "credit send"
                                             : "receive";
      break_stream(completion_error(peer_, port_->hca(), port_->port(), wc, during));
    }
    return;
  }
  switch (kind) {
    case kWrite:
      write_done_ += wr_detail(wc.wr_id);
      break;
    case kCredit:
      break;
    case kRecv: {
      const auto slot = static_cast<uint32_t>(wr_detail(wc.wr_id));
      if (wc.opcode == IBV_WC_RECV_RDMA_WITH_IMM) {
        arrived_ += ntohl(wc.imm_data);
        ++writes_seen_;
        if (arrived_ - consumed_ > ring_bytes_) {
          break_stream(fmt::format("peer {} overran our {}-byte ring on {} (protocol error)", peer_,
                                   ring_bytes_, port_->describe()));
        }
      } else {
        Credit c;
        std::memcpy(&c, control_.data + (kSendDepth + slot) * kSlot, sizeof(c));
        peer_consumed_ = std::max(peer_consumed_, c.consumed);
        peer_writes_seen_ = std::max(peer_writes_seen_, c.writes_seen);
      }
      if (failure_.empty()) post_recv(slot);
      break;
    }
  }
}

void VerbsStream::maybe_send_credit(bool force) {
  if (!connected_ || !failure_.empty() || sends_outstanding_ >= kSendDepth) return;
  const bool bytes_due = consumed_ - credited_bytes_ >= ring_bytes_ / 4;
  const bool writes_due = writes_seen_ - credited_writes_ >= kWriteWindow / 4;
  if (!bytes_due && !writes_due && !force) return;
  const Credit c{consumed_, writes_seen_};
  std::byte* slot = control_.data + (credits_posted_ % kSendDepth) * kSlot;
  std::memcpy(slot, &c, sizeof(c));
  ibv_sge sge{};
  sge.addr = reinterpret_cast<uintptr_t>(slot);
  sge.length = kSlot;
  sge.lkey = control_.mr->lkey;
  ibv_send_wr wr{};
  wr.wr_id = wr_id(kCredit, 0);
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_SEND;
  wr.send_flags = IBV_SEND_SIGNALED;
  ibv_send_wr* bad = nullptr;
  if (int rc = api_.post_send(qp_, &wr, &bad)) {
    break_stream(fmt::format("ibv_post_send (credit) failed on {} for peer {}: {}",
                             port_->describe(), peer_, std::strerror(rc)));
    return;
  }
  ++credits_posted_;
  ++sends_outstanding_;
  credited_bytes_ = consumed_;
  credited_writes_ = writes_seen_;
}

std::size_t VerbsStream::writable() const {
  if (!connected_ || !failure_.empty()) return 0;
  // Staging bytes are free once written here and read there; one send slot stays for credits.
  if (writes_posted_ - peer_writes_seen_ >= static_cast<uint64_t>(kWriteWindow) ||
      sends_outstanding_ >= kSendDepth - 1) {
    return 0;
  }
  const uint64_t released = std::min(peer_consumed_, write_done_);
  return ring_bytes_ - static_cast<std::size_t>(sent_ - released);
}

void VerbsStream::post_write(const void* a, std::size_t na, const void* b, std::size_t nb) {
  const auto* pa = static_cast<const std::byte*>(a);
  const auto* pb = static_cast<const std::byte*>(b);
  std::size_t left = na + nb;
  while (left > 0) {
    const std::size_t off = static_cast<std::size_t>(sent_ % ring_bytes_);
    const std::size_t take = std::min({left, ring_bytes_ - off, kMaxWrite});
    // Gather from the two pieces into the staging ring.
    std::size_t copied = 0;
    while (copied < take) {
      if (na > 0) {
        const std::size_t c = std::min(na, take - copied);
        std::memcpy(stage_.data + off + copied, pa, c);
        pa += c, na -= c, copied += c;
      } else {
        const std::size_t c = std::min(nb, take - copied);
        std::memcpy(stage_.data + off + copied, pb, c);
        pb += c, nb -= c, copied += c;
      }
    }
    ibv_sge sge{};
    sge.addr = reinterpret_cast<uintptr_t>(stage_.data + off);
    sge.length = static_cast<uint32_t>(take);
    sge.lkey = stage_.mr->lkey;
    post_ring_write(sge, off);
    zero_copy_counters().staged_bytes.fetch_add(take, std::memory_order_relaxed);
    left -= take;
  }
}

void VerbsStream::post_write_in_place(const void* data, std::size_t n, uint32_t lkey) {
  ibv_sge sge{};
  sge.addr = reinterpret_cast<uintptr_t>(data);
  sge.length = static_cast<uint32_t>(n);
  sge.lkey = lkey;
  const uint64_t first = sent_;
  post_ring_write(sge, static_cast<std::size_t>(sent_ % ring_bytes_));
  in_place_.emplace_back(first, sent_);
  zero_copy_counters().in_place_bytes.fetch_add(n, std::memory_order_relaxed);
}

void VerbsStream::post_ring_write(const ibv_sge& sge, std::size_t off) {
  ibv_sge copy = sge;
  ibv_send_wr wr{};
  wr.wr_id = wr_id(kWrite, sge.length);
  wr.sg_list = &copy;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
  wr.send_flags = IBV_SEND_SIGNALED;
  wr.imm_data = htonl(sge.length);
  wr.wr.rdma.remote_addr = remote_.ring_addr + off;
  wr.wr.rdma.rkey = remote_.ring_rkey;
  ibv_send_wr* bad = nullptr;
  if (int rc = api_.post_send(qp_, &wr, &bad)) {
    throw SystemError(fmt::format("ibv_post_send (RDMA write) failed on {} for peer {}: {}",
                                  port_->describe(), peer_, std::strerror(rc)));
  }
  sent_ += sge.length;
  ++writes_posted_;
  ++sends_outstanding_;
}

std::size_t VerbsStream::write_some(const void* data, std::size_t n) {
  return write_some2(data, n, nullptr, 0);
}

std::size_t VerbsStream::write_some2(const void* a, std::size_t na, const void* b, std::size_t nb) {
  return write_pieces(a, na, b, nb, std::nullopt);
}

std::size_t VerbsStream::write_some2_in_place(const void* a, std::size_t na, const void* b,
                                              std::size_t nb) {
  // Small pieces are cheaper to copy than to look up, and unregistered memory must be copied:
  // only registration tells us when the application may free or remap it.
  if (zcopy_bytes_ == 0 || nb < zcopy_bytes_) return write_pieces(a, na, b, nb, std::nullopt);
  return write_pieces(a, na, b, nb, port_->user_buffers().find(b, nb));
}

std::size_t VerbsStream::write_pieces(const void* a, std::size_t na, const void* b, std::size_t nb,
                                      std::optional<uint32_t> lkey) {
  poll();
  std::size_t done = 0;
  // Each round fills what the ring and the window allow; one write per contiguous piece. With
  // `lkey` the header travels alone, staged, and the payload from where it is.
  while (done < na + nb) {
    std::size_t room = writable();
    if (room == 0) break;
    const std::size_t off = static_cast<std::size_t>(sent_ % ring_bytes_);
    room = std::min({room, na + nb - done, ring_bytes_ - off, kMaxWrite});
    const auto* pa = static_cast<const std::byte*>(a);
    const auto* pb = static_cast<const std::byte*>(b);
    if (done < na) {
      const std::size_t from_a = std::min(room, na - done);
      if (lkey) room = from_a;
      post_write(pa + done, from_a, pb, room - from_a);
    } else if (lkey) {
      post_write_in_place(pb + (done - na), room, *lkey);
    } else {
      post_write(pb + (done - na), room, nullptr, 0);
    }
    done += room;
  }
  return done;
}

std::span<const std::byte> VerbsStream::peek() {
  poll();
  const std::size_t off = static_cast<std::size_t>(consumed_ % ring_bytes_);
  const std::size_t n = std::min<std::size_t>(arrived_ - consumed_, ring_bytes_ - off);
  return {ring_.data + off, n};
}

void VerbsStream::consume(std::size_t n) {
  consumed_ += n;
  maybe_send_credit(false);
}

int VerbsStream::poll_fd() const { return channel_ ? channel_->fd : -1; }

bool VerbsStream::peer_gone() {
  poll();
  // Asked while the engine waits on this peer: RDMA shows no sign of a dead peer until we send
  // to it, so send a credit (harmless, idempotent) now and then; an unanswered one fails with
  // "retry exceeded" and breaks the stream well before RAILCC_TIMEOUT.
  const auto now = std::chrono::steady_clock::now();
  if (connected_ && failure_.empty() && now - last_probe_ >= std::chrono::milliseconds(100)) {
    last_probe_ = now;
    maybe_send_credit(true);
  }
  return !failure_.empty() && arrived_ == consumed_;
}

}  // namespace railcc::transport::verbs
