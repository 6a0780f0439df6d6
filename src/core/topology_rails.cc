#include "src/core/topology_rails.h"

#include <stdlib.h>

#include <climits>
#include <string_view>

#include "src/common/log.h"
#include "src/topology/machine_loader.h"
#include "src/topology/rail_plan.h"
#include "transport/multirail/rail_spec.h"

namespace railcc::core {
namespace {

// /sys/class/net/<if>/device resolves to the device under its PCI function: the function itself
// (".../0000:05:00.0") or a child of it (virtio: ".../0000:00:03.0/virtio2"), so the innermost
// path component that is a PCI address wins. Virtual interfaces (lo, bridges, veth) have none.
std::optional<topology::PciAddress> pci_of(const std::string& ifname) {
  char resolved[PATH_MAX] = {};
  const std::string link = "/sys/class/net/" + ifname + "/device";
  if (!::realpath(link.c_str(), resolved)) return std::nullopt;
  std::string_view path(resolved);
  while (!path.empty()) {
    const auto slash = path.rfind('/');
    const std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
    if (auto pci = topology::PciAddress::parse(last)) return pci;
    if (slash == std::string_view::npos) break;
    path = path.substr(0, slash);
  }
  return std::nullopt;
}

}  // namespace

std::vector<topology::HostInterface> host_interfaces() {
  std::vector<topology::HostInterface> out;
  for (const transport::LocalAddress& a : transport::local_addresses()) {
    if (a.address.find(':') != std::string::npos) continue;  // IPv6: rails here are IPv4
    bool seen = false;
    for (const auto& i : out) seen = seen || i.name == a.ifname;
    if (!seen) out.push_back({a.ifname, a.address, pci_of(a.ifname)});
  }
  return out;
}

std::vector<std::string> rails_from_topology(const Config& config, int rank, int local_rank) {
  const topology::Machine machine = config.topo_file.empty()
                                        ? topology::discover_machine()
                                        : topology::load_machine_file(config.topo_file);
  const topology::RailPlan plan = topology::build_rail_plan(machine);
  const topology::AutoRails chosen = topology::choose_auto_rails(
      machine, plan, rank, local_rank, config.cuda_visible_devices, host_interfaces());
  RAILCC_INFO("init", "rank {}: {}", rank, chosen.describe(machine.source));
  std::vector<std::string> names;
  for (const auto& r : chosen.rails) names.push_back(r.name);
  return names;
}

}  // namespace railcc::core
