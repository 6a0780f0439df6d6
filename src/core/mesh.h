// Connects a new communicator's ranks to each other through the rendezvous store: shared memory
// between ranks on one host; RDMA verbs between hosts where both have a device, else tcp
// (several sockets per peer); tcp or verbs everywhere when forced; UCX for every peer with
// RAILCC_TRANSPORT=ucx.
#pragma once

#include <array>
#include <cstdint>

#include "railcc/config.hpp"
#include "railcc/store.hpp"
#include "src/core/engine.h"

namespace railcc::core {

struct MeshParams {
  int rank = 0;
  int size = 1;
  uint64_t comm_id = 0;
  uint64_t job_key = 0;
  std::string store_addr;              // used to pick the address peers reach us on
  std::array<uint8_t, 32> peer_key{};  // every tcp/rail socket proves it (src/bootstrap/auth.h)
};

Mesh build_mesh(Store& store, const MeshParams& params, const Config& config);

}  // namespace railcc::core
