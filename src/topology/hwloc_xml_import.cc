#include "src/topology/hwloc_xml_import.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>

#include "railcc/status.hpp"

namespace railcc::topology {
namespace {

// Where in the tree the walk is: the nearest normal (non-I/O) object and package above it.
struct Context {
  CpuSet local_cpus;
  int local_numa_os = -1;  // os_index of the one NUMA node the local object covers, else -1
  int package = -1;        // index of the nearest Package ancestor, -1 none
  int io_parent = -1;      // index into Machine::io of the enclosing bridge or device
  bool in_pci_device = false;
};

class HwlocXmlImporter {
 public:
  HwlocXmlImporter(SourceFormat format, const std::string& source) : source_(source) {
    machine_.format = format;
    machine_.source = source;
  }

  Machine run(const XmlElement& root) {
    const XmlElement* top = nullptr;
    for (const XmlElement& c : root.children) {
      if (c.name == "object" && !top) top = &c;
    }
    if (!top) {
      throw ConfigError(fmt::format("{}:{}: <topology> has no <object>", source_, root.line));
    }
    walk(*top, Context{});
    resolve_localities();
    return std::move(machine_);
  }

 private:
  [[noreturn]] void fail(const XmlElement& e, const std::string& what) const {
    const std::string* type = e.attribute("type");
    throw ConfigError(fmt::format("{}:{}: <{}{}>: {}", source_, e.line, e.name,
                                  type ? fmt::format(" type=\"{}\"", *type) : "", what));
  }

  const std::string& required(const XmlElement& e, const char* key) const {
    const std::string* v = e.attribute(key);
    if (!v) fail(e, fmt::format("missing attribute {}", key));
    return *v;
  }

  int os_index(const XmlElement& e) const {
    const std::string* v = e.attribute("os_index");
    if (!v) return -1;
    long long out = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
    // hwloc writes (unsigned)-1 for "unknown".
    if (ec == std::errc() && ptr == v->data() + v->size() && out == 4294967295LL) return -1;
    if (ec != std::errc() || ptr != v->data() + v->size() || out < 0 || out >= CpuSet::kMaxCpus) {
      fail(e, fmt::format("os_index='{}' is not an integer in [0, {})", *v, CpuSet::kMaxCpus));
    }
    return static_cast<int>(out);
  }

  CpuSet bitmap(const XmlElement& e, const char* key) const {
    const std::string* v = e.attribute(key);
    if (!v) return {};
    return CpuSet::from_hex(*v, fmt::format("{}:{}: <object> {}", source_, e.line, key));
  }

  const std::string* info(const XmlElement& e, std::string_view name) const {
    for (const XmlElement& c : e.children) {
      if (c.name == "info" && c.attribute("name") && *c.attribute("name") == name) {
        return c.attribute("value");
      }
    }
    return nullptr;
  }

  void walk(const XmlElement& e, Context ctx) {
    const std::string& type = required(e, "type");
    if (type == "Bridge" || type == "PCIDev") {
      ctx.io_parent = add_pci(e, type == "Bridge", ctx);
      ctx.in_pci_device = type == "PCIDev";
    } else if (type == "OSDev") {
      add_os_device(e, ctx);
      return;
    } else if (type == "Misc") {
      return;  // annotations; nothing below them matters here
    } else {
      add_normal(e, type, ctx);
    }
    for (const XmlElement& c : e.children) {
      if (c.name == "object") walk(c, ctx);
    }
  }

  // Packages (v1 calls them Socket), NUMA nodes, cores; every normal object sets the locality
  // of the I/O objects below it.
  void add_normal(const XmlElement& e, const std::string& type, Context& ctx) {
    const int os = os_index(e);
    const CpuSet cpus = bitmap(e, "cpuset");
    if (e.attribute("cpuset")) ctx.local_cpus = cpus;
    if (e.attribute("nodeset")) {
      const CpuSet nodes = bitmap(e, "nodeset");
      ctx.local_numa_os = nodes.count() == 1 ? nodes.cpus().front() : -1;
    }
    if (type == "Package" || type == "Socket") {
      Package p{.os_index = os, .cpus = cpus};
      if (const std::string* model = info(e, "CPUModel")) p.cpu_model = *model;
      ctx.package = static_cast<int>(machine_.packages.size());
      machine_.packages.push_back(std::move(p));
    } else if (type == "NUMANode") {
      NumaNode n{.os_index = os, .package = ctx.package, .cpus = cpus};
      if (const std::string* mem = e.attribute("local_memory")) {
        auto [ptr, ec] = std::from_chars(mem->data(), mem->data() + mem->size(), n.memory_bytes);
        if (ec != std::errc() || ptr != mem->data() + mem->size()) {
          fail(e, fmt::format("local_memory='{}' is not a byte count", *mem));
        }
      }
      machine_.numa_nodes.push_back(std::move(n));
    } else if (type == "Core") {
      machine_.cores.push_back({.package = ctx.package, .pus = cpus});
    }
  }

  int add_pci(const XmlElement& e, bool bridge, const Context& ctx) {
    IoNode node;
    node.parent = ctx.io_parent;
    node.package = ctx.package;
    node.cpus = ctx.local_cpus;
    node.source_line = e.line;
    node.kind = IoKind::kDevice;
    bool has_pci = !bridge;
    if (bridge) {
      // "U-D": upstream and downstream types; upstream 0 = host bridge, 1 = PCI.
      const std::string& bt = required(e, "bridge_type");
      if (bt.size() != 3 || bt[1] != '-' || (bt[0] != '0' && bt[0] != '1')) {
        fail(e, fmt::format("bridge_type='{}' is not 0-1 or 1-1", bt));
      }
      node.kind = bt[0] == '0' ? IoKind::kHostBridge : IoKind::kBridge;
      has_pci = bt[0] == '1';
    }
    if (has_pci) set_pci(e, node);
    machine_.io.push_back(std::move(node));
    numa_os_.push_back(ctx.local_numa_os);
    return static_cast<int>(machine_.io.size()) - 1;
  }

  void set_pci(const XmlElement& e, IoNode& node) {
    const std::string& busid = required(e, "pci_busid");
    node.address = PciAddress::parse(busid);
    if (!node.address) fail(e, fmt::format("pci_busid='{}' is not a PCI address", busid));
    if (auto [it, fresh] = busid_lines_.emplace(*node.address, e.line); !fresh) {
      fail(e, fmt::format("pci_busid {} also used at line {}", busid, it->second));
    }
    // "0302 [10de:06d2] [00de:0030] a3": class, [vendor:device], [subvendor:subdevice], rev.
    const std::string& t = required(e, "pci_type");
    unsigned cls = 0, vendor = 0, device = 0;
    auto hex4 = [&](std::size_t at, unsigned& out) {
      if (at + 4 > t.size()) return false;
      auto [ptr, ec] = std::from_chars(t.data() + at, t.data() + at + 4, out, 16);
      return ec == std::errc() && ptr == t.data() + at + 4;
    };
    if (!hex4(0, cls) || t.size() < 16 || t[4] != ' ' || t[5] != '[' || !hex4(6, vendor) ||
        t[10] != ':' || !hex4(11, device) || t[15] != ']') {
      fail(e, fmt::format("pci_type='{}' is not like \"0302 [10de:20b0] [10de:134f] a1\"", t));
    }
    node.pci_class = static_cast<std::uint16_t>(cls);
    node.vendor = static_cast<std::uint16_t>(vendor);
    node.device_id = static_cast<std::uint16_t>(device);
    if (const std::string* speed = e.attribute("pci_link_speed")) {
      char* end = nullptr;
      const double v = std::strtod(speed->c_str(), &end);
      if (end != speed->c_str() + speed->size() || !std::isfinite(v) || v < 0 || v > 1e6) {
        fail(e, fmt::format("pci_link_speed='{}' is not a bandwidth in GB/s", *speed));
      }
      node.link_gbytes_per_s = v;
      if (v > 0) node.link = fmt::format("{:.1f} GB/s", v);
    }
  }

  void add_os_device(const XmlElement& e, const Context& ctx) {
    OsDevice dev;
    if (const std::string* name = e.attribute("name")) dev.name = *name;
    const std::string& t = required(e, "osdev_type");
    int kind = -1;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), kind);
    if (ec != std::errc() || ptr != t.data() + t.size() || kind < 0) {
      fail(e, fmt::format("osdev_type='{}' is not a non-negative integer", t));
    }
    // hwloc_obj_osdev_type_e, the same in XML v1 and v2.
    static constexpr OsDeviceKind kKinds[] = {OsDeviceKind::kBlock,   OsDeviceKind::kGpu,
                                              OsDeviceKind::kNetwork, OsDeviceKind::kOpenFabrics,
                                              OsDeviceKind::kDma,     OsDeviceKind::kCoProc};
    dev.kind = kind < 6 ? kKinds[kind] : OsDeviceKind::kOther;
    if (const std::string* uuid = info(e, "NVIDIAUUID")) dev.uuid = *uuid;
    if (dev.name.empty()) return;
    if (ctx.in_pci_device) {
      machine_.io[ctx.io_parent].os_devices.push_back(std::move(dev));
      return;
    }
    // Outside any PCI device (soft-RoCE, some virtual NICs): a device without a bus id.
    IoNode node;
    node.parent = ctx.io_parent;
    node.package = ctx.package;
    node.cpus = ctx.local_cpus;
    node.source_line = e.line;
    node.os_devices.push_back(std::move(dev));
    machine_.io.push_back(std::move(node));
    numa_os_.push_back(ctx.local_numa_os);
  }

  // NUMA nodes may come after the I/O objects that refer to them, and v1 files may put NUMA
  // nodes above packages, so indices are resolved once everything is read.
  void resolve_localities() {
    std::map<int, int> numa_by_os;
    for (std::size_t i = 0; i < machine_.numa_nodes.size(); ++i) {
      numa_by_os.emplace(machine_.numa_nodes[i].os_index, static_cast<int>(i));
    }
    for (std::size_t i = 0; i < machine_.io.size(); ++i) {
      IoNode& n = machine_.io[i];
      const auto it = numa_by_os.find(numa_os_[i]);
      n.numa = numa_os_[i] >= 0 && it != numa_by_os.end() ? it->second : -1;
      if (n.package < 0) n.package = machine_.package_containing(n.cpus);
    }
    for (NumaNode& n : machine_.numa_nodes) {
      if (n.package < 0) n.package = machine_.package_containing(n.cpus);
    }
    for (Core& c : machine_.cores) {
      if (c.package < 0) c.package = machine_.package_containing(c.pus);
    }
  }

  const std::string& source_;
  Machine machine_;
  std::vector<int> numa_os_;  // per Machine::io entry: NUMA os_index from the walk, -1 none
  std::map<PciAddress, int> busid_lines_;
};

}  // namespace

Machine machine_from_hwloc_xml(const XmlElement& root, SourceFormat format,
                               const std::string& source) {
  return HwlocXmlImporter(format, source).run(root);
}

}  // namespace railcc::topology
