#include "src/common/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "railcc/status.hpp"

namespace railcc::net {

std::string Endpoint::to_string() const {
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    return fmt::format("{}:{}", host, ntohs(a->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    return fmt::format("[{}]:{}", host, ntohs(a->sin6_port));
  }
  return "(unknown address)";
}

int Endpoint::port() const {
  if (addr.ss_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  }
  return -1;
}

Endpoint resolve(const std::string& host, int port, const char* what) {
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port_str = std::to_string(port);
  const int rc = getaddrinfo(h.empty() ? nullptr : h.c_str(), port_str.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    throw ConfigError(fmt::format("cannot resolve {} host '{}': {}", what, host, gai_strerror(rc)));
  }
  Endpoint ep;
  std::memcpy(&ep.addr, res->ai_addr, res->ai_addrlen);
  ep.len = res->ai_addrlen;
  freeaddrinfo(res);
  return ep;
}

Endpoint resolve(const std::string& host_port, const char* what) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos || colon + 1 == host_port.size()) {
    throw ConfigError(fmt::format("{} '{}' is not host:port", what, host_port));
  }
  int port = 0;
  try {
    port = std::stoi(host_port.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    throw ConfigError(fmt::format("{} '{}' has a bad port", what, host_port));
  }
  return resolve(host_port.substr(0, colon), port, what);
}

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {
[[noreturn]] void sys_fail(const std::string& what) {
  throw SystemError(fmt::format("{}: {}", what, std::strerror(errno)));
}
}  // namespace

Fd listen_on(const Endpoint& ep, int backlog) {
  Fd fd(::socket(ep.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) sys_fail("socket()");
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) != 0) {
    sys_fail(fmt::format("cannot bind {}", ep.to_string()));
  }
  if (::listen(fd.get(), backlog) != 0)
    sys_fail(fmt::format("cannot listen on {}", ep.to_string()));
  return fd;
}

Endpoint local_endpoint(int fd) {
  Endpoint ep;
  ep.len = sizeof(ep.addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ep.addr), &ep.len) != 0) sys_fail("getsockname");
  return ep;
}

Endpoint peer_endpoint(int fd) {
  Endpoint ep;
  ep.len = sizeof(ep.addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ep.addr), &ep.len) != 0) ep.len = 0;
  return ep;
}

Fd connect_to(const Endpoint& ep, Deadline deadline, const std::string& what,
              const Endpoint* local) {
  int backoff_ms = 1;
  std::string last_error;
  while (true) {
    Fd fd(::socket(ep.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) sys_fail("socket()");
    if (local && ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local->addr), local->len)) {
      throw SystemError(fmt::format("cannot bind a socket to {} to reach {} at {}: {}",
                                    local->to_string(), what, ep.to_string(),
                                    std::strerror(errno)));
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) == 0) {
      set_nodelay(fd.get());
      return fd;
    }
    last_error = std::strerror(errno);
    if (deadline.expired()) {
      throw TimeoutError(fmt::format("cannot connect to {} at {}: {} (gave up at the deadline)",
                                     what, ep.to_string(), last_error));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 100);
  }
}

void set_nonblocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) sys_fail("fcntl(O_NONBLOCK)");
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void set_buffer_sizes(int fd, int bytes) {
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

namespace {
bool wait_fd(int fd, short events, Deadline deadline) {
  pollfd p{fd, events, 0};
  while (true) {
    const int rc = ::poll(&p, 1, deadline.poll_ms(1000));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) sys_fail("poll()");
    if (deadline.expired()) return false;
  }
}
}  // namespace

bool write_all(int fd, const void* data, std::size_t len, Deadline deadline) {
  auto* p = static_cast<const char*>(data);
  while (len > 0) {
    const ssize_t n = ::send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_fd(fd, POLLOUT, deadline)) return false;
      continue;
    }
    sys_fail("send()");
  }
  return true;
}

bool read_all(int fd, void* data, std::size_t len, Deadline deadline) {
  auto* p = static_cast<char*>(data);
  while (len > 0) {
    const ssize_t n = ::recv(fd, p, len, MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) throw PeerFailureError("connection closed by the other side");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_fd(fd, POLLIN, deadline)) return false;
      continue;
    }
    sys_fail("recv()");
  }
  return true;
}

}  // namespace railcc::net
