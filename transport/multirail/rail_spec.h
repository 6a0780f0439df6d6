// A rail as this host sees it: one local interface and its address. RAILCC_RAILS names rails by
// interface or by address; both resolve to the pair, because sockets bind to the address and
// link state is read per interface.
#pragma once

#include <string>
#include <vector>

namespace railcc::transport {

struct RailSpec {
  std::string name;              // as written in RAILCC_RAILS
  std::string ifname;            // e.g. "rail0"
  std::string address;           // the interface's IPv4/IPv6 address used for this rail
  std::string describe() const;  // "rail0 (10.77.0.1)"
};

struct LocalAddress {
  std::string ifname;
  std::string address;  // IPv4 dotted quad or IPv6 text
};

// Every address of this host's interfaces, IPv4 first (link-local IPv6 left out: binding to one
// needs a scope id). What RAILCC_RAILS entries resolve against.
std::vector<LocalAddress> local_addresses();

// Resolves each RAILCC_RAILS entry on this host. Throws ConfigError naming the rank, the entry
// and RAILCC_RAILS when an entry is neither a local interface with an address nor a local address.
std::vector<RailSpec> resolve_rails(const std::vector<std::string>& names, int rank);

// False when the kernel reports the interface's link as down (operstate down, lowerlayerdown,
// notpresent, dormant) or the interface has vanished. Interfaces without a known state count as
// up: a rail is then judged by its traffic alone.
bool link_is_up(const std::string& ifname);

}  // namespace railcc::transport
