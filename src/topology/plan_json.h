// The rail plan as JSON (what `railcc-topo --json` prints): the machine summary, every GPU with
// its nearest NICs, every NIC, and the binding of each local rank.
#pragma once

#include <string>
#include <vector>

#include "src/topology/machine.h"
#include "src/topology/rail_plan.h"
#include "src/topology/rank_binding.h"

namespace railcc::topology {

// {"source", "format", "machine": {...}, "gpus": [{"index", "pci", "numa", "nics", "nic_pci",
// "preferred", "level", "hops", "cpus", ...}], "nics": [{"name", "pci", "numa", "speed_gbps",
// "rdma", ...}], "ignored_nics": [...], "ranks": [...]}. Unknown values are null.
std::string rail_plan_json(const Machine& machine, const RailPlan& plan,
                           const std::vector<RankBinding>& ranks, int indent = 2);

}  // namespace railcc::topology
