#include "src/telemetry/metrics_exporter.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "railcc/status.hpp"
#include "src/common/log.h"
#include "src/common/socket.h"
#include "src/telemetry/metrics.h"

namespace railcc::telemetry {
namespace {

class Exporter {
 public:
  Exporter(const std::string& spec, int local_rank) {
    int port = 0;
    const auto [end, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), port);
    if (ec == std::errc() && end == spec.data() + spec.size()) {
      if (port <= 0 || port + local_rank > 65535) {
        throw ConfigError(fmt::format("RAILCC_METRICS='{}': a port must be 1-65535", spec));
      }
      listen(port + local_rank);
    } else {
      path_prefix_ = spec;
    }
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
      throw SystemError(fmt::format("metrics exporter: pipe: {}", std::strerror(errno)));
    }
    thread_ = std::thread([this] { loop(); });
  }

  ~Exporter() {
    stop_ = true;
    const char b = 1;
    (void)!::write(wake_[1], &b, 1);
    thread_.join();
    write_file();
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  int port() const { return port_; }

  void write_file() {
    if (path_prefix_.empty()) return;
    std::lock_guard lock(file_mutex_);
    const std::string path =
        fmt::format("{}.rank{}.prom", path_prefix_, Metrics::global().rank_label());
    const std::string tmp = path + ".tmp";
    const std::string text = Metrics::global().exposition();
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) {
      if (!warned_) RAILCC_WARN("config", "RAILCC_METRICS: cannot write {}", tmp);
      warned_ = true;
      return;
    }
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
    std::rename(tmp.c_str(), path.c_str());
  }

 private:
  void listen(int port) {
    listener_.reset(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!listener_) throw SystemError("metrics exporter: socket failed");
    const int on = 1, off = 0;
    ::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    ::setsockopt(listener_.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_any;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listener_.get(), 16) != 0) {
      throw ConfigError(
          fmt::format("RAILCC_METRICS: cannot serve metrics on port {} ({}); pick a free base port "
                      "(each rank uses base + its local rank)",
                      port, std::strerror(errno)));
    }
    port_ = port;
  }

  void loop() {
    auto next_sample = std::chrono::steady_clock::now();
    while (!stop_) {
      pollfd fds[2] = {{wake_[0], POLLIN, 0}, {listener_.get(), POLLIN, 0}};
      const int n = listener_ ? 2 : 1;
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
          next_sample - std::chrono::steady_clock::now());
      ::poll(fds, n, static_cast<int>(std::max<long long>(0, wait.count())));
      if (stop_) break;
      if (n == 2 && (fds[1].revents & POLLIN)) serve_one();
      if (std::chrono::steady_clock::now() >= next_sample) {
        Metrics::global().sample_rates();
        write_file();
        next_sample += std::chrono::seconds(1);
      }
    }
  }

  // One request per connection, answered in full; a client that sends nothing within a second
  // is dropped so it cannot stall the exporter.
  void serve_one() {
    const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    net::Fd conn(fd);
    std::string request;
    char buf[2048];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) return;
      const ssize_t got = ::recv(fd, buf, sizeof(buf), 0);
      if (got <= 0) return;
      request.append(buf, static_cast<std::size_t>(got));
    }
    std::string status = "200 OK", body;
    const bool get = request.rfind("GET ", 0) == 0;
    const std::string target = get ? request.substr(4, request.find(' ', 4) - 4) : "";
    if (!get) {
      status = "405 Method Not Allowed";
      body = "only GET is supported\n";
    } else if (target == "/metrics" || target == "/") {
      body = Metrics::global().exposition();
    } else {
      status = "404 Not Found";
      body = "railcc serves its metrics at /metrics\n";
    }
    const std::string response = fmt::format(
        "HTTP/1.1 {}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
        "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        status, body.size(), body);
    std::size_t sent = 0;
    while (sent < response.size()) {
      const ssize_t n = ::send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }

  net::Fd listener_;
  int port_ = 0;
  std::string path_prefix_;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::mutex file_mutex_;
  bool warned_ = false;
  std::thread thread_;
};

std::mutex g_mutex;
std::unique_ptr<Exporter>& exporter() {
  static std::unique_ptr<Exporter> e;  // destroyed at exit: joins the thread, writes the file
  return e;
}

}  // namespace

void start_metrics_exporter(const std::string& spec, int rank, int local_rank) {
  if (spec.empty()) return;
  std::lock_guard lock(g_mutex);
  if (exporter()) return;
  Metrics::global().set_rank(rank);
  exporter() = std::make_unique<Exporter>(spec, std::max(0, local_rank));
}

void flush_metrics() {
  std::lock_guard lock(g_mutex);
  if (exporter()) exporter()->write_file();
}

int metrics_port() {
  std::lock_guard lock(g_mutex);
  return exporter() ? exporter()->port() : 0;
}

}  // namespace railcc::telemetry
