// The rendezvous server: one thread, poll() over the listener and every client. Blocking gets are
// parked as waiters with their own deadline, so the thread never blocks on one client. With a job
// key, a client is served only after it passed the challenge-response of src/bootstrap/auth.h.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstring>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "railcc/status.hpp"
#include "railcc/store.hpp"
#include "src/bootstrap/auth.h"
#include "src/bootstrap/store_protocol.h"
#include "src/bootstrap/store_request.h"
#include "src/common/log.h"
#include "src/common/socket.h"

namespace railcc {
namespace {

using namespace store_protocol;

struct Client {
  net::Fd fd;
  std::string peer;
  std::vector<uint8_t> in;  // bytes received, not yet parsed
  // Set until the client proved it holds the job key (only when the server has one).
  std::optional<auth::Acceptor> pending_auth;
  bool challenged = false;          // the challenge went out; the answer is next
  Clock::time_point auth_deadline;  // a client still unauthenticated then is closed
};

// Members answer within milliseconds; this only bounds what a silent stranger can hold.
constexpr auto kAuthWindow = std::chrono::seconds(10);

constexpr const char* kAuthFailed = "failed authentication (wrong or missing RAILCC_JOB_KEY)";

struct Waiter {
  int fd;
  std::string key;
  Clock::time_point deadline;
};

class TcpStoreServer final : public StoreServer {
 public:
  TcpStoreServer(const std::string& host, int port, const std::string& job_key) {
    if (!job_key.empty()) key_ = auth::derive_key(job_key);
    listener_ = net::listen_on(net::resolve(host, port, "store server"));
    net::set_nonblocking(listener_.get());
    port_ = net::local_endpoint(listener_.get()).port();
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) throw SystemError("pipe2 failed");
    wake_read_.reset(p[0]);
    wake_write_.reset(p[1]);
    thread_ = std::thread([this] { run(); });
  }
  ~TcpStoreServer() override {
    stop_ = true;
    char c = 1;
    ssize_t unused = ::write(wake_write_.get(), &c, 1);
    (void)unused;
    thread_.join();
  }
  int port() const override { return port_; }

 private:
  void run() {
    while (!stop_) {
      std::vector<pollfd> fds;
      fds.push_back({wake_read_.get(), POLLIN, 0});
      fds.push_back({listener_.get(), POLLIN, 0});
      for (auto& [fd, c] : clients_) fds.push_back({fd, POLLIN, 0});
      int timeout_ms = 1000;
      const auto now = Clock::now();
      for (const Waiter& w : waiters_) {
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(w.deadline - now).count() + 1;
        timeout_ms = std::max(0, std::min<int>(timeout_ms, static_cast<int>(ms)));
      }
      const int rc = ::poll(fds.data(), fds.size(), timeout_ms);
      if (rc < 0 && errno != EINTR) break;
      if (fds[1].revents & POLLIN) accept_clients();
      for (std::size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) service(fds[i].fd);
      }
      expire_waiters();
      drop_silent_strangers();
    }
  }

  void drop_silent_strangers() {
    const auto now = Clock::now();
    std::vector<int> late;
    for (const auto& [fd, c] : clients_) {
      if (c.pending_auth && c.auth_deadline <= now) late.push_back(fd);
    }
    for (int fd : late) drop(fd, "did not authenticate within 10 s");
  }

  void accept_clients() {
    while (true) {
      const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) return;
      net::set_nodelay(fd);
      Client c;
      c.fd.reset(fd);
      c.peer = net::peer_endpoint(fd).to_string();
      if (key_) {
        c.pending_auth.emplace(*key_, std::string(auth::kStoreContext));
        c.auth_deadline = Clock::now() + kAuthWindow;
      }
      clients_.emplace(fd, std::move(c));
    }
  }

  void drop(int fd, const std::string& why) {
    auto it = clients_.find(fd);
    if (it == clients_.end()) return;
    if (!why.empty()) {
      RAILCC_WARN("store", "rejected connection from {} to the store: {}", it->second.peer, why);
    }
    std::erase_if(waiters_, [fd](const Waiter& w) { return w.fd == fd; });
    clients_.erase(it);
  }

  void service(int fd) {
    auto found = clients_.find(fd);
    if (found == clients_.end()) return;  // dropped earlier in this poll round
    Client& c = found->second;
    uint8_t buf[65536];
    while (true) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n > 0) {
        c.in.insert(c.in.end(), buf, buf + n);
        continue;
      }
      if (n == 0) {
        if (c.pending_auth) return drop(fd, kAuthFailed);
        return drop(fd, c.in.empty() ? "" : "closed in the middle of a request");
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return drop(fd, "");
    }
    if (c.pending_auth && !authenticate(c)) return;
    if (c.pending_auth) return;  // waiting for more of the handshake
    // Handle every complete request in the buffer.
    std::size_t used = 0;
    while (true) {
      uint32_t magic = 0;
      if (c.in.size() - used >= sizeof(magic))
        std::memcpy(&magic, c.in.data() + used, sizeof(magic));
      if (magic == auth::kMagic) {
        // A client with a job key, and this server has none: tell it, so it can say why.
        auth::Challenge no{};
        no.magic = auth::kMagic;
        no.status = static_cast<uint32_t>(auth::Status::kNoKey);
        send_last_words(fd, &no, sizeof(no));
        return drop(fd, "the client has a RAILCC_JOB_KEY but this store was started without one");
      }
      ParseResult p = parse_request(c.in.data() + used, c.in.size() - used);
      if (p.status == ParseResult::Status::kBad) return drop(fd, p.error);
      if (p.status == ParseResult::Status::kNeedMore) break;
      used += p.consumed;
      Request& q = p.request;
      if (!handle(fd, q.command, q.key, std::move(q.value), q.arg)) return;
    }
    c.in.erase(c.in.begin(), c.in.begin() + used);
  }

  // A short note to a client that is about to be closed; it may be gone already.
  static void send_last_words(int fd, const void* data, std::size_t len) {
    try {
      net::write_all(fd, data, len, Deadline::after(std::chrono::milliseconds(200)));
    } catch (const Error&) {
    }
  }

  // Advances the handshake with the bytes received so far. False when the client was dropped.
  bool authenticate(Client& c) {
    const int fd = c.fd.get();
    if (!c.challenged) {
      if (c.in.size() >= 4) {
        uint32_t magic = 0;
        std::memcpy(&magic, c.in.data(), 4);
        if (magic == kMagic) {
          // A plain request: a client without the key. Say so before closing.
          ReplyHeader r{};
          r.magic = kMagic;
          r.status = static_cast<uint8_t>(Reply::kAuthRequired);
          send_last_words(fd, &r, sizeof(r));
          drop(fd, kAuthFailed);
          return false;
        }
      }
      if (c.in.size() < sizeof(auth::Hello)) return true;
      auth::Hello hello;
      std::memcpy(&hello, c.in.data(), sizeof(hello));
      c.in.erase(c.in.begin(), c.in.begin() + sizeof(hello));
      const auto challenge = c.pending_auth->on_hello(hello);
      if (!challenge) {
        drop(fd, kAuthFailed);
        return false;
      }
      try {
        if (!net::write_all(fd, &*challenge, sizeof(*challenge),
                            Deadline::after(std::chrono::seconds(5)))) {
          drop(fd, "client stopped reading during authentication");
          return false;
        }
      } catch (const Error&) {
        drop(fd, kAuthFailed);
        return false;
      }
      c.challenged = true;
    }
    if (c.in.size() < sizeof(auth::Answer)) return true;
    auth::Answer answer;
    std::memcpy(&answer, c.in.data(), sizeof(answer));
    c.in.erase(c.in.begin(), c.in.begin() + sizeof(answer));
    if (!c.pending_auth->on_answer(answer)) {
      drop(fd, kAuthFailed);
      return false;
    }
    c.pending_auth.reset();
    RAILCC_DEBUG("store", "client {} authenticated", c.peer);
    return true;
  }

  bool reply(int fd, Reply status, int64_t number, const std::vector<uint8_t>* value) {
    ReplyHeader r{};
    r.magic = kMagic;
    r.status = static_cast<uint8_t>(status);
    r.number = number;
    r.value_len = value ? static_cast<uint32_t>(value->size()) : 0;
    const Deadline d = Deadline::after(std::chrono::seconds(5));
    try {
      if (!net::write_all(fd, &r, sizeof(r), d) ||
          (value && !value->empty() && !net::write_all(fd, value->data(), value->size(), d))) {
        drop(fd, "client stopped reading");
        return false;
      }
    } catch (const Error&) {
      drop(fd, "");
      return false;
    }
    return true;
  }

  bool handle(int fd, Command cmd, const std::string& key, std::vector<uint8_t> value,
              int64_t arg) {
    switch (cmd) {
      case Command::kSet: {
        data_[key] = std::move(value);
        if (!reply(fd, Reply::kOk, 0, nullptr)) return false;
        wake_waiters(key);
        return clients_.count(fd) > 0;
      }
      case Command::kGet: {
        auto it = data_.find(key);
        if (it != data_.end()) return reply(fd, Reply::kOk, 0, &it->second);
        waiters_.push_back({fd, key, Clock::now() + get_wait(arg)});
        return true;
      }
      case Command::kAdd: {
        auto it = data_.find(key);
        const int64_t current = add_to_counter(it == data_.end() ? nullptr : &it->second, arg);
        const std::string s = std::to_string(current);
        data_[key] = std::vector<uint8_t>(s.begin(), s.end());
        if (!reply(fd, Reply::kOk, current, nullptr)) return false;
        wake_waiters(key);
        return clients_.count(fd) > 0;
      }
      case Command::kCheck:
        return reply(fd, data_.count(key) ? Reply::kOk : Reply::kMissing, 0, nullptr);
    }
    drop(fd, "unknown command");
    return false;
  }

  void wake_waiters(const std::string& key) {
    auto it = data_.find(key);
    std::vector<Waiter> ready;
    std::erase_if(waiters_, [&](const Waiter& w) {
      if (w.key != key) return false;
      ready.push_back(w);
      return true;
    });
    for (const Waiter& w : ready) {
      if (clients_.count(w.fd)) reply(w.fd, Reply::kOk, 0, &it->second);
    }
  }

  void expire_waiters() {
    const auto now = Clock::now();
    std::vector<Waiter> expired;
    std::erase_if(waiters_, [&](const Waiter& w) {
      if (w.deadline > now) return false;
      expired.push_back(w);
      return true;
    });
    for (const Waiter& w : expired) {
      if (clients_.count(w.fd)) reply(w.fd, Reply::kTimeout, 0, nullptr);
    }
  }

  net::Fd listener_, wake_read_, wake_write_;
  int port_ = 0;
  std::optional<auth::Key> key_;  // set: clients must authenticate
  std::atomic<bool> stop_{false};
  std::map<int, Client> clients_;
  std::vector<Waiter> waiters_;
  std::map<std::string, std::vector<uint8_t>> data_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<StoreServer> start_store_server(const std::string& host, int port,
                                                const std::string& job_key) {
  return std::make_unique<TcpStoreServer>(host, port, job_key);
}

}  // namespace railcc
