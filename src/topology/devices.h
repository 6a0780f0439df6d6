// Which I/O devices are GPUs and which are NICs, with the names railcc gives them. The rules are
// those of shared/topologies/README.md, so every format classifies the same way:
// - GPU: PCI class 03xx from NVIDIA (vendor 10de), or with a compute OS device (CUDA, NVML,
//   OpenCL...; not a plain DRM display node, which every server's BMC VGA chip has), or an NCCL
//   <gpu>, or class 03xx in an NCCL file that does not give the vendor (NCCL files describe only
//   NVIDIA GPUs). Indexed 0..N-1 in PCI bus-id order.
// - NIC: PCI class 02xx (network) or 0c06 (InfiniBand), or an NCCL <nic>. RDMA-capable when it
//   has an OpenFabrics OS device (mlx5_0) or NCCL <net> ports; when any NIC is, only RDMA NICs
//   count and the others are listed as ignored.
// - NIC names: each NCCL <net name> port is a NIC of its own; otherwise the OpenFabrics name
//   (mlx4_0), else the network interface (eth0), else the PCI bus id.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/topology/machine.h"

namespace railcc::topology {

struct Gpu {
  int io = -1;  // index into Machine::io
  PciAddress pci;
  std::string uuid;  // "" unknown
};

struct Nic {
  std::string name;
  std::vector<std::string> aliases;  // every OS name of the device, `name` first
  int io = -1;                       // index into Machine::io
  std::optional<PciAddress> pci;
  bool rdma = false;
  double speed_gbps = 0;  // port rate, 0 unknown
};

struct Devices {
  std::vector<Gpu> gpus;          // bus-id order
  std::vector<Nic> nics;          // bus-id order (ports of one device in file order), then unnamed
  std::vector<Nic> ignored_nics;  // plain NICs left out because RDMA NICs exist
};

Devices classify_devices(const Machine& machine);

}  // namespace railcc::topology
