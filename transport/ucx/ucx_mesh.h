// Connection setup for RAILCC_TRANSPORT=ucx: every peer is reached through UCX (which itself
// picks shared memory, tcp or an RDMA NIC, as UCX_TLS allows). Each rank creates one UCP worker
// for the communicator (one per rail with RAILCC_RAILS, each restricted to that rail's interface
// with UCX_NET_DEVICES), publishes its address in the rendezvous store and creates one endpoint
// per peer to the peer's address; UCX pairs the two endpoints of each pair of ranks itself.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "railcc/config.hpp"
#include "railcc/store.hpp"
#include "src/common/deadline.h"
#include "transport/connection.h"

namespace railcc::transport::ucx {

struct UcxPeers {
  int rank = 0;
  uint64_t comm_id = 0;
  std::vector<int> peers;       // ranks to connect to, in the same order on every rank
  std::vector<int> local_pids;  // by rank: the pid of a peer on this host, else 0
};

// Creates the worker(s), exchanges addresses and returns one Connection per peer: a
// StreamConnection over one UcxStream, or with RAILCC_RAILS a MultiRailConnection with one
// UcxStream per rail. Throws ConfigError when UCX is missing or cannot start (naming the rank and
// UCX_TLS), TimeoutError when a peer never publishes its address within `deadline`.
std::map<int, std::unique_ptr<Connection>> connect_ucx_peers(Store& store, const UcxPeers& who,
                                                             const Config& config,
                                                             const Deadline& deadline);

}  // namespace railcc::transport::ucx
