#include "transport/wire_format.h"

#include <fmt/format.h>

#include <cstring>

#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"

namespace railcc::wire {

const char* op_kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::kNone:
      return "none";
    case OpKind::kAllReduce:
      return "all_reduce";
    case OpKind::kReduceScatter:
      return "reduce_scatter";
    case OpKind::kAllGather:
      return "all_gather";
    case OpKind::kBroadcast:
      return "broadcast";
    case OpKind::kReduce:
      return "reduce";
    case OpKind::kGather:
      return "gather";
    case OpKind::kScatter:
      return "scatter";
    case OpKind::kAllToAll:
      return "all_to_all";
    case OpKind::kAllToAllv:
      return "all_to_allv";
    case OpKind::kSendRecv:
      return "send/recv";
    case OpKind::kBarrier:
      return "barrier";
    case OpKind::kSplit:
      return "split";
    case OpKind::kCount_:
      break;
  }
  return "unknown";
}

uint32_t header_checksum(const FrameHeader& h) {
  FrameHeader copy = h;
  copy.checksum = 0;
  // A multiply-xorshift over the eight 64-bit words: cheap on every message, and enough to tell
  // a railcc header from random bytes or a header with a flipped bit.
  uint64_t words[sizeof(copy) / 8];
  std::memcpy(words, &copy, sizeof(copy));
  uint64_t hash = 0x9e3779b97f4a7c15ull;
  for (uint64_t w : words) {
    hash = (hash ^ w) * 0xff51afd7ed558ccdull;
    hash ^= hash >> 32;
  }
  return static_cast<uint32_t>(hash ^ (hash >> 29));
}

void seal(FrameHeader& h) {
  h.magic = kMagic;
  h.version = kVersion;
  h.checksum = header_checksum(h);
}

std::optional<std::string> validate(const FrameHeader& h) {
  if (h.magic != kMagic) return fmt::format("bad magic 0x{:08x} (not railcc traffic)", h.magic);
  if (h.version != kVersion) {
    return fmt::format("protocol version {} but this build speaks {}", h.version, kVersion);
  }
  if (h.checksum != header_checksum(h)) return std::string("header checksum mismatch");
  if (h.kind < static_cast<uint8_t>(FrameKind::kData) ||
      h.kind > static_cast<uint8_t>(FrameKind::kRedial)) {
    return fmt::format("unknown frame kind {}", h.kind);
  }
  if (h.op >= static_cast<uint8_t>(OpKind::kCount_)) return fmt::format("unknown op {}", h.op);
  const bool data = h.kind == static_cast<uint8_t>(FrameKind::kData) ||
                    h.kind == static_cast<uint8_t>(FrameKind::kChunk) ||
                    h.kind == static_cast<uint8_t>(FrameKind::kRead);
  if (data &&
      (!is_valid(static_cast<DataType>(h.dtype)) || !is_valid(static_cast<ReduceOp>(h.redop)))) {
    return std::string("unknown data type or reduce op");
  }
  if (h.kind == static_cast<uint8_t>(FrameKind::kError) && h.length > kMaxErrorPayload) {
    return std::string("error frame too long");
  }
  if (h.kind == static_cast<uint8_t>(FrameKind::kHello) && h.length != 0) {
    return std::string("hello frame with payload");
  }
  if (h.kind == static_cast<uint8_t>(FrameKind::kAck) && h.length != 0) {
    return std::string("ack frame with payload");
  }
  if (h.kind == static_cast<uint8_t>(FrameKind::kReadDone) && h.length != 0) {
    return std::string("read-done frame with payload");
  }
  if (h.kind == static_cast<uint8_t>(FrameKind::kChecksum) &&
      (h.length != 0 || h.count > 0xFFFFFFFFull)) {
    return std::string("malformed checksum frame");
  }
  if (h.kind == static_cast<uint8_t>(FrameKind::kRedial) &&
      (h.length > kMaxErrorPayload || (h.flags != kRedialOpen && h.flags != kRedialReady) ||
       (h.flags == kRedialReady && h.length != 0))) {
    return std::string("malformed rail redial frame");
  }
  return std::nullopt;
}

}  // namespace railcc::wire
