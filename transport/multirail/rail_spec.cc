#include "transport/multirail/rail_spec.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <net/if.h>

#include <algorithm>
#include <fstream>
#include <memory>

#include "railcc/status.hpp"

namespace railcc::transport {

std::vector<LocalAddress> local_addresses() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return {};
  std::unique_ptr<ifaddrs, decltype(&freeifaddrs)> guard(list, &freeifaddrs);
  std::vector<LocalAddress> out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr) continue;
    const int family = a->ifa_addr->sa_family;
    char text[INET6_ADDRSTRLEN] = {};
    if (family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, text,
                sizeof(text));
    } else if (family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr)) continue;  // would need a scope id to bind
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    } else {
      continue;
    }
    out.push_back({a->ifa_name, text});
  }
  // IPv4 first: an interface with both uses its IPv4 address.
  std::stable_partition(out.begin(), out.end(), [](const LocalAddress& a) {
    return a.address.find(':') == std::string::npos;
  });
  return out;
}

std::string RailSpec::describe() const {
  return name == ifname ? fmt::format("{} ({})", ifname, address)
                        : fmt::format("{} ({} on {})", name, address, ifname);
}

std::vector<RailSpec> resolve_rails(const std::vector<std::string>& names, int rank) {
  const std::vector<LocalAddress> local = local_addresses();
  std::vector<RailSpec> rails;
  for (const std::string& name : names) {
    const LocalAddress* match = nullptr;
    for (const LocalAddress& a : local) {
      if (a.address == name) {
        match = &a;
        break;
      }
    }
    if (!match) {
      for (const LocalAddress& a : local) {
        if (a.ifname == name) {
          match = &a;
          break;
        }
      }
    }
    if (!match) {
      std::string known;
      for (const LocalAddress& a : local) known += fmt::format(" {}={}", a.ifname, a.address);
      throw ConfigError(fmt::format(
          "RAILCC_RAILS: rank {}: rail '{}' is neither an interface with an address nor a local "
          "address of this host (this host has:{})",
          rank, name, known.empty() ? " nothing" : known));
    }
    rails.push_back({name, match->ifname, match->address});
  }
  return rails;
}

bool link_is_up(const std::string& ifname) {
  if (ifname.empty()) return true;
  std::ifstream in("/sys/class/net/" + ifname + "/operstate");
  if (!in) return if_nametoindex(ifname.c_str()) != 0;
  std::string state;
  in >> state;
  return !(state == "down" || state == "lowerlayerdown" || state == "notpresent" ||
           state == "dormant");
}

}  // namespace railcc::transport
