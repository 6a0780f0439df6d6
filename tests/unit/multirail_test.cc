// Tests for transport::MultiRailConnection (striping, reassembly, exactly-once reduction across
// resends, failover, the error when every rail is gone) and RailScheduler (weights follow
// measured throughput). Rails here are in-memory streams; tests/net runs the real thing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

#include "railcc/status.hpp"
#include "tests/unit/mem_stream.h"
#include "transport/multirail/multirail_connection.h"
#include "transport/multirail/rail_scheduler.h"

namespace railcc::transport {
namespace {

using memtest::MemStream;
using memtest::StreamOptions;
using memtest::Wire;

constexpr uint64_t kCommId = 0xbeef;
constexpr std::size_t kChunk = 4096;

struct RailPair {
  explicit RailPair(int rails, StreamOptions o = {},
                    std::chrono::milliseconds rail_timeout = std::chrono::milliseconds(500),
                    std::size_t max_unexpected_bytes = std::size_t{64} << 20,
                    bool checksums = false) {
    std::vector<RailLink> la, lb;
    for (int i = 0; i < rails; ++i) {
      wires.push_back(std::make_shared<Wire>(o));
      RailLink x, y;
      x.local = {"mem" + std::to_string(i), "", "a" + std::to_string(i)};
      y.local = {"mem" + std::to_string(i), "", "b" + std::to_string(i)};
      x.peer_address = y.local.address;
      y.peer_address = x.local.address;
      x.stream = std::make_unique<MemStream>(wires.back(), true);
      y.stream = std::make_unique<MemStream>(wires.back(), false);
      la.push_back(std::move(x));
      lb.push_back(std::move(y));
    }
    MultiRailConnection::Options opt;
    opt.chunk_bytes = kChunk;
    opt.rail_timeout = rail_timeout;
    opt.max_unexpected_bytes = max_unexpected_bytes;
    opt.checksums = checksums;
    a = std::make_unique<MultiRailConnection>(0, 1, kCommId, std::move(la), opt);
    b = std::make_unique<MultiRailConnection>(1, 0, kCommId, std::move(lb), opt);
  }
  void PumpUntil(const std::function<bool()>& done) {
    int idle = 0;
    while (!done()) {
      const bool moved = a->progress() | b->progress();
      idle = moved ? 0 : idle + 1;
      ASSERT_LT(idle, 100000) << "no progress and not done";
    }
  }
  std::vector<std::shared_ptr<Wire>> wires;
  std::unique_ptr<MultiRailConnection> a, b;
};

Expectation FloatSum(std::size_t count) {
  Expectation e;
  e.op = wire::OpKind::kAllReduce;
  e.dtype = DataType::kFloat32;
  e.redop = ReduceOp::kSum;
  e.count = count;
  e.seq = 1;
  return e;
}

TEST(MultiRailTest, LargeMessageIsStripedOverEveryRailAndArrivesIntact) {
  RailPair p(3);
  std::vector<std::byte> src(40 * kChunk + 123), dst(src.size());
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = std::byte(i * 7 + 1);
  SendRequest s{src.data(), src.size()};
  RecvRequest r{dst.data(), dst.size()};
  p.a->post_send(&s);
  p.b->post_recv(&r);
  p.PumpUntil([&] { return s.done && r.done; });
  EXPECT_EQ(src, dst);
  for (const auto& w : p.wires) EXPECT_GT(w->to_b.total_written, 4 * kChunk);
}

TEST(MultiRailTest, SmallMessagesAndZeroLengthTravelWhole) {
  RailPair p(2);
  std::vector<std::byte> src(100, std::byte{5}), dst(100);
  SendRequest s1{src.data(), src.size()}, s0{nullptr, 0};
  RecvRequest r1{dst.data(), dst.size()}, r0{nullptr, 0};
  p.a->post_send(&s1);
  p.a->post_send(&s0);
  p.b->post_recv(&r1);
  p.b->post_recv(&r0);
  p.PumpUntil([&] { return s1.done && s0.done && r1.done && r0.done; });
  EXPECT_EQ(src, dst);
}

TEST(MultiRailTest, MessagesArrivingBeforeTheirReceiveAreBuffered) {
  RailPair p(2);
  std::vector<std::byte> m1(10 * kChunk, std::byte{1}), m2(3 * kChunk, std::byte{2});
  SendRequest s1{m1.data(), m1.size()}, s2{m2.data(), m2.size()};
  p.a->post_send(&s1);
  p.a->post_send(&s2);
  p.PumpUntil([&] { return s1.done && s2.done; });
  std::vector<std::byte> d1(m1.size()), d2(m2.size());
  RecvRequest r1{d1.data(), d1.size()}, r2{d2.data(), d2.size()};
  p.b->post_recv(&r1);
  p.b->post_recv(&r2);
  p.PumpUntil([&] { return r1.done && r2.done; });
  EXPECT_EQ(m1, d1);
  EXPECT_EQ(m2, d2);
}

// RAILCC_MAX_UNEXPECTED_BYTES over rails: a sender far ahead of its receiver's posted receives
// gets its chunks refused once the receiver's buffer is full, keeps them, starts nothing new,
// and retries; memory stays bounded on both ends and every message arrives intact.
TEST(MultiRailTest, SenderFarAheadIsRefusedBeyondTheLimitAndLosesNothing) {
  constexpr std::size_t kLimit = 8 * kChunk;
  constexpr int kMsgs = 30;
  RailPair p(2, {}, std::chrono::milliseconds(500), kLimit);
  std::vector<std::vector<std::byte>> src, dst;
  std::vector<SendRequest> sends(kMsgs);
  for (int m = 0; m < kMsgs; ++m) {
    src.emplace_back(3 * kChunk + 17 * m);
    for (std::size_t i = 0; i < src[m].size(); ++i) src[m][i] = std::byte(i * 13 + m);
    dst.emplace_back(src[m].size());
    sends[m] = SendRequest{src[m].data(), src[m].size()};
    p.a->post_send(&sends[m]);
  }
  // Nothing posted yet: the receiver buffers up to the limit and refuses the rest.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  std::size_t most = 0;
  while (std::chrono::steady_clock::now() < until) {
    p.a->progress();
    p.b->progress();
    most = std::max(most, p.b->buffered_bytes());
  }
  EXPECT_GT(most, 0u);
  EXPECT_LE(most, kLimit);
  EXPECT_GT(p.a->refused_chunks(), 0u);
  // Refused chunks are retried after pauses of up to 20 ms: pump by time, not by idle rounds.
  auto pump_until = [&](const std::function<bool()>& done) {
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      p.a->progress();
      p.b->progress();
      most = std::max(most, p.b->buffered_bytes());
      ASSERT_LT(std::chrono::steady_clock::now(), limit) << "stuck";
    }
  };
  std::vector<RecvRequest> recvs(kMsgs);
  for (int m = 0; m < kMsgs; ++m) {
    recvs[m] = RecvRequest{dst[m].data(), dst[m].size()};
    p.b->post_recv(&recvs[m]);
    pump_until([&] { return recvs[m].done; });
    ASSERT_EQ(src[m], dst[m]) << "message " << m;
  }
  pump_until([&] {
    return std::all_of(sends.begin(), sends.end(), [](const SendRequest& s) { return s.done; }) &&
           !p.a->has_unacked();
  });
  EXPECT_LE(most, kLimit);
  EXPECT_EQ(p.b->buffered_bytes(), 0u);
}

// RAILCC_CHECKSUM over rails: a chunk corrupted in flight fails its CRC32C at the receiver, is
// sent again on the other rail, and the message (a copy and an in-place reduction) completes
// with the right bytes.
TEST(MultiRailTest, CorruptedChunkIsDetectedAndResentOnAnotherRail) {
  RailPair p(2, {}, std::chrono::milliseconds(500), std::size_t{64} << 20, /*checksums=*/true);
  std::vector<std::byte> src(6 * kChunk + 5), dst(src.size());
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = std::byte(i * 31 + 7);
  SendRequest s{src.data(), src.size()};
  RecvRequest r{dst.data(), dst.size()};
  p.a->inject_fault(Connection::Fault::kCorrupt);
  p.a->post_send(&s);
  p.b->post_recv(&r);
  p.PumpUntil([&] { return s.done && r.done && !p.a->has_unacked(); });
  EXPECT_EQ(src, dst);
  EXPECT_EQ(p.a->corrupt_chunks(), 1u);

  // In place reduction: the corrupted copy must not be applied at all.
  std::vector<float> in(3 * kChunk / sizeof(float), 2.0f), acc(in.size(), 1.0f);
  SendRequest s2{reinterpret_cast<const std::byte*>(in.data()), in.size() * sizeof(float)};
  RecvRequest r2{reinterpret_cast<std::byte*>(acc.data()), acc.size() * sizeof(float)};
  r2.reduce_with = reinterpret_cast<const std::byte*>(acc.data());
  r2.expect = FloatSum(acc.size());
  s2.what = FloatSum(in.size());
  p.a->inject_fault(Connection::Fault::kCorrupt);
  p.a->post_send(&s2);
  p.b->post_recv(&r2);
  p.PumpUntil([&] { return s2.done && r2.done && !p.a->has_unacked(); });
  for (float v : acc) ASSERT_EQ(v, 3.0f);
  EXPECT_EQ(p.a->corrupt_chunks(), 2u);
}

TEST(MultiRailTest, LinkThatCorruptsEveryCopyFailsTheOpClearly) {
  RailPair p(2, {}, std::chrono::milliseconds(500), std::size_t{64} << 20, /*checksums=*/true);
  std::vector<std::byte> src(kChunk, std::byte{9}), dst(src.size());
  SendRequest s{src.data(), src.size()};
  RecvRequest r{dst.data(), dst.size()};
  p.a->post_send(&s);
  p.b->post_recv(&r);
  try {
    for (int i = 0; i < 100000 && !r.done; ++i) {
      p.a->inject_fault(Connection::Fault::kCorrupt);
      p.a->progress();
      p.b->progress();
    }
    FAIL() << "no error; receive done: " << r.done;
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("corrupted in flight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("rank 1"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(r.done);
}

// In-place reduction (dst == reduce_with) is not idempotent: a chunk that arrives twice (the
// original and its resend after a rail failure) must still be applied once.
TEST(MultiRailTest, RailFailureMidMessageResendsAndReducesExactlyOnce) {
  StreamOptions slow;
  slow.max_write = 1000;  // chunks are cut mid-frame when the rail fails
  RailPair p(3, slow);
  const std::size_t count = 30 * kChunk / sizeof(float);
  std::vector<float> src(count), acc(count);
  std::iota(src.begin(), src.end(), 1.0f);
  std::fill(acc.begin(), acc.end(), 0.5f);
  SendRequest s{reinterpret_cast<const std::byte*>(src.data()), count * sizeof(float),
                FloatSum(count)};
  RecvRequest r{reinterpret_cast<std::byte*>(acc.data()), count * sizeof(float),
                reinterpret_cast<const std::byte*>(acc.data()), FloatSum(count)};
  p.a->post_send(&s);
  p.b->post_recv(&r);
  for (int i = 0; i < 20; ++i) {
    p.a->progress();
    p.b->progress();
  }
  p.a->fail_rail(1, "test: pulled the cable");
  p.PumpUntil([&] { return s.done && r.done; });
  EXPECT_GT(p.a->resent_chunks(), 0u);
  for (std::size_t i = 0; i < count; ++i) {
    ASSERT_EQ(acc[i], src[i] + 0.5f) << "element " << i;
  }
}

// The original of a resent chunk, cut off on a rail that failed, may finish arriving after the
// message completed: it must not touch the receive buffer any more.
TEST(MultiRailTest, LateOriginalOfAResentChunkDoesNotWriteIntoACompletedReceive) {
  StreamOptions o;
  o.max_write = 1000;
  RailPair p(2, o);
  std::vector<std::byte> src(16 * kChunk, std::byte{7}), dst(src.size());
  SendRequest s{src.data(), src.size()};
  RecvRequest r{dst.data(), dst.size()};
  p.a->post_send(&s);
  p.b->post_recv(&r);
  for (int i = 0; i < 3; ++i) {
    p.a->progress();
    p.b->progress();
  }
  p.wires[1]->frozen = true;  // rail 1 stops with a chunk half read by b
  p.a->fail_rail(1, "test");
  p.PumpUntil([&] { return s.done && r.done; });
  EXPECT_EQ(src, dst);
  std::fill(dst.begin(), dst.end(), std::byte{0});  // the user reuses the buffer
  p.wires[1]->frozen = false;                       // the cut-off chunk arrives after all
  for (int i = 0; i < 1000; ++i) {
    p.a->progress();
    p.b->progress();
  }
  EXPECT_EQ(p.wires[1]->to_b.size, 0u);
  EXPECT_TRUE(std::all_of(dst.begin(), dst.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST(MultiRailTest, FailedRailTakesNoNewChunks) {
  RailPair p(2);
  p.a->fail_rail(0, "test");
  std::vector<std::byte> src(20 * kChunk, std::byte{9}), dst(src.size());
  SendRequest s{src.data(), src.size()};
  RecvRequest r{dst.data(), dst.size()};
  p.a->post_send(&s);
  p.b->post_recv(&r);
  p.PumpUntil([&] { return s.done && r.done; });
  EXPECT_EQ(src, dst);
  EXPECT_LT(p.wires[0]->to_b.total_written, kChunk);  // probes only
  EXPECT_GE(p.wires[1]->to_b.total_written, src.size());
}

// A rail that silently stops moving (its link still up) is taken out of service once the peer
// is heard on another rail, and what it owed is resent.
TEST(MultiRailTest, StalledRailIsDetectedAndItsChunksResent) {
  StreamOptions o;
  o.capacity = 3 * kChunk;  // little room: the stalled rail holds only a few chunks
  RailPair p(2, o, std::chrono::milliseconds(30));
  std::vector<std::byte> src(64 * kChunk), dst(src.size());
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = std::byte(i % 251);
  SendRequest s{src.data(), src.size()};
  RecvRequest r{dst.data(), dst.size()};
  p.a->post_send(&s);
  p.b->post_recv(&r);
  for (int i = 0; i < 5; ++i) {
    p.a->progress();
    p.b->progress();
  }
  p.wires[1]->frozen = true;
  const auto give_up = Clock::now() + std::chrono::seconds(20);
  while (!(s.done && r.done)) {
    ASSERT_LT(Clock::now(), give_up) << "the stalled rail was never taken out of service";
    if (!(p.a->progress() | p.b->progress())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  EXPECT_EQ(src, dst);
  EXPECT_FALSE(p.a->scheduler().in_service(1));
  EXPECT_GT(p.a->resent_chunks(), 0u);
}

TEST(MultiRailTest, EveryRailGoneFailsNamingTheRailsAndThePeer) {
  RailPair p(2, {}, std::chrono::milliseconds(1));
  std::vector<std::byte> src(8 * kChunk), dst(src.size());
  SendRequest s{src.data(), src.size()};
  p.a->post_send(&s);
  p.a->fail_rail(0, "test: link down");
  p.a->fail_rail(1, "test: link down");
  try {
    for (int i = 0; i < 1000; ++i) {
      p.a->progress();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    FAIL() << "no error with every rail gone";
  } catch (const PeerFailureError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("every rail to rank 1"), std::string::npos) << what;
    EXPECT_NE(what.find("mem0 (a0 -> b0): test: link down"), std::string::npos) << what;
    EXPECT_NE(what.find("mem1 (a1 -> b1)"), std::string::npos) << what;
  }
}

TEST(MultiRailTest, MismatchIsReported) {
  RailPair p(2);
  std::vector<float> x(4 * kChunk), y(2 * kChunk);
  SendRequest s{reinterpret_cast<const std::byte*>(x.data()), x.size() * 4, FloatSum(x.size())};
  RecvRequest r{reinterpret_cast<std::byte*>(y.data()), y.size() * 4, nullptr, FloatSum(y.size())};
  p.a->post_send(&s);
  p.b->post_recv(&r);
  EXPECT_THROW(p.PumpUntil([&] { return r.done; }), MismatchError);
}

// The tcp rails' default window.
const std::chrono::milliseconds kWindow = MultiRailConnection::Options{}.window;

TEST(RailSchedulerTest, EqualRailsShareEqually) {
  RailScheduler s(4, kChunk, kWindow);
  std::vector<int> got(4, 0);
  for (int i = 0; i < 8; ++i) {
    const int rail = s.pick(kChunk);
    ASSERT_GE(rail, 0);
    s.on_assigned(rail, kChunk);
    ++got[rail];
  }
  EXPECT_EQ(got, (std::vector<int>{2, 2, 2, 2}));
}

TEST(RailSchedulerTest, WeightsFollowMeasuredThroughput) {
  RailScheduler s(2, kChunk, kWindow);
  auto t = Clock::now();
  // Both rails stay busy; rail 1 acknowledges a tenth of what rail 0 does.
  s.on_assigned(0, 20000 * kChunk);
  s.on_assigned(1, 20000 * kChunk);
  for (int period = 0; period < 20; ++period) {
    s.on_acked(0, 500 * kChunk);
    s.on_acked(1, 50 * kChunk);
    t += RailScheduler::kPeriod;
    s.measure(t);
  }
  const auto w = s.weights();
  EXPECT_GT(w[0], 0.8);
  EXPECT_LT(w[1], 0.2);
  EXPECT_EQ(s.pick(kChunk), -1);  // both at their window
  s.set_in_service(0, false);
  s.set_in_service(1, true);  // as after a rejoin: nothing outstanding
  EXPECT_EQ(s.pick(kChunk), 1);
  s.set_in_service(1, false);
  EXPECT_EQ(s.pick(kChunk), -1);
}

}  // namespace
}  // namespace railcc::transport
