// A PCI function address (domain:bus:device.function), compared numerically so that "bus-id
// order" means the same thing for every file format and for domains wider than 4 digits.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace railcc::topology {

struct PciAddress {
  std::uint32_t domain = 0;
  std::uint8_t bus = 0;
  std::uint8_t device = 0;    // 0-31 on real hardware; NCCL virtual switches may use more
  std::uint8_t function = 0;  // 0-7 (one hex digit accepted)

  // Accepts "0000:07:00.0" (any case, domain up to 8 hex digits) and "07:00.0" (domain 0).
  static std::optional<PciAddress> parse(std::string_view text);
  std::string to_string() const;  // "0000:07:00.0", lower case, domain at least 4 digits

  auto operator<=>(const PciAddress&) const = default;
};

}  // namespace railcc::topology
