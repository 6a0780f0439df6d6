#include <dlfcn.h>
#include <fmt/format.h>

#include <mutex>

#include "transport/ucx/ucx_api.h"

namespace railcc::transport::ucx {
namespace {

struct Loaded {
  UcxApi api;
  std::string why;  // empty once every symbol resolved
};

template <typename F>
bool resolve(void* lib, const char* name, F& out, std::string& why) {
  out = reinterpret_cast<F>(dlsym(lib, name));
  if (!out && why.empty()) why = fmt::format("libucp.so.0 has no symbol {} (UCX too old?)", name);
  return out != nullptr;
}

Loaded load() {
  Loaded l;
  // RTLD_NODELETE: UCX registers atexit handlers and threads; it must never be unmapped.
  void* lib = dlopen("libucp.so.0", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!lib) {
    const char* e = dlerror();
    l.why = fmt::format("cannot load libucp.so.0 ({}): install UCX (Debian package libucx0)",
                        e ? e : "not found");
    return l;
  }
  UcxApi& a = l.api;
  std::string& w = l.why;
  // dlsym on the handle searches libucp's dependencies too (ucs_status_string is in libucs).
  resolve(lib, "ucp_config_read", a.config_read, w);
  resolve(lib, "ucp_config_modify", a.config_modify, w);
  resolve(lib, "ucp_config_release", a.config_release, w);
  resolve(lib, "ucp_init_version", a.init_version, w);
  resolve(lib, "ucp_cleanup", a.cleanup, w);
  resolve(lib, "ucp_get_version_string", a.get_version_string, w);
  resolve(lib, "ucp_worker_create", a.worker_create, w);
  resolve(lib, "ucp_worker_destroy", a.worker_destroy, w);
  resolve(lib, "ucp_worker_get_address", a.worker_get_address, w);
  resolve(lib, "ucp_worker_release_address", a.worker_release_address, w);
  resolve(lib, "ucp_worker_get_efd", a.worker_get_efd, w);
  resolve(lib, "ucp_worker_arm", a.worker_arm, w);
  resolve(lib, "ucp_worker_signal", a.worker_signal, w);
  resolve(lib, "ucp_worker_progress", a.worker_progress, w);
  resolve(lib, "ucp_ep_create", a.ep_create, w);
  resolve(lib, "ucp_ep_close_nbx", a.ep_close_nbx, w);
  resolve(lib, "ucp_stream_send_nbx", a.stream_send_nbx, w);
  resolve(lib, "ucp_worker_set_am_recv_handler", a.worker_set_am_recv_handler, w);
  resolve(lib, "ucp_am_send_nbx", a.am_send_nbx, w);
  resolve(lib, "ucp_stream_recv_data_nb", a.stream_recv_data_nb, w);
  resolve(lib, "ucp_stream_data_release", a.stream_data_release, w);
  resolve(lib, "ucp_request_check_status", a.request_check_status, w);
  resolve(lib, "ucp_request_free", a.request_free, w);
  resolve(lib, "ucs_status_string", a.status_string, w);
  return l;
}

const char* status_name(ucs_status_t s) {
  switch (s) {
    case UCS_OK:
      return "UCS_OK";
    case UCS_INPROGRESS:
      return "UCS_INPROGRESS";
    case UCS_ERR_NO_MESSAGE:
      return "UCS_ERR_NO_MESSAGE";
    case UCS_ERR_NO_RESOURCE:
      return "UCS_ERR_NO_RESOURCE";
    case UCS_ERR_IO_ERROR:
      return "UCS_ERR_IO_ERROR";
    case UCS_ERR_NO_MEMORY:
      return "UCS_ERR_NO_MEMORY";
    case UCS_ERR_INVALID_PARAM:
      return "UCS_ERR_INVALID_PARAM";
    case UCS_ERR_UNREACHABLE:
      return "UCS_ERR_UNREACHABLE";
    case UCS_ERR_INVALID_ADDR:
      return "UCS_ERR_INVALID_ADDR";
    case UCS_ERR_NOT_IMPLEMENTED:
      return "UCS_ERR_NOT_IMPLEMENTED";
    case UCS_ERR_MESSAGE_TRUNCATED:
      return "UCS_ERR_MESSAGE_TRUNCATED";
    case UCS_ERR_NO_PROGRESS:
      return "UCS_ERR_NO_PROGRESS";
    case UCS_ERR_BUFFER_TOO_SMALL:
      return "UCS_ERR_BUFFER_TOO_SMALL";
    case UCS_ERR_NO_ELEM:
      return "UCS_ERR_NO_ELEM";
    case UCS_ERR_SOME_CONNECTS_FAILED:
      return "UCS_ERR_SOME_CONNECTS_FAILED";
    case UCS_ERR_NO_DEVICE:
      return "UCS_ERR_NO_DEVICE";
    case UCS_ERR_BUSY:
      return "UCS_ERR_BUSY";
    case UCS_ERR_CANCELED:
      return "UCS_ERR_CANCELED";
    case UCS_ERR_SHMEM_SEGMENT:
      return "UCS_ERR_SHMEM_SEGMENT";
    case UCS_ERR_ALREADY_EXISTS:
      return "UCS_ERR_ALREADY_EXISTS";
    case UCS_ERR_OUT_OF_RANGE:
      return "UCS_ERR_OUT_OF_RANGE";
    case UCS_ERR_TIMED_OUT:
      return "UCS_ERR_TIMED_OUT";
    case UCS_ERR_EXCEEDS_LIMIT:
      return "UCS_ERR_EXCEEDS_LIMIT";
    case UCS_ERR_UNSUPPORTED:
      return "UCS_ERR_UNSUPPORTED";
    case UCS_ERR_REJECTED:
      return "UCS_ERR_REJECTED";
    case UCS_ERR_NOT_CONNECTED:
      return "UCS_ERR_NOT_CONNECTED";
    case UCS_ERR_CONNECTION_RESET:
      return "UCS_ERR_CONNECTION_RESET";
    case UCS_ERR_ENDPOINT_TIMEOUT:
      return "UCS_ERR_ENDPOINT_TIMEOUT";
    default:
      return nullptr;
  }
}

}  // namespace

const UcxApi* ucx_api(std::string* why) {
  static const Loaded loaded = load();  // thread-safe once
  if (!loaded.why.empty()) {
    if (why) *why = loaded.why;
    return nullptr;
  }
  return &loaded.api;
}

std::string ucx_status_text(const UcxApi& api, ucs_status_t status) {
  const char* name = status_name(status);
  const std::string symbol = name ? name : fmt::format("UCS status {}", static_cast<int>(status));
  return fmt::format("{} ({})", symbol, api.status_string(status));
}

}  // namespace railcc::transport::ucx
