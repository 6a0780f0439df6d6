#include "store_adapter.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "railcc/status.hpp"

namespace railcc_torch {

namespace {

// c10d reports a missed wait as DistStoreError ("... timeout ..."); railcc callers expect
// TimeoutError naming the keys. Anything else from the store (a dead server, a closed socket)
// is a failure of the job around us.
template <typename F>
auto translate(const char* what, const std::string& keys, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::DistStoreError& e) {
    throw railcc::TimeoutError(std::string("c10d store ") + what + " of " + keys +
                               " timed out: " + e.what_without_backtrace());
  } catch (const c10::Error& e) {
    throw railcc::PeerFailureError(std::string("c10d store ") + what + " of " + keys +
                                   " failed: " + e.what_without_backtrace());
  }
}

std::string join(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

}  // namespace

void C10dStore::set(const std::string& key, const std::vector<uint8_t>& value) {
  translate("set", key, [&] { store_->set(key, value); });
}

std::vector<uint8_t> C10dStore::get(const std::string& key, std::chrono::milliseconds timeout) {
  wait({key}, timeout);
  return translate("get", key, [&] { return store_->get(key); });
}

int64_t C10dStore::add(const std::string& key, int64_t delta) {
  return translate("add", key, [&] { return store_->add(key, delta); });
}

void C10dStore::wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  const std::string names = join(keys);
  // c10d reads a zero timeout as "no timeout": an expired deadline only looks once.
  if (timeout.count() <= 0) {
    if (!translate("check", names, [&] { return store_->check(keys); })) {
      throw railcc::TimeoutError("c10d store: keys " + names + " are not set (deadline passed)");
    }
    return;
  }
  translate("wait", names, [&] { store_->wait(keys, timeout); });
}

bool C10dStore::check(const std::string& key) {
  return translate("check", key, [&] { return store_->check({key}); });
}

std::string tcp_store_address(const c10::intrusive_ptr<c10d::Store>& store) {
  c10::intrusive_ptr<c10d::Store> s = store;
  if (auto* prefix = dynamic_cast<c10d::PrefixStore*>(s.get())) {
    s = prefix->getUnderlyingNonPrefixStore();
  }
  if (auto* tcp = dynamic_cast<c10d::TCPStore*>(s.get())) {
    const std::string& host = tcp->getHost();
    const bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(tcp->getPort());
  }
  return "";
}

}  // namespace railcc_torch
