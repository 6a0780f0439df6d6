#include "src/topology/rail_plan.h"

#include <map>

namespace railcc::topology {

RailPlan build_rail_plan(const Machine& machine) {
  Devices devices = classify_devices(machine);
  RailPlan plan;
  plan.nics = std::move(devices.nics);
  plan.ignored_nics = std::move(devices.ignored_nics);
  std::map<std::vector<int>, int> next_in_set;  // tied NIC set -> GPUs that took from it so far
  for (Gpu& gpu : devices.gpus) {
    GpuRail rail;
    for (std::size_t k = 0; k < plan.nics.size(); ++k) {
      const IoPath path = io_path(machine, gpu.io, plan.nics[k].io);
      if (!rail.path || path < *rail.path) {
        rail.path = path;
        rail.nics.clear();
      }
      if (path == *rail.path) rail.nics.push_back(static_cast<int>(k));
    }
    if (!rail.nics.empty()) {
      int& taken = next_in_set[rail.nics];
      rail.preferred = rail.nics[static_cast<std::size_t>(taken) % rail.nics.size()];
      ++taken;
    }
    const int near = rail.preferred >= 0 ? plan.nics[rail.preferred].io : gpu.io;
    rail.cpus = machine.io[near].cpus;
    rail.gpu = std::move(gpu);
    plan.gpus.push_back(std::move(rail));
  }
  return plan;
}

int numa_os_index(const Machine& machine, int numa) {
  if (numa < 0 || numa >= static_cast<int>(machine.numa_nodes.size())) return -1;
  return machine.numa_nodes[numa].os_index;
}

}  // namespace railcc::topology
