// The asynchronous events of one opened RDMA port (ibv_get_async_event): the
// port going down (IBV_EVENT_PORT_ERR) or coming back (IBV_EVENT_PORT_ACTIVE),
// the device failing (IBV_EVENT_DEVICE_FATAL), a queue pair failing outside any
// completion (IBV_EVENT_QP_FATAL, IBV_EVENT_QP_REQ_ERR,
// IBV_EVENT_QP_ACCESS_ERR).
//
// Why: a pulled cable shows up in completions only when a queue pair next sends
// and exhausts its retries (seconds), and not at all on an idle one; the port
// event arrives at once. Read without blocking from the progress path (the
// streams on the port call poll() from their own calls), so no thread waits on
// async_fd. The streams act on what it reports: a stream on a failed queue pair
// or device breaks; a port that is down takes the rails on it out of service
// (MultiRailConnection, as for an interface whose link is down) until it is
// ACTIVE again, or breaks the streams that have no other port to fail over to.
#pragma once

#include <infiniband/verbs.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "transport/verbs/verbs_api.h"

namespace railcc::transport::verbs {

class PortEvents {
 public:
  // Makes `context`'s async_fd non-blocking. `hca`, `port` and `rank` name it
  // in warnings.
  PortEvents(VerbsApi &api, ibv_context *context, std::string hca, int port, int rank);

  // Reads and acknowledges every pending event; a system call, so at most once
  // per kInterval however often it is called. Thread-safe.
  void poll();
  // The event that took the port down ("IBV_EVENT_PORT_ERR",
  // "IBV_EVENT_DEVICE_FATAL"); empty while the port works.
  std::string port_down() const;
  // The event that failed queue pair `qp_num`, or the device; empty if none.
  std::string qp_failure(uint32_t qp_num) const;
  // Forgets queue pair `qp_num`'s failure once it is destroyed: the HCA may reuse its number for
  // a new queue pair (a rail being re-created), which must not inherit it.
  void forget_qp(uint32_t qp_num);
  // False while no event has taken the port, the device or a queue pair down:
  // one atomic load, so streams can ask on every progress step before taking
  // the lock the others need.
  bool trouble() const { return trouble_.load(std::memory_order_acquire); }

  static constexpr auto kInterval = std::chrono::milliseconds(1);

 private:
  void handle(const ibv_async_event &event);

  VerbsApi &api_;
  ibv_context *context_;
  std::string hca_;
  int port_;
  int rank_;
  mutable std::mutex mu_;
  std::atomic<std::chrono::steady_clock::rep> next_poll_{0};  // steady_clock ticks
  std::atomic<bool> trouble_{false};
  std::string down_;   // the event that took the port down; empty while it is ACTIVE
  std::string fatal_;  // IBV_EVENT_DEVICE_FATAL: the device is gone for good
  std::map<uint32_t, std::string> failed_qps_;
};

// "IBV_EVENT_PORT_ERR" for the events railcc acts on, "event N" for others.
std::string async_event_name(ibv_event_type type);

}  // namespace railcc::transport::verbs
