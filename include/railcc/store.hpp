// Key-value rendezvous store used to bootstrap communicators (like c10d's Store).
// Every call has a deadline; a missed deadline throws TimeoutError naming the keys.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace railcc {

class Store {
 public:
  virtual ~Store() = default;
  virtual void set(const std::string& key, const std::vector<uint8_t>& value) = 0;
  // Blocks until the key exists (or the timeout passes), then returns its value.
  virtual std::vector<uint8_t> get(const std::string& key, std::chrono::milliseconds timeout) = 0;
  // Atomically adds `delta` to an integer counter (created at 0) and returns the new value.
  virtual int64_t add(const std::string& key, int64_t delta) = 0;
  // Blocks until every key exists; throws TimeoutError listing the missing keys.
  virtual void wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) = 0;
  // True when the key exists now (no wait).
  virtual bool check(const std::string& key) = 0;
};

// Client of railcc's TCP rendezvous server. `addr` is "host:port". With a `job_key` (the
// job's RAILCC_JOB_KEY) client and server each prove they know it before anything else is
// sent; the key itself never crosses the wire. Throws ConfigError when the keys differ.
std::shared_ptr<Store> connect_tcp_store(const std::string& addr, std::chrono::milliseconds timeout,
                                         const std::string& job_key = {});

// A running rendezvous server (one per job; rank 0 or railcc-run hosts it).
class StoreServer {
 public:
  virtual ~StoreServer() = default;
  virtual int port() const = 0;
};
// Binds host:port (port 0 picks a free one) and serves until destroyed. With a `job_key`, only
// clients that prove they know it are served; others are closed and logged.
std::unique_ptr<StoreServer> start_store_server(const std::string& host, int port,
                                                const std::string& job_key = {});

// Prefixes every key, so several communicators share one store.
std::shared_ptr<Store> prefix_store(std::shared_ptr<Store> inner, std::string prefix);

}  // namespace railcc
