#include "src/core/topology_rails.h"

#include "src/common/log.h"
#include "src/topology/machine_loader.h"
#include "src/topology/rail_plan.h"
#include "src/topology/sysfs_pci.h"
#include "transport/multirail/rail_spec.h"

namespace railcc::core {

std::vector<topology::HostInterface> host_interfaces() {
  std::vector<topology::HostInterface> out;
  for (const transport::LocalAddress& a : transport::local_addresses()) {
    if (a.address.find(':') != std::string::npos) continue;  // IPv6: rails here are IPv4
    bool seen = false;
    for (const auto& i : out) seen = seen || i.name == a.ifname;
    if (!seen) {
      out.push_back({a.ifname, a.address,
                     topology::pci_of_sysfs_device("/sys/class/net/" + a.ifname + "/device")});
    }
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
