// StreamConnection over a stream that reads sent data in place (Stream::write_some2_in_place,
// as verbs does for registered buffers): a data message's send completes only once the stream
// has released its bytes, so a caller that overwrites the buffer right after completion (an
// in-place all_reduce) can never change what the peer receives.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "tests/unit/mem_stream.h"
#include "transport/stream_connection.h"

namespace railcc::transport {
namespace {

using memtest::MemStream;
using memtest::Wire;

constexpr uint64_t kCommId = 0xfeed;

// Sends like an RDMA HCA reading user memory: in-place bytes are only recorded, and reach the
// wire (read from the caller's memory then) when the test calls deliver(). Copied bytes queue
// behind them, so the byte order stays that of the calls.
class DeferredStream final : public Stream {
 public:
  explicit DeferredStream(std::unique_ptr<MemStream> wire) : wire_(std::move(wire)) {}

  std::size_t write_some(const void* data, std::size_t n) override {
    Piece p;
    p.copy.assign(static_cast<const std::byte*>(data), static_cast<const std::byte*>(data) + n);
    p.n = n;
    pieces_.push_back(std::move(p));
    accepted_ += n;
    return n;
  }
  std::size_t write_some2_in_place(const void* a, std::size_t na, const void* b,
                                   std::size_t nb) override {
    if (na > 0) write_some(a, na);
    pieces_.push_back(Piece{static_cast<const std::byte*>(b), nb, {}});
    accepted_ += nb;
    in_place_bytes += nb;
    return na + nb;
  }
  // Everything up to the first in-place piece not yet delivered.
  uint64_t released() const override { return accepted_ - undelivered_in_place(); }
  std::span<const std::byte> peek() override { return wire_->peek(); }
  void consume(std::size_t n) override { wire_->consume(n); }
  void inject_drop() override { wire_->inject_drop(); }
  std::string describe() const override { return "deferred"; }

  // The "HCA" reads every recorded piece now.
  void deliver() {
    for (const Piece& p : pieces_) {
      const std::byte* src = p.in_place ? p.in_place : p.copy.data();
      for (std::size_t done = 0; done < p.n;) done += wire_->write_some(src + done, p.n - done);
    }
    pieces_.clear();
  }
  bool idle() const { return pieces_.empty(); }

  uint64_t in_place_bytes = 0;

 private:
  struct Piece {
    const std::byte* in_place = nullptr;
    std::size_t n = 0;
    std::vector<std::byte> copy;
  };
  uint64_t undelivered_in_place() const {
    // Bytes from the first in-place piece on are not released (the caller's memory is read then).
    uint64_t held = 0;
    bool holding = false;
    for (const Piece& p : pieces_) {
      holding |= p.in_place != nullptr;
      if (holding) held += p.n;
    }
    return held;
  }
  std::unique_ptr<MemStream> wire_;
  std::deque<Piece> pieces_;
  uint64_t accepted_ = 0;
};

std::vector<std::byte> Pattern(std::size_t n, int seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 31 + seed) & 0xff);
  return v;
}

TEST(InPlaceSendTest, SendCompletesOnlyOnceTheStreamReleasedTheBytes) {
  auto wire = std::make_shared<Wire>(memtest::StreamOptions{});
  auto deferred = std::make_unique<DeferredStream>(std::make_unique<MemStream>(wire, true));
  DeferredStream* a_stream = deferred.get();
  std::vector<std::unique_ptr<Stream>> sa, sb;
  sa.push_back(std::move(deferred));
  sb.push_back(std::make_unique<MemStream>(wire, false));
  StreamConnection a(0, 1, kCommId, std::move(sa));
  StreamConnection b(1, 0, kCommId, std::move(sb));

  constexpr std::size_t kBytes = 100'000;
  std::vector<std::byte> buffer = Pattern(kBytes, 1);
  const std::vector<std::byte> sent = buffer;
  SendRequest s;
  s.data = buffer.data();
  s.length = kBytes;
  s.what.op = wire::OpKind::kBroadcast;
  s.what.seq = 1;
  s.what.count = kBytes;
  s.what.dtype = DataType::kUint8;
  std::vector<std::byte> got(kBytes);
  RecvRequest r;
  r.dst = got.data();
  r.length = kBytes;
  r.expect = s.what;
  b.post_recv(&r);
  a.post_send(&s);
  for (int i = 0; i < 5; ++i) a.progress();
  // Every byte accepted, but the "HCA" has not read the payload yet: not done, still pending.
  EXPECT_EQ(s.written, sizeof(wire::FrameHeader) + kBytes);
  EXPECT_EQ(a_stream->in_place_bytes, kBytes);
  EXPECT_FALSE(s.done);
  EXPECT_TRUE(a.has_pending_sends());
  EXPECT_TRUE(a.needs_peer());
  a_stream->deliver();
  a.progress();
  EXPECT_TRUE(s.done);
  EXPECT_FALSE(a.has_pending_sends());
  // Now the caller may overwrite it (an in-place all_reduce would): the peer has what was sent.
  std::fill(buffer.begin(), buffer.end(), std::byte{0});
  for (int i = 0; i < 100 && !r.done; ++i) b.progress();
  ASSERT_TRUE(r.done);
  EXPECT_EQ(std::memcmp(got.data(), sent.data(), kBytes), 0);
}

TEST(InPlaceSendTest, AbandonForgetsSendsAwaitingRelease) {
  auto wire = std::make_shared<Wire>(memtest::StreamOptions{});
  std::vector<std::unique_ptr<Stream>> sa;
  sa.push_back(std::make_unique<DeferredStream>(std::make_unique<MemStream>(wire, true)));
  StreamConnection a(0, 1, kCommId, std::move(sa));
  std::vector<std::byte> buffer = Pattern(4096, 2);
  SendRequest s;
  s.data = buffer.data();
  s.length = buffer.size();
  s.what.op = wire::OpKind::kBroadcast;
  s.what.count = buffer.size();
  a.post_send(&s);
  a.progress();
  EXPECT_FALSE(s.done);
  EXPECT_TRUE(a.has_pending_sends());
  a.abandon_requests();
  EXPECT_FALSE(a.has_pending_sends());
}

// Streams that copy (tcp, shared memory) keep the old behaviour: done as soon as accepted.
TEST(InPlaceSendTest, CopyingStreamsCompleteOnAcceptance) {
  auto wire = std::make_shared<Wire>(memtest::StreamOptions{});
  std::vector<std::unique_ptr<Stream>> sa;
  sa.push_back(std::make_unique<MemStream>(wire, true));
  StreamConnection a(0, 1, kCommId, std::move(sa));
  std::vector<std::byte> buffer = Pattern(70'000, 3);
  SendRequest s;
  s.data = buffer.data();
  s.length = buffer.size();
  s.what.op = wire::OpKind::kBroadcast;
  s.what.count = buffer.size();
  a.post_send(&s);
  a.progress();
  EXPECT_TRUE(s.done);
}

}  // namespace
}  // namespace railcc::transport
