#include "transport/ucx/ucx_worker.h"

#include <fmt/format.h>

#include <cstring>

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
  if (ucs_status_t st = api_.worker_get_efd(worker_, &efd_); st != UCS_OK) {
    efd_ = -1;
    RAILCC_DEBUG("net", "rank {}: ucp_worker_get_efd failed ({}); idle waits poll every 10 ms",
                 rank_, ucx_status_text(api_, st));
  }
  RAILCC_DEBUG("net", "rank {}: UCX worker {} ready ({}, address {} bytes)", rank_, o_.what,
               settings(), address_.size());
}

UcxWorker::~UcxWorker() {
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

unsigned UcxWorker::progress() {
  armed_ = false;
  const unsigned n = api_.worker_progress(worker_);
  events_ += n;
  return n;
}

int UcxWorker::wait_fd() {
  if (efd_ < 0) return efd_;
  if (events_ > 0) {
    // UCX handled events since the last wait, maybe while the engine was looking at another
    // peer's stream: bytes may sit in a stream's queue, or a send may have completed, without
    // any new event to come. Do not sleep on them: one more pass of the engine looks.
    events_ = 0;
    armed_ = false;
    api_.worker_signal(worker_);
    return efd_;
  }
  if (armed_) return efd_;
  const ucs_status_t st = api_.worker_arm(worker_);
  if (st == UCS_OK) {
    armed_ = true;
  } else if (st == UCS_ERR_BUSY) {
    // Events are waiting to be progressed: make the fd readable so the engine does not sleep.
    api_.worker_signal(worker_);
  } else {
    RAILCC_DEBUG("net", "rank {}: ucp_worker_arm failed: {}", rank_, ucx_status_text(api_, st));
    api_.worker_signal(worker_);
  }
  return efd_;
}

}  // namespace railcc::transport::ucx
