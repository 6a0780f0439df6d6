#include "src/topology/sysfs_pci.h"

#include <stdlib.h>

#include <climits>
#include <string_view>

namespace railcc::topology {

std::optional<PciAddress> pci_of_sysfs_device(const std::string& link) {
  char resolved[PATH_MAX] = {};
  if (!::realpath(link.c_str(), resolved)) return std::nullopt;
  std::string_view path(resolved);
  while (!path.empty()) {
    const auto slash = path.rfind('/');
    const std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
    if (auto pci = PciAddress::parse(last)) return pci;
    if (slash == std::string_view::npos) break;
    path = path.substr(0, slash);
  }
  return std::nullopt;
}

}  // namespace railcc::topology
