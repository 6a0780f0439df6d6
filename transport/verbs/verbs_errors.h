// Words for verbs failures: every error railcc raises about RDMA names the HCA, the port, the
// peer and the verbs status, in terms an operator can act on.
#pragma once

#include <infiniband/verbs.h>

#include <string>

namespace railcc::transport::verbs {

// "IBV_WC_RETRY_EXC_ERR" for a work-completion status.
const char* wc_status_name(ibv_wc_status status);
// What the status means for the link to the peer, e.g. "retry exceeded" or "remote access error".
const char* wc_status_meaning(ibv_wc_status status);
// "ACTIVE", "DOWN", ... for a port state.
const char* port_state_name(ibv_port_state state);

// The message for a failed work completion, e.g.
// "peer 5 unreachable on mlx5_2 port 1 (retry exceeded: IBV_WC_RETRY_EXC_ERR, vendor error 0x81,
// QP 0x1c2, during RDMA write)". `peer` is the peer's rank.
std::string completion_error(int peer, const std::string& hca, int port, const ibv_wc& wc,
                             const char* during);

}  // namespace railcc::transport::verbs
