// Reads an NCCL topology file (the NCCL_TOPO_FILE format: <system><cpu><pci><gpu/><nic><net/>)
// into the machine model. NCCL files describe NUMA nodes (<cpu numaid>) but not sockets, so each
// <cpu> becomes its own package and Machine::packages_stated is false.
#pragma once

#include <string>

#include "src/topology/machine.h"
#include "src/topology/xml_document.h"

namespace railcc::topology {

// `root` is the parsed <system> element; `source` names the file in error messages.
// Throws ConfigError "source:line: <element>: what is wrong" for values NCCL would not accept.
Machine machine_from_nccl_xml(const XmlElement& root, const std::string& source);

}  // namespace railcc::topology
