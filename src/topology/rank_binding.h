// What one local rank uses: its GPU (from the local rank and CUDA_VISIBLE_DEVICES), that GPU's
// preferred NIC, and the CPUs and cores near the NIC for pinning its progress thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/topology/machine.h"
#include "src/topology/rail_plan.h"

namespace railcc::topology {

struct RankBinding {
  int local_rank = 0;
  int gpu = -1;            // index into RailPlan::gpus; -1: no GPU visible to this rank
  int nic = -1;            // index into RailPlan::nics; -1: no NIC
  CpuSet cpus;             // where to pin the rank's progress thread
  std::vector<int> cores;  // indices into Machine::cores whose threads all lie in `cpus`
};

// `local_rank` < 0 (not launched) counts as 0. With more local ranks than visible GPUs, ranks
// share GPUs round-robin (local rank r gets visible GPU r mod n). Without a visible GPU a rank
// takes NIC r mod (number of NICs), so CPU-only jobs still spread over the NICs. `cpus` falls
// back to the whole machine when the chosen device's locality is unknown.
RankBinding bind_local_rank(const Machine& machine, const RailPlan& plan, int local_rank,
                            const std::optional<std::string>& cuda_visible_devices);

// The NICs a bound rank uses as rails (indices into RailPlan::nics), in rail order: the
// preferred one first, then the others its GPU ties with, so that ranks sharing a set of NICs
// all use every one of them but start rail 0 on different ones. Without a GPU: the binding's
// NIC alone. Empty when the plan has no NIC. RAILCC_RAILS=auto (tcp interfaces) and the verbs
// ports (RDMA devices) both take their rails from here.
std::vector<int> planned_nics(const RailPlan& plan, const RankBinding& binding);

}  // namespace railcc::topology
