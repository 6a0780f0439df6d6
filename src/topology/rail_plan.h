// The rail plan: for each GPU, the NIC(s) nearest to it over PCIe and the one it should prefer,
// and the CPUs near that NIC (where its progress thread belongs).
//
// Nearest = smallest (level, hops) by io_path(); every NIC at that distance is listed, in plan
// order. `preferred` spreads ties evenly and deterministically: the GPUs that share one tied set
// take its NICs round-robin, in bus-id order (GPU k of the set gets NIC k mod n). With fewer
// NICs than GPUs this shares each NIC among as few GPUs as the topology allows.
#pragma once

#include <optional>
#include <vector>

#include "src/topology/devices.h"
#include "src/topology/io_path.h"
#include "src/topology/machine.h"

namespace railcc::topology {

struct GpuRail {
  Gpu gpu;
  std::vector<int> nics;       // indices into RailPlan::nics at the minimum distance; empty: no NIC
  std::optional<IoPath> path;  // distance to those NICs
  int preferred = -1;          // index into RailPlan::nics, -1 when there is no NIC
  CpuSet cpus;                 // near the preferred NIC, else near the GPU
};

struct RailPlan {
  std::vector<GpuRail> gpus;      // index = GPU index (bus-id order)
  std::vector<Nic> nics;          // the NICs rails may use
  std::vector<Nic> ignored_nics;  // plain NICs left out because RDMA NICs exist
};

RailPlan build_rail_plan(const Machine& machine);

// The os_index ("numaid") of Machine::numa_nodes[numa]; -1 when `numa` is -1 or out of range.
int numa_os_index(const Machine& machine, int numa);

}  // namespace railcc::topology
