// RAILCC_RAILS=auto at communicator init: loads the topology (RAILCC_TOPO_FILE, else hwloc live
// discovery), builds the rail plan and picks this rank's rails from it against the host's real
// interfaces (src/topology/auto_rails.h has the rules). Only called when the value is set, so
// init does not pay for topology discovery otherwise.
#pragma once

#include <string>
#include <vector>

#include "railcc/config.hpp"
#include "src/topology/auto_rails.h"

namespace railcc::core {

// The Config::rails entries for this rank; logs the choice at info level ("init"). Throws
// ConfigError when the plan gives the rank no usable rail.
std::vector<std::string> rails_from_topology(const Config& config, int rank, int local_rank);

// This host's interfaces that have an IPv4 address, with the PCI function behind each.
std::vector<topology::HostInterface> host_interfaces();

}  // namespace railcc::core
