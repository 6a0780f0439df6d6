#include "transport/verbs/port_events.h"

#include <fcntl.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "src/common/log.h"

namespace railcc::transport::verbs {

std::string async_event_name(ibv_event_type type) {
  switch (type) {
    case IBV_EVENT_PORT_ERR:
      return "IBV_EVENT_PORT_ERR";
    case IBV_EVENT_PORT_ACTIVE:
      return "IBV_EVENT_PORT_ACTIVE";
    case IBV_EVENT_DEVICE_FATAL:
      return "IBV_EVENT_DEVICE_FATAL";
    case IBV_EVENT_QP_FATAL:
      return "IBV_EVENT_QP_FATAL";
    case IBV_EVENT_QP_REQ_ERR:
      return "IBV_EVENT_QP_REQ_ERR";
    case IBV_EVENT_QP_ACCESS_ERR:
      return "IBV_EVENT_QP_ACCESS_ERR";
    case IBV_EVENT_CQ_ERR:
      return "IBV_EVENT_CQ_ERR";
    case IBV_EVENT_LID_CHANGE:
      return "IBV_EVENT_LID_CHANGE";
    case IBV_EVENT_GID_CHANGE:
      return "IBV_EVENT_GID_CHANGE";
    default:
      return fmt::format("event {}", static_cast<int>(type));
  }
}

PortEvents::PortEvents(VerbsApi &api, ibv_context *context, std::string hca, int port, int rank)
    : api_(api), context_(context), hca_(std::move(hca)), port_(port), rank_(rank) {
  const int fd = context_->async_fd;
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    // Reading it would block the progress engine: leave the events unread
    // (failures then show only through completions, as before).
    RAILCC_WARN("net",
                "rank {}: {} port {}: cannot make the async event fd "
                "non-blocking ({}); "
                "port events are ignored",
                rank_, hca_, port_, std::strerror(errno));
    context_ = nullptr;
  }
}

void PortEvents::poll() {
  if (!context_) return;
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  if (now < next_poll_.load(std::memory_order_relaxed)) return;
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another thread is reading them now
  next_poll_.store(
      now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(kInterval).count(),
      std::memory_order_relaxed);
  ibv_async_event event{};
  while (api_.get_async_event(context_, &event) == 0) {
    handle(event);
    api_.ack_async_event(&event);
  }
  trouble_.store(!down_.empty() || !fatal_.empty() || !failed_qps_.empty(),
                 std::memory_order_release);
}

void PortEvents::handle(const ibv_async_event &event) {
  const std::string name = async_event_name(event.event_type);
  switch (event.event_type) {
    case IBV_EVENT_PORT_ERR:
      if (event.element.port_num != port_ || !down_.empty()) return;
      down_ = name;
      RAILCC_WARN("net",
                  "rank {}: RDMA port {} port {} went down ({}): the rails on it "
                  "go out of "
                  "service until it is ACTIVE again",
                  rank_, hca_, port_, name);
      return;
    case IBV_EVENT_PORT_ACTIVE:
      if (event.element.port_num != port_ || down_.empty()) return;
      down_.clear();
      RAILCC_WARN("net",
                  "rank {}: RDMA port {} port {} is ACTIVE again ({}): its rails "
                  "rejoin once "
                  "their peers answer on them",
                  rank_, hca_, port_, name);
      return;
    case IBV_EVENT_DEVICE_FATAL:
      if (!fatal_.empty()) return;
      fatal_ = name;
      RAILCC_WARN("net", "rank {}: RDMA device {} failed ({}): every queue pair on it is lost",
                  rank_, hca_, name);
      return;
    case IBV_EVENT_QP_FATAL:
    case IBV_EVENT_QP_REQ_ERR:
    case IBV_EVENT_QP_ACCESS_ERR:
      // The stream owning it reports it, naming its peer (qp_failure).
      if (event.element.qp) failed_qps_.emplace(event.element.qp->qp_num, name);
      return;
    default:
      RAILCC_DEBUG("net", "rank {}: {} port {}: async event {}", rank_, hca_, port_, name);
      return;
  }
}

void PortEvents::forget_qp(uint32_t qp_num) {
  std::lock_guard lock(mu_);
  if (failed_qps_.erase(qp_num) == 0) return;
  trouble_.store(!down_.empty() || !fatal_.empty() || !failed_qps_.empty(),
                 std::memory_order_release);
}

std::string PortEvents::port_down() const {
  std::lock_guard lock(mu_);
  return fatal_.empty() ? down_ : fatal_;
}

std::string PortEvents::qp_failure(uint32_t qp_num) const {
  std::lock_guard lock(mu_);
  if (!fatal_.empty()) return fatal_;
  const auto it = failed_qps_.find(qp_num);
  return it == failed_qps_.end() ? std::string() : it->second;
}

}  // namespace railcc::transport::verbs
