#include "transport/ucx/ucx_worker.h"

#include <fmt/format.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "railcc/status.hpp"
#include "src/common/log.h"
#include "transport/ucx/ucx_stream.h"

namespace railcc::transport::ucx {
const UcxApi& require_ucx(int rank) {
  std::string why;
  const UcxApi* api = ucx_api(&why);
  if (!api) {
    throw ConfigError(fmt::format(
        "rank {}: RAILCC_TRANSPORT=ucx, but {}; unset RAILCC_TRANSPORT (or set it to auto or tcp) "
        "to run without UCX",
        rank, why));
  }
  return *api;
}

std::string UcxWorker::settings() const {
  auto or_all = [](const std::string& v) { return v.empty() ? std::string("all (unset)") : v; };
  return fmt::format("UCX {}, UCX_TLS={}, UCX_NET_DEVICES={}", api_.get_version_string(),
                     or_all(o_.env_tls),
                     o_.net_devices.empty() ? or_all(o_.env_net_devices) : o_.net_devices);
}

UcxWorker::UcxWorker(int rank, Options options)
    : api_(require_ucx(rank)), rank_(rank), o_(std::move(options)) {
  auto fail = [&](const char* call, ucs_status_t st) {
    if (worker_) api_.worker_destroy(worker_);
    if (context_) api_.cleanup(context_);
    throw ConfigError(fmt::format(
        "rank {}: RAILCC_TRANSPORT=ucx, but UCX could not start {}: {} failed: {} ({}). Check "
        "UCX_TLS and UCX_NET_DEVICES (`ucx_info -d` lists what this host has)",
        rank_, o_.what, call, ucx_status_text(api_, st), settings()));
  };
  ucp_config_t* config = nullptr;
  if (ucs_status_t st = api_.config_read(nullptr, nullptr, &config); st != UCS_OK) {
    fail("ucp_config_read", st);
  }
  if (!o_.net_devices.empty()) {
    if (ucs_status_t st = api_.config_modify(config, "NET_DEVICES", o_.net_devices.c_str());
        st != UCS_OK) {
      api_.config_release(config);
      fail("setting UCX_NET_DEVICES", st);
    }
  }
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES;
  // Stream: a byte stream per endpoint, which is what railcc's framing runs over. Wakeup: an fd
  // the engine can sleep on (ucp_worker_get_efd), so idle ranks leave the cores to others.
  // Active messages: the Goodbye a closing stream sends.
  params.features = UCP_FEATURE_STREAM | UCP_FEATURE_WAKEUP | UCP_FEATURE_AM;
  const ucs_status_t init =
      api_.init_version(UCP_API_MAJOR, UCP_API_MINOR, &params, config, &context_);
  api_.config_release(config);
  if (init != UCS_OK) {
    context_ = nullptr;
    fail("ucp_init", init);
  }
  ucp_worker_params_t wp{};
  wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  wp.thread_mode = UCS_THREAD_MODE_SERIALIZED;
  if (ucs_status_t st = api_.worker_create(context_, &wp, &worker_); st != UCS_OK) {
    worker_ = nullptr;
    fail("ucp_worker_create", st);
  }
  ucp_am_handler_param_t am{};
  am.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                  UCP_AM_HANDLER_PARAM_FIELD_ARG;
  am.id = Goodbye::kAmId;
  am.cb = &UcxWorker::on_goodbye;
  am.arg = this;
  if (ucs_status_t st = api_.worker_set_am_recv_handler(worker_, &am); st != UCS_OK) {
    fail("ucp_worker_set_am_recv_handler", st);
  }
  ucp_address_t* addr = nullptr;
  std::size_t len = 0;
  if (ucs_status_t st = api_.worker_get_address(worker_, &addr, &len); st != UCS_OK) {
    fail("ucp_worker_get_address", st);
  }
  const auto* b = reinterpret_cast<const uint8_t*>(addr);
  address_.assign(b, b + len);
  api_.worker_release_address(worker_, addr);
  ready_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!ready_fd_) {
    efd_ = -1;
    RAILCC_DEBUG("net", "rank {}: eventfd failed; idle waits poll every tick", rank_);
  } else if (ucs_status_t st = api_.worker_get_efd(worker_, &efd_); st != UCS_OK) {
    efd_ = -1;
    RAILCC_DEBUG("net", "rank {}: ucp_worker_get_efd failed ({}); idle waits poll every 10 ms",
                 rank_, ucx_status_text(api_, st));
  }
  RAILCC_DEBUG("net", "rank {}: UCX worker {} ready ({}, address {} bytes)", rank_, o_.what,
               settings(), address_.size());
}

UcxWorker::~UcxWorker() {
  if (peer_failed_ && worker_) {
    // Kept reachable (not a leak to LeakSanitizer), never destroyed.
    static std::mutex parked_mutex;
    static auto* parked = new std::vector<std::pair<ucp_worker_h, ucp_context_h>>;
    std::lock_guard lock(parked_mutex);
    parked->emplace_back(worker_, context_);
    RAILCC_DEBUG("net", "rank {}: UCX worker ({}) parked until the process exits: a peer failed",
                 rank_, o_.what);
    return;
  }
  if (worker_) api_.worker_destroy(worker_);
  if (context_) api_.cleanup(context_);
}

ucs_status_t UcxWorker::on_goodbye(void* arg, const void* header, size_t header_length, void*,
                                   size_t, const ucp_am_recv_param_t*) {
  auto* self = static_cast<UcxWorker*>(arg);
  Goodbye g{};
  if (header_length != sizeof(g)) return UCS_OK;  // not ours; nothing to keep
  std::memcpy(&g, header, sizeof(g));
  if (auto it = self->streams_.find(g.from_rank); it != self->streams_.end()) {
    it->second->on_goodbye(static_cast<Goodbye::Kind>(g.kind));
  }
  return UCS_OK;
}

void UcxWorker::on_endpoint_error(ucp_ep_h ep, ucs_status_t status) {
  for (auto& [peer, stream] : streams_) {
    if (stream->on_endpoint_error(ep, status)) return;
  }
  RAILCC_DEBUG("net", "rank {}: UCX reported {} on an endpoint already closed ({})", rank_,
               ucx_status_text(api_, status), o_.what);
}

unsigned UcxWorker::progress() {
  armed_ = false;
  if (ready_pending_) {  // the engine woke: clear the "ready now" signal
    uint64_t n = 0;
    if (::read(ready_fd_.get(), &n, sizeof(n)) < 0) n = 0;
    ready_pending_ = false;
  }
  return api_.worker_progress(worker_);
}

int UcxWorker::ready_now() {
  // Our own eventfd, not ucp_worker_signal: a signal is an event that keeps ucp_worker_arm
  // answering BUSY until progressed, which would wake the engine forever.
  if (!ready_pending_) {
    const uint64_t one = 1;
    if (::write(ready_fd_.get(), &one, sizeof(one)) == sizeof(one)) ready_pending_ = true;
  }
  return ready_fd_.get();
}

int UcxWorker::wait_fd() {
  if (efd_ < 0) return -1;
  if (ready_pending_) return ready_fd_.get();
  if (armed_) return efd_;
  for (int attempt = 0; attempt < 16; ++attempt) {
    // Progress that ran while the engine looked at another peer may have left bytes in a
    // stream's queue or completed a send, and no event is to come for them: do not sleep.
    for (auto& [peer, stream] : streams_) {
      if (stream->has_work()) return ready_now();
    }
    const ucs_status_t st = api_.worker_arm(worker_);
    if (st == UCS_OK) {
      armed_ = true;
      return efd_;
    }
    if (st != UCS_ERR_BUSY) {
      RAILCC_DEBUG("net", "rank {}: ucp_worker_arm failed: {}", rank_, ucx_status_text(api_, st));
      return ready_now();
    }
    progress();  // BUSY: events to handle first, then arm again
  }
  return ready_now();
}

}  // namespace railcc::transport::ucx
