// One UCP context and worker: what a communicator's UCX endpoints share (one per rail with
// RAILCC_RAILS). Everything UCX_* in the environment applies (UCX reads it in ucp_config_read),
// so UCX_TLS picks the transports (UCX_TLS=tcp, UCX_TLS=sm,self, ...) and UCX_NET_DEVICES the
// interfaces; a rail's worker overrides NET_DEVICES with that rail's interface only.
//
// Driven only from the communicator's worker thread or a thread holding its progress lock, one at
// a time: the worker is created UCS_THREAD_MODE_SERIALIZED.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "src/common/socket.h"
#include "transport/ucx/ucx_api.h"

namespace railcc::transport::ucx {

class UcxStream;

// The active message a stream sends its peer right before it closes its endpoint: UCX 1.13 does
// not tell the other end of an endpoint created from a worker address that it closed (and its
// shared-memory transports have no peer-failure detection at all), so railcc says it itself.
struct Goodbye {
  static constexpr unsigned kAmId = 0x7263;  // "rc"
  enum Kind : int32_t { kClosed = 1, kDropped = 2 };
  int32_t from_rank;
  int32_t kind;
};

class UcxWorker {
 public:
  struct Options {
    std::string what = "worker";  // names it in errors, e.g. "for rail eth1"
    // Non-empty: UCX_NET_DEVICES for this worker only (a rail's interface).
    std::string net_devices;
    // UCX_TLS and UCX_NET_DEVICES as the user set them (Config), quoted back in messages.
    std::string env_tls, env_net_devices;
  };
  // Throws ConfigError naming `rank` when UCX is missing or cannot start with the UCX_* settings
  // given (naming them).
  UcxWorker(int rank, Options options);
  ~UcxWorker();
  UcxWorker(const UcxWorker&) = delete;
  UcxWorker& operator=(const UcxWorker&) = delete;

  const UcxApi& api() const { return api_; }
  ucp_worker_h handle() const { return worker_; }
  int rank() const { return rank_; }
  const std::string& what() const { return o_.what; }
  // The worker's address, for peers' ucp_ep_create (published through the store).
  const std::vector<uint8_t>& address() const { return address_; }

  // One round of UCP progress; returns how many events it handled.
  unsigned progress();
  // A file descriptor that becomes readable on the next UCX event, armed for it now (the engine
  // calls this right before it sleeps in poll()). When there is work already (bytes queued, sends
  // completed) it returns a descriptor that is readable at once, so poll() returns and the
  // engine progresses. -1 without a wake-up fd (the engine then sleeps at most its tick).
  int wait_fd();

  // How UCX was configured, for messages: "UCX 1.13.1, UCX_TLS=tcp".
  std::string settings() const;

  // The stream to `peer` on this worker receives the peer's Goodbye (one stream per peer).
  void attach(int peer, UcxStream* s) { streams_[peer] = s; }
  void detach(int peer) { streams_.erase(peer); }
  // An endpoint's error callback: tells the live stream that owns `ep`. An endpoint whose stream
  // is gone (closed, but UCX not yet done with it) has no one left to tell.
  void on_endpoint_error(ucp_ep_h ep, ucs_status_t status);
  // A stream closed on a peer whose process died without its goodbye. The worker is then parked
  // until the process exits rather than destroyed: UCX 1.13 (Debian 12) aborts in
  // ucp_worker_destroy on an assertion when it purges a wireup reply still queued to the dead peer
  // (fixed upstream by openucx/ucx#8175), and a surviving rank must be able to destroy its
  // communicator. One worker per such communicator stays allocated.
  void note_peer_failed() { peer_failed_ = true; }

 private:
  const UcxApi& api_;
  int rank_;
  Options o_;
  ucp_context_h context_ = nullptr;
  ucp_worker_h worker_ = nullptr;
  int efd_ = -1;
  bool armed_ = false;  // armed since the last progress() call
  net::Fd ready_fd_;    // readable while there is work to do at once (see ready_now)
  bool ready_pending_ = false;
  int ready_now();
  std::vector<uint8_t> address_;
  std::map<int, UcxStream*> streams_;
  bool peer_failed_ = false;
  static ucs_status_t on_goodbye(void* arg, const void* header, size_t header_length, void* data,
                                 size_t length, const ucp_am_recv_param_t* param);
};

// The UCX api, or ConfigError naming `rank` and what is missing.
const UcxApi& require_ucx(int rank);

}  // namespace railcc::transport::ucx
