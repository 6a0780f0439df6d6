#include "src/topology/auto_hcas.h"

#include <fmt/format.h>

#include <algorithm>

#include "src/topology/rank_binding.h"

namespace railcc::topology {
namespace {

const RdmaDevice* device_of(const Nic& nic, const std::vector<RdmaDevice>& devices) {
  for (const std::string& alias : nic.aliases) {
    for (const RdmaDevice& d : devices) {
      if (d.name == alias) return &d;
    }
  }
  if (nic.pci) {
    for (const RdmaDevice& d : devices) {
      if (d.pci == nic.pci) return &d;
    }
  }
  return nullptr;
}

// NCCL files list each port of a multi-port NIC as its own <net port=...>; everything else
// describes devices, whose first port is the one cabled on every GPU server we know of.
int port_of(const Machine& machine, const Nic& nic) {
  if (nic.io < 0) return 1;
  for (const OsDevice& d : machine.io[nic.io].os_devices) {
    if (d.kind == OsDeviceKind::kNcclNet && d.name == nic.name && d.port > 0) return d.port;
  }
  return 1;
}

}  // namespace

std::string AutoHcas::describe(const std::string& source) const {
  std::string chosen;
  for (const AutoHca& p : ports) {
    chosen += fmt::format("{}{}:{}", chosen.empty() ? "" : ",", p.device, p.port);
  }
  std::string out = fmt::format(
      "ports from topology rail plan ({}): {} {}", source, chosen.empty() ? "none" : chosen,
      gpu >= 0 ? fmt::format("nearest GPU {}", gpu)
               : fmt::format("picked for local rank {} (no GPU)", local_rank));
  if (!skipped.empty()) {
    std::string list;
    for (const std::string& s : skipped) list += (list.empty() ? "" : ", ") + s;
    out += "; skipped " + list;
  }
  return out;
}

AutoHcas choose_auto_hcas(const Machine& machine, const RailPlan& plan, int local_rank,
                          const std::optional<std::string>& cuda_visible_devices,
                          const std::vector<RdmaDevice>& devices) {
  const RankBinding binding = bind_local_rank(machine, plan, local_rank, cuda_visible_devices);
  AutoHcas out;
  out.gpu = binding.gpu;
  out.local_rank = binding.local_rank;
  for (int k : planned_nics(plan, binding)) {
    const Nic& nic = plan.nics[k];
    const RdmaDevice* d = device_of(nic, devices);
    if (!d) {
      out.skipped.push_back(nic.name + " (not an RDMA device of this host)");
      continue;
    }
    const AutoHca hca{d->name, port_of(machine, nic), nic.name};
    // Two plan NICs on one port (a netdev and its RDMA device listed apart) are one rail.
    const bool taken = std::any_of(out.ports.begin(), out.ports.end(), [&](const AutoHca& p) {
      return p.device == hca.device && p.port == hca.port;
    });
    if (taken) {
      out.skipped.push_back(
          fmt::format("{} (same port as another: {}:{})", nic.name, hca.device, hca.port));
      continue;
    }
    out.ports.push_back(hca);
  }
  return out;
}

}  // namespace railcc::topology
