#include "src/topology/machine.h"

namespace railcc::topology {

const char* source_format_name(SourceFormat format) {
  switch (format) {
    case SourceFormat::kLive:
      return "live";
    case SourceFormat::kHwlocXmlV1:
      return "hwloc-v1";
    case SourceFormat::kHwlocXmlV2:
      return "hwloc-v2";
    case SourceFormat::kNcclXml:
      return "nccl";
  }
  return "?";
}

CpuSet Machine::all_cpus() const {
  // Sources differ in what they list (NCCL has no cores), so take the union of everything.
  CpuSet all;
  for (const Package& p : packages) all |= p.cpus;
  for (const NumaNode& n : numa_nodes) all |= n.cpus;
  for (const Core& c : cores) all |= c.pus;
  return all;
}

int Machine::package_containing(const CpuSet& cpus) const {
  int found = -1;
  for (std::size_t i = 0; i < packages.size(); ++i) {
    if (!cpus.empty() && packages[i].cpus.includes(cpus)) {
      if (found >= 0) return -1;
      found = static_cast<int>(i);
    }
  }
  return found;
}

}  // namespace railcc::topology
