#include "src/topology/sysfs_net_speed.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace railcc::topology {
namespace {

// First number in a small sysfs file ("100000\n", "200 Gb/sec (4X HDR)\n"); 0 when unreadable.
double read_number(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string text;
  if (!in || !std::getline(in, text)) return 0;
  const double v = std::strtod(text.c_str(), nullptr);
  return v > 0 ? v : 0;  // Ethernet reports -1 (unknown) while the link is down
}

bool safe_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

double port_rate_gbps(const std::filesystem::path& ports) {
  double best = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(ports, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    best = std::max(best, read_number(it->path() / "rate"));
  }
  return best;
}

}  // namespace

void fill_live_net_speeds(Machine& machine, const std::string& sysfs_root) {
  const std::filesystem::path root(sysfs_root);
  for (IoNode& node : machine.io) {
    for (OsDevice& dev : node.os_devices) {
      if (!safe_name(dev.name)) continue;
      if (dev.kind == OsDeviceKind::kNetwork) {
        dev.speed_gbps = read_number(root / "class/net" / dev.name / "speed") / 1000.0;
      } else if (dev.kind == OsDeviceKind::kOpenFabrics) {
        dev.speed_gbps = port_rate_gbps(root / "class/infiniband" / dev.name / "ports");
      }
    }
  }
}

}  // namespace railcc::topology
