// The rail plan as text for people (what `railcc-topo` prints): a machine summary, a GPU table
// (GPU, PCI id, NUMA, NIC(s), distance, link), a NIC table and the local-rank bindings. Says
// plainly when there is no GPU or no NIC.
#pragma once

#include <string>
#include <vector>

#include "src/topology/machine.h"
#include "src/topology/rail_plan.h"
#include "src/topology/rank_binding.h"

namespace railcc::topology {

std::string rail_plan_text(const Machine& machine, const RailPlan& plan,
                           const std::vector<RankBinding>& ranks);

}  // namespace railcc::topology
