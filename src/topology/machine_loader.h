// Entry points for getting a Machine: from a topology file whose format is detected from its
// root element (<system> = NCCL topology, <topology> = hwloc XML v1 or v2), or from the live
// machine.
#pragma once

#include <cstddef>
#include <string>

#include "src/topology/machine.h"
#include "src/topology/xml_document.h"

namespace railcc::topology {

// Real topology files are well under 1 MiB even on large machines.
constexpr std::size_t kMaxTopologyFileBytes = 32u << 20;

// Reads and imports a topology file. Throws SystemError when it cannot be read, ConfigError
// naming the file (and line) when it is not a topology railcc understands.
Machine load_machine_file(const std::string& path);

// Same for text already in memory; `source` names it in error messages.
Machine load_machine_xml(const std::string& text, const std::string& source);

// The format a parsed document is in. Throws ConfigError for other documents and for hwloc XML
// versions newer than the hwloc library can import.
SourceFormat detect_format(const XmlElement& root, const std::string& source);

// Discovers this machine with hwloc. Throws SystemError when hwloc cannot.
Machine discover_machine();

}  // namespace railcc::topology
