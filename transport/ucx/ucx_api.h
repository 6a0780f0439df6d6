// The UCP calls the ucx transport makes, resolved from libucp.so.0 with dlopen() on first use.
//
// Why not link: railcc must load and run (over shm and tcp) where UCX is not installed, exactly
// as it does without rdma-core (transport/verbs/verbs_loader.cc); only RAILCC_TRANSPORT=ucx needs
// the library, and then its absence is a clear ConfigError instead of a loader failure at start.
// <ucp/api/ucp.h> (libucx-dev) is needed at build time for the types only.
#pragma once

#include <ucp/api/ucp.h>

#include <string>

namespace railcc::transport::ucx {

struct UcxApi {
  ucs_status_t (*config_read)(const char*, const char*, ucp_config_t**) = nullptr;
  ucs_status_t (*config_modify)(ucp_config_t*, const char*, const char*) = nullptr;
  void (*config_release)(ucp_config_t*) = nullptr;
  ucs_status_t (*init_version)(unsigned, unsigned, const ucp_params_t*, const ucp_config_t*,
                               ucp_context_h*) = nullptr;
  void (*cleanup)(ucp_context_h) = nullptr;
  const char* (*get_version_string)() = nullptr;
  ucs_status_t (*worker_create)(ucp_context_h, const ucp_worker_params_t*, ucp_worker_h*) = nullptr;
  void (*worker_destroy)(ucp_worker_h) = nullptr;
  ucs_status_t (*worker_get_address)(ucp_worker_h, ucp_address_t**, size_t*) = nullptr;
  void (*worker_release_address)(ucp_worker_h, ucp_address_t*) = nullptr;
  ucs_status_t (*worker_get_efd)(ucp_worker_h, int*) = nullptr;
  ucs_status_t (*worker_arm)(ucp_worker_h) = nullptr;
  ucs_status_t (*worker_signal)(ucp_worker_h) = nullptr;
  unsigned (*worker_progress)(ucp_worker_h) = nullptr;
  ucs_status_t (*ep_create)(ucp_worker_h, const ucp_ep_params_t*, ucp_ep_h*) = nullptr;
  ucs_status_ptr_t (*ep_close_nbx)(ucp_ep_h, const ucp_request_param_t*) = nullptr;
  ucs_status_ptr_t (*stream_send_nbx)(ucp_ep_h, const void*, size_t,
                                      const ucp_request_param_t*) = nullptr;
  ucs_status_t (*worker_set_am_recv_handler)(ucp_worker_h, const ucp_am_handler_param_t*) = nullptr;
  ucs_status_ptr_t (*am_send_nbx)(ucp_ep_h, unsigned, const void*, size_t, const void*, size_t,
                                  const ucp_request_param_t*) = nullptr;
  ucs_status_ptr_t (*stream_recv_data_nb)(ucp_ep_h, size_t*) = nullptr;
  void (*stream_data_release)(ucp_ep_h, void*) = nullptr;
  ucs_status_t (*request_check_status)(void*) = nullptr;
  void (*request_free)(void*) = nullptr;
  const char* (*status_string)(ucs_status_t) = nullptr;
};

// The loaded calls, or null with `why` saying what is missing (e.g. "libucp.so.0 not found:
// install libucx0"). Loaded once per process; thread-safe.
const UcxApi* ucx_api(std::string* why);

// "UCS_ERR_CONNECTION_RESET (Connection reset by remote peer)": the symbolic name users grep for
// and UCX's own text.
std::string ucx_status_text(const UcxApi& api, ucs_status_t status);

}  // namespace railcc::transport::ucx
