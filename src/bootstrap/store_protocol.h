// Wire format of railcc's TCP rendezvous store. Fixed little-endian headers; every length is
// checked against a limit before anything is allocated, so a stray client cannot hurt the server.
#pragma once

#include <cstdint>

namespace railcc::store_protocol {

inline constexpr uint32_t kMagic = 0x31534352;  // "RCS1"
inline constexpr uint32_t kMaxKeyBytes = 4096;
inline constexpr uint32_t kMaxValueBytes = 64u << 20;

// 5 was kJobKey (the server handed its key to anyone who asked); retired, not reused.
enum class Command : uint8_t { kSet = 1, kGet = 2, kAdd = 3, kCheck = 4 };
// kAuthRequired: the server wants the handshake of src/bootstrap/auth.h first (it then closes).
enum class Reply : uint8_t { kOk = 0, kTimeout = 1, kMissing = 2, kAuthRequired = 3 };

// Naturally aligned, no padding (sizes checked below).
struct RequestHeader {
  uint32_t magic;
  uint8_t command;
  uint8_t reserved[3];
  uint32_t key_len;
  uint32_t value_len;
  int64_t arg;  // kGet: timeout in ms; kAdd: delta
};
struct ReplyHeader {
  uint32_t magic;
  uint8_t status;
  uint8_t reserved[3];
  uint32_t value_len;
  uint32_t reserved2;
  int64_t number;  // kAdd: new value
};
static_assert(sizeof(RequestHeader) == 24);
static_assert(sizeof(ReplyHeader) == 24);

}  // namespace railcc::store_protocol
