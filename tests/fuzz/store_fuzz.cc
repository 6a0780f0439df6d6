// libFuzzer target for the rendezvous store server's request handling without sockets: the
// input is what clients send; every request is parsed as the server does (parse_request over a
// buffer that grows in fuzzer-chosen pieces, as recv() would deliver it) and its numbers go
// through the server's arithmetic (add_to_counter, get_wait). Nothing may crash, read past the
// buffer or overflow; a bad request must come back as kBad with a reason.
// Build: see tests/fuzz.cmake.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "src/bootstrap/store_request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace sp = railcc::store_protocol;
  using Status = sp::ParseResult::Status;
  if (size < 1) return 0;
  // First byte: bytes per simulated recv() (0 = everything at once).
  const std::size_t piece = data[0] == 0 ? size : data[0];
  ++data, --size;
  std::map<std::string, std::vector<uint8_t>> store;
  std::vector<uint8_t> in;  // the server's per-client buffer
  std::size_t fed = 0;
  while (fed < size) {
    const std::size_t n = std::min(piece, size - fed);
    in.insert(in.end(), data + fed, data + fed + n);
    fed += n;
    std::size_t used = 0;
    while (true) {
      sp::ParseResult p = sp::parse_request(in.data() + used, in.size() - used);
      if (p.status == Status::kBad) {
        if (p.error.empty()) std::abort();  // the server logs why it drops a client
        return 0;
      }
      if (p.status == Status::kNeedMore) break;
      if (p.consumed > in.size() - used) std::abort();
      used += p.consumed;
      sp::Request& q = p.request;
      switch (q.command) {
        case sp::Command::kSet:
          store[q.key] = std::move(q.value);
          break;
        case sp::Command::kAdd: {
          auto it = store.find(q.key);
          const int64_t v = sp::add_to_counter(it == store.end() ? nullptr : &it->second, q.arg);
          const std::string s = std::to_string(v);
          store[q.key] = std::vector<uint8_t>(s.begin(), s.end());
          break;
        }
        case sp::Command::kGet: {
          // The server adds the wait to the clock: that must not overflow either.
          const auto deadline = std::chrono::steady_clock::now() + sp::get_wait(q.arg);
          if (deadline < std::chrono::steady_clock::time_point{}) std::abort();
          break;
        }
        case sp::Command::kCheck:
          break;
      }
    }
    in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(used));
  }
  return 0;
}
