// libFuzzer target for the frame header validator: wire::validate must accept or describe any
// 64 bytes, and a header it accepts must stay accepted after seal() (a sender re-sealing a valid
// header must not turn it into garbage). The same 64 bytes are also checked after seal(), since
// raw bytes almost never carry a valid checksum and would otherwise test only the first check.
// Build: see tests/fuzz.cmake.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "transport/wire_format.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace wire = railcc::wire;
  wire::FrameHeader h{};
  std::memcpy(&h, data, size < sizeof(h) ? size : sizeof(h));
  const bool raw_ok = !wire::validate(h).has_value();
  wire::FrameHeader sealed = h;
  wire::seal(sealed);
  const auto sealed_error = wire::validate(sealed);
  // A valid header is already sealed: sealing changes nothing and it stays valid.
  if (raw_ok && (sealed_error || std::memcmp(&h, &sealed, sizeof(h)) != 0)) std::abort();
  (void)wire::wire_payload_bytes(h);
  return 0;
}
