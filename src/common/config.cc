// The only place railcc reads the environment.
#include "railcc/config.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "railcc/status.hpp"

extern char** environ;

namespace railcc {
namespace {

using EnvMap = std::map<std::string, std::string>;

const std::string* find(const EnvMap& env, const char* name) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return nullptr;
  return &it->second;
}

[[noreturn]] void bad(const char* name, const std::string& value, const char* expected) {
  throw ConfigError(fmt::format("{}='{}' is invalid: expected {}", name, value, expected));
}

long long parse_int(const char* name, const std::string& value, long long lo, long long hi) {
  long long v = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || ptr != value.data() + value.size() || v < lo || v > hi) {
    bad(name, value, fmt::format("an integer in [{}, {}]", lo, hi).c_str());
  }
  return v;
}

// Accepts plain bytes or a K/M/G (binary) suffix: 512K, 4M, 1G.
std::size_t parse_bytes(const char* name, const std::string& value, std::size_t lo,
                        std::size_t hi) {
  std::string digits = value;
  std::size_t mult = 1;
  const char last = value.empty() ? '\0' : value.back();
  if (last == 'K' || last == 'k') mult = 1ull << 10;
  if (last == 'M' || last == 'm') mult = 1ull << 20;
  if (last == 'G' || last == 'g') mult = 1ull << 30;
  if (mult != 1) digits.pop_back();
  unsigned long long v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() ||
      v > hi / mult || v * mult < lo || v * mult > hi) {
    bad(name, value,
        fmt::format("a byte count in [{}, {}] (suffix K, M or G allowed)", lo, hi).c_str());
  }
  return static_cast<std::size_t>(v * mult);
}

double parse_double(const char* name, const std::string& value, double lo, double hi) {
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size() || std::isnan(v) || v < lo || v > hi) {
    bad(name, value, fmt::format("a number in [{}, {}]", lo, hi).c_str());
  }
  return v;
}

// "alpha_us,GB/s", e.g. "8,4".
LinkCost parse_link(const char* name, const std::string& value) {
  const auto comma = value.find(',');
  if (comma == std::string::npos) bad(name, value, "alpha_us,GB/s, e.g. 8,4");
  LinkCost l;
  try {
    l.alpha_us = parse_double(name, value.substr(0, comma), 0, 1e7);
    l.gbps = parse_double(name, value.substr(comma + 1), 1e-3, 1e4);
  } catch (const ConfigError&) {  // name the whole value, not the half that was wrong
    bad(name, value, "alpha_us,GB/s with alpha in [0, 1e7] and GB/s in [0.001, 10000], e.g. 8,4");
  }
  return l;
}

LaunchInfo read_launch(const EnvMap& env) {
  LaunchInfo info;
  // Explicit railcc variables win, then torchrun, Open MPI, PMI (MPICH/Intel MPI), Slurm.
  struct Source {
    const char* name;
    const char* rank;
    const char* size;
    const char* local_rank;
    const char* local_size;
  };
  static constexpr Source kSources[] = {
      {"railcc", "RAILCC_RANK", "RAILCC_WORLD_SIZE", "RAILCC_LOCAL_RANK",
       "RAILCC_LOCAL_WORLD_SIZE"},
      {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"},
      {"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
       "OMPI_COMM_WORLD_LOCAL_SIZE"},
      {"pmi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
      {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},
  };
  for (const Source& s : kSources) {
    const std::string* r = find(env, s.rank);
    const std::string* n = find(env, s.size);
    if (!r && !n) continue;
    if (!r || !n) {
      throw ConfigError(fmt::format("{} is set but {} is not: set both (launcher '{}')",
                                    r ? s.rank : s.size, r ? s.size : s.rank, s.name));
    }
    info.source = s.name;
    info.world_size = static_cast<int>(parse_int(s.size, *n, 1, 1 << 24));
    info.rank = static_cast<int>(parse_int(s.rank, *r, 0, info.world_size - 1));
    if (const std::string* lr = find(env, s.local_rank)) {
      info.local_rank = static_cast<int>(parse_int(s.local_rank, *lr, 0, info.world_size - 1));
    }
    if (const std::string* ls = find(env, s.local_size)) {
      // Slurm writes e.g. "4(x2)" for heterogeneous layouts; keep the leading number.
      const std::string v = ls->substr(0, ls->find('('));
      try {
        info.local_world_size = static_cast<int>(parse_int(s.local_size, v, 1, info.world_size));
      } catch (const ConfigError&) {
        bad(s.local_size, *ls, "a rank count, optionally followed by (xN)");
      }
    }
    break;
  }
  if (const std::string* addr = find(env, "RAILCC_STORE_ADDR")) {
    const auto colon = addr->rfind(':');
    const std::string host = colon == std::string::npos ? "" : addr->substr(0, colon);
    const bool v6_unbracketed =
        host.find(':') != std::string::npos && !(host.front() == '[' && host.back() == ']');
    if (colon == std::string::npos || host.empty() || v6_unbracketed) {
      bad("RAILCC_STORE_ADDR", *addr, "host:port (IPv6 as [addr]:port)");
    }
    try {
      parse_int("RAILCC_STORE_ADDR", addr->substr(colon + 1), 1, 65535);
    } catch (const ConfigError&) {
      bad("RAILCC_STORE_ADDR", *addr, "host:port with a port in [1, 65535]");
    }
    info.store_addr = *addr;
  } else {
    const std::string* host = find(env, "MASTER_ADDR");
    const std::string* port = find(env, "MASTER_PORT");
    if (host && port) {
      parse_int("MASTER_PORT", *port, 1, 65535);
      info.store_addr = *host + ":" + *port;
      // Like torch's TCPStore: rank 0 serves the rendezvous at MASTER_ADDR:MASTER_PORT.
      info.store_is_server = info.rank == 0;
    }
  }
  if (const std::string* key = find(env, "RAILCC_JOB_KEY")) {
    // The value is never echoed: it is a secret.
    if (key->size() < 16) {
      throw ConfigError(
          "RAILCC_JOB_KEY is too short to be a secret: use 16 or more characters (e.g. "
          "`openssl rand -hex 32`), the same on every rank");
    }
    info.job_key = *key;
  }
  return info;
}

constexpr std::pair<const char*, FaultSpec::Kind> kFaultKinds[] = {
    {"drop", FaultSpec::Kind::kDrop},       {"delay", FaultSpec::Kind::kDelay},
    {"slow", FaultSpec::Kind::kSlow},       {"kill", FaultSpec::Kind::kKill},
    {"corrupt", FaultSpec::Kind::kCorrupt}, {"rail", FaultSpec::Kind::kRail},
    {"stall", FaultSpec::Kind::kStall},
};

const char* fault_kind_name(FaultSpec::Kind kind) {
  for (auto [name, k] : kFaultKinds) {
    if (k == kind) return name;
  }
  return "none";
}

// "kind:rank:op[:ms]"
FaultSpec parse_fault(const std::string& value) {
  constexpr const char* kWant =
      "kind:rank:op[:ms] with kind drop, delay, slow, kill, corrupt, rail or stall, e.g. "
      "kill:1:3";
  std::vector<std::string> parts;
  for (std::size_t pos = 0;;) {
    const std::size_t colon = value.find(':', pos);
    parts.push_back(value.substr(pos, colon - pos));
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  if (parts.size() < 3 || parts.size() > 4) bad("RAILCC_FAULT", value, kWant);
  FaultSpec f;
  for (auto [name, k] : kFaultKinds) {
    if (parts[0] == name) f.kind = k;
  }
  if (!f.enabled()) bad("RAILCC_FAULT", value, kWant);
  try {
    f.rank = static_cast<int>(parse_int("RAILCC_FAULT", parts[1], 0, 1 << 24));
    f.op = static_cast<uint64_t>(parse_int("RAILCC_FAULT", parts[2], 1, 1ll << 50));
    if (parts.size() == 4) f.ms = static_cast<int>(parse_int("RAILCC_FAULT", parts[3], 0, 3600000));
  } catch (const ConfigError&) {
    bad("RAILCC_FAULT", value, kWant);  // name the whole value, not just the bad field
  }
  return f;
}

}  // namespace

const char* transport_kind_name(TransportKind kind) noexcept {
  switch (kind) {
    case TransportKind::kAuto:
      return "auto";
    case TransportKind::kShm:
      return "shm";
    case TransportKind::kTcp:
      return "tcp";
    case TransportKind::kVerbs:
      return "verbs";
    case TransportKind::kUcx:
      return "ucx";
  }
  return "?";
}

Config Config::from_map(const EnvMap& env) {
  Config c;
  if (const std::string* v = find(env, "RAILCC_TIMEOUT")) {
    char* end = nullptr;
    const double seconds = std::strtod(v->c_str(), &end);
    if (end != v->c_str() + v->size() || !(seconds > 0) || seconds > 1e7 || std::isnan(seconds)) {
      bad("RAILCC_TIMEOUT", *v, "a positive number of seconds, e.g. 300 or 0.5");
    }
    c.timeout = std::chrono::milliseconds(static_cast<long long>(std::ceil(seconds * 1000)));
  }
  if (const std::string* v = find(env, "RAILCC_TRANSPORT")) {
    if (*v == "auto")
      c.transport = TransportKind::kAuto;
    else if (*v == "shm")
      c.transport = TransportKind::kShm;
    else if (*v == "tcp")
      c.transport = TransportKind::kTcp;
    else if (*v == "verbs")
      c.transport = TransportKind::kVerbs;
    else if (*v == "ucx")
      c.transport = TransportKind::kUcx;
    else
      bad("RAILCC_TRANSPORT", *v, "auto, shm, tcp, verbs or ucx");
  }
  if (const std::string* v = find(env, "UCX_TLS")) c.ucx_tls = *v;
  if (const std::string* v = find(env, "UCX_NET_DEVICES")) c.ucx_net_devices = *v;
  if (const std::string* v = find(env, "RAILCC_LOG_LEVEL")) {
    static constexpr std::pair<const char*, LogLevel> kLevels[] = {
        {"error", LogLevel::kError}, {"warn", LogLevel::kWarn},   {"info", LogLevel::kInfo},
        {"debug", LogLevel::kDebug}, {"trace", LogLevel::kTrace},
    };
    bool ok = false;
    for (auto [name, level] : kLevels) {
      if (*v == name) c.log_level = level, ok = true;
    }
    if (!ok) bad("RAILCC_LOG_LEVEL", *v, "error, warn, info, debug or trace");
  }
  if (const std::string* v = find(env, "RAILCC_DEBUG")) {
    static constexpr std::string_view kSubsystems[] = {"config", "init", "coll", "net", "store",
                                                       "shm",    "algo", "cuda", "all"};
    std::string_view rest = *v;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      bool ok = false;
      for (auto s : kSubsystems) ok = ok || item == s;
      if (!ok)
        bad("RAILCC_DEBUG", *v, "a comma list of config,init,coll,net,store,shm,algo,cuda,all");
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    c.debug_subsystems = *v;
  }
  if (const std::string* v = find(env, "RAILCC_CHUNK_BYTES")) {
    c.chunk_bytes = parse_bytes("RAILCC_CHUNK_BYTES", *v, 4096, 1ull << 30);
  }
  if (const std::string* v = find(env, "RAILCC_SMALL_MSG_BYTES")) {
    c.small_message_bytes = parse_bytes("RAILCC_SMALL_MSG_BYTES", *v, 0, 1ull << 30);
  }
  if (const std::string* v = find(env, "RAILCC_ALGO")) {
    static constexpr std::string_view kAlgos[] = {"auto", "ring", "tree",  "hd",
                                                  "rd",   "hier", "direct"};
    bool ok = false;
    for (auto a : kAlgos) ok = ok || *v == a;
    if (!ok) bad("RAILCC_ALGO", *v, "auto, ring, tree, hd, rd, hier or direct");
    c.algo = *v;
  }
  if (const std::string* v = find(env, "RAILCC_COST_INTRA")) {
    c.cost_intra = parse_link("RAILCC_COST_INTRA", *v);
  }
  if (const std::string* v = find(env, "RAILCC_COST_INTER")) {
    c.cost_inter = parse_link("RAILCC_COST_INTER", *v);
  }
  if (const std::string* v = find(env, "RAILCC_COST_REDUCE_GBPS")) {
    c.cost_reduce_gbps = parse_double("RAILCC_COST_REDUCE_GBPS", *v, 1e-3, 1e4);
  }
  if (const std::string* v = find(env, "RAILCC_RANKS_PER_HOST")) {
    c.ranks_per_host = static_cast<int>(parse_int("RAILCC_RANKS_PER_HOST", *v, 0, 1 << 24));
  }
  if (const std::string* v = find(env, "RAILCC_SHM_RING_BYTES")) {
    c.shm_ring_bytes = parse_bytes("RAILCC_SHM_RING_BYTES", *v, 64 * 1024, 1ull << 30);
    if ((c.shm_ring_bytes & (c.shm_ring_bytes - 1)) != 0) {
      bad("RAILCC_SHM_RING_BYTES", *v, "a power of two of at least 64K, e.g. 4M");
    }
  }
  if (const std::string* v = find(env, "RAILCC_SHM_SINGLE_COPY_BYTES")) {
    c.shm_single_copy_bytes = parse_bytes("RAILCC_SHM_SINGLE_COPY_BYTES", *v, 0, 1ull << 40);
  }
  if (const std::string* v = find(env, "RAILCC_SHM_MAILBOX_BYTES")) {
    c.shm_mailbox_bytes = parse_bytes("RAILCC_SHM_MAILBOX_BYTES", *v, 0, 64ull << 20);
  }
  if (const std::string* v = find(env, "RAILCC_SHM_WINDOW_BYTES")) {
    c.shm_window_bytes = parse_bytes("RAILCC_SHM_WINDOW_BYTES", *v, 0, 1ull << 40);
  }
  if (const std::string* v = find(env, "RAILCC_MAX_UNEXPECTED_BYTES")) {
    c.max_unexpected_bytes = parse_bytes("RAILCC_MAX_UNEXPECTED_BYTES", *v, 0, 1ull << 40);
  }
  if (const std::string* v = find(env, "RAILCC_TCP_SOCKETS")) {
    c.tcp_sockets_per_peer = static_cast<int>(parse_int("RAILCC_TCP_SOCKETS", *v, 1, 16));
  }
  if (const std::string* v = find(env, "RAILCC_SOCKET_ADDR")) c.socket_addr = *v;
  if (const std::string* v = find(env, "RAILCC_CUDA"))
    c.cuda = parse_int("RAILCC_CUDA", *v, 0, 1) != 0;
  if (const std::string* v = find(env, "RAILCC_CUDA_IPC")) {
    c.cuda_ipc = parse_int("RAILCC_CUDA_IPC", *v, 0, 1) != 0;
  }
  if (const std::string* v = find(env, "RAILCC_CUDA_IPC_CHUNK_BYTES")) {
    c.cuda_ipc_chunk_bytes = parse_bytes("RAILCC_CUDA_IPC_CHUNK_BYTES", *v, 4096, 1ull << 34);
  }
  if (const std::string* v = find(env, "RAILCC_CUDA_WAIT")) {
    if (*v != "auto" && *v != "memop" && *v != "kernel") {
      bad("RAILCC_CUDA_WAIT", *v, "auto, memop or kernel");
    }
    c.cuda_wait = *v;
  }
  if (const std::string* v = find(env, "RAILCC_INLINE_BYTES")) {
    c.inline_bytes = parse_bytes("RAILCC_INLINE_BYTES", *v, 0, 1ull << 40);
  }
  if (const std::string* v = find(env, "RAILCC_RAILS"); v && *v == "auto") {
    c.rails_auto = true;  // resolved at communicator init (src/core/topology_rails.h)
  } else if (v) {
    std::string_view rest = *v;
    if (v->back() == ',') bad("RAILCC_RAILS", *v, "no empty entries");
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      if (item.empty() || item.find_first_of(" \t") != std::string_view::npos) {
        bad("RAILCC_RAILS", *v,
            "a comma list of interface names or IP addresses, e.g. rail0,rail1");
      }
      for (const auto& seen : c.rails) {
        if (seen == item) bad("RAILCC_RAILS", *v, "each rail listed once");
      }
      if (item == "auto") bad("RAILCC_RAILS", *v, "auto alone, or a list of rails without it");
      c.rails.emplace_back(item);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    if (c.rails.size() > 16) bad("RAILCC_RAILS", *v, "at most 16 rails");
  }
  if (const std::string* v = find(env, "RAILCC_RAIL_CHUNK_BYTES")) {
    c.rail_chunk_bytes = parse_bytes("RAILCC_RAIL_CHUNK_BYTES", *v, 4096, 64ull << 20);
  }
  if (const std::string* v = find(env, "RAILCC_RAIL_TIMEOUT")) {
    char* end = nullptr;
    const double seconds = std::strtod(v->c_str(), &end);
    if (end != v->c_str() + v->size() || !(seconds > 0) || seconds > 3600 || std::isnan(seconds)) {
      bad("RAILCC_RAIL_TIMEOUT", *v, "a positive number of seconds up to 3600, e.g. 0.5");
    }
    c.rail_timeout = std::chrono::milliseconds(static_cast<long long>(std::ceil(seconds * 1000)));
  }
  if (const std::string* v = find(env, "RAILCC_IB_HCA")) {
    std::string_view rest = *v;
    const char* expect = "a comma list of device[:port], e.g. mlx5_0:1,mlx5_1:1";
    if (v->back() == ',') bad("RAILCC_IB_HCA", *v, expect);
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      const auto colon = item.find(':');
      IbPort port;
      port.device = std::string(item.substr(0, colon));
      if (port.device.empty() || port.device.find_first_of(" \t") != std::string::npos) {
        bad("RAILCC_IB_HCA", *v, expect);
      }
      if (colon != std::string_view::npos) {
        port.port = static_cast<int>(
            parse_int("RAILCC_IB_HCA", std::string(item.substr(colon + 1)), 1, 255));
      }
      for (const auto& seen : c.ib_hca) {
        if (seen.device == port.device && seen.port == port.port) {
          bad("RAILCC_IB_HCA", *v, "each port listed once");
        }
      }
      c.ib_hca.push_back(port);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    if (c.ib_hca.size() > 16) bad("RAILCC_IB_HCA", *v, "at most 16 ports");
  }
  if (const std::string* v = find(env, "RAILCC_IB_GID_INDEX")) {
    c.ib_gid_index = static_cast<int>(parse_int("RAILCC_IB_GID_INDEX", *v, -1, 65535));
  }
  if (const std::string* v = find(env, "RAILCC_IB_QPS")) {
    c.ib_qps_per_peer = static_cast<int>(parse_int("RAILCC_IB_QPS", *v, 1, 16));
  }
  if (const std::string* v = find(env, "RAILCC_IB_RING_BYTES")) {
    c.ib_ring_bytes = parse_bytes("RAILCC_IB_RING_BYTES", *v, 64 * 1024, 1ull << 30);
    if ((c.ib_ring_bytes & (c.ib_ring_bytes - 1)) != 0) {
      bad("RAILCC_IB_RING_BYTES", *v, "a power of two of at least 64K, e.g. 1M");
    }
  }
  if (const std::string* v = find(env, "RAILCC_IB_ZCOPY_BYTES")) {
    c.ib_zcopy_bytes = parse_bytes("RAILCC_IB_ZCOPY_BYTES", *v, 0, 1ull << 40);
  }
  if (const std::string* v = find(env, "RAILCC_SPIN_US")) {
    c.spin_us = static_cast<int>(parse_int("RAILCC_SPIN_US", *v, 0, 1000000));
  }
  if (const std::string* v = find(env, "RAILCC_TOPO_FILE")) c.topo_file = *v;
  if (const std::string* v = find(env, "RAILCC_TELEMETRY")) {
    c.telemetry = parse_int("RAILCC_TELEMETRY", *v, 0, 1) != 0;
  }
  if (const std::string* v = find(env, "RAILCC_TRACE")) c.trace_dir = *v;
  if (const std::string* v = find(env, "RAILCC_CHECKSUM")) {
    c.checksum = parse_int("RAILCC_CHECKSUM", *v, 0, 1) != 0;
  }
  if (const std::string* v = find(env, "RAILCC_FAULT")) c.fault = parse_fault(*v);
  if (const std::string* v = find(env, "RAILCC_METRICS")) c.metrics = *v;
  if (const std::string* v = find(env, "RAILCC_FLIGHT_RECORDER")) {
    c.flight_recorder = parse_int("RAILCC_FLIGHT_RECORDER", *v, 0, 1 << 20);
  }
  if (const std::string* v = find(env, "RAILCC_FLIGHT_DIR")) c.flight_dir = *v;
  // Unlike the RAILCC_* variables, an empty CUDA_VISIBLE_DEVICES means something: no GPU.
  if (auto it = env.find("CUDA_VISIBLE_DEVICES"); it != env.end()) {
    c.cuda_visible_devices = it->second;
  }
  c.launch = read_launch(env);
  return c;
}

Config Config::from_env() {
  EnvMap env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return from_map(env);
}

bool Config::debug_enabled(const char* subsystem) const {
  const std::string list = fmt::format(",{},", debug_subsystems);
  return list.find(",all,") != std::string::npos ||
         list.find(fmt::format(",{},", subsystem)) != std::string::npos;
}

std::string Config::to_string() const {
  std::string out = "railcc configuration:\n";
  auto row = [&out](const char* var, const std::string& value) {
    out += fmt::format("  {:<24} {}\n", var, value);
  };
  row("RAILCC_TIMEOUT", fmt::format("{} s", timeout.count() / 1000.0));
  row("RAILCC_TRANSPORT", transport_kind_name(transport));
  if (transport == TransportKind::kUcx) {
    row("UCX_TLS", ucx_tls.empty() ? "(UCX default)" : ucx_tls);
    row("UCX_NET_DEVICES", ucx_net_devices.empty() ? "(UCX default)" : ucx_net_devices);
  }
  static constexpr const char* kLevelNames[] = {"error", "warn", "info", "debug", "trace"};
  row("RAILCC_LOG_LEVEL", kLevelNames[static_cast<int>(log_level)]);
  row("RAILCC_DEBUG", debug_subsystems.empty() ? "(none)" : debug_subsystems);
  row("RAILCC_CHUNK_BYTES", std::to_string(chunk_bytes));
  row("RAILCC_SMALL_MSG_BYTES", std::to_string(small_message_bytes));
  row("RAILCC_ALGO", algo);
  row("RAILCC_COST_INTRA", fmt::format("{} us, {} GB/s", cost_intra.alpha_us, cost_intra.gbps));
  row("RAILCC_COST_INTER", fmt::format("{} us, {} GB/s", cost_inter.alpha_us, cost_inter.gbps));
  row("RAILCC_COST_REDUCE_GBPS", fmt::format("{}", cost_reduce_gbps));
  row("RAILCC_RANKS_PER_HOST",
      ranks_per_host ? std::to_string(ranks_per_host) : "(from hostnames)");
  row("RAILCC_SHM_RING_BYTES", std::to_string(shm_ring_bytes));
  row("RAILCC_SHM_SINGLE_COPY_BYTES",
      shm_single_copy_bytes == 0 ? "0 (off)" : std::to_string(shm_single_copy_bytes));
  row("RAILCC_SHM_MAILBOX_BYTES",
      shm_mailbox_bytes == 0 ? "0 (off)" : std::to_string(shm_mailbox_bytes));
  row("RAILCC_SHM_WINDOW_BYTES",
      shm_window_bytes == 0 ? "0 (off)" : std::to_string(shm_window_bytes));
  row("RAILCC_TCP_SOCKETS", std::to_string(tcp_sockets_per_peer));
  row("RAILCC_SOCKET_ADDR", socket_addr.empty() ? "(auto)" : socket_addr);
  row("RAILCC_INLINE_BYTES",
      inline_bytes == 0 ? "0 (worker thread only)" : std::to_string(inline_bytes));
  std::string rail_list;
  for (const auto& r : rails) rail_list += (rail_list.empty() ? "" : ",") + r;
  row("RAILCC_RAILS", rails_auto          ? "auto (from the topology rail plan at init)"
                      : rail_list.empty() ? "(none: one tcp path per peer)"
                                          : rail_list);
  row("RAILCC_RAIL_CHUNK_BYTES", std::to_string(rail_chunk_bytes));
  row("RAILCC_RAIL_TIMEOUT", fmt::format("{} s", rail_timeout.count() / 1000.0));
  std::string hca_list;
  for (const auto& p : ib_hca) {
    hca_list += fmt::format("{}{}:{}", hca_list.empty() ? "" : ",", p.device, p.port);
  }
  row("RAILCC_IB_HCA", hca_list.empty() ? "(port 1 of every RDMA device)" : hca_list);
  row("RAILCC_IB_GID_INDEX",
      ib_gid_index < 0 ? "(auto: RoCE v2, IPv4)" : std::to_string(ib_gid_index));
  row("RAILCC_IB_QPS", std::to_string(ib_qps_per_peer));
  row("RAILCC_IB_RING_BYTES", std::to_string(ib_ring_bytes));
  row("RAILCC_IB_ZCOPY_BYTES",
      ib_zcopy_bytes == 0 ? "0 (off: always staged)" : std::to_string(ib_zcopy_bytes));
  row("RAILCC_SPIN_US", std::to_string(spin_us));
  row("RAILCC_TELEMETRY", telemetry ? "1" : "0 (off)");
  row("RAILCC_TRACE", trace_dir.empty() ? "(off)" : trace_dir);
  row("RAILCC_CUDA", cuda ? "1 (CUDA buffers detected)" : "0 (host buffers only)");
  row("RAILCC_CUDA_IPC", cuda_ipc ? "1" : "0 (host staging)");
  row("RAILCC_CUDA_IPC_CHUNK_BYTES", std::to_string(cuda_ipc_chunk_bytes));
  row("RAILCC_CUDA_WAIT", cuda_wait);
  row("RAILCC_CHECKSUM", checksum ? "1 (CRC32C on every message)" : "0");
  row("RAILCC_MAX_UNEXPECTED_BYTES", std::to_string(max_unexpected_bytes));
  if (fault.enabled()) {
    row("RAILCC_FAULT",
        fmt::format("{}:{}:{}:{}", fault_kind_name(fault.kind), fault.rank, fault.op, fault.ms));
  }
  row("RAILCC_METRICS", metrics.empty() ? "(off)" : metrics);
  row("RAILCC_FLIGHT_RECORDER",
      flight_recorder ? fmt::format("last {} ops", flight_recorder) : std::string("0 (off)"));
  row("RAILCC_FLIGHT_DIR", flight_dir.empty() ? "(RAILCC_TRACE dir, else /tmp)" : flight_dir);
  row("RAILCC_TOPO_FILE", topo_file.empty() ? "(discover with hwloc)" : topo_file);
  row("CUDA_VISIBLE_DEVICES",
      cuda_visible_devices ? "'" + *cuda_visible_devices + "'" : "(unset: every GPU)");
  row("launcher", launch.source.empty() ? "(none: single process)" : launch.source);
  row("rank / world size", fmt::format("{} / {}", launch.rank, launch.world_size));
  row("local rank / size", fmt::format("{} / {}", launch.local_rank, launch.local_world_size));
  row("store", launch.store_addr.empty()
                   ? "(none)"
                   : launch.store_addr + (launch.store_is_server ? " (this rank serves it)" : ""));
  row("RAILCC_JOB_KEY", launch.job_key.empty() ? "(unset: key from the store)" : "(set)");
  return out;
}

}  // namespace railcc
