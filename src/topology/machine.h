// The machine model: what railcc knows about one host, whatever it was read from (the live
// machine through hwloc, an hwloc XML file, or an NCCL topology file). Plain data; builders fill
// it, classify_devices() and build_rail_plan() read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/topology/cpu_set.h"
#include "src/topology/pci_address.h"

namespace railcc::topology {

enum class SourceFormat { kLive, kHwlocXmlV1, kHwlocXmlV2, kNcclXml };
const char* source_format_name(SourceFormat format);  // "live", "hwloc-v1", "hwloc-v2", "nccl"

struct Package {
  int os_index = -1;
  CpuSet cpus;
  std::string cpu_model;  // e.g. "AMD EPYC", or NCCL's "GenuineIntel family 6 model 143"
};

struct NumaNode {
  int os_index = -1;
  int package = -1;  // index into Machine::packages, -1 unknown
  CpuSet cpus;
  std::uint64_t memory_bytes = 0;  // 0 unknown
};

struct Core {
  int package = -1;  // index into Machine::packages
  CpuSet pus;        // its hardware threads
};

enum class OsDeviceKind { kNetwork, kOpenFabrics, kNcclNet, kGpu, kCoProc, kBlock, kDma, kOther };

// What the operating system (or NCCL) calls a device: eth0, mlx5_0, cuda0, nvml0, sda...
struct OsDevice {
  std::string name;
  OsDeviceKind kind = OsDeviceKind::kOther;
  double speed_gbps = 0;  // network port rate, 0 unknown
  int port = -1;          // NCCL <net port>, -1 unknown
  std::string uuid;       // NVIDIA GPU UUID (NVML/CUDA), "" unknown
};

enum class IoKind { kHostBridge, kBridge, kDevice };

// One node of the I/O tree: a host bridge, a PCI bridge or switch port, or a device. A device may
// lack a PCI address (an NCCL <nic> placed directly under its <cpu>).
struct IoNode {
  IoKind kind = IoKind::kDevice;
  std::optional<PciAddress> address;
  std::uint16_t pci_class = 0;  // base class << 8 | subclass, e.g. 0x0302; 0 unknown
  std::optional<std::uint16_t> vendor;
  std::uint16_t device_id = 0;
  double link_gbytes_per_s = 0;  // PCIe link bandwidth, 0 unknown
  std::string link;              // as the source says it: "16 GT/s x16", "4.0 GB/s"
  int parent = -1;               // index into Machine::io (always smaller), -1 = top level
  int package = -1;              // index into Machine::packages, -1 unknown
  int numa = -1;                 // index into Machine::numa_nodes, -1 unknown
  CpuSet cpus;                   // CPUs close to this device (where to pin its threads)
  std::vector<OsDevice> os_devices;
  bool nccl_gpu = false;  // NCCL file has a <gpu> under this <pci>
  bool nccl_nic = false;  // NCCL file has a <nic> here
  int source_line = 0;    // line in the source file, 0 for the live machine
};

struct Machine {
  SourceFormat format = SourceFormat::kLive;
  std::string source;           // file name, or "this machine"
  bool packages_stated = true;  // NCCL files do not say which <cpu> sits on which socket
  std::vector<Package> packages;
  std::vector<NumaNode> numa_nodes;
  std::vector<Core> cores;  // empty when the source does not list them (NCCL)
  std::vector<IoNode> io;   // parents before children

  CpuSet all_cpus() const;
  int pu_count() const { return all_cpus().count(); }
  // Index of the one package whose CPUs include `cpus`, else -1 (none, several, or `cpus`
  // empty). For objects the source attaches above the packages (hwloc hangs I/O off the Machine
  // when there is a single package).
  int package_containing(const CpuSet& cpus) const;
};

}  // namespace railcc::topology
