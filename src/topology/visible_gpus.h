// CUDA_VISIBLE_DEVICES applied to the rail plan: which GPUs this process can see, in the order
// CUDA numbers them. The value is passed in (Config reads the environment, not this code).
//
// Follows CUDA's rules: unset = every GPU; "" = none; a comma list of ordinals or GPU UUIDs
// ("GPU-8e1c...", a unique prefix is enough) where the list stops at the first entry that names
// no GPU or repeats one. Ordinal i is GPU i in PCI bus-id order, which is CUDA's order under
// CUDA_DEVICE_ORDER=PCI_BUS_ID (and in practice on servers with identical GPUs).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/topology/rail_plan.h"

namespace railcc::topology {

// Returns indices into RailPlan::gpus. Throws ConfigError for MIG instances ("MIG-...") and for
// UUIDs when the topology has none to match them against (NCCL files, hwloc without NVML).
std::vector<int> visible_gpus(const RailPlan& plan,
                              const std::optional<std::string>& cuda_visible_devices);

}  // namespace railcc::topology
