#include "src/topology/nccl_xml_import.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>

#include "railcc/status.hpp"

namespace railcc::topology {
namespace {

class NcclImporter {
 public:
  explicit NcclImporter(const std::string& source) : source_(source) {
    machine_.format = SourceFormat::kNcclXml;
    machine_.source = source;
    machine_.packages_stated = false;
  }

  Machine run(const XmlElement& root) {
    if (root.name != "system") fail(root, "the root element must be <system>");
    if (const std::string* v = root.attribute("version")) integer(root, "version", *v, 0, 1000);
    for (const XmlElement& child : root.children) {
      // Newer NCCL versions add elements (e.g. <nvs>); skipping what we do not know keeps old
      // railcc builds working on new files.
      if (child.name == "cpu") add_cpu(child);
    }
    return std::move(machine_);
  }

 private:
  [[noreturn]] void fail(const XmlElement& e, const std::string& what) const {
    throw ConfigError(fmt::format("{}:{}: <{}>: {}", source_, e.line, e.name, what));
  }

  long long integer(const XmlElement& e, const char* key, const std::string& v, long long lo,
                    long long hi) const {
    long long out = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || ptr != v.data() + v.size() || out < lo || out > hi) {
      fail(e, fmt::format("{}='{}' is not an integer in [{}, {}]", key, v, lo, hi));
    }
    return out;
  }

  // "0x030200" style hex; NCCL always writes the prefix but accept its absence.
  unsigned long hex(const XmlElement& e, const char* key, const std::string& v) const {
    std::string_view digits = v;
    if (digits.starts_with("0x") || digits.starts_with("0X")) digits.remove_prefix(2);
    unsigned long out = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out, 16);
    if (digits.empty() || digits.size() > 8 || ec != std::errc() ||
        ptr != digits.data() + digits.size()) {
      fail(e, fmt::format("{}='{}' is not a hex number such as 0x030200", key, v));
    }
    return out;
  }

  void add_cpu(const XmlElement& cpu) {
    const std::string* numaid = cpu.attribute("numaid");
    if (!numaid) fail(cpu, "missing attribute numaid");
    NumaNode node;
    node.os_index = static_cast<int>(integer(cpu, "numaid", *numaid, 0, 4095));
    if (auto [it, fresh] = numa_lines_.emplace(node.os_index, cpu.line); !fresh) {
      fail(cpu,
           fmt::format("numaid {} also used by the <cpu> at line {}", node.os_index, it->second));
    }
    if (const std::string* aff = cpu.attribute("affinity")) {
      node.cpus = CpuSet::from_hex(
          *aff, fmt::format("{}:{}: <cpu numaid=\"{}\"> affinity", source_, cpu.line, *numaid));
    }
    Package package;
    package.cpus = node.cpus;
    const std::string* vendor = cpu.attribute("vendor");
    const std::string* family = cpu.attribute("familyid");
    const std::string* model = cpu.attribute("modelid");
    if (vendor) package.cpu_model = *vendor;
    if (family) package.cpu_model += fmt::format(" family {}", *family);
    if (model) package.cpu_model += fmt::format(" model {}", *model);
    package.os_index = static_cast<int>(machine_.packages.size());
    node.package = package.os_index;
    machine_.packages.push_back(std::move(package));
    machine_.numa_nodes.push_back(std::move(node));
    const int numa = static_cast<int>(machine_.numa_nodes.size()) - 1;
    for (const XmlElement& child : cpu.children) {
      if (child.name == "pci") add_pci(child, -1, numa);
      if (child.name == "nic") add_nic(child, new_node(child, -1, numa));
    }
  }

  int new_node(const XmlElement& e, int parent, int numa) {
    IoNode node;
    node.parent = parent;
    node.numa = numa;
    node.package = machine_.numa_nodes[numa].package;
    node.cpus = machine_.numa_nodes[numa].cpus;
    node.source_line = e.line;
    machine_.io.push_back(std::move(node));
    return static_cast<int>(machine_.io.size()) - 1;
  }

  void add_pci(const XmlElement& pci, int parent, int numa) {
    const std::string* busid = pci.attribute("busid");
    if (!busid) fail(pci, "missing attribute busid");
    const auto address = PciAddress::parse(*busid);
    if (!address) {
      fail(pci, fmt::format("busid='{}' is not a PCI address like 0000:07:00.0", *busid));
    }
    if (auto [it, fresh] = busid_lines_.emplace(*address, pci.line); !fresh) {
      fail(pci, fmt::format("busid {} also used at line {}", address->to_string(), it->second));
    }
    const int index = new_node(pci, parent, numa);
    {
      IoNode& node = machine_.io[index];
      node.address = address;
      if (const std::string* c = pci.attribute("class")) {
        const unsigned long v = hex(pci, "class", *c);
        // NCCL writes class, subclass and programming interface (0x030200); keep the first two.
        const bool with_prog_if = c->size() - (c->starts_with("0x") ? 2 : 0) > 4;
        node.pci_class = static_cast<std::uint16_t>(with_prog_if ? v >> 8 : v);
      }
      if (const std::string* v = pci.attribute("vendor")) {
        node.vendor = static_cast<std::uint16_t>(hex(pci, "vendor", *v));
      }
      if (const std::string* d = pci.attribute("device")) {
        node.device_id = static_cast<std::uint16_t>(hex(pci, "device", *d));
      }
      set_link(pci, node);
    }
    bool has_pci_children = false;
    for (const XmlElement& child : pci.children) {
      if (child.name == "pci") {
        has_pci_children = true;
        add_pci(child, index, numa);
      } else if (child.name == "gpu") {
        machine_.io[index].nccl_gpu = true;
      } else if (child.name == "nic") {
        add_nic(child, index);
      }
    }
    IoNode& node = machine_.io[index];
    node.kind = node.pci_class == 0x0604 || has_pci_children ? IoKind::kBridge : IoKind::kDevice;
  }

  void set_link(const XmlElement& pci, IoNode& node) const {
    const std::string* speed = pci.attribute("link_speed");
    const std::string* width = pci.attribute("link_width");
    if (speed) node.link = *speed;
    if (width) node.link += fmt::format("{}x{}", node.link.empty() ? "" : " ", *width);
    if (!speed || !width) return;
    // "16 GT/s", "32.0 GT/s PCIe": bandwidth = rate x lanes x line-code efficiency / 8 bits.
    const double gts = std::strtod(speed->c_str(), nullptr);
    const long long lanes = integer(pci, "link_width", *width, 0, 64);
    if (!(gts > 0 && gts < 1000)) return;  // "Unknown" and friends: keep the text only
    const double efficiency = gts <= 5.0 ? 0.8 : 128.0 / 130.0;
    node.link_gbytes_per_s = gts * static_cast<double>(lanes) * efficiency / 8.0;
  }

  void add_nic(const XmlElement& nic, int index) {
    machine_.io[index].nccl_nic = true;
    for (const XmlElement& net : nic.children) {
      if (net.name != "net") continue;
      OsDevice dev;
      dev.kind = OsDeviceKind::kNcclNet;
      if (const std::string* name = net.attribute("name")) {
        if (name->empty()) fail(net, "empty name");
        // Names identify rails, so two ports must not share one.
        if (auto [it, fresh] = net_lines_.emplace(*name, net.line); !fresh) {
          fail(net, fmt::format("name '{}' also used at line {}", *name, it->second));
        }
        dev.name = *name;
      }
      if (const std::string* s = net.attribute("speed")) {
        // Mb/s, as NCCL's ncclNetProperties_t reports it.
        dev.speed_gbps = static_cast<double>(integer(net, "speed", *s, 0, 100'000'000)) / 1000.0;
      }
      if (const std::string* p = net.attribute("port")) {
        dev.port = static_cast<int>(integer(net, "port", *p, 0, 1 << 20));
      }
      machine_.io[index].os_devices.push_back(std::move(dev));
    }
  }

  const std::string& source_;
  Machine machine_;
  std::map<int, int> numa_lines_;          // numaid -> line of its <cpu>
  std::map<PciAddress, int> busid_lines_;  // bus id -> line of its <pci>
  std::map<std::string, int> net_lines_;   // <net name> -> its line
};

}  // namespace

Machine machine_from_nccl_xml(const XmlElement& root, const std::string& source) {
  return NcclImporter(source).run(root);
}

}  // namespace railcc::topology
