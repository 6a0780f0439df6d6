// How far apart two I/O devices are: the level of their lowest common ancestor, as in NCCL's
// path types, plus the number of tree hops between them (the tie-break inside a level).
#pragma once

#include "src/topology/machine.h"

namespace railcc::topology {

enum class PathLevel {
  kSwitch = 1,      // PIX/PXB: below one PCIe switch or bridge
  kHostBridge = 2,  // PHB: below one host bridge (root complex), through different root ports
  kNumaNode = 3,    // NODE: same NUMA node, different host bridges
  kSocket = 4,      // SKT: same socket, different NUMA nodes
  kSystem = 5,      // SYS: across sockets or NUMA nodes
};

// "PIX/PXB (same PCIe switch)", ... as in shared/topologies/expected.json.
const char* path_level_name(PathLevel level);
// "PIX/PXB", "PHB", "NODE", "SKT", "SYS".
const char* path_level_short(PathLevel level);

struct IoPath {
  PathLevel level = PathLevel::kSystem;
  int hops = 0;  // edges in the tree machine > package > NUMA node > I/O tree
  auto operator<=>(const IoPath&) const = default;
};

// `a` and `b` index Machine::io.
IoPath io_path(const Machine& machine, int a, int b);

}  // namespace railcc::topology
