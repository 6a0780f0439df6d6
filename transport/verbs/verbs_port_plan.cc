#include "transport/verbs/verbs_port_plan.h"

#include <fmt/format.h>

#include <memory>
#include <mutex>
#include <optional>

#include "railcc/status.hpp"
#include "src/topology/auto_hcas.h"
#include "src/topology/machine_loader.h"
#include "src/topology/rail_plan.h"

namespace railcc::transport::verbs {
namespace {

struct Discovered {
  std::optional<topology::Machine> machine;
  std::string error;  // why hwloc could not discover it
};

// Live discovery walks all of sysfs (tens of ms): done once per process, not per communicator.
const Discovered& this_machine() {
  static std::once_flag once;
  static Discovered* d = new Discovered;  // never destroyed: read by any later communicator
  std::call_once(once, [] {
    try {
      d->machine = topology::discover_machine();
    } catch (const Error& e) {
      d->error = e.what();
    }
  });
  return *d;
}

}  // namespace

PlannedPorts ports_from_rail_plan(const Config& config, int rank, VerbsApi& api,
                                  ibv_device** devices, int count) {
  PlannedPorts out;
  std::optional<topology::Machine> file;
  const topology::Machine* machine = nullptr;
  std::string source;
  if (!config.topo_file.empty()) {
    file = topology::load_machine_file(config.topo_file);
    machine = &*file;
    source = "file " + config.topo_file;
  } else {
    const Discovered& live = this_machine();
    if (!live.machine) {
      out.why = fmt::format("no topology (RAILCC_TOPO_FILE unset; hwloc: {})", live.error);
      return out;
    }
    machine = &*live.machine;
    source = "hwloc";
  }
  const topology::RailPlan plan = topology::build_rail_plan(*machine);
  if (plan.nics.empty()) {
    out.why = fmt::format("no topology NIC (the topology from {} lists none)", source);
    return out;
  }
  std::vector<topology::RdmaDevice> rdma;
  for (int i = 0; i < count; ++i) {
    rdma.push_back(
        {api.get_device_name(devices[i]), topology::PciAddress::parse(api.device_pci(devices[i]))});
  }
  const int local_rank = config.launch.local_rank >= 0 ? config.launch.local_rank : rank;
  const topology::AutoHcas chosen =
      topology::choose_auto_hcas(*machine, plan, local_rank, config.cuda_visible_devices, rdma);
  out.why = chosen.describe(source);
  for (const topology::AutoHca& h : chosen.ports) out.ports.push_back({h.device, h.port});
  return out;
}

}  // namespace railcc::transport::verbs
