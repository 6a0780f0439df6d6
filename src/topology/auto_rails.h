// RAILCC_RAILS=auto: this rank's rails from the rail plan. A rank with a GPU takes every NIC
// nearest that GPU (GpuRail::nics, the preferred one first); a rank without one takes the NIC its
// binding picked. Each NIC becomes the host interface that carries it, because the tcp rails
// bind to interface addresses, not to RDMA devices.
//
// Pure: the host's interfaces are passed in, so tests run any topology file against a made-up
// host (src/core/topology_rails.h reads the real ones).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/topology/machine.h"
#include "src/topology/rail_plan.h"

namespace railcc::topology {

// A network interface of this host that has an IPv4 address.
struct HostInterface {
  std::string name;               // e.g. "ens1f0"
  std::string ipv4;               // e.g. "10.0.3.5"
  std::optional<PciAddress> pci;  // the PCI function behind it (sysfs), nullopt when virtual
};

struct AutoRail {
  std::string name;    // the entry for Config::rails: the interface, or its address (see .cc)
  std::string nic;     // RailPlan NIC name, e.g. "mlx5_3"
  std::string ifname;  // the interface carrying it
  std::string ipv4;
};

struct AutoRails {
  std::vector<AutoRail> rails;  // in rail order, never empty
  int gpu = -1;                 // index into RailPlan::gpus, -1: the rank has no GPU
  int local_rank = 0;
  std::vector<std::string> skipped;  // NICs left out and why, for the log
  // One line for the log, e.g. "rails from topology (topo.xml): mlx5_3 (ens3f0, 10.0.3.5)
  // nearest GPU 3".
  std::string describe(const std::string& source) const;
};

// Throws ConfigError naming `rank`, RAILCC_RAILS=auto and what was found when the plan gives
// this rank no NIC, or when none of its NICs has an interface in `interfaces`.
AutoRails choose_auto_rails(const Machine& machine, const RailPlan& plan, int rank, int local_rank,
                            const std::optional<std::string>& cuda_visible_devices,
                            const std::vector<HostInterface>& interfaces);

}  // namespace railcc::topology
