// Small POSIX socket helpers shared by the store and the tcp transport.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <string>

#include "src/common/deadline.h"

namespace railcc::net {

// An IPv4/IPv6 endpoint.
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string to_string() const;  // "1.2.3.4:5678" or "[::1]:5678"
  int port() const;
};

// "host:port" (host may be a name, an IPv4 address or [IPv6]) → endpoint. Throws ConfigError.
Endpoint resolve(const std::string& host_port, const char* what);
Endpoint resolve(const std::string& host, int port, const char* what);

// RAII file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Listening TCP socket on `ep` (port 0 = any free port). Throws SystemError.
Fd listen_on(const Endpoint& ep, int backlog = 1024);
Endpoint local_endpoint(int fd);
Endpoint peer_endpoint(int fd);
// Connects with retries until the deadline (the listener may not be up yet). Throws TimeoutError.
// With `local`, the socket is bound to that address first (the rail it must leave by).
Fd connect_to(const Endpoint& ep, Deadline deadline, const std::string& what,
              const Endpoint* local = nullptr);
void set_nonblocking(int fd);
void set_nodelay(int fd);
void set_buffer_sizes(int fd, int bytes);

// Blocking exact I/O honoring a deadline (poll). Return false on timeout; throw on error/EOF.
bool write_all(int fd, const void* data, std::size_t len, Deadline deadline);
bool read_all(int fd, void* data, std::size_t len, Deadline deadline);

}  // namespace railcc::net
