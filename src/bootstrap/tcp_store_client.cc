#include <fmt/format.h>

#include <mutex>

#include "railcc/status.hpp"
#include "railcc/store.hpp"
#include "src/bootstrap/auth.h"
#include "src/bootstrap/store_protocol.h"
#include "src/common/socket.h"

namespace railcc {
namespace {

using namespace store_protocol;

// Extra time the client waits beyond a server-side timeout for the reply to arrive.
constexpr auto kReplyGrace = std::chrono::seconds(10);

class TcpStoreClient final : public Store {
 public:
  TcpStoreClient(const std::string& addr, std::chrono::milliseconds timeout,
                 const std::string& job_key)
      : addr_(addr) {
    const Deadline deadline = Deadline::after(timeout);
    fd_ = net::connect_to(net::resolve(addr, "store address (RAILCC_STORE_ADDR/MASTER_ADDR)"),
                          deadline, "the rendezvous store");
    if (!job_key.empty()) {
      auth::authenticate_to(fd_.get(), auth::derive_key(job_key), auth::kStoreContext, deadline,
                            fmt::format("the rendezvous store {}", addr));
    }
  }

  void set(const std::string& key, const std::vector<uint8_t>& value) override {
    call(Command::kSet, key, value, 0, std::chrono::seconds(60));
  }

  std::vector<uint8_t> get(const std::string& key, std::chrono::milliseconds timeout) override {
    auto [status, number, value] = call(Command::kGet, key, {}, timeout.count(), timeout);
    if (status == Reply::kTimeout) {
      throw TimeoutError(
          fmt::format("store {}: key '{}' was not set within {} ms", addr_, key, timeout.count()));
    }
    return value;
  }

  int64_t add(const std::string& key, int64_t delta) override {
    return std::get<1>(call(Command::kAdd, key, {}, delta, std::chrono::seconds(60)));
  }

  bool check(const std::string& key) override {
    return std::get<0>(call(Command::kCheck, key, {}, 0, std::chrono::seconds(60))) == Reply::kOk;
  }

  void wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) override {
    const Deadline deadline = Deadline::after(timeout);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto [status, n, v] = call(Command::kGet, keys[i], {}, deadline.poll_ms(), timeout);
      if (status != Reply::kTimeout) continue;
      std::string missing;
      for (std::size_t j = i; j < keys.size(); ++j) {
        if (j == i || !check(keys[j])) missing += (missing.empty() ? "" : ", ") + keys[j];
      }
      throw TimeoutError(
          fmt::format("store {}: still missing after {} ms: {}", addr_, timeout.count(), missing));
    }
  }

 private:
  std::tuple<Reply, int64_t, std::vector<uint8_t>> call(Command cmd, const std::string& key,
                                                        const std::vector<uint8_t>& value,
                                                        int64_t arg,
                                                        std::chrono::milliseconds timeout) {
    if (key.size() > kMaxKeyBytes || value.size() > kMaxValueBytes) {
      throw InvalidArgumentError(fmt::format("store key or value too large (key '{}')", key));
    }
    std::lock_guard lock(mutex_);
    if (!fd_) throw PeerFailureError(fmt::format("store {}: connection lost earlier", addr_));
    RequestHeader h{};
    h.magic = kMagic;
    h.command = static_cast<uint8_t>(cmd);
    h.key_len = static_cast<uint32_t>(key.size());
    h.value_len = static_cast<uint32_t>(value.size());
    h.arg = arg;
    const Deadline deadline = Deadline::after(timeout + kReplyGrace);
    try {
      bool ok = net::write_all(fd_.get(), &h, sizeof(h), deadline) &&
                net::write_all(fd_.get(), key.data(), key.size(), deadline) &&
                net::write_all(fd_.get(), value.data(), value.size(), deadline);
      ReplyHeader r{};
      ok = ok && net::read_all(fd_.get(), &r, sizeof(r), deadline);
      if (!ok) {
        fd_.reset();
        throw TimeoutError(fmt::format("store {} did not answer within {} ms (key '{}')", addr_,
                                       (timeout + kReplyGrace).count(), key));
      }
      if (r.magic == kMagic && r.status == static_cast<uint8_t>(Reply::kAuthRequired)) {
        fd_.reset();
        throw ConfigError(fmt::format(
            "the rendezvous store {} only serves clients that know the job's RAILCC_JOB_KEY: set "
            "it on this rank too (railcc-run sets it for the ranks it starts)",
            addr_));
      }
      if (r.magic != kMagic || r.value_len > kMaxValueBytes) {
        fd_.reset();
        throw ProtocolError(
            fmt::format("store {} sent a malformed reply: is it a railcc store?", addr_));
      }
      std::vector<uint8_t> out(r.value_len);
      if (!net::read_all(fd_.get(), out.data(), out.size(), deadline)) {
        fd_.reset();
        throw TimeoutError(fmt::format("store {}: reply for key '{}' cut short", addr_, key));
      }
      return {static_cast<Reply>(r.status), r.number, std::move(out)};
    } catch (const PeerFailureError&) {
      fd_.reset();
      throw PeerFailureError(fmt::format(
          "lost the connection to the rendezvous store {} (did rank 0 or the launcher exit?)",
          addr_));
    } catch (const SystemError& e) {  // reset or broken pipe
      fd_.reset();
      throw PeerFailureError(fmt::format(
          "lost the connection to the rendezvous store {} (did rank 0 or the launcher exit?): "
          "{}",
          addr_, e.what()));
    }
  }

  std::string addr_;
  std::mutex mutex_;
  net::Fd fd_;
};

class PrefixStore final : public Store {
 public:
  PrefixStore(std::shared_ptr<Store> inner, std::string prefix)
      : inner_(std::move(inner)), prefix_(std::move(prefix)) {}
  void set(const std::string& key, const std::vector<uint8_t>& value) override {
    inner_->set(prefix_ + key, value);
  }
  std::vector<uint8_t> get(const std::string& key, std::chrono::milliseconds timeout) override {
    return inner_->get(prefix_ + key, timeout);
  }
  int64_t add(const std::string& key, int64_t delta) override {
    return inner_->add(prefix_ + key, delta);
  }
  void wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) override {
    std::vector<std::string> full;
    for (const auto& k : keys) full.push_back(prefix_ + k);
    inner_->wait(full, timeout);
  }
  bool check(const std::string& key) override { return inner_->check(prefix_ + key); }

 private:
  std::shared_ptr<Store> inner_;
  std::string prefix_;
};

}  // namespace

std::shared_ptr<Store> connect_tcp_store(const std::string& addr, std::chrono::milliseconds timeout,
                                         const std::string& job_key) {
  return std::make_shared<TcpStoreClient>(addr, timeout, job_key);
}

std::shared_ptr<Store> prefix_store(std::shared_ptr<Store> inner, std::string prefix) {
  return std::make_shared<PrefixStore>(std::move(inner), std::move(prefix));
}

}  // namespace railcc
