#include "transport/multirail/chunk_info.h"

#include <fmt/format.h>

namespace railcc::transport {
namespace {

uint32_t checksum_of(const ChunkInfo& c) {
  ChunkInfo copy = c;
  copy.checksum = 0;
  uint32_t hash = 2166136261u;  // FNV-1a, as for the frame header
  const auto* p = reinterpret_cast<const uint8_t*>(&copy);
  for (std::size_t i = 0; i < sizeof(copy); ++i) {
    hash ^= p[i];
    hash *= 16777619u;
  }
  return hash;
}

}  // namespace

void seal(ChunkInfo& c) { c.checksum = checksum_of(c); }

std::optional<std::string> validate(const ChunkInfo& c, const wire::FrameHeader& h) {
  if (c.checksum != checksum_of(c)) return std::string("chunk info checksum mismatch");
  if (c.chunks == 0 || c.index >= c.chunks) {
    return fmt::format("chunk {} of {} is out of range", c.index, c.chunks);
  }
  if (c.offset > c.total || h.length > c.total - c.offset) {
    return fmt::format("chunk at offset {} of {} bytes overruns its {}-byte message", c.offset,
                       h.length, c.total);
  }
  return std::nullopt;
}

}  // namespace railcc::transport
