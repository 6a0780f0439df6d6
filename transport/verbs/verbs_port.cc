#include "transport/verbs/verbs_port.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "railcc/status.hpp"
#include "src/common/log.h"
#include "transport/verbs/verbs_errors.h"
#include "transport/verbs/verbs_port_plan.h"

namespace railcc::transport::verbs {
namespace {

bool gid_is_zero(const ibv_gid& g) {
  for (uint8_t b : g.raw) {
    if (b) return false;
  }
  return true;
}

// ::ffff:a.b.c.d, the form RoCE v2 GIDs take for an interface's IPv4 address.
bool gid_is_ipv4(const ibv_gid& g) {
  static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(g.raw, kPrefix, sizeof(kPrefix)) == 0;
}

std::string gid_text(const ibv_gid& g) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, g.raw, buf, sizeof(buf));
  return buf;
}

}  // namespace

VerbsPort::VerbsPort(VerbsApi& api, ibv_device* device, int port, int gid_index, int rank)
    : api_(api), hca_(api.get_device_name(device)), port_(port) {
  context_ = api_.open_device(device);
  if (!context_) {
    throw SystemError(
        fmt::format("rank {}: cannot open RDMA device {}: {}", rank, hca_, std::strerror(errno)));
  }
  try {
    if (api_.query_port(context_, static_cast<uint8_t>(port), &attr_) != 0) {
      throw ConfigError(
          fmt::format("rank {}: {} has no port {} (RAILCC_IB_HCA; ports are numbered from 1)", rank,
                      hca_, port));
    }
    if (attr_.state != IBV_PORT_ACTIVE) {
      throw ConfigError(fmt::format(
          "rank {}: {} is {} (not ACTIVE): check its cable and subnet manager (ibstat), or "
          "choose another port with RAILCC_IB_HCA",
          rank, describe(), port_state_name(attr_.state)));
    }
    choose_gid(gid_index, rank);
    pd_ = api_.alloc_pd(context_);
    if (!pd_) {
      throw SystemError(fmt::format("rank {}: cannot allocate a protection domain on {}: {}", rank,
                                    hca_, std::strerror(errno)));
    }
    cache_ = std::make_unique<RegCache>(api_, pd_, hca_);
    user_buffers_ = std::make_unique<UserBuffers>(*cache_);
    events_ = std::make_unique<PortEvents>(api_, context_, hca_, port_, rank);
  } catch (...) {
    if (pd_) api_.dealloc_pd(pd_);
    api_.close_device(context_);
    throw;
  }
}

VerbsPort::~VerbsPort() {
  events_.reset();
  user_buffers_.reset();
  cache_.reset();
  if (pd_) api_.dealloc_pd(pd_);
  if (context_) api_.close_device(context_);
}

std::string VerbsPort::describe() const { return fmt::format("{} port {}", hca_, port_); }

void VerbsPort::choose_gid(int requested, int rank) {
  if (requested >= 0) {
    if (requested >= attr_.gid_tbl_len ||
        api_.query_gid(context_, static_cast<uint8_t>(port_), requested, &gid_) != 0 ||
        gid_is_zero(gid_)) {
      throw ConfigError(fmt::format(
          "rank {}: RAILCC_IB_GID_INDEX={} is not a valid GID of {} (its table has {} entries; "
          "`show_gids` lists them)",
          rank, requested, describe(), attr_.gid_tbl_len));
    }
    gid_index_ = requested;
    return;
  }
  if (!roce()) {  // InfiniBand: addressed by LID; GID 0 (the port GUID) for completeness
    gid_index_ = 0;
    api_.query_gid(context_, static_cast<uint8_t>(port_), 0, &gid_);
    return;
  }
  // RoCE: routable v2 GIDs first (an IPv4 one preferably: what most fabrics route), then any.
  int best = -1, best_score = -1;
  for (int i = 0; i < attr_.gid_tbl_len; ++i) {
    ibv_gid g{};
    if (api_.query_gid(context_, static_cast<uint8_t>(port_), i, &g) != 0 || gid_is_zero(g)) {
      continue;
    }
    const bool v2 = api_.gid_type(context_, static_cast<uint8_t>(port_), i) == "RoCE v2";
    const int score = (v2 ? 2 : 0) + (gid_is_ipv4(g) ? 1 : 0);
    if (score > best_score) best = i, best_score = score, gid_ = g;
  }
  if (best < 0) {
    throw ConfigError(fmt::format(
        "rank {}: {} is RoCE but has no GID: give its network interface an IP address, or set "
        "RAILCC_IB_GID_INDEX",
        rank, describe()));
  }
  gid_index_ = best;
  RAILCC_DEBUG("net", "rank {}: {} uses GID index {} ({}{})", rank, describe(), best,
               gid_text(gid_), best_score >= 2 ? ", RoCE v2" : "");
}

VerbsPorts open_verbs_ports(const Config& config, int rank) {
  VerbsApi& api = verbs_api();
  VerbsPorts out;
  if (std::string why = api.unavailable_reason(); !why.empty()) {
    out.unavailable = fmt::format("no RDMA device was found: {}", why);
    return out;
  }
  int count = 0;
  errno = 0;
  ibv_device** list = api.get_device_list(&count);
  if (!list || count == 0) {
    const int err = errno;
    if (list) api.free_device_list(list);
    out.unavailable =
        err == ENOSYS || err == 0
            ? fmt::format(
                  "no RDMA device was found (ibv_get_device_list: {}; the kernel has no "
                  "RDMA device or driver loaded)",
                  err ? std::strerror(err) : "no devices")
            : fmt::format("no RDMA device was found (ibv_get_device_list: {})", std::strerror(err));
    return out;
  }
  struct Free {
    VerbsApi& api;
    ibv_device** list;
    ~Free() { api.free_device_list(list); }
  } free_list{api, list};
  std::string names;
  for (int i = 0; i < count; ++i) {
    names += (names.empty() ? "" : ", ") + std::string(api.get_device_name(list[i]));
  }
  auto find = [&](const std::string& name) -> ibv_device* {
    for (int i = 0; i < count; ++i) {
      if (name == api.get_device_name(list[i])) return list[i];
    }
    return nullptr;
  };
  auto ports_text = [](const std::vector<IbPort>& ports) {
    std::string text;
    for (const IbPort& p : ports)
      text += fmt::format("{}{}:{}", text.empty() ? "" : ",", p.device, p.port);
    return text;
  };
  if (!config.ib_hca.empty()) {
    for (const auto& entry : config.ib_hca) {
      ibv_device* dev = find(entry.device);
      if (!dev) {
        throw ConfigError(fmt::format(
            "rank {}: RAILCC_IB_HCA names {}, which this host does not have (its RDMA devices: "
            "{})",
            rank, entry.device, names));
      }
      out.ports.push_back(
          std::make_shared<VerbsPort>(api, dev, entry.port, config.ib_gid_index, rank));
    }
    out.source = "ports from RAILCC_IB_HCA: " + ports_text(config.ib_hca);
    RAILCC_INFO("init", "rank {}: verbs {}", rank, out.source);
    return out;
  }
  // Whether `port` of `device` is ACTIVE; otherwise says why not in `why`.
  auto active = [&](ibv_device* device, int port, std::string& why) {
    ibv_port_attr attr{};
    ibv_context* ctx = api.open_device(device);
    if (!ctx) return true;  // VerbsPort reports why it cannot be opened
    const int rc = api.query_port(ctx, static_cast<uint8_t>(port), &attr);
    api.close_device(ctx);
    if (rc == 0 && attr.state == IBV_PORT_ACTIVE) return true;
    why = rc ? "no such port" : port_state_name(attr.state);
    return false;
  };
  // The HCAs nearest this rank's GPU, by the topology rail plan. A planned port that is not
  // ACTIVE is left out (its rail could not carry anything); with none left, every ACTIVE port.
  const PlannedPorts planned = ports_from_rail_plan(config, rank, api, list, count);
  std::vector<IbPort> opened;
  for (const IbPort& p : planned.ports) {
    ibv_device* dev = find(p.device);
    std::string why;
    if (!active(dev, p.port, why)) {
      RAILCC_INFO("net", "rank {}: skipping {} port {} of the rail plan ({})", rank, p.device,
                  p.port, why);
      continue;
    }
    out.ports.push_back(std::make_shared<VerbsPort>(api, dev, p.port, config.ib_gid_index, rank));
    opened.push_back(p);
  }
  if (!out.ports.empty()) {
    out.source = planned.why;
    if (opened.size() < planned.ports.size()) out.source += "; opened " + ports_text(opened);
    RAILCC_INFO("init", "rank {}: verbs {}", rank, out.source);
    return out;
  }
  for (int i = 0; i < count; ++i) {
    // Ports that are not ACTIVE are skipped; any other problem is an error.
    std::string why;
    if (!active(list[i], 1, why)) {
      RAILCC_INFO("net", "rank {}: skipping {} port 1 ({})", rank, api.get_device_name(list[i]),
                  why);
      continue;
    }
    out.ports.push_back(std::make_shared<VerbsPort>(api, list[i], 1, config.ib_gid_index, rank));
  }
  out.source = planned.ports.empty() ? planned.why + ": all active ports"
                                     : planned.why + "; none of them is ACTIVE: all active ports";
  RAILCC_INFO("init", "rank {}: verbs {}", rank, out.source);
  if (out.ports.empty()) {
    out.unavailable = fmt::format("no RDMA device has an ACTIVE port 1 (devices: {})", names);
  }
  return out;
}

}  // namespace railcc::transport::verbs
