#include "src/topology/io_path.h"

#include <algorithm>
#include <vector>

namespace railcc::topology {
namespace {

// The node and its I/O ancestors, nearest first. Parents always have smaller indices (the
// builders guarantee it), so this terminates even on a corrupt model.
std::vector<int> chain(const Machine& m, int node) {
  std::vector<int> out;
  for (int i = node; i >= 0 && i < static_cast<int>(m.io.size());) {
    out.push_back(i);
    const int parent = m.io[i].parent;
    if (parent >= i) break;
    i = parent;
  }
  return out;
}

// Depth of the node's attachment point (machine 0, package 1, NUMA node 2) in the unified tree.
int locality_depth(const IoNode& n) { return (n.package >= 0 ? 1 : 0) + (n.numa >= 0 ? 1 : 0); }

}  // namespace

const char* path_level_name(PathLevel level) {
  switch (level) {
    case PathLevel::kSwitch:
      return "PIX/PXB (same PCIe switch)";
    case PathLevel::kHostBridge:
      return "PHB (same host bridge)";
    case PathLevel::kNumaNode:
      return "NODE (same NUMA node)";
    case PathLevel::kSocket:
      return "SKT (same socket, other NUMA node)";
    case PathLevel::kSystem:
      return "SYS (other socket/NUMA)";
  }
  return "?";
}

const char* path_level_short(PathLevel level) {
  switch (level) {
    case PathLevel::kSwitch:
      return "PIX/PXB";
    case PathLevel::kHostBridge:
      return "PHB";
    case PathLevel::kNumaNode:
      return "NODE";
    case PathLevel::kSocket:
      return "SKT";
    case PathLevel::kSystem:
      return "SYS";
  }
  return "?";
}

IoPath io_path(const Machine& machine, int a, int b) {
  const std::vector<int> ca = chain(machine, a);
  const std::vector<int> cb = chain(machine, b);
  const IoNode& na = machine.io[a];
  const IoNode& nb = machine.io[b];
  const int depth_a = locality_depth(na) + static_cast<int>(ca.size());
  const int depth_b = locality_depth(nb) + static_cast<int>(cb.size());
  for (std::size_t i = 0; i < ca.size(); ++i) {
    const auto j = std::find(cb.begin(), cb.end(), ca[i]);
    if (j == cb.end()) continue;
    const bool host = machine.io[ca[i]].kind == IoKind::kHostBridge;
    return {host ? PathLevel::kHostBridge : PathLevel::kSwitch,
            static_cast<int>(i) + static_cast<int>(j - cb.begin())};
  }
  // No common I/O ancestor: compare where the two trees attach.
  PathLevel level = PathLevel::kSystem;
  int lca_depth = 0;
  if (na.numa >= 0 && na.numa == nb.numa) {
    level = PathLevel::kNumaNode;
    lca_depth = locality_depth(na);
  } else if (na.package >= 0 && na.package == nb.package) {
    level = PathLevel::kSocket;
    lca_depth = 1;
  }
  return {level, depth_a + depth_b - 2 * lca_depth};
}

}  // namespace railcc::topology
