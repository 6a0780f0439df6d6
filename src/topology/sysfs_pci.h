// The PCI function behind a device of this host, read from sysfs: shared by the tcp rails (an
// interface: /sys/class/net/<if>/device) and the verbs ports (an RDMA device:
// /sys/class/infiniband/<dev>/device), which both match rail plan NICs by bus id.
#pragma once

#include <optional>
#include <string>

#include "src/topology/pci_address.h"

namespace railcc::topology {

// `link` is a sysfs device link. It resolves to the device under its PCI function: the function
// itself (".../0000:05:00.0") or a child of it (virtio: ".../0000:00:03.0/virtio2"), so the
// innermost path component that is a PCI address wins. nullopt for virtual devices (lo,
// bridges, soft-RoCE) and paths that do not exist.
std::optional<PciAddress> pci_of_sysfs_device(const std::string& link);

}  // namespace railcc::topology
