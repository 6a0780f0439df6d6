#include "transport/verbs/verbs_errors.h"

#include <fmt/format.h>

namespace railcc::transport::verbs {

const char* wc_status_name(ibv_wc_status status) {
  switch (status) {
#define RAILCC_WC(s) \
  case s:            \
    return #s;
    RAILCC_WC(IBV_WC_SUCCESS)
    RAILCC_WC(IBV_WC_LOC_LEN_ERR)
    RAILCC_WC(IBV_WC_LOC_QP_OP_ERR)
    RAILCC_WC(IBV_WC_LOC_EEC_OP_ERR)
    RAILCC_WC(IBV_WC_LOC_PROT_ERR)
    RAILCC_WC(IBV_WC_WR_FLUSH_ERR)
    RAILCC_WC(IBV_WC_MW_BIND_ERR)
    RAILCC_WC(IBV_WC_BAD_RESP_ERR)
    RAILCC_WC(IBV_WC_LOC_ACCESS_ERR)
    RAILCC_WC(IBV_WC_REM_INV_REQ_ERR)
    RAILCC_WC(IBV_WC_REM_ACCESS_ERR)
    RAILCC_WC(IBV_WC_REM_OP_ERR)
    RAILCC_WC(IBV_WC_RETRY_EXC_ERR)
    RAILCC_WC(IBV_WC_RNR_RETRY_EXC_ERR)
    RAILCC_WC(IBV_WC_LOC_RDD_VIOL_ERR)
    RAILCC_WC(IBV_WC_REM_INV_RD_REQ_ERR)
    RAILCC_WC(IBV_WC_REM_ABORT_ERR)
    RAILCC_WC(IBV_WC_INV_EECN_ERR)
    RAILCC_WC(IBV_WC_INV_EEC_STATE_ERR)
    RAILCC_WC(IBV_WC_FATAL_ERR)
    RAILCC_WC(IBV_WC_RESP_TIMEOUT_ERR)
    RAILCC_WC(IBV_WC_GENERAL_ERR)
    RAILCC_WC(IBV_WC_TM_ERR)
    RAILCC_WC(IBV_WC_TM_RNDV_INCOMPLETE)
#undef RAILCC_WC
  }
  return "IBV_WC_(unknown)";
}

const char* wc_status_meaning(ibv_wc_status status) {
  switch (status) {
    case IBV_WC_SUCCESS:
      return "success";
    case IBV_WC_RETRY_EXC_ERR:
      return "retry exceeded";
    case IBV_WC_RNR_RETRY_EXC_ERR:
      return "receiver not ready, retry exceeded";
    case IBV_WC_REM_ACCESS_ERR:
      return "remote access error: bad rkey or address";
    case IBV_WC_REM_INV_REQ_ERR:
      return "remote invalid request";
    case IBV_WC_REM_OP_ERR:
      return "remote operation error";
    case IBV_WC_LOC_PROT_ERR:
      return "local protection error: bad lkey";
    case IBV_WC_LOC_LEN_ERR:
      return "local length error";
    case IBV_WC_LOC_QP_OP_ERR:
      return "local QP operation error";
    case IBV_WC_LOC_ACCESS_ERR:
      return "local access error";
    case IBV_WC_WR_FLUSH_ERR:
      return "flushed: the queue pair is in error";
    case IBV_WC_FATAL_ERR:
      return "fatal HCA error";
    case IBV_WC_RESP_TIMEOUT_ERR:
      return "response timeout";
    default:
      return "failed";
  }
}

const char* port_state_name(ibv_port_state state) {
  switch (state) {
    case IBV_PORT_NOP:
      return "NOP";
    case IBV_PORT_DOWN:
      return "DOWN";
    case IBV_PORT_INIT:
      return "INIT";
    case IBV_PORT_ARMED:
      return "ARMED";
    case IBV_PORT_ACTIVE:
      return "ACTIVE";
    case IBV_PORT_ACTIVE_DEFER:
      return "ACTIVE_DEFER";
  }
  return "UNKNOWN";
}

std::string completion_error(int peer, const std::string& hca, int port, const ibv_wc& wc,
                             const char* during) {
  const bool unreachable =
      wc.status == IBV_WC_RETRY_EXC_ERR || wc.status == IBV_WC_RESP_TIMEOUT_ERR;
  return fmt::format("peer {} {} on {} port {} ({}: {}, vendor error {:#x}, QP {:#x}, during {})",
                     peer, unreachable ? "unreachable" : "failed", hca, port,
                     wc_status_meaning(wc.status), wc_status_name(wc.status), wc.vendor_err,
                     wc.qp_num, during);
}

}  // namespace railcc::transport::verbs
