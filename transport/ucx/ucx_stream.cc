#include "transport/ucx/ucx_stream.h"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "railcc/status.hpp"
#include "src/common/deadline.h"
#include "src/common/log.h"

namespace railcc::transport::ucx {

UcxStream::UcxStream(std::shared_ptr<UcxWorker> worker, int peer,
                     const std::vector<uint8_t>& peer_address, int peer_pid,
                     std::size_t stage_bytes, std::string who)
    : worker_(std::move(worker)),
      api_(worker_->api()),
      peer_(peer),
      peer_pid_(peer_pid),
      who_(std::move(who)),
      stage_(new std::byte[stage_bytes]),
      stage_bytes_(stage_bytes) {
#ifdef SYS_pidfd_open
  // Readable once the process exits, even before its parent reaps it (kill(pid, 0) still
  // succeeds on a zombie).
  if (peer_pid_ > 0) pidfd_.reset(static_cast<int>(syscall(SYS_pidfd_open, peer_pid_, 0)));
#endif
  ucp_ep_params_t p{};
  p.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                 UCP_EP_PARAM_FIELD_ERR_HANDLER;
  p.address = reinterpret_cast<const ucp_address_t*>(peer_address.data());
  // PEER: UCX reports a dead or unreachable peer to on_error instead of hanging. Not for a peer
  // on this host (see the header): its pidfd tells, and shared memory stays usable.
  p.err_mode = peer_pid_ > 0 ? UCP_ERR_HANDLING_MODE_NONE : UCP_ERR_HANDLING_MODE_PEER;
  // The worker, not this stream, is the callback's argument: an endpoint whose close did not
  // finish can still report an error after its stream is gone (seen under ASan), and the worker
  // outlives every stream and knows which ones are alive.
  p.err_handler.cb = &UcxStream::on_error;
  p.err_handler.arg = worker_.get();
  if (ucs_status_t st = api_.ep_create(worker_->handle(), &p, &ep_); st != UCS_OK) {
    ep_ = nullptr;
    throw ConfigError(fmt::format(
        "rank {}: UCX cannot reach {}: ucp_ep_create failed: {} ({}); no transport in UCX_TLS "
        "connects the two (`ucx_info -d` lists what this host has)",
        worker_->rank(), who_, ucx_status_text(api_, st), worker_->settings()));
  }
  worker_->attach(peer_, this);
}

UcxStream::~UcxStream() {
  worker_->detach(peer_);
  release_rx();
  // A peer process that died without saying goodbye (see UcxWorker::note_peer_failed).
  if (!closed_ && failure_.empty()) note_if_exited();
  if (!closed_ && peer_died_) worker_->note_peer_failed();
  if (!ep_) return;
  // A completed send only means UCX took the bytes; let what is still queued reach the peer (it
  // may be reading our last message), for a bounded time, then close the endpoint.
  if (failure_.empty() && !closed_ && !pieces_.empty()) {
    const Deadline until = Deadline::after(std::chrono::seconds(2));
    while (failure_.empty() && !closed_ && !pieces_.empty() && !until.expired()) {
      if (worker_->progress() == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
      reap();
    }
  }
  // A peer that said goodbye or failed needs nothing more from us: no flush, no goodbye.
  const bool force = closed_ || !failure_.empty();
  if (!force) send_goodbye(Goodbye::kClosed);
  close_endpoint(force, 2000);
}

void UcxStream::send_goodbye(Goodbye::Kind kind) {
  const Goodbye g{worker_->rank(), kind};
  ucp_request_param_t param{};
  void* req = api_.am_send_nbx(ep_, Goodbye::kAmId, &g, sizeof(g), nullptr, 0, &param);
  if (!UCS_PTR_IS_PTR(req)) return;  // sent (or failed: the peer is gone anyway)
  const Deadline until = Deadline::after(std::chrono::milliseconds(200));
  while (api_.request_check_status(req) == UCS_INPROGRESS && !until.expired()) {
    if (worker_->progress() == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  api_.request_free(req);
}

void UcxStream::on_goodbye(Goodbye::Kind kind) {
  if (kind == Goodbye::kDropped) {
    break_stream(fmt::format("{} dropped the connection on purpose (RAILCC_FAULT)", who_));
  } else {
    closed_ = true;
    RAILCC_DEBUG("net", "rank {}: {} closed its UCX endpoint", worker_->rank(), who_);
  }
}

void UcxStream::on_error(void* arg, ucp_ep_h ep, ucs_status_t status) {
  static_cast<UcxWorker*>(arg)->on_endpoint_error(ep, status);
}

bool UcxStream::on_endpoint_error(ucp_ep_h ep, ucs_status_t status) {
  if (ep == nullptr || ep != ep_) return false;
  break_stream(
      fmt::format("UCX reported {} on the endpoint to {}", ucx_status_text(api_, status), who_));
  return true;
}

void UcxStream::break_stream(std::string why) {
  if (!failure_.empty()) return;
  failure_ = std::move(why);
  // Not a warning by itself: a peer that closed its communicator resets our endpoint too. The
  // connection reports it when this stream is still needed (check_alive).
  RAILCC_DEBUG("net", "rank {}: {}", worker_->rank(), failure_);
}

void UcxStream::close_endpoint(bool force, int limit_ms) {
  // Every piece still in flight completes (canceled when forced) with the close.
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  param.flags = force ? UCP_EP_CLOSE_FLAG_FORCE : 0;
  void* req = api_.ep_close_nbx(ep_, &param);
  ep_ = nullptr;
  if (UCS_PTR_IS_PTR(req)) {
    const Deadline until = Deadline::after(std::chrono::milliseconds(limit_ms));
    while (api_.request_check_status(req) == UCS_INPROGRESS && !until.expired()) {
      if (worker_->progress() == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    // Still in progress after the limit: UCX frees it when it completes (or with the worker).
    api_.request_free(req);
  }
  bool all_done = true;
  for (Piece& p : pieces_) {
    if (!p.request) continue;
    all_done &= api_.request_check_status(p.request) != UCS_INPROGRESS;
    api_.request_free(p.request);
  }
  pieces_.clear();
  released_ = posted_;
  // A send UCX still holds (a zero-copy one) may read the staging ring until the worker goes:
  // leave the ring to it rather than free memory under it (only after a close that timed out).
  if (!all_done) static_cast<void>(stage_.release());
}

void UcxStream::release_rx() {
  if (rx_ && ep_) api_.stream_data_release(ep_, rx_);
  rx_ = nullptr;
  rx_len_ = rx_off_ = 0;
}

void UcxStream::reap() {
  while (!pieces_.empty()) {
    Piece& p = pieces_.front();
    if (p.request) {
      const ucs_status_t st = api_.request_check_status(p.request);
      if (st == UCS_INPROGRESS) return;
      api_.request_free(p.request);
      p.request = nullptr;
      if (st != UCS_OK) {
        break_stream(fmt::format("UCX send to {} failed: {}", who_, ucx_status_text(api_, st)));
      }
    }
    released_ = p.end;
    pieces_.pop_front();
  }
}

std::size_t UcxStream::write_some(const void* data, std::size_t n) {
  return write_some2(data, n, nullptr, 0);
}

std::size_t UcxStream::write_some2(const void* a, std::size_t na, const void* b, std::size_t nb) {
  // Like a socket whose peer is gone: check_alive reports it while the peer is still needed.
  if (!ep_ || closed_ || !failure_.empty()) return 0;
  reap();
  if (posted_ - released_ == stage_bytes_) {
    worker_->progress();
    reap();
  }
  const auto* pa = static_cast<const std::byte*>(a);
  const auto* pb = static_cast<const std::byte*>(b);
  std::size_t done = 0;
  // At most one ring's worth per call, even when UCX completes every send at once (it copied
  // the bytes): bounds the time one call takes and keeps the caller's loop fair to other peers.
  while (done < na + nb && done < stage_bytes_ && failure_.empty()) {
    const std::size_t free_bytes = stage_bytes_ - static_cast<std::size_t>(posted_ - released_);
    const std::size_t off = static_cast<std::size_t>(posted_ % stage_bytes_);
    const std::size_t take = std::min({na + nb - done, free_bytes, stage_bytes_ - off, kMaxSend});
    if (take == 0) break;
    // Gather this piece from the two inputs into the ring.
    std::size_t copied = 0;
    while (copied < take) {
      const std::size_t at = done + copied;
      const std::byte* src = at < na ? pa + at : pb + (at - na);
      const std::size_t avail = at < na ? na - at : na + nb - at;
      const std::size_t c = std::min(avail, take - copied);
      std::memcpy(stage_.get() + off + copied, src, c);
      copied += c;
    }
    ucp_request_param_t param{};
    void* req = api_.stream_send_nbx(ep_, stage_.get() + off, take, &param);
    if (UCS_PTR_IS_ERR(req)) {
      break_stream(fmt::format("ucp_stream_send_nbx to {} failed: {}", who_,
                               ucx_status_text(api_, UCS_PTR_STATUS(req))));
      break;
    }
    posted_ += take;
    done += take;
    if (req != nullptr || !pieces_.empty()) pieces_.push_back({req, posted_});
    if (req == nullptr && pieces_.empty()) released_ = posted_;  // sent at once, nothing before
  }
  return done;
}

std::span<const std::byte> UcxStream::peek() {
  if (rx_ && rx_off_ < rx_len_) return {rx_ + rx_off_, rx_len_ - rx_off_};
  release_rx();
  if (!ep_) return {};
  worker_->progress();
  std::size_t len = 0;
  void* data = api_.stream_recv_data_nb(ep_, &len);
  if (UCS_PTR_IS_ERR(data)) {
    break_stream(fmt::format("ucp_stream_recv_data_nb from {} failed: {}", who_,
                             ucx_status_text(api_, UCS_PTR_STATUS(data))));
    return {};
  }
  if (data == nullptr || len == 0) return {};
  rx_ = static_cast<std::byte*>(data);
  rx_len_ = len;
  rx_off_ = 0;
  return {rx_, rx_len_};
}

bool UcxStream::has_work() {
  if (!ep_) return false;
  if (rx_ && rx_off_ < rx_len_) return true;
  const uint64_t released = released_;
  reap();
  if (released_ != released) return true;
  if (rx_) return false;
  std::size_t len = 0;
  void* data = api_.stream_recv_data_nb(ep_, &len);
  if (data == nullptr || UCS_PTR_IS_ERR(data)) return false;  // an error: peek() reports it
  rx_ = static_cast<std::byte*>(data);
  rx_len_ = len;
  rx_off_ = 0;
  return len > 0;
}

void UcxStream::consume(std::size_t n) {
  rx_off_ += n;
  if (rx_off_ >= rx_len_) release_rx();  // UCX reuses the buffer at once
}

bool UcxStream::peer_gone() {
  if (ep_) {
    worker_->progress();
    reap();
  }
  if (failure_.empty()) note_if_exited();
  return (closed_ || !failure_.empty()) && peek().empty();
}

void UcxStream::note_if_exited() {
  if (!peer_exited()) return;
  peer_died_ = true;
  break_stream(fmt::format("{} exited (process {} is gone)", who_, peer_pid_));
}

bool UcxStream::peer_exited() const {
  if (peer_pid_ <= 0) return false;
  if (pidfd_) {
    pollfd p{pidfd_.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }
  return ::kill(peer_pid_, 0) != 0 && errno == ESRCH;
}

void UcxStream::inject_drop() {
  RAILCC_WARN("net", "RAILCC_FAULT: dropping the connection to {}", who_);
  release_rx();
  const bool healthy = failure_.empty();
  break_stream(fmt::format("connection to {} dropped on purpose (RAILCC_FAULT)", who_));
  if (!ep_) return;
  if (healthy) send_goodbye(Goodbye::kDropped);
  close_endpoint(!healthy, 200);
}

}  // namespace railcc::transport::ucx
