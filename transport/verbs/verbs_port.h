// One HCA port opened for railcc: device context, protection domain, registration cache and the
// addressing peers need (LID on InfiniBand, GID on RoCE). Shared by every queue pair a
// communicator opens on that port.
#pragma once

#include <infiniband/verbs.h>

#include <memory>
#include <string>
#include <vector>

#include "railcc/config.hpp"
#include "transport/verbs/port_events.h"
#include "transport/verbs/reg_cache.h"
#include "transport/verbs/user_buffers.h"
#include "transport/verbs/verbs_api.h"

namespace railcc::transport::verbs {

class VerbsPort {
 public:
  // Opens `hca` port `port` and checks it is ACTIVE; picks the GID (RAILCC_IB_GID_INDEX, or on
  // RoCE the first RoCE v2 GID holding an IPv4 address, then any RoCE v2 one, then any). Throws
  // ConfigError or SystemError naming the HCA, the port, the rank and the variable to fix.
  VerbsPort(VerbsApi& api, ibv_device* device, int port, int gid_index, int rank);
  ~VerbsPort();
  VerbsPort(const VerbsPort&) = delete;
  VerbsPort& operator=(const VerbsPort&) = delete;

  VerbsApi& api() const { return api_; }
  ibv_context* context() const { return context_; }
  ibv_pd* pd() const { return pd_; }
  RegCache& cache() { return *cache_; }
  // The application's registered buffers (zero-copy sends), registered on this port's PD.
  UserBuffers& user_buffers() { return *user_buffers_; }
  // The port's asynchronous events (port down/up, fatal errors), polled by its streams.
  PortEvents& events() { return *events_; }
  const std::string& hca() const { return hca_; }
  int port() const { return port_; }
  bool roce() const { return attr_.link_layer == IBV_LINK_LAYER_ETHERNET; }
  uint16_t lid() const { return attr_.lid; }
  ibv_mtu active_mtu() const { return attr_.active_mtu; }
  int gid_index() const { return gid_index_; }
  const ibv_gid& gid() const { return gid_; }
  // "mlx5_0 port 1"
  std::string describe() const;

 private:
  void choose_gid(int requested, int rank);

  VerbsApi& api_;
  std::string hca_;
  int port_;
  ibv_context* context_ = nullptr;
  ibv_pd* pd_ = nullptr;
  ibv_port_attr attr_{};
  int gid_index_ = 0;
  ibv_gid gid_{};
  std::unique_ptr<RegCache> cache_;
  std::unique_ptr<UserBuffers> user_buffers_;  // after cache_: releases into it when destroyed
  std::unique_ptr<PortEvents> events_;
};

// The ports a communicator uses, or why there are none.
struct VerbsPorts {
  std::vector<std::shared_ptr<VerbsPort>> ports;  // rail k = ports[k]
  std::string unavailable;  // set when no device (or no library) exists; ports is then empty
  // What chose the ports, for the init log and for messages: "ports from RAILCC_IB_HCA: ...",
  // "ports from topology rail plan (file t.xml): mlx5_2:1 nearest GPU 2", "no topology (...):
  // all active ports".
  std::string source;
};

// Opens the ports RAILCC_IB_HCA lists; else those the topology rail plan gives this rank (the
// HCAs nearest its GPU, verbs_port_plan.h) that are ACTIVE; else port 1 of every device that has
// it ACTIVE. No device at all is not an error here (the caller falls back to tcp or reports it);
// a listed device or port that is missing or not ACTIVE is (ConfigError), and so is a
// RAILCC_TOPO_FILE that cannot be read.
VerbsPorts open_verbs_ports(const Config& config, int rank);

}  // namespace railcc::transport::verbs
