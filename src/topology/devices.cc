#include "src/topology/devices.h"

#include <fmt/format.h>

#include <algorithm>

namespace railcc::topology {
namespace {

bool is_compute_os_device(const OsDevice& d) {
  if (d.kind == OsDeviceKind::kCoProc) return true;  // cuda0, opencl0d0
  if (d.kind != OsDeviceKind::kGpu) return false;
  // DRM display nodes exist for any graphics chip, the BMC's VGA included; they prove nothing.
  return !(d.name.starts_with("card") || d.name.starts_with("renderD") ||
           d.name.starts_with("controlD"));
}

bool is_gpu(const Machine& m, const IoNode& n) {
  if (!n.address) return false;
  if (n.nccl_gpu) return true;
  if ((n.pci_class >> 8) != 0x03) return false;
  if (n.vendor == 0x10de) return true;
  if (!n.vendor && m.format == SourceFormat::kNcclXml) return true;
  return std::any_of(n.os_devices.begin(), n.os_devices.end(), is_compute_os_device);
}

bool is_nic(const IoNode& n) {
  if (n.nccl_nic) return true;
  return n.address && n.kind == IoKind::kDevice &&
         ((n.pci_class >> 8) == 0x02 || n.pci_class == 0x0c06);
}

void add_nics(const IoNode& n, int io, std::vector<Nic>& out) {
  const std::string fallback =
      n.address ? n.address->to_string() : fmt::format("nic{}", io);  // unnamed, no bus id
  std::vector<const OsDevice*> ports, fabrics, netdevs;
  for (const OsDevice& d : n.os_devices) {
    if (d.kind == OsDeviceKind::kNcclNet) ports.push_back(&d);
    if (d.kind == OsDeviceKind::kOpenFabrics) fabrics.push_back(&d);
    if (d.kind == OsDeviceKind::kNetwork) netdevs.push_back(&d);
  }
  if (!ports.empty()) {
    // NCCL lists each port of a multi-port NIC as its own <net>: each is a rail.
    for (std::size_t k = 0; k < ports.size(); ++k) {
      Nic nic{.name = ports[k]->name,
              .io = io,
              .pci = n.address,
              .rdma = true,
              .speed_gbps = ports[k]->speed_gbps};
      if (nic.name.empty()) {
        nic.name = ports.size() == 1 ? fallback : fmt::format("{}/{}", fallback, k);
      }
      nic.aliases = {nic.name};
      out.push_back(std::move(nic));
    }
    return;
  }
  Nic nic{.io = io, .pci = n.address, .rdma = !fabrics.empty()};
  for (const auto* group : {&fabrics, &netdevs}) {
    for (const OsDevice* d : *group) {
      nic.aliases.push_back(d->name);
      nic.speed_gbps = std::max(nic.speed_gbps, d->speed_gbps);
    }
  }
  nic.name = nic.aliases.empty() ? fallback : nic.aliases.front();
  if (nic.aliases.empty()) nic.aliases.push_back(nic.name);
  out.push_back(std::move(nic));
}

}  // namespace

Devices classify_devices(const Machine& machine) {
  Devices out;
  std::vector<Nic> nics;
  for (std::size_t i = 0; i < machine.io.size(); ++i) {
    const IoNode& n = machine.io[i];
    const int io = static_cast<int>(i);
    if (is_gpu(machine, n)) {
      Gpu gpu{.io = io, .pci = *n.address};
      for (const OsDevice& d : n.os_devices) {
        if (gpu.uuid.empty()) gpu.uuid = d.uuid;
      }
      out.gpus.push_back(std::move(gpu));
    } else if (is_nic(n)) {
      add_nics(n, io, nics);
    }
  }
  std::stable_sort(out.gpus.begin(), out.gpus.end(),
                   [](const Gpu& a, const Gpu& b) { return a.pci < b.pci; });
  // Devices without a bus id sort last; ports of one device keep their file order.
  std::stable_sort(nics.begin(), nics.end(), [](const Nic& a, const Nic& b) {
    if (a.pci.has_value() != b.pci.has_value()) return a.pci.has_value();
    if (a.pci != b.pci) return *a.pci < *b.pci;
    return a.io < b.io;
  });
  const bool any_rdma = std::any_of(nics.begin(), nics.end(), [](const Nic& n) { return n.rdma; });
  for (Nic& nic : nics) {
    (any_rdma && !nic.rdma ? out.ignored_nics : out.nics).push_back(std::move(nic));
  }
  return out;
}

}  // namespace railcc::topology
