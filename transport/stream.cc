#include "transport/stream.h"

#include <cstring>

namespace railcc::transport {

std::size_t Stream::write_some2(const void* a, std::size_t na, const void* b, std::size_t nb) {
  std::size_t done = na ? write_some(a, na) : 0;
  if (done < na || nb == 0) return done;
  return done + write_some(b, nb);
}

std::size_t Stream::read_some(void* dst, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    auto avail = peek();
    if (avail.empty()) break;
    const std::size_t take = std::min(avail.size(), n - done);
    std::memcpy(static_cast<std::byte*>(dst) + done, avail.data(), take);
    consume(take);
    done += take;
  }
  return done;
}

}  // namespace railcc::transport
