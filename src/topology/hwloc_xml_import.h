// Reads an hwloc XML file (format v1 or v2, as written by `lstopo --of xml` or
// hwloc_topology_export_xml) into the machine model, from the document parse_xml() produced.
//
// Why not hwloc's own importer: hwloc 2.9's XML import crashes on some malformed files (a
// misspelt attribute on the root object is enough), and a topology file must never crash
// railcc. Only what the rail plan needs is read - packages, NUMA nodes, cores, the I/O tree and
// OS devices - with the same meaning as live discovery (hwloc_live.h), which a test checks by
// importing the live machine's own XML export.
#pragma once

#include <string>

#include "src/topology/machine.h"
#include "src/topology/xml_document.h"

namespace railcc::topology {

// `root` is the <topology> element; `source` names the file in errors.
// Throws ConfigError "source:line: <object type=...>: what is wrong".
Machine machine_from_hwloc_xml(const XmlElement& root, SourceFormat format,
                               const std::string& source);

}  // namespace railcc::topology
