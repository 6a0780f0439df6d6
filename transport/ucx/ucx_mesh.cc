#include "transport/ucx/ucx_mesh.h"

#include <fmt/format.h>

#include "src/common/log.h"
#include "src/telemetry/metrics.h"
#include "transport/connection_config.h"
#include "transport/multirail/multirail_connection.h"
#include "transport/multirail/rail_spec.h"
#include "transport/stream_connection.h"
#include "transport/ucx/ucx_stream.h"
#include "transport/ucx/ucx_worker.h"

namespace railcc::transport::ucx {
namespace {

// Staging ring per endpoint: room for 16 pieces of UcxStream::kMaxSend in flight.
constexpr std::size_t kStageBytes = 16 * UcxStream::kMaxSend;

std::vector<uint8_t> get(Store& store, const std::string& key, const Deadline& deadline, int rank,
                         int peer) {
  try {
    return store.get(key, std::chrono::milliseconds(deadline.poll_ms()));
  } catch (const TimeoutError&) {
    throw TimeoutError(
        fmt::format("rank {} never published its UCX worker address ({}) to rank {} in time "
                    "(RAILCC_TIMEOUT); did it start with RAILCC_TRANSPORT=ucx too?",
                    peer, key, rank));
  }
}

}  // namespace

std::map<int, std::unique_ptr<Connection>> connect_ucx_peers(Store& store, const UcxPeers& w,
                                                             const Config& config,
                                                             const Deadline& deadline) {
  std::map<int, std::unique_ptr<Connection>> out;
  if (w.peers.empty()) return out;
  // 1. One worker per rail (or one in all), its address in the store under ucx/<rank>/<rail>.
  std::vector<RailSpec> rails;
  if (!config.rails.empty()) rails = resolve_rails(config.rails, w.rank);
  const int nworkers = rails.empty() ? 1 : static_cast<int>(rails.size());
  std::vector<std::shared_ptr<UcxWorker>> workers;
  for (int k = 0; k < nworkers; ++k) {
    UcxWorker::Options o;
    o.env_tls = config.ucx_tls;
    o.env_net_devices = config.ucx_net_devices;
    if (!rails.empty()) {
      o.what = fmt::format("for rail {}", rails[k].describe());
      o.net_devices = rails[k].ifname;
    }
    workers.push_back(std::make_shared<UcxWorker>(w.rank, o));
    store.set(fmt::format("ucx/{}/{}", w.rank, k), workers.back()->address());
  }
  store.set(fmt::format("ucx-rails/{}", w.rank),
            std::vector<uint8_t>{static_cast<uint8_t>(nworkers)});
  // 2. One endpoint per peer (per rail) to its published address.
  for (int r : w.peers) {
    const auto theirs = get(store, fmt::format("ucx-rails/{}", r), deadline, w.rank, r);
    if (theirs.size() != 1 || theirs[0] != nworkers) {
      throw ConfigError(fmt::format(
          "RAILCC_RAILS: rank {} has {} UCX rail(s) but rank {} has {}; every rank must list the "
          "same number of rails",
          w.rank, nworkers, r, theirs.empty() ? 0 : theirs[0]));
    }
    const int pid = r < static_cast<int>(w.local_pids.size()) ? w.local_pids[r] : 0;
    if (rails.empty()) {
      const auto addr = get(store, fmt::format("ucx/{}/0", r), deadline, w.rank, r);
      std::vector<std::unique_ptr<Stream>> streams;
      streams.push_back(std::make_unique<UcxStream>(workers[0], r, addr, pid, kStageBytes,
                                                    fmt::format("rank {} (ucx)", r)));
      auto conn = std::make_unique<StreamConnection>(w.rank, r, w.comm_id, std::move(streams));
      transport::apply_config(*conn, config);
      if (config.telemetry) conn->set_channel(telemetry::Metrics::global().channel("ucx"));
      out[r] = std::move(conn);
      continue;
    }
    std::vector<RailLink> links;
    for (int k = 0; k < nworkers; ++k) {
      const auto addr = get(store, fmt::format("ucx/{}/{}", r, k), deadline, w.rank, r);
      RailLink link;
      link.local = rails[k];
      link.peer_address = fmt::format("rank {} rail {}", r, k);
      if (config.telemetry) link.counters = telemetry::Metrics::global().channel(rails[k].name);
      link.stream =
          std::make_unique<UcxStream>(workers[k], r, addr, pid, kStageBytes,
                                      fmt::format("rank {} (ucx rail {})", r, rails[k].describe()));
      links.push_back(std::move(link));
    }
    auto options = transport::multirail_options(config);
    // UCX queues what it is given per worker: with 100 ms of each rail's rate outstanding, one
    // worker got most of the progress and the others starved (np 2, 64 MiB over 4 ucx rails:
    // 0.12-0.29 GB/s, rails carrying 1564 / 41 / 109 / 36 MB; 0.34-0.36 GB/s, even, at 20 ms).
    options.window = std::chrono::milliseconds(20);
    out[r] = std::make_unique<MultiRailConnection>(w.rank, r, w.comm_id, std::move(links), options);
  }
  RAILCC_DEBUG("init", "rank {}: {} ucx peer(s) over {} worker(s) ({})", w.rank, w.peers.size(),
               nworkers, workers[0]->settings());
  return out;
}

}  // namespace railcc::transport::ucx
