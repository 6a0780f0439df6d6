#include "src/topology/machine_loader.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "railcc/status.hpp"
#include "src/topology/hwloc_live.h"
#include "src/topology/hwloc_xml_import.h"
#include "src/topology/nccl_xml_import.h"

namespace railcc::topology {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

std::string read_file(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    throw SystemError(
        fmt::format("cannot open topology file '{}': {}", path, std::strerror(errno)));
  }
  std::string text;
  char buf[65536];
  while (true) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, f.get());
    text.append(buf, n);
    if (text.size() > kMaxTopologyFileBytes) {
      throw ConfigError(fmt::format("topology file '{}' is larger than {} MiB: not a topology",
                                    path, kMaxTopologyFileBytes >> 20));
    }
    if (n < sizeof buf) break;
  }
  if (std::ferror(f.get())) {
    throw SystemError(
        fmt::format("cannot read topology file '{}': {}", path, std::strerror(errno)));
  }
  return text;
}

}  // namespace

SourceFormat detect_format(const XmlElement& root, const std::string& source) {
  if (root.name == "system") return SourceFormat::kNcclXml;
  if (root.name != "topology") {
    throw ConfigError(
        fmt::format("{}:{}: root element <{}> is neither <system> (an NCCL "
                    "topology file) nor <topology> (an hwloc XML file)",
                    source, root.line, root.name));
  }
  const std::string* version = root.attribute("version");
  if (!version) return SourceFormat::kHwlocXmlV1;  // v1 files carry no version attribute
  const int major = std::atoi(version->c_str());
  if (major == 1) return SourceFormat::kHwlocXmlV1;
  if (major == 2) return SourceFormat::kHwlocXmlV2;
  // hwloc 3 changed the format (OS device types, for one); say so rather than misread it.
  throw ConfigError(
      fmt::format("{}:{}: hwloc XML version '{}' is not supported: railcc reads "
                  "versions 1.x and 2.x (write one with hwloc 2.x: lstopo --of xml)",
                  source, root.line, *version));
}

Machine load_machine_xml(const std::string& text, const std::string& source) {
  if (text.size() > kMaxTopologyFileBytes) {
    throw ConfigError(
        fmt::format("{}: larger than {} MiB: not a topology", source, kMaxTopologyFileBytes >> 20));
  }
  const XmlElement root = parse_xml(text, source);
  const SourceFormat format = detect_format(root, source);
  if (format == SourceFormat::kNcclXml) return machine_from_nccl_xml(root, source);
  return machine_from_hwloc_xml(root, format, source);
}

Machine load_machine_file(const std::string& path) {
  return load_machine_xml(read_file(path), path);
}

Machine discover_machine() { return machine_from_live_hwloc(); }

}  // namespace railcc::topology
