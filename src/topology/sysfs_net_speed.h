// Link rates of the live machine's network ports, read from sysfs because hwloc does not report
// them: /sys/class/net/<if>/speed (Mb/s) and /sys/class/infiniband/<dev>/ports/<n>/rate.
#pragma once

#include <string>

#include "src/topology/machine.h"

namespace railcc::topology {

// Sets OsDevice::speed_gbps of every network and OpenFabrics device that sysfs (rooted at
// `sysfs_root`, normally "/sys") knows; unknown rates stay 0. Never throws for missing files.
void fill_live_net_speeds(Machine& machine, const std::string& sysfs_root);

}  // namespace railcc::topology
