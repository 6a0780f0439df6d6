// The 32 bytes that follow the FrameHeader of every kChunk frame: where the piece belongs in its
// message. With it the receiver can place pieces arriving on any rail in any order, and drop a
// piece it already has (a chunk resent after its rail failed may arrive twice).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "transport/wire_format.h"

namespace railcc::transport {

struct ChunkInfo {
  uint64_t offset;  // of this piece in the message
  uint64_t total;   // bytes of the whole message
  uint32_t index;   // piece number, 0..chunks-1
  uint32_t chunks;  // pieces of the whole message
  uint32_t rail;    // rail the sender put it on (for error messages)
  uint32_t checksum;
};
static_assert(sizeof(ChunkInfo) == 32);

void seal(ChunkInfo& c);
// nullopt when `c` is intact and consistent with its frame header `h`.
std::optional<std::string> validate(const ChunkInfo& c, const wire::FrameHeader& h);

}  // namespace railcc::transport
