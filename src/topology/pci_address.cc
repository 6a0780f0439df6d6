#include "src/topology/pci_address.h"

#include <fmt/format.h>

#include <charconv>

namespace railcc::topology {
namespace {

// Parses exactly `text` as hex of 1..max_digits digits.
std::optional<std::uint32_t> hex(std::string_view text, std::size_t max_digits) {
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  std::uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 16);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<PciAddress> PciAddress::parse(std::string_view text) {
  const auto dot = text.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const auto fn = hex(text.substr(dot + 1), 1);
  std::string_view head = text.substr(0, dot);
  const auto c2 = head.rfind(':');
  if (c2 == std::string_view::npos) return std::nullopt;
  const auto dev = hex(head.substr(c2 + 1), 2);
  head = head.substr(0, c2);
  const auto c1 = head.rfind(':');
  const auto bus = hex(c1 == std::string_view::npos ? head : head.substr(c1 + 1), 2);
  const auto domain =
      c1 == std::string_view::npos ? std::optional<std::uint32_t>(0) : hex(head.substr(0, c1), 8);
  if (!fn || !dev || !bus || !domain) return std::nullopt;
  return PciAddress{*domain, static_cast<std::uint8_t>(*bus), static_cast<std::uint8_t>(*dev),
                    static_cast<std::uint8_t>(*fn)};
}

std::string PciAddress::to_string() const {
  return fmt::format("{:04x}:{:02x}:{:02x}.{:x}", domain, bus, device, function);
}

}  // namespace railcc::topology
