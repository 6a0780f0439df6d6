#include "src/core/mesh.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "src/bootstrap/auth.h"
#include "src/common/log.h"
#include "src/telemetry/metrics.h"
#include "transport/connection_config.h"
#include "transport/multirail/multirail_connection.h"
#include "transport/multirail/rail_spec.h"
#include "transport/shm/cross_memory.h"
#include "transport/shm/shm_stream.h"
#include "transport/stream_connection.h"
#include "transport/tcp/tcp_stream.h"
#include "transport/ucx/ucx_mesh.h"
#include "transport/verbs/verbs_mesh.h"

namespace railcc::core {
namespace {

using transport::Connection;
using transport::Stream;

struct PeerInfo {
  std::string host_id;
  int pid = 0;
  std::string ip;
  int port = 0;
};

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

// Ranks with the same id share memory. The network namespace is part of it: containers (and
// the "hosts" of tests/net) that each have their own network usually have their own /dev/shm
// too, and their traffic is meant to cross the network (the rails).
std::string host_id() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::string boot;
  std::ifstream("/proc/sys/kernel/random/boot_id") >> boot;
  char netns[64] = {};
  if (readlink("/proc/self/ns/net", netns, sizeof(netns) - 1) < 0) netns[0] = '\0';
  return std::string(host) + "/" + boot + "/" + netns;
}

// The local address that routes toward the store: what peers on other hosts can reach.
std::string advertised_ip(const Config& config, const std::string& store_addr) {
  if (!config.socket_addr.empty()) return config.socket_addr;
  if (store_addr.empty()) return "127.0.0.1";
  const net::Endpoint store = net::resolve(store_addr, "store address");
  net::Fd udp(::socket(store.addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  // connect() on a UDP socket sends nothing; it only picks the route and source address.
  if (!udp || ::connect(udp.get(), reinterpret_cast<const sockaddr*>(&store.addr), store.len)) {
    return "127.0.0.1";
  }
  std::string ep = net::local_endpoint(udp.get()).to_string();
  ep = ep.substr(0, ep.rfind(':'));
  if (ep.size() > 2 && ep.front() == '[') ep = ep.substr(1, ep.size() - 2);
  return ep;
}

wire::FrameHeader hello(const MeshParams& p, int stream_index) {
  wire::FrameHeader h{};
  h.kind = static_cast<uint8_t>(wire::FrameKind::kHello);
  h.root = p.rank;
  h.comm_id = p.comm_id;
  h.seq = p.job_key;
  h.msg_id = static_cast<uint64_t>(stream_index);
  wire::seal(h);
  return h;
}

// An accepted socket on its way to being a peer: first the challenge-response of
// src/bootstrap/auth.h, then the hello frame that says which rank and socket it is.
struct Pending {
  enum Stage { kAuthHello = 0, kAuthAnswer = 1, kFrameHello = 2 };
  net::Fd fd;
  std::string from;
  std::optional<auth::Acceptor> auth;
  Stage stage = kAuthHello;
  std::array<uint8_t, 128> buf{};
  std::size_t got = 0;
  std::size_t want() const {
    static constexpr std::size_t kSizes[] = {sizeof(auth::Hello), sizeof(auth::Answer),
                                             sizeof(wire::FrameHeader)};
    return kSizes[stage];
  }
};
static_assert(sizeof(wire::FrameHeader) <= 128 && sizeof(auth::Hello) <= 128);

constexpr const char* kAuthFailed = "failed authentication (wrong or missing RAILCC_JOB_KEY)";

}  // namespace

Mesh build_mesh(Store& store, const MeshParams& p, const Config& config) {
  Mesh mesh;
  mesh.connections.resize(p.size);
  if (p.size == 1) return mesh;
  const Deadline deadline = Deadline::after(config.timeout);
  const std::string ip = advertised_ip(config, p.store_addr);

  // 1. Publish who and where we are; learn the same of everyone.
  mesh.listener = net::listen_on(net::resolve(ip, 0, "RAILCC_SOCKET_ADDR"));
  const int port = net::local_endpoint(mesh.listener.get()).port();
  const std::string me = host_id();
  // With RAILCC_RAILS, peers across hosts are reached over every rail: one listener per rail,
  // published before peer/<rank> so whoever sees that key finds the rails too.
  std::vector<transport::RailSpec> my_rails;
  std::vector<net::Fd> rail_listeners;
  // (Over UCX each rail is a UCX worker instead; see transport/ucx/ucx_mesh.h.)
  if (!config.rails.empty() && config.transport != TransportKind::kUcx) {
    my_rails = transport::resolve_rails(config.rails, p.rank);
    std::string published;
    for (const auto& rail : my_rails) {
      rail_listeners.push_back(net::listen_on(net::resolve(rail.address, 0, "RAILCC_RAILS")));
      published += fmt::format("{} {}\n", rail.address,
                               net::local_endpoint(rail_listeners.back().get()).port());
    }
    store.set(fmt::format("rails/{}", p.rank), bytes(published));
  }
  store.set(fmt::format("peer/{}", p.rank),
            bytes(fmt::format("{}\n{}\n{}\n{}", me, getpid(), ip, port)));
  std::vector<PeerInfo> peers(p.size);
  for (int r = 0; r < p.size; ++r) {
    std::vector<uint8_t> raw;
    try {
      raw = store.get(fmt::format("peer/{}", r), std::chrono::milliseconds(deadline.poll_ms()));
    } catch (const TimeoutError&) {
      throw TimeoutError(
          fmt::format("rank {} never joined: its address did not appear in the "
                      "store within {} s (RAILCC_TIMEOUT)",
                      r, config.timeout.count() / 1000.0));
    }
    std::istringstream in(text(raw));
    std::string pid, prt;
    std::getline(in, peers[r].host_id);
    std::getline(in, pid);
    std::getline(in, peers[r].ip);
    std::getline(in, prt);
    peers[r].pid = std::atoi(pid.c_str());
    peers[r].port = std::atoi(prt.c_str());
  }

  // Number the hosts in order of first appearance; algorithms group ranks by them.
  std::map<std::string, int> host_index;
  for (const PeerInfo& peer : peers) {
    mesh.host_of.push_back(
        host_index.emplace(peer.host_id, static_cast<int>(host_index.size())).first->second);
  }

  // 2. Choose a transport per peer: with RAILCC_TRANSPORT=ucx, UCX for every one.
  const bool use_ucx = config.transport == TransportKind::kUcx;
  std::vector<bool> ucx(p.size, false);
  std::vector<bool> shm(p.size, false);
  for (int r = 0; r < p.size; ++r) {
    if (r == p.rank) continue;
    const bool same_host = peers[r].host_id == me;
    if (config.transport == TransportKind::kShm && !same_host) {
      throw ConfigError(
          fmt::format("RAILCC_TRANSPORT=shm but rank {} runs on another host ({}); "
                      "use RAILCC_TRANSPORT=auto or tcp",
                      r, peers[r].host_id));
    }
    ucx[r] = use_ucx;
    shm[r] = same_host && config.transport != TransportKind::kTcp &&
             config.transport != TransportKind::kVerbs && !use_ucx;
  }
  // RDMA for the others where both ends have a device (always, or an error, when forced).
  std::vector<bool> verbs(p.size, false);
  std::shared_ptr<transport::verbs::VerbsPorts> verbs_ports;
  std::vector<int> verbs_peers;
  {
    std::vector<int> remote;
    for (int r = 0; r < p.size; ++r) {
      if (r != p.rank && !shm[r]) remote.push_back(r);
    }
    const bool consider = config.transport == TransportKind::kVerbs ||
                          (config.transport == TransportKind::kAuto && config.rails.empty());
    if (!remote.empty() && consider) {
      verbs_peers = transport::verbs::choose_verbs_peers(store, p.rank, remote, config, deadline,
                                                         verbs_ports);
      for (int r : verbs_peers) verbs[r] = true;
    }
  }
  auto local_peers_of = [&](int r) {
    std::vector<int> out;
    for (int q = 0; q < p.size; ++q) {
      if (q != r && peers[q].host_id == peers[r].host_id &&
          config.transport != TransportKind::kTcp && config.transport != TransportKind::kVerbs &&
          !use_ucx) {
        out.push_back(q);
      }
    }
    return out;
  };
  const std::vector<int> my_local = local_peers_of(p.rank);
  auto shm_name = [&](int r) {
    return fmt::format("/railcc-{:016x}-{:x}-{}", p.job_key, p.comm_id, r);
  };

  // 3. Shared memory: create my segment, map every local peer's, unlink once all are mapped.
  if (!my_local.empty()) {
    const std::string name = shm_name(p.rank);
    transport::ShmSegment::unlink(name);  // a leftover of a crashed run with the same key
    mesh.my_segment = std::make_unique<transport::ShmSegment>(transport::ShmSegment::create(
        name, static_cast<int>(my_local.size()), config.shm_ring_bytes, config.shm_mailbox_bytes));
    // With the segment name goes the address of a word peers read to probe single copy.
    store.set(fmt::format("shm/{}", p.rank),
              bytes(fmt::format("{}\n{}", name, transport::cross_memory_probe_address())));
    mesh.peer_segments.resize(p.size);
    std::vector<bool> single_copy(p.size, false);
    for (int r : my_local) {
      const std::string entry =
          text(store.get(fmt::format("shm/{}", r), std::chrono::milliseconds(deadline.poll_ms())));
      const std::size_t nl = entry.find('\n');
      const std::string peer_name = entry.substr(0, nl);
      const uintptr_t probe =
          nl == std::string::npos ? 0 : std::strtoull(entry.c_str() + nl + 1, nullptr, 10);
      mesh.peer_segments[r] =
          std::make_unique<transport::ShmSegment>(transport::ShmSegment::open(peer_name));
      // The probe word is written before the store entry, so it is readable now. Every pair
      // decides alike: the kernel's check (same user, ptrace policy) is symmetric.
      single_copy[r] =
          config.shm_single_copy_bytes > 0 && transport::cross_memory_probe(peers[r].pid, probe);
    }
    store.set(fmt::format("shm-mapped/{}", p.rank), bytes("1"));
    std::vector<std::string> keys;
    for (int r : my_local) keys.push_back(fmt::format("shm-mapped/{}", r));
    store.wait(keys, std::chrono::milliseconds(deadline.poll_ms()));
    transport::ShmSegment::unlink(name);
    if (static_cast<int>(my_local.size()) == p.size - 1) {  // every rank shares this host
      std::vector<transport::ShmSegment*> segments(p.size);
      std::vector<int> pids(p.size);
      for (int r = 0; r < p.size; ++r) {
        segments[r] = r == p.rank ? mesh.my_segment.get() : mesh.peer_segments[r].get();
        pids[r] = peers[r].pid;
      }
      // Every rank sees the same segments, so all agree whether there is a mailbox (a rank
      // with RAILCC_SHM_MAILBOX_BYTES=0 turns it off for all).
      const bool all_have_one = std::all_of(segments.begin(), segments.end(),
                                            [](const auto* s) { return s->mailbox_bytes() > 0; });
      if (all_have_one) {
        mesh.mailbox = std::make_unique<transport::ShmMailbox>(p.rank, std::move(segments), pids);
        RAILCC_DEBUG("shm", "rank {}: collectives of up to {} bytes go through the mailbox", p.rank,
                     mesh.mailbox->capacity());
      }
    }
    for (std::size_t i = 0; i < my_local.size(); ++i) {
      const int r = my_local[i];
      const auto theirs = local_peers_of(r);
      const int out_slot =
          static_cast<int>(std::find(theirs.begin(), theirs.end(), p.rank) - theirs.begin());
      std::vector<std::unique_ptr<Stream>> streams;
      streams.push_back(std::make_unique<transport::ShmStream>(
          mesh.my_segment.get(), static_cast<int>(i), mesh.peer_segments[r].get(), out_slot,
          peers[r].pid, fmt::format("rank {} (shm, pid {})", r, peers[r].pid)));
      auto conn =
          std::make_unique<transport::StreamConnection>(p.rank, r, p.comm_id, std::move(streams));
      if (config.telemetry) conn->set_channel(telemetry::Metrics::global().channel("shm"));
      if (single_copy[r]) conn->enable_single_copy(peers[r].pid, config.shm_single_copy_bytes);
      transport::apply_config(*conn, config);
      mesh.connections[r] = std::move(conn);
      RAILCC_DEBUG("shm", "rank {} -> rank {}: single copy (cross-memory attach) {}", p.rank, r,
                   single_copy[r] ? fmt::format("from {} bytes", config.shm_single_copy_bytes)
                                  : std::string("off"));
    }
  }

  // 4. TCP: higher ranks connect to lower ones; each socket opens with a hello frame. With
  // rails, socket s of a peer is rail s: from our rail-s address to the peer's.
  const bool use_rails = !my_rails.empty();
  const int k = use_rails ? static_cast<int>(my_rails.size()) : config.tcp_sockets_per_peer;
  std::map<int, std::vector<net::Fd>> sockets;
  std::map<int, std::vector<std::pair<std::string, int>>> peer_rails;
  int expected_accepts = 0;
  for (int r = 0; r < p.size; ++r) {
    if (r == p.rank || shm[r] || verbs[r] || ucx[r]) continue;
    mesh.has_tcp = true;
    sockets[r].resize(k);
    if (use_rails) {
      std::istringstream in(text(
          store.get(fmt::format("rails/{}", r), std::chrono::milliseconds(deadline.poll_ms()))));
      std::string addr;
      int rail_port = 0;
      while (in >> addr >> rail_port) peer_rails[r].emplace_back(addr, rail_port);
      if (static_cast<int>(peer_rails[r].size()) != k) {
        throw ConfigError(fmt::format(
            "RAILCC_RAILS: rank {} has {} rail(s) but rank {} has {}; every rank must list the "
            "same number of rails{}",
            p.rank, k, r, peer_rails[r].size(),
            config.rails_auto ? " (with auto, RAILCC_DEBUG=init logs each rank's choice; list "
                                "them as RAILCC_RAILS=<iface,...> where hosts differ)"
                              : ""));
      }
    }
    if (r > p.rank) {
      expected_accepts += k;
      continue;
    }
    for (int s = 0; s < k; ++s) {
      net::Fd fd;
      std::string what;
      if (use_rails) {
        const net::Endpoint ep =
            net::resolve(peer_rails[r][s].first, peer_rails[r][s].second, "peer rail address");
        const net::Endpoint local = net::resolve(my_rails[s].address, 0, "RAILCC_RAILS");
        what = fmt::format("rank {} on rail {}", r, my_rails[s].describe());
        fd = net::connect_to(ep, deadline, what, &local);
      } else {
        what = fmt::format("rank {} at {}:{}", r, peers[r].ip, peers[r].port);
        fd = net::connect_to(net::resolve(peers[r].ip, peers[r].port, "peer address"), deadline,
                             what);
      }
      auth::authenticate_to(fd.get(), p.peer_key, auth::peer_context(p.comm_id, r), deadline, what);
      const wire::FrameHeader h = hello(p, s);
      if (!net::write_all(fd.get(), &h, sizeof(h), deadline)) {
        throw TimeoutError(fmt::format("rank {} did not accept our connection in time", r));
      }
      sockets[r][s] = std::move(fd);
    }
  }
  net::set_nonblocking(mesh.listener.get());
  for (const auto& l : rail_listeners) net::set_nonblocking(l.get());
  std::vector<Pending> pending;
  while (expected_accepts > 0) {
    if (deadline.expired()) {
      std::string missing;
      for (auto& [r, v] : sockets) {
        if (r > p.rank && std::any_of(v.begin(), v.end(), [](const net::Fd& f) { return !f; })) {
          missing += (missing.empty() ? "" : ", ") + std::to_string(r);
        }
      }
      throw TimeoutError(
          fmt::format("rank(s) {} never connected to rank {} within {} s "
                      "(RAILCC_TIMEOUT)",
                      missing, p.rank, config.timeout.count() / 1000.0));
    }
    std::vector<int> listeners{mesh.listener.get()};
    for (const auto& l : rail_listeners) listeners.push_back(l.get());
    std::vector<pollfd> fds;
    for (int l : listeners) fds.push_back({l, POLLIN, 0});
    for (auto& q : pending) fds.push_back({q.fd.get(), POLLIN, 0});
    ::poll(fds.data(), fds.size(), deadline.poll_ms(100));
    for (std::size_t l = 0; l < listeners.size(); ++l) {
      if (!(fds[l].revents & POLLIN)) continue;
      while (true) {
        const int fd = ::accept4(listeners[l], nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) break;
        Pending q;
        q.fd.reset(fd);
        q.from = net::peer_endpoint(fd).to_string();
        q.auth.emplace(p.peer_key, auth::peer_context(p.comm_id, p.rank));
        pending.push_back(std::move(q));
      }
    }
    for (std::size_t i = 0; i < pending.size();) {
      Pending& q = pending[i];
      std::string reject;
      const ssize_t n = ::recv(q.fd.get(), q.buf.data() + q.got, q.want() - q.got, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        reject = q.stage == Pending::kFrameHello ? "closed before saying hello" : kAuthFailed;
      } else if (n > 0) {
        q.got += static_cast<std::size_t>(n);
      }
      if (reject.empty() && q.got == q.want() && q.stage == Pending::kAuthHello) {
        auth::Hello hello;
        std::memcpy(&hello, q.buf.data(), sizeof(hello));
        const auto challenge = q.auth->on_hello(hello);
        // The socket is fresh and its send buffer empty: 72 bytes go out at once.
        if (!challenge ||
            ::send(q.fd.get(), &*challenge, sizeof(*challenge), MSG_DONTWAIT | MSG_NOSIGNAL) !=
                static_cast<ssize_t>(sizeof(*challenge))) {
          reject = kAuthFailed;
        } else {
          q.stage = Pending::kAuthAnswer;
          q.got = 0;
        }
      } else if (reject.empty() && q.got == q.want() && q.stage == Pending::kAuthAnswer) {
        auth::Answer answer;
        std::memcpy(&answer, q.buf.data(), sizeof(answer));
        if (!q.auth->on_answer(answer)) {
          reject = kAuthFailed;
        } else {
          q.stage = Pending::kFrameHello;
          q.got = 0;
        }
      } else if (reject.empty() && q.got == q.want()) {
        wire::FrameHeader h;
        std::memcpy(&h, q.buf.data(), sizeof(h));
        if (auto bad = wire::validate(h)) {
          reject = *bad;
        } else if (h.kind != static_cast<uint8_t>(wire::FrameKind::kHello)) {
          reject = "first frame is not a hello";
        } else if (h.seq != p.job_key) {
          reject = "belongs to another job (wrong job key)";
        } else if (h.comm_id != p.comm_id) {
          reject = "belongs to another communicator";
        } else if (h.root <= p.rank || h.root >= p.size || shm[h.root] || verbs[h.root] ||
                   ucx[h.root] || h.msg_id >= static_cast<uint64_t>(k) ||
                   sockets[h.root][h.msg_id]) {
          reject = fmt::format("claims to be rank {} socket {}, which is not expected", h.root,
                               h.msg_id);
        } else {
          sockets[h.root][h.msg_id] = std::move(q.fd);
          --expected_accepts;
          pending.erase(pending.begin() + static_cast<long>(i));
          continue;
        }
      }
      if (!reject.empty()) {
        RAILCC_WARN("net", "rank {} rejected connection from {} to its peer port: {}", p.rank,
                    q.from, reject);
        pending.erase(pending.begin() + static_cast<long>(i));
        continue;
      }
      ++i;
    }
  }
  for (auto& [r, fds] : sockets) {
    if (use_rails) {
      std::vector<transport::RailLink> links;
      for (int s = 0; s < k; ++s) {
        transport::RailLink link;
        link.local = my_rails[s];
        // One series per rail, named as the user listed it in RAILCC_RAILS.
        if (config.telemetry)
          link.counters = telemetry::Metrics::global().channel(my_rails[s].name);
        link.peer_address = peer_rails[r][s].first;
        link.stream = std::make_unique<transport::TcpStream>(
            std::move(fds[s]), fmt::format("rank {} (rail {} -> {})", r, my_rails[s].describe(),
                                           peer_rails[r][s].first));
        links.push_back(std::move(link));
      }
      const auto options = transport::multirail_options(config);
      mesh.connections[r] = std::make_unique<transport::MultiRailConnection>(
          p.rank, r, p.comm_id, std::move(links), options);
      continue;
    }
    std::vector<std::unique_ptr<Stream>> streams;
    for (int s = 0; s < k; ++s) {
      streams.push_back(std::make_unique<transport::TcpStream>(
          std::move(fds[s]), fmt::format("rank {} (tcp {}:{}, socket {}/{})", r, peers[r].ip,
                                         peers[r].port, s + 1, k)));
    }
    auto conn =
        std::make_unique<transport::StreamConnection>(p.rank, r, p.comm_id, std::move(streams));
    transport::apply_config(*conn, config);
    mesh.connections[r] = std::move(conn);
    if (config.telemetry) {
      mesh.connections[r]->set_channel(telemetry::Metrics::global().channel("tcp"));
    }
  }
  // 5. RDMA: queue pairs connected through the store.
  for (auto& [r, conn] : transport::verbs::connect_verbs_peers(
           store, p.rank, p.comm_id, verbs_peers, verbs_ports, config, deadline)) {
    mesh.connections[r] = std::move(conn);
    mesh.has_verbs = true;
  }
  if (mesh.has_verbs) mesh.verbs_ports = verbs_ports;
  // 6. UCX: one endpoint per peer to the worker address it published.
  if (use_ucx) {
    transport::ucx::UcxPeers who;
    who.rank = p.rank;
    who.comm_id = p.comm_id;
    who.local_pids.assign(p.size, 0);
    for (int r = 0; r < p.size; ++r) {
      if (r == p.rank) continue;
      who.peers.push_back(r);
      if (peers[r].host_id == me) who.local_pids[r] = peers[r].pid;
    }
    for (auto& [r, conn] : transport::ucx::connect_ucx_peers(store, who, config, deadline)) {
      mesh.connections[r] = std::move(conn);
    }
    mesh.has_ucx = true;
  }
  RAILCC_DEBUG("init",
               "rank {}: {} shm peer(s), {} tcp peer(s) x {} {}, {} verbs peer(s), {}ucx, "
               "listening on {}:{}",
               p.rank, my_local.size(), sockets.size(), k, use_rails ? "rail(s)" : "socket(s)",
               verbs_peers.size(), use_ucx ? "" : "no ", ip, port);
  return mesh;
}

}  // namespace railcc::core
