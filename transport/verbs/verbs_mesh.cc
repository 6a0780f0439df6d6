#include "transport/verbs/verbs_mesh.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <atomic>
#include <sstream>

#include "src/common/log.h"
#include "src/telemetry/metrics.h"
#include "transport/connection_config.h"
#include "transport/multirail/multirail_connection.h"
#include "transport/stream_connection.h"
#include "transport/verbs/verbs_port.h"
#include "transport/verbs/verbs_redial.h"
#include "transport/verbs/verbs_stream.h"

namespace railcc::transport::verbs {
namespace {

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

std::string get(Store& store, const std::string& key, const Deadline& deadline, int rank,
                int peer) {
  try {
    return text(store.get(key, std::chrono::milliseconds(deadline.poll_ms())));
  } catch (const TimeoutError&) {
    throw TimeoutError(
        fmt::format("rank {} never published its RDMA connection data ({}) to rank {} in time "
                    "(RAILCC_TIMEOUT)",
                    peer, key, rank));
  }
}

// How a port is named in rail messages: the GID on RoCE, the LID on InfiniBand.
std::string address_of(bool roce, const QpInfo& q) {
  if (!roce) return fmt::format("lid {}", q.lid);
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, q.gid.raw, buf, sizeof(buf));
  return buf;
}

}  // namespace

std::vector<int> choose_verbs_peers(Store& store, int rank, const std::vector<int>& remote_peers,
                                    const Config& config, const Deadline& deadline,
                                    std::shared_ptr<VerbsPorts>& opened) {
  const bool forced = config.transport == TransportKind::kVerbs;
  opened = std::make_shared<VerbsPorts>(open_verbs_ports(config, rank));
  VerbsPorts& ports = *opened;
  if (ports.ports.empty()) {
    if (forced) {
      throw ConfigError(fmt::format(
          "rank {}: RAILCC_TRANSPORT=verbs, but {}. Unset RAILCC_TRANSPORT (or set it to auto "
          "or tcp) to use tcp instead",
          rank, ports.unavailable));
    }
    static std::atomic<bool> logged{false};
    if (!logged.exchange(true)) {
      RAILCC_WARN("net", "rank {}: {}; using tcp between hosts (RAILCC_TRANSPORT=auto)", rank,
                  ports.unavailable);
    }
  }
  // Both ends must agree: each rank says how many ports it brings.
  store.set(fmt::format("verbs-ports/{}", rank), bytes(std::to_string(ports.ports.size())));
  std::vector<int> out;
  for (int r : remote_peers) {
    const int theirs =
        std::atoi(get(store, fmt::format("verbs-ports/{}", r), deadline, rank, r).c_str());
    if (theirs > 0 && !ports.ports.empty()) {
      if (theirs != static_cast<int>(ports.ports.size())) {
        throw ConfigError(fmt::format(
            "rank {} uses {} RDMA port(s) ({}) but rank {} uses {}: every rank must use the same "
            "number of ports; list them in RAILCC_IB_HCA (rail k of one host reaches rail k of "
            "another)",
            rank, ports.ports.size(), ports.source, r, theirs));
      }
      out.push_back(r);
    } else if (forced) {
      throw ConfigError(fmt::format(
          "rank {}: RAILCC_TRANSPORT=verbs, but rank {} found no RDMA device (see its log); "
          "unset RAILCC_TRANSPORT to use tcp",
          rank, r));
    }
  }
  if (out.empty()) ports.ports.clear();  // close the devices: nobody to talk to over them
  return out;
}

std::map<int, std::unique_ptr<Connection>> connect_verbs_peers(
    Store& store, int rank, uint64_t comm_id, const std::vector<int>& peers,
    const std::shared_ptr<VerbsPorts>& opened, const Config& config, const Deadline& deadline) {
  std::map<int, std::unique_ptr<Connection>> out;
  if (peers.empty()) return out;
  const VerbsPorts& ports = *opened;
  const int nports = static_cast<int>(ports.ports.size());
  const bool rails = nports > 1;
  const int per_port = rails ? 1 : config.ib_qps_per_peer;
  const int nstreams = nports * per_port;
  // 1. Create the queue pairs and publish their addresses, one key per ordered pair of ranks.
  std::map<int, std::vector<std::unique_ptr<VerbsStream>>> streams;
  for (int r : peers) {
    std::string published;
    for (int k = 0; k < nstreams; ++k) {
      const auto& port = ports.ports[k / per_port];
      const std::string who =
          rails ? fmt::format("rank {} (verbs {})", r, port->describe())
                : fmt::format("rank {} (verbs {}, QP {}/{})", r, port->describe(), k + 1, nstreams);
      streams[r].push_back(
          std::make_unique<VerbsStream>(port, r, config.ib_ring_bytes, who, config.ib_zcopy_bytes));
      streams[r].back()->set_port_down_fatal(!rails);
      published += streams[r].back()->local_info().to_string() + "\n";
    }
    store.set(fmt::format("verbs/{}/{}", rank, r), bytes(published));
  }
  // 2. Connect each queue pair to its counterpart.
  std::map<int, std::vector<QpInfo>> remote;
  for (int r : peers) {
    std::istringstream in(get(store, fmt::format("verbs/{}/{}", r, rank), deadline, rank, r));
    std::string line;
    while (std::getline(in, line)) {
      remote[r].push_back(QpInfo::parse(line, fmt::format("rank {}", r)));
    }
    if (static_cast<int>(remote[r].size()) != nstreams) {
      throw ConfigError(fmt::format(
          "rank {} opened {} queue pair(s) to rank {}, which expects {}: RAILCC_IB_HCA and "
          "RAILCC_IB_QPS must be the same on every rank",
          r, remote[r].size(), rank, nstreams));
    }
    for (int k = 0; k < nstreams; ++k) streams[r][k]->connect(remote[r][k]);
  }
  // 3. Nobody writes before every peer's queue pairs can receive (an RC packet to a queue pair
  // not yet ready to receive is retried, and after retry_cnt the connection breaks).
  store.set(fmt::format("verbs-ready/{}", rank), bytes("1"));
  std::vector<std::string> keys;
  for (int r : peers) keys.push_back(fmt::format("verbs-ready/{}", r));
  try {
    store.wait(keys, std::chrono::milliseconds(deadline.poll_ms()));
  } catch (const TimeoutError&) {
    throw TimeoutError(fmt::format(
        "rank {}: some RDMA peer never finished connecting its queue pairs within RAILCC_TIMEOUT",
        rank));
  }
  // 4. Wrap them in connections.
  for (int r : peers) {
    auto& v = streams[r];
    if (!rails) {
      std::vector<std::unique_ptr<Stream>> s;
      for (auto& q : v) s.push_back(std::move(q));
      auto conn = std::make_unique<StreamConnection>(rank, r, comm_id, std::move(s));
      if (config.telemetry) conn->set_channel(telemetry::Metrics::global().channel("verbs"));
      transport::apply_config(*conn, config);
      out[r] = std::move(conn);
      continue;
    }
    std::vector<RailLink> links;
    for (int k = 0; k < nports; ++k) {
      const auto& port = ports.ports[k];
      RailLink link;
      link.local.name = fmt::format("{}:{}", port->hca(), port->port());
      link.local.address = address_of(port->roce(), v[k]->local_info());
      // No interface to watch: the stream reports its own failures (RailLink::stream).
      link.peer_address = address_of(port->roce(), remote[r][k]);
      if (config.telemetry) link.counters = telemetry::Metrics::global().channel(link.local.name);
      link.stream = std::move(v[k]);
      link.redial = std::make_unique<VerbsRedial>(port, r, config.ib_ring_bytes,
                                                  link.stream->describe(), config.ib_zcopy_bytes);
      links.push_back(std::move(link));
    }
    const auto options = transport::multirail_options(config);
    out[r] = std::make_unique<MultiRailConnection>(rank, r, comm_id, std::move(links), options);
  }
  return out;
}

void register_user_buffer(VerbsPorts* ports, uint64_t handle, const void* addr, std::size_t bytes) {
  if (!ports) return;
  try {
    for (auto& port : ports->ports) port->user_buffers().add(handle, addr, bytes);
  } catch (...) {
    deregister_user_buffer(ports, handle);
    throw;
  }
}

void deregister_user_buffer(VerbsPorts* ports, uint64_t handle) {
  if (!ports) return;
  for (auto& port : ports->ports) port->user_buffers().remove(handle);
}

}  // namespace railcc::transport::verbs
