#include "src/topology/auto_rails.h"

#include <fmt/format.h>

#include <algorithm>

#include "railcc/status.hpp"
#include "src/topology/rank_binding.h"

namespace railcc::topology {
namespace {

// The interface that carries `nic`: the first of its OS names that is an interface here (hwloc
// lists the netdev among them), else the interface on its PCI function (NCCL files name NICs by
// RDMA device or bus id only, never by netdev).
const HostInterface* interface_of(const Nic& nic, const std::vector<HostInterface>& interfaces) {
  for (const std::string& alias : nic.aliases) {
    for (const HostInterface& i : interfaces) {
      if (i.name == alias) return &i;
    }
  }
  if (nic.pci) {
    for (const HostInterface& i : interfaces) {
      if (i.pci == nic.pci) return &i;
    }
  }
  return nullptr;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string host_interfaces(const std::vector<HostInterface>& interfaces) {
  std::vector<std::string> out;
  for (const HostInterface& i : interfaces) {
    out.push_back(i.pci ? fmt::format("{}={} ({})", i.name, i.ipv4, i.pci->to_string())
                        : fmt::format("{}={}", i.name, i.ipv4));
  }
  return out.empty() ? "none" : join(out, " ");
}

}  // namespace

std::string AutoRails::describe(const std::string& source) const {
  std::vector<std::string> chosen;
  for (const AutoRail& r : rails) {
    chosen.push_back(fmt::format("{} ({}, {})", r.nic, r.ifname, r.ipv4));
  }
  std::string out =
      fmt::format("rails from topology ({}): {} {}", source, join(chosen, ", "),
                  gpu >= 0 ? fmt::format("nearest GPU {}", gpu)
                           : fmt::format("picked for local rank {} (no GPU)", local_rank));
  if (!skipped.empty()) out += fmt::format("; skipped {}", join(skipped, ", "));
  return out;
}

AutoRails choose_auto_rails(const Machine& machine, const RailPlan& plan, int rank, int local_rank,
                            const std::optional<std::string>& cuda_visible_devices,
                            const std::vector<HostInterface>& interfaces) {
  const RankBinding binding = bind_local_rank(machine, plan, local_rank, cuda_visible_devices);
  AutoRails out;
  out.gpu = binding.gpu;
  out.local_rank = binding.local_rank;
  const std::string who =
      fmt::format("RAILCC_RAILS=auto: rank {} (local rank {})", rank, binding.local_rank);
  const std::string fix = "set RAILCC_RAILS=<iface,...> to name the rails";
  if (binding.nic < 0) {
    // The binding always picks a NIC when the plan has one (shared by GPUs, or local rank mod
    // NIC count without a GPU), so this is a machine without NICs.
    throw ConfigError(
        fmt::format("{}: the topology ({}) lists no NIC; {}", who, machine.source, fix));
  }
  const std::vector<int> nics = planned_nics(plan, binding);
  std::vector<std::string> tried;
  for (int k : nics) {
    const Nic& nic = plan.nics[k];
    std::vector<std::string> known_as;  // what it was looked for by, beyond its name
    for (const std::string& alias : nic.aliases) {
      if (alias != nic.name) known_as.push_back(alias);
    }
    if (nic.pci && nic.pci->to_string() != nic.name) known_as.push_back(nic.pci->to_string());
    tried.push_back(known_as.empty() ? nic.name
                                     : fmt::format("{} ({})", nic.name, join(known_as, ", ")));
    const HostInterface* i = interface_of(nic, interfaces);
    if (!i) {
      out.skipped.push_back(nic.name + " (no interface with an IPv4 address here)");
      continue;
    }
    // Two NICs on one interface happen only in hand-made topologies (tests put every NIC on
    // lo). The second rail then goes by the interface's address, so that every rail keeps a
    // name of its own in logs and metrics; a third has no name left and is dropped.
    auto taken = [&](const std::string& name) {
      return std::any_of(out.rails.begin(), out.rails.end(),
                         [&](const AutoRail& r) { return r.name == name; });
    };
    std::string name = i->name;
    if (taken(name)) name = i->ipv4;
    if (taken(name)) {
      out.skipped.push_back(
          fmt::format("{} (its interface {} is already a rail)", nic.name, i->name));
      continue;
    }
    out.rails.push_back({name, nic.name, i->name, i->ipv4});
  }
  if (out.rails.empty()) {
    throw ConfigError(fmt::format(
        "{}: none of the NICs the topology ({}) gives it ({}) is a network interface with an "
        "IPv4 address on this host (this host has: {}); {}",
        who, machine.source,
        binding.gpu >= 0 ? fmt::format("nearest GPU {}: {}", binding.gpu, join(tried, ", "))
                         : join(tried, ", "),
        host_interfaces(interfaces), fix));
  }
  return out;
}

}  // namespace railcc::topology
