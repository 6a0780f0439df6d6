// Discovers the live machine with the hwloc library. Every I/O object is kept (host bridges, PCI
// bridges, PCI devices, OS devices) because the rail plan needs the whole PCIe tree.
//
// hwloc XML files are not read through hwloc but by hwloc_xml_import.h: hwloc 2.9's XML importer
// crashes on some malformed files (lstopo itself segfaults when the root object's
// complete_nodeset attribute is misspelt), and a topology file must never crash railcc.
#pragma once

#include <string>

#include "src/topology/machine.h"

namespace railcc::topology {

// Discovers this machine. Throws SystemError when hwloc cannot.
Machine machine_from_live_hwloc();

// This machine as hwloc XML (v2), as `lstopo --of xml` writes it: for saving a machine's
// topology, and for checking that the XML importer agrees with live discovery.
std::string live_hwloc_xml();

// "2.9.0": the hwloc release railcc was built with.
std::string hwloc_version();

}  // namespace railcc::topology
