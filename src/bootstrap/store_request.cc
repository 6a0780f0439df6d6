#include "src/bootstrap/store_request.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

namespace railcc::store_protocol {

ParseResult parse_request(const uint8_t* data, std::size_t size) {
  ParseResult r;
  if (size < sizeof(RequestHeader)) return r;
  RequestHeader h;
  std::memcpy(&h, data, sizeof(h));
  r.status = ParseResult::Status::kBad;
  if (h.magic != kMagic) {
    r.error = "not a railcc store client (bad magic)";
    return r;
  }
  if (h.key_len > kMaxKeyBytes || h.value_len > kMaxValueBytes) {
    r.error = "request too large";
    return r;
  }
  if (h.command < static_cast<uint8_t>(Command::kSet) ||
      h.command > static_cast<uint8_t>(Command::kCheck)) {
    r.error = "unknown command";
    return r;
  }
  const std::size_t total = sizeof(h) + std::size_t{h.key_len} + h.value_len;
  if (size < total) {
    r.status = ParseResult::Status::kNeedMore;
    return r;
  }
  const uint8_t* key = data + sizeof(h);
  r.status = ParseResult::Status::kOk;
  r.request.command = static_cast<Command>(h.command);
  r.request.key.assign(reinterpret_cast<const char*>(key), h.key_len);
  r.request.value.assign(key + h.key_len, data + total);
  r.request.arg = h.arg;
  r.consumed = total;
  return r;
}

int64_t add_to_counter(const std::vector<uint8_t>* stored, int64_t delta) {
  int64_t current = 0;
  if (stored != nullptr) {
    const auto* b = reinterpret_cast<const char*>(stored->data());
    std::from_chars(b, b + stored->size(), current);
  }
  // Saturate: a client's delta (or a stored number) near the int64 limits must not overflow.
  int64_t sum = 0;
  if (__builtin_add_overflow(current, delta, &sum)) {
    return delta > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return sum;
}

std::chrono::milliseconds get_wait(int64_t arg) {
  // Clamped to a year (longer than any RAILCC_TIMEOUT): the server adds it to the steady clock,
  // whose nanosecond count a client's arbitrary 64-bit timeout would overflow.
  constexpr int64_t kMaxWaitMs = int64_t{365} * 24 * 3600 * 1000;
  return std::chrono::milliseconds(std::clamp<int64_t>(arg, 0, kMaxWaitMs));
}

}  // namespace railcc::store_protocol
