// libFuzzer target for the receiving side of StreamConnection: arbitrary bytes arrive on its
// stream as if a peer had sent them. The connection must only deliver, buffer, or throw
// railcc::Error — never crash, overrun a buffer or let another exception type out.
//
// Input: 4 control bytes, then the stream. Raw bytes almost never pass the header checksum, so
// control bit 0 makes the target re-seal every 64-byte header it finds in the stream (and bit 1
// sets its communicator id to the connection's), letting the fuzzer reach matching, reduction on
// arrival, error frames and buffering of unexpected messages.
// Build: see tests/fuzz.cmake.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "railcc/data_type.hpp"
#include "railcc/status.hpp"
#include "transport/stream.h"
#include "transport/stream_connection.h"
#include "transport/wire_format.h"

namespace {

using railcc::transport::RecvRequest;
using railcc::transport::Stream;
using railcc::transport::StreamConnection;
namespace wire = railcc::wire;

constexpr uint64_t kCommId = 0xc0ffee;
constexpr uint64_t kMaxSealedLength = 64 << 10;

// A one-way in-memory stream (tests/unit/mem_stream.h needs gtest): reads return at most
// `max_read` bytes of the input so frames are cut at fuzzer-chosen places; writes are swallowed.
class InputStream final : public Stream {
 public:
  InputStream(std::vector<std::byte> bytes, std::size_t max_read)
      : bytes_(std::move(bytes)), max_read_(max_read) {}
  std::size_t write_some(const void*, std::size_t n) override { return n; }
  std::span<const std::byte> peek() override {
    return {bytes_.data() + pos_, std::min(bytes_.size() - pos_, max_read_)};
  }
  void consume(std::size_t n) override {
    if (n > bytes_.size() - pos_) __builtin_trap();  // the connection consumed unread bytes
    pos_ += n;
  }
  bool peer_gone() override { return pos_ == bytes_.size(); }
  void inject_drop() override { pos_ = bytes_.size(); }
  std::string describe() const override { return "fuzz input"; }

 private:
  std::vector<std::byte> bytes_;
  std::size_t pos_ = 0;
  std::size_t max_read_;
};

// Walks the stream frame by frame and re-seals each header, so its checksum is right.
void seal_frames(std::vector<std::byte>& s, bool own_comm) {
  std::size_t at = 0;
  while (s.size() - at >= sizeof(wire::FrameHeader)) {
    wire::FrameHeader h;
    std::memcpy(&h, s.data() + at, sizeof(h));
    // Lengths the input cannot carry would only test the allocator (and trip libFuzzer's malloc
    // limit); keep those beyond any vector's max_size, which must fail cleanly too.
    if (h.length > kMaxSealedLength && h.length < (uint64_t{1} << 63)) {
      h.length %= kMaxSealedLength;
    }
    if (own_comm) h.comm_id = kCommId;
    wire::seal(h);
    std::memcpy(s.data() + at, &h, sizeof(h));
    at += sizeof(h) + std::min<uint64_t>(wire::wire_payload_bytes(h), s.size() - at - sizeof(h));
  }
}

// The receives that match the first data frames of the stream, so payloads are delivered.
std::vector<RecvRequest> receives_for(const std::vector<std::byte>& s, int n) {
  std::vector<RecvRequest> out;
  std::size_t at = 0;
  while (static_cast<int>(out.size()) < n && s.size() - at >= sizeof(wire::FrameHeader)) {
    wire::FrameHeader h;
    std::memcpy(&h, s.data() + at, sizeof(h));
    RecvRequest r;
    r.length = std::min<uint64_t>(h.length, kMaxSealedLength);
    r.expect.op = static_cast<wire::OpKind>(h.op);
    r.expect.dtype = static_cast<railcc::DataType>(h.dtype);
    r.expect.redop = static_cast<railcc::ReduceOp>(h.redop);
    r.expect.count = h.count;
    r.expect.root = h.root;
    r.expect.seq = h.seq;
    r.expect.tag = h.tag;
    out.push_back(r);
    at += sizeof(h) + std::min<uint64_t>(wire::wire_payload_bytes(h), s.size() - at - sizeof(h));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const bool seal = data[0] & 1;
  const bool own_comm = data[0] & 2;
  const bool reduce = data[0] & 4;
  const int streams = 1 + (data[0] >> 6);  // messages alternate over the streams
  const int receives = data[1] % 4;
  const std::size_t max_read = data[2] == 0 ? SIZE_MAX : data[2];
  std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(data + 4),
                               reinterpret_cast<const std::byte*>(data + size));
  if (seal) seal_frames(bytes, own_comm);

  std::vector<RecvRequest> recvs = receives_for(bytes, receives);
  // Separate allocations of exactly the expected size, so ASan sees any overrun.
  std::vector<std::unique_ptr<std::byte[]>> buffers;
  for (RecvRequest& r : recvs) {
    buffers.push_back(std::make_unique<std::byte[]>(r.length));
    r.dst = buffers.back().get();
    // The engine posts count * element size bytes, so a reduce receive is always a whole number
    // of elements; one that is not would make the reduction overrun by design.
    if (reduce && railcc::is_valid(r.expect.dtype) && railcc::is_valid(r.expect.redop) &&
        r.length % railcc::data_type_size(r.expect.dtype) == 0) {
      buffers.push_back(std::make_unique<std::byte[]>(r.length));
      r.reduce_with = buffers.back().get();
    }
  }
  std::vector<std::unique_ptr<Stream>> s;
  s.push_back(std::make_unique<InputStream>(std::move(bytes), max_read));
  // Extra streams carry nothing: messages due on them never arrive, as on a slow socket.
  for (int i = 1; i < streams; ++i)
    s.push_back(std::make_unique<InputStream>(std::vector<std::byte>{}, max_read));
  StreamConnection c(1, 0, kCommId, std::move(s));
  try {
    for (RecvRequest& r : recvs) c.post_recv(&r);
    while (c.progress()) {
    }
    c.check_alive();
  } catch (const railcc::Error&) {
    // Rejected with a message: the expected outcome for most inputs.
  }
  try {
    c.abandon_requests();  // what the engine does after an error: must leave c destructible
  } catch (const railcc::Error&) {
  }
  return 0;
}
