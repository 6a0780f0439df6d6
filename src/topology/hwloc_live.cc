#include "src/topology/hwloc_live.h"

#include <fmt/format.h>
#include <hwloc.h>
#include <hwloc/export.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>

#include "railcc/status.hpp"
#include "src/topology/sysfs_net_speed.h"

namespace railcc::topology {
namespace {

struct TopologyDeleter {
  void operator()(hwloc_topology* t) const { hwloc_topology_destroy(t); }
};
using TopologyPtr = std::unique_ptr<hwloc_topology, TopologyDeleter>;

class LiveImporter {
 public:
  LiveImporter(hwloc_topology_t topo, const std::string& source) : topo_(topo), source_(source) {}

  Machine run() {
    machine_.format = SourceFormat::kLive;
    machine_.source = source_;
    add_cpus();
    walk_normal(hwloc_get_root_obj(topo_));
    return std::move(machine_);
  }

 private:
  CpuSet cpus_of(hwloc_const_bitmap_t bitmap, hwloc_obj_t obj) const {
    CpuSet out;
    if (!bitmap || hwloc_bitmap_iszero(bitmap)) return out;
    const int last = hwloc_bitmap_last(bitmap);  // -1 for an infinite set
    if (last < 0 || last >= CpuSet::kMaxCpus) {
      throw SystemError(fmt::format("{}: hwloc reports {} L#{} with CPUs beyond {}", source_,
                                    hwloc_obj_type_string(obj->type), obj->logical_index,
                                    CpuSet::kMaxCpus));
    }
    for (int i = hwloc_bitmap_first(bitmap); i >= 0; i = hwloc_bitmap_next(bitmap, i)) out.add(i);
    return out;
  }

  // The package (socket) an object belongs to: its Package ancestor, else by its CPUs.
  int package_of(hwloc_obj_t obj, const CpuSet& cpus) const {
    for (hwloc_obj_t o = obj; o; o = o->parent) {
      if (auto it = packages_.find(o); it != packages_.end()) return it->second;
    }
    return machine_.package_containing(cpus);
  }

  // The NUMA node local to a normal object, when its nodeset names exactly one.
  int numa_of(hwloc_obj_t obj) const {
    if (!obj->nodeset || hwloc_bitmap_weight(obj->nodeset) != 1) return -1;
    const auto it = numa_by_os_.find(hwloc_bitmap_first(obj->nodeset));
    return it == numa_by_os_.end() ? -1 : it->second;
  }

  void add_cpus() {
    for (hwloc_obj_t o = nullptr; (o = hwloc_get_next_obj_by_type(topo_, HWLOC_OBJ_PACKAGE, o));) {
      Package p;
      p.os_index = o->os_index == HWLOC_UNKNOWN_INDEX ? -1 : static_cast<int>(o->os_index);
      p.cpus = cpus_of(o->cpuset, o);
      if (const char* model = hwloc_obj_get_info_by_name(o, "CPUModel")) p.cpu_model = model;
      packages_[o] = static_cast<int>(machine_.packages.size());
      machine_.packages.push_back(std::move(p));
    }
    for (hwloc_obj_t o = nullptr; (o = hwloc_get_next_obj_by_type(topo_, HWLOC_OBJ_NUMANODE, o));) {
      NumaNode n;
      n.os_index = o->os_index == HWLOC_UNKNOWN_INDEX ? -1 : static_cast<int>(o->os_index);
      n.cpus = cpus_of(o->cpuset, o);
      n.package = package_of(o, n.cpus);
      n.memory_bytes = o->attr ? o->attr->numanode.local_memory : 0;
      numa_by_os_.emplace(n.os_index, static_cast<int>(machine_.numa_nodes.size()));
      machine_.numa_nodes.push_back(std::move(n));
    }
    for (hwloc_obj_t o = nullptr; (o = hwloc_get_next_obj_by_type(topo_, HWLOC_OBJ_CORE, o));) {
      Core c;
      c.pus = cpus_of(o->cpuset, o);
      c.package = package_of(o, c.pus);
      machine_.cores.push_back(std::move(c));
    }
  }

  // Normal objects (machine, packages, caches, cores...) carry the I/O subtrees as io children.
  void walk_normal(hwloc_obj_t obj) {
    for (hwloc_obj_t c = obj->io_first_child; c; c = c->next_sibling) walk_io(c, -1);
    for (hwloc_obj_t c = obj->first_child; c; c = c->next_sibling) walk_normal(c);
  }

  int add_node(hwloc_obj_t obj, int parent) {
    IoNode node;
    node.parent = parent;
    const hwloc_obj_t local = hwloc_get_non_io_ancestor_obj(topo_, obj);
    if (local) {
      node.cpus = cpus_of(local->cpuset, local);
      node.package = package_of(local, node.cpus);
      node.numa = numa_of(local);
    }
    machine_.io.push_back(std::move(node));
    return static_cast<int>(machine_.io.size()) - 1;
  }

  static void set_pci(IoNode& node, const hwloc_obj_attr_u::hwloc_pcidev_attr_s& pci) {
    node.address = PciAddress{pci.domain, pci.bus, pci.dev, pci.func};
    node.pci_class = pci.class_id;
    node.vendor = pci.vendor_id;
    node.device_id = pci.device_id;
    node.link_gbytes_per_s = pci.linkspeed;
    if (pci.linkspeed > 0) node.link = fmt::format("{:.1f} GB/s", pci.linkspeed);
  }

  static OsDevice os_device(hwloc_obj_t obj) {
    OsDevice dev;
    dev.name = obj->name ? obj->name : "";
    switch (obj->attr ? obj->attr->osdev.type : HWLOC_OBJ_OSDEV_BLOCK) {
      case HWLOC_OBJ_OSDEV_NETWORK:
        dev.kind = OsDeviceKind::kNetwork;
        break;
      case HWLOC_OBJ_OSDEV_OPENFABRICS:
        dev.kind = OsDeviceKind::kOpenFabrics;
        break;
      case HWLOC_OBJ_OSDEV_GPU:
        dev.kind = OsDeviceKind::kGpu;
        break;
      case HWLOC_OBJ_OSDEV_COPROC:
        dev.kind = OsDeviceKind::kCoProc;
        break;
      case HWLOC_OBJ_OSDEV_BLOCK:
        dev.kind = OsDeviceKind::kBlock;
        break;
      case HWLOC_OBJ_OSDEV_DMA:
        dev.kind = OsDeviceKind::kDma;
        break;
      default:
        dev.kind = OsDeviceKind::kOther;
    }
    if (const char* uuid = hwloc_obj_get_info_by_name(obj, "NVIDIAUUID")) dev.uuid = uuid;
    return dev;
  }

  void walk_io(hwloc_obj_t obj, int parent) {
    if (obj->type == HWLOC_OBJ_OS_DEVICE) {
      // An OS device outside any PCI device (rare: soft-RoCE, some virtual NICs) becomes a
      // device of its own without a PCI address.
      OsDevice dev = os_device(obj);
      if (dev.name.empty()) return;
      const int index = add_node(obj, parent);
      machine_.io[index].os_devices.push_back(std::move(dev));
      return;
    }
    if (obj->type != HWLOC_OBJ_BRIDGE && obj->type != HWLOC_OBJ_PCI_DEVICE) return;
    const int index = add_node(obj, parent);
    IoNode& node = machine_.io[index];
    if (obj->type == HWLOC_OBJ_BRIDGE && obj->attr) {
      const hwloc_obj_attr_u::hwloc_bridge_attr_s& bridge = obj->attr->bridge;
      node.kind =
          bridge.upstream_type == HWLOC_OBJ_BRIDGE_HOST ? IoKind::kHostBridge : IoKind::kBridge;
      if (bridge.upstream_type == HWLOC_OBJ_BRIDGE_PCI) set_pci(node, bridge.upstream.pci);
    } else if (obj->type == HWLOC_OBJ_PCI_DEVICE && obj->attr) {
      node.kind = IoKind::kDevice;
      set_pci(node, obj->attr->pcidev);
    }
    for (hwloc_obj_t c = obj->io_first_child; c; c = c->next_sibling) {
      if (c->type == HWLOC_OBJ_OS_DEVICE && obj->type == HWLOC_OBJ_PCI_DEVICE) {
        OsDevice dev = os_device(c);
        if (!dev.name.empty()) machine_.io[index].os_devices.push_back(std::move(dev));
      } else {
        walk_io(c, index);
      }
    }
  }

  hwloc_topology_t topo_;
  const std::string& source_;
  Machine machine_;
  std::map<hwloc_obj_t, int> packages_;  // hwloc Package object -> index in machine_.packages
  std::map<int, int> numa_by_os_;        // NUMA os_index -> index in machine_.numa_nodes
};

// hwloc loads its plugins (PCI discovery through libpciaccess, ...) with the first topology and
// unloads them with the last one; unloading strands libpciaccess's global state, which
// LeakSanitizer then reports as a leak in an unknown module. One topology held for the life of
// the process keeps the plugins loaded (and saves loading them again at every discovery).
// (Its address goes to hwloc, so the static stays in memory where LeakSanitizer finds it.)
void keep_plugins_loaded() {
  static hwloc_topology_t keeper = nullptr;
  [[maybe_unused]] static const bool held = hwloc_topology_init(&keeper) == 0;
}

TopologyPtr new_topology() {
  keep_plugins_loaded();
  hwloc_topology_t raw = nullptr;
  if (hwloc_topology_init(&raw) != 0) {
    throw SystemError(fmt::format("hwloc_topology_init failed: {}", std::strerror(errno)));
  }
  TopologyPtr topo(raw);
  hwloc_topology_set_io_types_filter(raw, HWLOC_TYPE_FILTER_KEEP_ALL);
  return topo;
}

}  // namespace

Machine machine_from_live_hwloc() {
  TopologyPtr topo = new_topology();
  if (hwloc_topology_load(topo.get()) != 0) {
    throw SystemError(
        fmt::format("hwloc could not discover this machine: {}", std::strerror(errno)));
  }
  const char* version = hwloc_obj_get_info_by_name(hwloc_get_root_obj(topo.get()), "hwlocVersion");
  const std::string source =
      fmt::format("this machine (hwloc {})", version ? version : HWLOC_VERSION);
  Machine machine = LiveImporter(topo.get(), source).run();
  fill_live_net_speeds(machine, "/sys");
  return machine;
}

std::string live_hwloc_xml() {
  TopologyPtr topo = new_topology();
  char* buffer = nullptr;
  int length = 0;
  if (hwloc_topology_load(topo.get()) != 0 ||
      hwloc_topology_export_xmlbuffer(topo.get(), &buffer, &length, 0) != 0) {
    throw SystemError(fmt::format("hwloc could not export this machine: {}", std::strerror(errno)));
  }
  std::string xml(buffer, length > 0 ? static_cast<std::size_t>(length - 1) : 0);  // minus NUL
  hwloc_free_xmlbuffer(topo.get(), buffer);
  return xml;
}

std::string hwloc_version() { return HWLOC_VERSION; }

}  // namespace railcc::topology
