// Connection setup for RDMA peers: which peers use verbs, and their queue pairs connected through
// the rendezvous store (QPN, LID, GID, PSN, MTU and ring address per queue pair).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "railcc/config.hpp"
#include "railcc/store.hpp"
#include "src/common/deadline.h"
#include "transport/connection.h"

namespace railcc::transport::verbs {

// The RDMA ports this rank opened (verbs_port.h). Opaque here so that build_mesh compiles, and
// railcc builds, where <infiniband/verbs.h> is missing (see verbs_absent.cc).
struct VerbsPorts;

// Decides, for the peers that are not on shared memory, whether they are reached over RDMA:
// RAILCC_TRANSPORT=verbs demands it of every one (ConfigError without a device on this rank or
// a peer); auto uses it where both ends have a device (logging once per process that it falls
// back to tcp when this host has none). Opens this rank's ports into `ports`. Every rank of the
// communicator calls it with the same peers, in the same order as build_mesh's other steps.
std::vector<int> choose_verbs_peers(Store& store, int rank, const std::vector<int>& remote_peers,
                                    const Config& config, const Deadline& deadline,
                                    std::shared_ptr<VerbsPorts>& ports);

// Creates and connects the queue pairs to `peers`: one StreamConnection over RAILCC_IB_QPS queue
// pairs when one port is in use, else one MultiRailConnection with a rail per port.
std::map<int, std::unique_ptr<Connection>> connect_verbs_peers(
    Store& store, int rank, uint64_t comm_id, const std::vector<int>& peers,
    const std::shared_ptr<VerbsPorts>& ports, const Config& config, const Deadline& deadline);

// Communicator::register_buffer: registers [addr, addr + bytes) under `handle` on every port, so
// that large sends from it go out in place (RAILCC_IB_ZCOPY_BYTES); null ports: nothing to do.
// Throws SystemError naming the HCA when a port cannot register it (nothing stays registered).
void register_user_buffer(VerbsPorts* ports, uint64_t handle, const void* addr, std::size_t bytes);
// Undoes register_user_buffer on every port (unknown handles are ignored).
void deregister_user_buffer(VerbsPorts* ports, uint64_t handle);

}  // namespace railcc::transport::verbs
