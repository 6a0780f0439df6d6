// The verbs transport's default ports (RAILCC_IB_HCA unset): the rail plan's NICs for this rank
// (planned_nics: those nearest its GPU, the preferred one first; a rank without a GPU gets the
// NIC its binding picked), each matched to an RDMA device of this host.
//
// A plan NIC is matched by name first (hwloc names a NIC after its OpenFabrics OS device, which
// is the ibv device name: mlx5_0), then by PCI function (NCCL topology files name NICs by bus id
// only, and an hwloc file made without rdma-core lists only the netdev, on the same function).
//
// Pure: the host's RDMA devices are passed in, so tests run any topology file against a made-up
// host (transport/verbs/verbs_port_plan.h reads the real ones).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/topology/machine.h"
#include "src/topology/rail_plan.h"

namespace railcc::topology {

// An RDMA device of this host, as ibv_get_device_list names it.
struct RdmaDevice {
  std::string name;               // e.g. "mlx5_0"
  std::optional<PciAddress> pci;  // its PCI function (sysfs), nullopt when unknown
};

struct AutoHca {
  std::string device;  // an RdmaDevice name
  int port = 1;        // the NCCL <net port> when the file gives it, else 1
  std::string nic;     // the RailPlan NIC it came from
};

struct AutoHcas {
  std::vector<AutoHca> ports;  // in rail order; empty: no planned NIC is an RDMA device here
  int gpu = -1;                // index into RailPlan::gpus, -1: the rank has no GPU
  int local_rank = 0;
  std::vector<std::string> skipped;  // planned NICs left out and why, for the log
  // One line for the log, e.g. "ports from topology rail plan (topo.xml): mlx5_2:1 nearest
  // GPU 2".
  std::string describe(const std::string& source) const;
};

AutoHcas choose_auto_hcas(const Machine& machine, const RailPlan& plan, int local_rank,
                          const std::optional<std::string>& cuda_visible_devices,
                          const std::vector<RdmaDevice>& devices);

}  // namespace railcc::topology
