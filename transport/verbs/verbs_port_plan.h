// Which RDMA ports a rank opens when RAILCC_IB_HCA is unset: the HCAs nearest its GPU by the
// topology rail plan (src/topology/auto_hcas.h, the plan RAILCC_RAILS=auto uses for tcp rails),
// with the topology from RAILCC_TOPO_FILE or else hwloc. Separate from verbs_port.cc so that the
// port itself knows nothing about topologies.
#pragma once

#include <infiniband/verbs.h>

#include <string>
#include <vector>

#include "railcc/config.hpp"
#include "transport/verbs/verbs_api.h"

namespace railcc::transport::verbs {

struct PlannedPorts {
  std::vector<IbPort> ports;  // rail order; empty: no plan applies, open every ACTIVE port
  // For the init log: the plan's choice ("ports from topology rail plan (file t.xml): mlx5_2:1
  // nearest GPU 2"), or why there is none ("no topology (hwloc: ...)").
  std::string why;
};

// `devices` is ibv_get_device_list's answer. Throws what loading RAILCC_TOPO_FILE throws (a file
// named on purpose that cannot be read is an error); hwloc failing to discover this machine is
// not (there is no plan then). `rank` only names the rank in messages.
PlannedPorts ports_from_rail_plan(const Config& config, int rank, VerbsApi& api,
                                  ibv_device** devices, int count);

}  // namespace railcc::transport::verbs
