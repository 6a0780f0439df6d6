// railcc::Store over the c10d::Store torch hands a backend (TCPStore, FileStore, HashStore, each
// behind a PrefixStore per group), so communicators bootstrap from torchrun / env:// / tcp://
// rendezvous with no railcc-specific variables.
#pragma once

#include <string>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include "railcc/store.hpp"

namespace railcc_torch {

class C10dStore final : public railcc::Store {
 public:
  explicit C10dStore(c10::intrusive_ptr<c10d::Store> store) : store_(std::move(store)) {}

  void set(const std::string& key, const std::vector<uint8_t>& value) override;
  std::vector<uint8_t> get(const std::string& key, std::chrono::milliseconds timeout) override;
  int64_t add(const std::string& key, int64_t delta) override;
  void wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) override;
  bool check(const std::string& key) override;

 private:
  c10::intrusive_ptr<c10d::Store> store_;
};

// "host:port" of the TCPStore under `store` (through PrefixStores), or "" for other stores.
// railcc advertises the local address that routes there to peers on other hosts.
std::string tcp_store_address(const c10::intrusive_ptr<c10d::Store>& store);

}  // namespace railcc_torch
