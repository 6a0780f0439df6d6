// The fixed 64-byte header in front of every message between ranks, on every transport.
// Receivers validate it before touching a single payload byte: magic, version, checksum, kind,
// communicator, sequence and length are all checked, so garbage or a stray process is reported
// as a clear error instead of corrupting memory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace railcc::wire {

inline constexpr uint32_t kMagic = 0x31464352;  // "RCF1"
inline constexpr uint8_t kVersion = 1;

enum class FrameKind : uint8_t {
  kData = 1,   // payload of a collective or point-to-point op
  kError = 2,  // payload is the text of an error the sender hit; the op must fail everywhere
  kHello = 3,  // first frame on a new tcp socket: who is connecting
  // Multi-rail (transport/multirail): a piece of a message, followed by a ChunkInfo and then its
  // payload; `length` is the piece's bytes, everything else as in kData.
  kChunk = 4,
  // Multi-rail: the receiver got a whole chunk (msg_id, `count` = its index), refused it
  // (flags kAckBusy), or a rail probe (flags kAckPing / kAckPong). No payload.
  kAck = 5,
  // Like kData, but the payload stays in the sender's memory: the frame carries its address (8
  // bytes) and `length` is the size of the data there. The receiver reads it by cross-memory
  // attach and answers kReadDone; until then the sender keeps the buffer untouched.
  kRead = 6,
  kReadDone = 7,  // the receiver finished reading message `msg_id`; no payload
  // RAILCC_CHECKSUM: follows message `msg_id` on the same stream; `count` is the CRC32C of that
  // message's payload as the sender had it. No payload. The receive completes only once it
  // matches, so corrupted data never completes an op.
  kChecksum = 8,
  // Multi-rail: re-creating rail `count`, whose stream broke for good (an RDMA queue pair in the
  // error state), as stream number `seq` of that rail (its epoch). Sent on another rail. Flags
  // kRedialOpen: the payload is the new end's connection data (at most kMaxErrorPayload bytes);
  // kRedialReady: the sender connected its new end and can receive on it; no payload.
  kRedial = 9,
};

// FrameHeader::flags of kAck frames.
inline constexpr uint8_t kAckPing = 1;  // "is this rail working?"; answered on the same rail
inline constexpr uint8_t kAckPong = 2;
// The receiver dropped chunk `count` of message `msg_id` unread: it arrived before its receive
// was posted and the receiver's buffer for such messages is full (RAILCC_MAX_UNEXPECTED_BYTES).
inline constexpr uint8_t kAckBusy = 3;
// The receiver's CRC32C of chunk `count` of message `msg_id` disagreed with the sender's
// (RAILCC_CHECKSUM): the sender sends it again, on another rail where it can.
inline constexpr uint8_t kAckCorrupt = 4;
// FrameHeader::flags of kChunk frames: after the ChunkInfo come 8 bytes, the CRC32C of the
// chunk's payload and 4 bytes of zero (RAILCC_CHECKSUM).
inline constexpr uint8_t kChunkCrc = 1;
// FrameHeader::flags of kRedial frames.
inline constexpr uint8_t kRedialOpen = 1;
inline constexpr uint8_t kRedialReady = 2;

// What the sender is doing; receivers compare it with their own op to detect mismatches.
enum class OpKind : uint8_t {
  kNone = 0,
  kAllReduce,
  kReduceScatter,
  kAllGather,
  kBroadcast,
  kReduce,
  kGather,
  kScatter,
  kAllToAll,
  kAllToAllv,
  kSendRecv,
  kBarrier,
  kSplit,
  kCount_,
};
const char* op_kind_name(OpKind kind);

// Natural alignment with no padding (checked below), so it can be read in place.
struct alignas(8) FrameHeader {
  uint32_t magic;
  uint8_t version;
  uint8_t kind;   // FrameKind
  uint8_t op;     // OpKind
  uint8_t dtype;  // railcc::DataType
  uint8_t redop;  // railcc::ReduceOp
  uint8_t flags;
  uint16_t reserved;
  int32_t root;       // root of rooted ops; rank of the sender in kHello/kError
  uint32_t tag;       // user tag of point-to-point ops; error code in kError
  uint32_t checksum;  // of all other header bytes
  uint64_t comm_id;   // communicator the frame belongs to
  uint64_t seq;       // collective sequence number; job key in kHello
  uint64_t msg_id;    // per-connection message number; stream index in kHello
  uint64_t count;     // element count of the whole op, as the sender sees it
  uint64_t length;    // payload bytes that follow
};
static_assert(sizeof(FrameHeader) == 64);

inline constexpr uint64_t kMaxErrorPayload = 4096;

// Bytes that follow the header on the wire (a kRead frame's data is not among them).
inline uint64_t wire_payload_bytes(const FrameHeader& h) {
  return h.kind == static_cast<uint8_t>(FrameKind::kRead) ? sizeof(uint64_t) : h.length;
}

uint32_t header_checksum(const FrameHeader& h);
void seal(FrameHeader& h);  // fills magic, version and checksum
// nullopt when the header is well-formed; otherwise what is wrong with it.
std::optional<std::string> validate(const FrameHeader& h);

}  // namespace railcc::wire
