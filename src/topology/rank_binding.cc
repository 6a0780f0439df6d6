#include "src/topology/rank_binding.h"

#include "src/topology/visible_gpus.h"

namespace railcc::topology {

RankBinding bind_local_rank(const Machine& machine, const RailPlan& plan, int local_rank,
                            const std::optional<std::string>& cuda_visible_devices) {
  RankBinding b;
  b.local_rank = local_rank < 0 ? 0 : local_rank;
  const std::size_t r = static_cast<std::size_t>(b.local_rank);
  const std::vector<int> visible = visible_gpus(plan, cuda_visible_devices);
  if (!visible.empty()) {
    b.gpu = visible[r % visible.size()];
    b.nic = plan.gpus[b.gpu].preferred;
    b.cpus = plan.gpus[b.gpu].cpus;
  } else if (!plan.nics.empty()) {
    b.nic = static_cast<int>(r % plan.nics.size());
    b.cpus = machine.io[plan.nics[b.nic].io].cpus;
  }
  if (b.cpus.empty()) b.cpus = machine.all_cpus();
  for (std::size_t i = 0; i < machine.cores.size(); ++i) {
    const CpuSet& pus = machine.cores[i].pus;
    if (!pus.empty() && b.cpus.includes(pus)) b.cores.push_back(static_cast<int>(i));
  }
  return b;
}

std::vector<int> planned_nics(const RailPlan& plan, const RankBinding& binding) {
  if (binding.nic < 0) return {};
  std::vector<int> nics{binding.nic};
  if (binding.gpu >= 0) {
    for (int k : plan.gpus[binding.gpu].nics) {
      if (k != binding.nic) nics.push_back(k);
    }
  }
  return nics;
}

}  // namespace railcc::topology
