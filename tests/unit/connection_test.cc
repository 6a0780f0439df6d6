// Tests for transport::Connection (framing, matching, reduction on arrival, mismatch and error
// handling) over an in-memory Stream: a ring buffer per direction with a configurable capacity
// and a maximum number of bytes per call, so that reads and writes are cut at every possible
// place, including in the middle of a header and in the middle of an element.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"
#include "railcc/status.hpp"
#include "tests/unit/mem_stream.h"
#include "transport/shm/cross_memory.h"
#include "transport/stream.h"
#include "transport/stream_connection.h"
#include "transport/wire_format.h"

namespace railcc::transport {
namespace {

using memtest::MemStream;
using memtest::Ring;
using memtest::StreamOptions;
using memtest::Wire;

constexpr uint64_t kCommId = 0xc0ffee;

// Two connected Connections: `a` is rank 0, `b` is rank 1.
struct Pair {
  explicit Pair(int streams = 1, StreamOptions o = {}) {
    std::vector<std::unique_ptr<Stream>> sa, sb;
    for (int i = 0; i < streams; ++i) {
      wires.push_back(std::make_shared<Wire>(o));
      sa.push_back(std::make_unique<MemStream>(wires.back(), true));
      sb.push_back(std::make_unique<MemStream>(wires.back(), false));
    }
    a = std::make_unique<StreamConnection>(0, 1, kCommId, std::move(sa));
    b = std::make_unique<StreamConnection>(1, 0, kCommId, std::move(sb));
  }
  // Progresses both ends until `done()`; fails if nothing moves for a long time.
  void PumpUntil(const std::function<bool()>& done) {
    int idle = 0;
    while (!done()) {
      const bool moved_a = a->progress();
      const bool moved_b = b->progress();
      idle = (moved_a || moved_b) ? 0 : idle + 1;
      ASSERT_LT(idle, 1000) << "no progress and not done";
    }
  }
  // Raw bytes into the stream towards b, as if rank 0 had written them.
  void InjectToB(const void* data, std::size_t n, int stream = 0) {
    wires[stream]->to_b.push(static_cast<const std::byte*>(data), n);
  }

  std::vector<std::shared_ptr<Wire>> wires;
  std::unique_ptr<Connection> a, b;
};

// Compares byte buffers, reporting the first difference instead of printing both buffers.
::testing::AssertionResult SameBytes(const std::vector<std::byte>& got,
                                     const std::vector<std::byte>& want) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure()
           << "size " << got.size() << " where " << want.size() << " was expected";
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i]) {
      return ::testing::AssertionFailure()
             << "first difference at byte " << i << " of " << got.size() << ": got "
             << static_cast<int>(got[i]) << ", expected " << static_cast<int>(want[i]);
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<std::byte> Pattern(std::size_t n, uint32_t seed) {
  std::vector<std::byte> v(n);
  std::mt19937 rng(seed);
  for (auto& x : v) x = static_cast<std::byte>(rng());
  return v;
}

Expectation Coll(wire::OpKind op, uint64_t seq, uint64_t count, DataType t = DataType::kUint8,
                 ReduceOp r = ReduceOp::kSum, int32_t root = -1) {
  Expectation e;
  e.op = op;
  e.seq = seq;
  e.count = count;
  e.dtype = t;
  e.redop = r;
  e.root = root;
  return e;
}

Expectation P2P(uint64_t count, uint32_t tag, DataType t = DataType::kUint8) {
  Expectation e;
  e.op = wire::OpKind::kSendRecv;
  e.count = count;
  e.tag = tag;
  e.dtype = t;
  return e;
}

SendRequest MakeSend(const std::vector<std::byte>& data, Expectation what) {
  SendRequest s;
  s.data = data.data();
  s.length = data.size();
  s.what = what;
  return s;
}

RecvRequest MakeRecv(std::vector<std::byte>& dst, Expectation expect) {
  RecvRequest r;
  r.dst = dst.data();
  r.length = dst.size();
  r.expect = expect;
  return r;
}

const StreamOptions kStreamShapes[] = {
    {1 << 20, SIZE_MAX, SIZE_MAX},  // roomy: whole frames at once
    {64, SIZE_MAX, SIZE_MAX},       // exactly one header of room
    {13, 5, SIZE_MAX},              // tiny ring, writes cut in 5s, reads see wrapped halves
    {100, 1, 1},                    // one byte at a time
    {97, 7, 3},                     // odd everything
};

std::string ShapeName(const StreamOptions& o) {
  return "capacity " + std::to_string(o.capacity) + " write " +
         (o.max_write == SIZE_MAX ? "any" : std::to_string(o.max_write)) + " read " +
         (o.max_read == SIZE_MAX ? "any" : std::to_string(o.max_read));
}

TEST(ConnectionTest, MessagesOfEverySizeArriveIntact) {
  for (const StreamOptions& shape : kStreamShapes) {
    SCOPED_TRACE(ShapeName(shape));
    Pair p(1, shape);
    uint64_t seq = 0;
    for (std::size_t n : {0, 1, 63, 64, 65, 100000}) {
      SCOPED_TRACE(n);
      ++seq;
      const auto data = Pattern(n, static_cast<uint32_t>(n));
      std::vector<std::byte> got(n, std::byte{0xEE});
      SendRequest s = MakeSend(
          data, Coll(wire::OpKind::kBroadcast, seq, n, DataType::kUint8, ReduceOp::kSum, 0));
      RecvRequest r = MakeRecv(
          got, Coll(wire::OpKind::kBroadcast, seq, n, DataType::kUint8, ReduceOp::kSum, 0));
      p.b->post_recv(&r);
      p.a->post_send(&s);
      EXPECT_TRUE(p.a->has_pending_sends());
      EXPECT_TRUE(p.b->has_pending_recvs());
      p.PumpUntil([&] { return s.done && r.done; });
      EXPECT_TRUE(SameBytes(got, data));
      EXPECT_EQ(r.received, n);
      EXPECT_EQ(s.written, n + sizeof(wire::FrameHeader));
      EXPECT_FALSE(p.a->has_pending_sends());
      EXPECT_FALSE(p.b->has_pending_recvs());
      EXPECT_EQ(p.b->max_seq_seen(), seq);
    }
  }
}

TEST(ConnectionTest, BothDirectionsAtOnce) {
  for (const StreamOptions& shape : kStreamShapes) {
    SCOPED_TRACE(ShapeName(shape));
    Pair p(1, shape);
    const auto ab = Pattern(5000, 1), ba = Pattern(3001, 2);
    std::vector<std::byte> got_b(ab.size()), got_a(ba.size());
    const auto e1 = Coll(wire::OpKind::kAllToAllv, 1, 0);
    Expectation e = e1;
    e.check_count = false;
    SendRequest s_ab = MakeSend(ab, e1), s_ba = MakeSend(ba, e1);
    RecvRequest r_ab = MakeRecv(got_b, e), r_ba = MakeRecv(got_a, e);
    p.a->post_send(&s_ab);
    p.b->post_send(&s_ba);
    p.a->post_recv(&r_ba);
    p.b->post_recv(&r_ab);
    p.PumpUntil([&] { return s_ab.done && s_ba.done && r_ab.done && r_ba.done; });
    EXPECT_TRUE(SameBytes(got_b, ab));
    EXPECT_TRUE(SameBytes(got_a, ba));
  }
}

TEST(ConnectionTest, PipelinedMessagesOverSeveralStreamsArriveInOrder) {
  for (const StreamOptions& shape : {kStreamShapes[0], kStreamShapes[2], kStreamShapes[4]}) {
    SCOPED_TRACE(ShapeName(shape));
    constexpr int kStreams = 3;
    constexpr int kMessages = 120;
    Pair p(kStreams, shape);
    std::vector<std::vector<std::byte>> data, got;
    std::vector<SendRequest> sends(kMessages);
    std::vector<RecvRequest> recvs(kMessages);
    for (int i = 0; i < kMessages; ++i) {
      const std::size_t n = (i * 977) % 3000;
      data.push_back(Pattern(n, 100 + i));
      got.emplace_back(n);
    }
    for (int i = 0; i < kMessages; ++i) {
      // All chunks of one all_reduce: same op and sequence number, count of the whole op.
      sends[i] = MakeSend(data[i], Coll(wire::OpKind::kAllReduce, 9, 123456));
      p.a->post_send(&sends[i]);
    }
    for (int i = 0; i < kMessages; ++i) {
      recvs[i] = MakeRecv(got[i], Coll(wire::OpKind::kAllReduce, 9, 123456));
      p.b->post_recv(&recvs[i]);
    }
    p.PumpUntil([&] {
      return std::all_of(recvs.begin(), recvs.end(), [](const auto& r) { return r.done; });
    });
    for (int i = 0; i < kMessages; ++i) EXPECT_TRUE(SameBytes(got[i], data[i])) << "message " << i;
    // Every stream carried a share of the traffic.
    for (int i = 0; i < kStreams; ++i) {
      EXPECT_GT(p.wires[i]->to_b.total_written, kMessages / kStreams * sizeof(wire::FrameHeader))
          << "stream " << i;
    }
  }
}

TEST(ConnectionTest, ReceivesPostedOneByOneWhileMessagesFlow) {
  Pair p(3, kStreamShapes[4]);
  constexpr int kMessages = 40;
  std::vector<std::vector<std::byte>> data, got;
  std::vector<SendRequest> sends(kMessages);
  std::vector<RecvRequest> recvs(kMessages);
  for (int i = 0; i < kMessages; ++i) {
    data.push_back(Pattern(i * 37 + 1, i));
    got.emplace_back(data.back().size());
    sends[i] = MakeSend(data[i], P2P(data[i].size(), 5));
    p.a->post_send(&sends[i]);
  }
  for (int i = 0; i < kMessages; ++i) {
    // A few steps of progress between receives: some messages arrive before their receive,
    // some while it is half delivered, some after.
    for (int k = 0; k < 3; ++k) {
      p.a->progress();
      p.b->progress();
    }
    recvs[i] = MakeRecv(got[i], P2P(data[i].size(), 5));
    p.b->post_recv(&recvs[i]);
  }
  p.PumpUntil([&] {
    return std::all_of(recvs.begin(), recvs.end(), [](const auto& r) { return r.done; });
  });
  for (int i = 0; i < kMessages; ++i) EXPECT_TRUE(SameBytes(got[i], data[i])) << "message " << i;
  EXPECT_EQ(p.b->max_seq_seen(), 0u);  // point-to-point carries no collective sequence
}

TEST(ConnectionTest, UnexpectedMessagesAreDeliveredWhenPosted) {
  Pair p(1);
  const auto m0 = Pattern(0, 0), m1 = Pattern(1000, 1), m2 = Pattern(64, 2);
  SendRequest s0 = MakeSend(m0, P2P(0, 1)), s1 = MakeSend(m1, P2P(1000, 1)),
              s2 = MakeSend(m2, P2P(64, 1));
  p.a->post_send(&s0);
  p.a->post_send(&s1);
  p.a->post_send(&s2);
  // Everything arrives before any receive is posted.
  p.PumpUntil([&] { return s0.done && s1.done && s2.done; });
  for (int i = 0; i < 5; ++i) p.b->progress();
  EXPECT_FALSE(p.b->has_pending_recvs());

  std::vector<std::byte> g0, g1(1000), g2(64);
  RecvRequest r0 = MakeRecv(g0, P2P(0, 1)), r1 = MakeRecv(g1, P2P(1000, 1)),
              r2 = MakeRecv(g2, P2P(64, 1));
  p.b->post_recv(&r0);
  EXPECT_TRUE(r0.done);
  p.b->post_recv(&r1);
  EXPECT_TRUE(r1.done);
  EXPECT_TRUE(SameBytes(g1, m1));
  p.b->post_recv(&r2);
  EXPECT_TRUE(r2.done);
  EXPECT_TRUE(SameBytes(g2, m2));
  EXPECT_FALSE(p.b->has_pending_recvs());
}

TEST(ConnectionTest, ReceivePostedWhileAnUnexpectedMessageIsHalfBuffered) {
  Pair p(1, {257, 31, SIZE_MAX});
  const auto data = Pattern(50000, 9);
  SendRequest s = MakeSend(data, P2P(data.size(), 0));
  p.a->post_send(&s);
  for (int i = 0; i < 20; ++i) {
    p.a->progress();
    p.b->progress();
  }
  ASSERT_FALSE(s.done);
  std::vector<std::byte> got(data.size());
  RecvRequest r = MakeRecv(got, P2P(data.size(), 0));
  p.b->post_recv(&r);
  EXPECT_FALSE(r.done);
  p.PumpUntil([&] { return r.done; });
  EXPECT_TRUE(SameBytes(got, data));
}

// Reduction on arrival: dst = reduce_with + incoming, element by element.
void CheckRecvReduceFloat32(const StreamOptions& shape, bool in_place, bool unexpected) {
  SCOPED_TRACE(ShapeName(shape) + (in_place ? " in place" : "") +
               (unexpected ? " unexpected" : ""));
  Pair p(1, shape);
  constexpr std::size_t kCount = 2501;
  std::vector<float> incoming(kCount), local(kCount), out(kCount, -1.0f);
  for (std::size_t i = 0; i < kCount; ++i) {
    incoming[i] = static_cast<float>(i % 1000) * 0.5f;
    local[i] = static_cast<float>(i % 77) - 30.0f;
  }
  std::vector<std::byte> payload(kCount * 4);
  std::memcpy(payload.data(), incoming.data(), payload.size());
  const Expectation e = Coll(wire::OpKind::kAllReduce, 3, kCount, DataType::kFloat32);
  SendRequest s = MakeSend(payload, e);
  RecvRequest r;
  r.dst = reinterpret_cast<std::byte*>(in_place ? local.data() : out.data());
  r.length = kCount * 4;
  r.reduce_with = reinterpret_cast<const std::byte*>(local.data());
  r.expect = e;
  const std::vector<float> local_before = local;
  p.a->post_send(&s);
  if (unexpected) p.PumpUntil([&] { return s.done; });
  p.b->post_recv(&r);
  p.PumpUntil([&] { return s.done && r.done; });
  const std::vector<float>& result = in_place ? local : out;
  for (std::size_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(result[i], local_before[i] + incoming[i]) << "element " << i;
  }
  if (!in_place) {
    EXPECT_EQ(local, local_before);
  }
}

TEST(ConnectionTest, RecvReduceFloat32Sum) {
  for (const StreamOptions& shape : kStreamShapes) {
    CheckRecvReduceFloat32(shape, false, false);
    CheckRecvReduceFloat32(shape, true, false);
    CheckRecvReduceFloat32(shape, false, true);
  }
}

TEST(ConnectionTest, RecvReduceWithElementsSplitAcrossReads) {
  // Reads of 1, 2, 3, 5, 6 and 7 bytes and rings whose wrap point falls inside an element:
  // every element boundary case of the carry path.
  for (std::size_t read : {1, 2, 3, 5, 6, 7}) {
    CheckRecvReduceFloat32({1 << 20, 3, read}, false, false);
    CheckRecvReduceFloat32({71, SIZE_MAX, read}, false, false);
  }
  for (std::size_t cap : {65, 66, 67, 101, 103}) {
    CheckRecvReduceFloat32({cap, SIZE_MAX, SIZE_MAX}, false, false);
    CheckRecvReduceFloat32({cap, 9, SIZE_MAX}, true, false);
  }
}

TEST(ConnectionTest, RecvReduceOtherTypesAndOps) {
  // float64 max and int32 prod, through odd-sized reads.
  Pair p(1, {83, 11, 5});
  constexpr std::size_t kCount = 777;
  {
    std::vector<double> in(kCount), mine(kCount), out(kCount);
    for (std::size_t i = 0; i < kCount; ++i) {
      in[i] = static_cast<double>(i) * 1.5 - 300;
      mine[i] = static_cast<double>(kCount - i) - 200;
    }
    std::vector<std::byte> payload(kCount * 8);
    std::memcpy(payload.data(), in.data(), payload.size());
    const Expectation e =
        Coll(wire::OpKind::kAllReduce, 1, kCount, DataType::kFloat64, ReduceOp::kMax);
    SendRequest s = MakeSend(payload, e);
    RecvRequest r;
    r.dst = reinterpret_cast<std::byte*>(out.data());
    r.length = payload.size();
    r.reduce_with = reinterpret_cast<const std::byte*>(mine.data());
    r.expect = e;
    p.a->post_send(&s);
    p.b->post_recv(&r);
    p.PumpUntil([&] { return r.done; });
    for (std::size_t i = 0; i < kCount; ++i) ASSERT_EQ(out[i], std::max(in[i], mine[i])) << i;
  }
  {
    std::vector<int32_t> in(kCount), mine(kCount), out(kCount);
    for (std::size_t i = 0; i < kCount; ++i) {
      in[i] = static_cast<int32_t>(i % 13) - 6;
      mine[i] = static_cast<int32_t>(i % 7) + 1;
    }
    std::vector<std::byte> payload(kCount * 4);
    std::memcpy(payload.data(), in.data(), payload.size());
    const Expectation e =
        Coll(wire::OpKind::kReduce, 2, kCount, DataType::kInt32, ReduceOp::kProd, 1);
    SendRequest s = MakeSend(payload, e);
    RecvRequest r;
    r.dst = reinterpret_cast<std::byte*>(out.data());
    r.length = payload.size();
    r.reduce_with = reinterpret_cast<const std::byte*>(mine.data());
    r.expect = e;
    p.a->post_send(&s);
    p.b->post_recv(&r);
    p.PumpUntil([&] { return r.done; });
    for (std::size_t i = 0; i < kCount; ++i) ASSERT_EQ(out[i], in[i] * mine[i]) << i;
  }
}

// ---------------------------------------------------------------------------------------------
// Mismatches: the receiver's expectation differs from the sender's header.

struct MismatchCase {
  const char* name;
  Expectation sent;
  Expectation expected;
  std::size_t sent_bytes;
  std::size_t expected_bytes;
  std::vector<const char*> must_mention;  // e.g. both values that differ
};

std::vector<MismatchCase> MismatchCases() {
  using wire::OpKind;
  std::vector<MismatchCase> cases;
  cases.push_back({"op",
                   Coll(OpKind::kAllReduce, 4, 16, DataType::kFloat32),
                   Coll(OpKind::kBroadcast, 4, 16, DataType::kFloat32, ReduceOp::kSum, 0),
                   64,
                   64,
                   {"all_reduce", "broadcast"}});
  cases.push_back({"seq",
                   Coll(OpKind::kAllGather, 5, 16),
                   Coll(OpKind::kAllGather, 6, 16),
                   16,
                   16,
                   {"#5", "#6", "order"}});
  cases.push_back({"dtype",
                   Coll(OpKind::kAllReduce, 1, 16, DataType::kFloat32),
                   Coll(OpKind::kAllReduce, 1, 16, DataType::kInt32),
                   64,
                   64,
                   {"float", "int32", "data type"}});
  cases.push_back({"redop",
                   Coll(OpKind::kAllReduce, 1, 16, DataType::kFloat32, ReduceOp::kSum),
                   Coll(OpKind::kAllReduce, 1, 16, DataType::kFloat32, ReduceOp::kMax),
                   64,
                   64,
                   {"sum", "max", "reduce op"}});
  cases.push_back({"count",
                   Coll(OpKind::kAllReduce, 1, 1000, DataType::kFloat32),
                   Coll(OpKind::kAllReduce, 1, 2000, DataType::kFloat32),
                   64,
                   64,
                   {"count 1000", "count 2000", "different count"}});
  cases.push_back({"root",
                   Coll(OpKind::kBroadcast, 2, 8, DataType::kUint8, ReduceOp::kSum, 0),
                   Coll(OpKind::kBroadcast, 2, 8, DataType::kUint8, ReduceOp::kSum, 1),
                   8,
                   8,
                   {"root 0", "root 1", "different root"}});
  cases.push_back({"tag", P2P(8, 3), P2P(8, 4), 8, 8, {"tag 3", "tag 4"}});
  Expectation v_sent = Coll(OpKind::kAllToAllv, 3, 0), v_expected = v_sent;
  v_expected.check_count = false;
  cases.push_back({"length", v_sent, v_expected, 40, 48, {"40", "48", "bytes"}});
  cases.push_back({"p2p length", P2P(40, 0), P2P(40, 0), 40, 41, {"40", "41"}});
  return cases;
}

void CheckMismatchMessage(const std::string& msg, const MismatchCase& c) {
  EXPECT_NE(msg.find("rank 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rank 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rank 0 called"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rank 1 called"), std::string::npos) << msg;
  for (const char* word : c.must_mention) {
    EXPECT_NE(msg.find(word), std::string::npos) << "'" << word << "' missing: " << msg;
  }
}

TEST(ConnectionTest, MismatchWhenTheReceiveIsPostedFirst) {
  for (const MismatchCase& c : MismatchCases()) {
    SCOPED_TRACE(c.name);
    Pair p(1, {61, 7, 5});
    const auto data = Pattern(c.sent_bytes, 1);
    std::vector<std::byte> got(c.expected_bytes);
    SendRequest s = MakeSend(data, c.sent);
    RecvRequest r = MakeRecv(got, c.expected);
    p.b->post_recv(&r);
    p.a->post_send(&s);
    std::string msg;
    try {
      p.PumpUntil([&] { return r.done; });
      ADD_FAILURE() << "no mismatch detected";
    } catch (const MismatchError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kMismatch);
      msg = e.what();
    }
    CheckMismatchMessage(msg, c);
    EXPECT_FALSE(r.done);
    // Nothing of the bad payload reached the receive buffer.
    EXPECT_TRUE(std::all_of(got.begin(), got.end(), [](std::byte b) { return b == std::byte{0}; }));
  }
}

TEST(ConnectionTest, MismatchWhenTheMessageArrivesFirst) {
  for (const MismatchCase& c : MismatchCases()) {
    SCOPED_TRACE(c.name);
    Pair p(1);
    const auto data = Pattern(c.sent_bytes, 1);
    std::vector<std::byte> got(c.expected_bytes);
    SendRequest s = MakeSend(data, c.sent);
    p.a->post_send(&s);
    p.PumpUntil([&] { return s.done; });
    p.b->progress();
    RecvRequest r = MakeRecv(got, c.expected);
    try {
      p.b->post_recv(&r);
      ADD_FAILURE() << "no mismatch detected";
    } catch (const MismatchError& e) {
      CheckMismatchMessage(e.what(), c);
    }
    EXPECT_FALSE(r.done);
  }
}

TEST(ConnectionTest, StreamStaysFramedAfterAMismatch) {
  // After a mismatch the op is abandoned; the bad payload is skipped and the next message (the
  // next op) still arrives intact on the same stream.
  Pair p(1, {61, 7, 5});
  const auto bad = Pattern(500, 1), good = Pattern(300, 2);
  std::vector<std::byte> got_bad(500), got_good(300);
  SendRequest s1 = MakeSend(bad, Coll(wire::OpKind::kAllGather, 1, 500));
  SendRequest s2 = MakeSend(good, Coll(wire::OpKind::kAllGather, 2, 300));
  RecvRequest r1 = MakeRecv(got_bad, Coll(wire::OpKind::kAllGather, 1, 499));
  p.b->post_recv(&r1);
  p.a->post_send(&s1);
  p.a->post_send(&s2);
  EXPECT_THROW(p.PumpUntil([&] { return r1.done; }), MismatchError);
  p.b->abandon_requests();
  EXPECT_FALSE(p.b->has_pending_recvs());
  RecvRequest r2 = MakeRecv(got_good, Coll(wire::OpKind::kAllGather, 2, 300));
  p.b->post_recv(&r2);
  p.PumpUntil([&] { return r2.done; });
  EXPECT_TRUE(SameBytes(got_good, good));
}

TEST(ConnectionTest, FrameOfAnotherCommunicatorIsAProtocolError) {
  Pair p(1);
  wire::FrameHeader h{};
  h.kind = static_cast<uint8_t>(wire::FrameKind::kData);
  h.op = static_cast<uint8_t>(wire::OpKind::kBarrier);
  h.comm_id = kCommId + 1;
  h.seq = 1;
  h.msg_id = 0;
  wire::seal(h);
  p.InjectToB(&h, sizeof(h));
  std::vector<std::byte> none;
  RecvRequest r = MakeRecv(none, Coll(wire::OpKind::kBarrier, 1, 0));
  p.b->post_recv(&r);
  EXPECT_THROW(p.b->progress(), ProtocolError);
}

// ---------------------------------------------------------------------------------------------
// Garbage on the stream.

void ExpectProtocolError(Connection& c) {
  try {
    for (int i = 0; i < 100; ++i) c.progress();
    ADD_FAILURE() << "garbage was accepted";
  } catch (const ProtocolError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kProtocol);
    EXPECT_NE(std::string(e.what()).find("rank 0"), std::string::npos) << e.what();
  }
}

TEST(ConnectionTest, RandomBytesAreAProtocolError) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    SCOPED_TRACE(trial);
    Pair p(1, {4096, SIZE_MAX, 1 + rng() % 70});
    std::vector<uint8_t> junk(64 + rng() % 500);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    p.InjectToB(junk.data(), junk.size());
    std::vector<std::byte> got(100);
    RecvRequest r = MakeRecv(got, P2P(100, 0));
    if (trial % 2) p.b->post_recv(&r);  // with and without a receive waiting
    ExpectProtocolError(*p.b);
  }
}

TEST(ConnectionTest, TextIsAProtocolError) {
  Pair p(1);
  const std::string http =
      "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n";
  p.InjectToB(http.data(), http.size());
  ExpectProtocolError(*p.b);
}

TEST(ConnectionTest, GarbageAfterAValidMessageIsAProtocolError) {
  Pair p(1);
  const auto data = Pattern(100, 4);
  std::vector<std::byte> got(100);
  SendRequest s = MakeSend(data, P2P(100, 0));
  RecvRequest r = MakeRecv(got, P2P(100, 0));
  p.a->post_send(&s);
  p.b->post_recv(&r);
  p.PumpUntil([&] { return r.done; });
  EXPECT_TRUE(SameBytes(got, data));
  const std::vector<uint8_t> junk(64, 0xAB);
  p.InjectToB(junk.data(), junk.size());
  ExpectProtocolError(*p.b);
}

TEST(ConnectionTest, MessageOnTheWrongStreamIsAProtocolError) {
  // Message 1 belongs on stream 1 of 2; a sealed header claiming it arrives on stream 0.
  Pair p(2);
  wire::FrameHeader h{};
  h.kind = static_cast<uint8_t>(wire::FrameKind::kData);
  h.op = static_cast<uint8_t>(wire::OpKind::kSendRecv);
  h.comm_id = kCommId;
  h.msg_id = 1;
  wire::seal(h);
  p.InjectToB(&h, sizeof(h), 0);
  ExpectProtocolError(*p.b);
}

TEST(ConnectionTest, HelloFrameOnAnOpenConnectionIsAProtocolError) {
  Pair p(1);
  wire::FrameHeader h{};
  h.kind = static_cast<uint8_t>(wire::FrameKind::kHello);
  h.root = 0;
  h.comm_id = kCommId;
  wire::seal(h);
  p.InjectToB(&h, sizeof(h));
  ExpectProtocolError(*p.b);
}

TEST(ConnectionTest, CorruptedHeaderOfARealMessageIsAProtocolError) {
  // Let a real frame through the wire, but flip one byte of its header on the way.
  for (std::size_t byte = 0; byte < sizeof(wire::FrameHeader); byte += 5) {
    SCOPED_TRACE(byte);
    Pair p(1);
    const auto data = Pattern(10, 1);
    SendRequest s = MakeSend(data, P2P(10, 0));
    p.a->post_send(&s);
    p.a->progress();
    ASSERT_TRUE(s.done);
    Ring& ring = p.wires[0]->to_b;
    ring.buf[(ring.head + byte) % ring.buf.size()] ^= std::byte{0x10};
    std::vector<std::byte> got(10);
    RecvRequest r = MakeRecv(got, P2P(10, 0));
    p.b->post_recv(&r);
    ExpectProtocolError(*p.b);
  }
}

// ---------------------------------------------------------------------------------------------
// Error frames.

TEST(ConnectionTest, ErrorFrameFailsTheReceiverWithTheSendersMessageAndCode) {
  struct Case {
    ErrorCode sent;
    ErrorCode thrown;
  };
  for (const Case& c : {Case{ErrorCode::kTimeout, ErrorCode::kTimeout},
                        Case{ErrorCode::kMismatch, ErrorCode::kMismatch},
                        Case{ErrorCode::kSystem, ErrorCode::kSystem},
                        Case{ErrorCode::kPeerFailure, ErrorCode::kPeerFailure},
                        Case{ErrorCode::kAborted, ErrorCode::kAborted},
                        Case{ErrorCode::kOk, ErrorCode::kPeerFailure}}) {
    SCOPED_TRACE(error_code_name(c.sent));
    for (bool posted : {false, true}) {
      Pair p(2, {53, 9, 4});
      std::vector<std::byte> got(100);
      RecvRequest r = MakeRecv(got, P2P(100, 0));
      if (posted) p.b->post_recv(&r);
      p.a->send_error(c.sent, "rank 0 ran out of patience at step 17");
      EXPECT_TRUE(p.a->has_pending_sends());
      try {
        p.PumpUntil([] { return false; });
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), c.thrown) << e.what();
        const std::string msg = e.what();
        EXPECT_NE(msg.find("rank 0 ran out of patience at step 17"), std::string::npos) << msg;
        EXPECT_NE(msg.find("rank 0"), std::string::npos) << msg;
      }
      EXPECT_FALSE(p.a->has_pending_sends());
    }
  }
}

TEST(ConnectionTest, EmptyAndOverlongErrorMessages) {
  {
    Pair p(1);
    p.a->send_error(ErrorCode::kSystem, "");
    EXPECT_THROW(p.PumpUntil([] { return false; }), SystemError);
  }
  {
    Pair p(1, {300, 17, 13});
    const std::string huge(3 * wire::kMaxErrorPayload, 'x');
    p.a->send_error(ErrorCode::kInternal, huge);
    try {
      p.PumpUntil([] { return false; });
      ADD_FAILURE() << "no error";
    } catch (const InternalError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(std::string(wire::kMaxErrorPayload, 'x')), std::string::npos);
      EXPECT_LT(msg.size(), huge.size());
    }
  }
}

TEST(ConnectionTest, ErrorFrameJumpsQueuedFrames) {
  Pair p(1, {97, 7, 3});
  const auto data = Pattern(1000, 5);
  std::vector<std::byte> got(1000);
  SendRequest s = MakeSend(data, P2P(1000, 2));
  RecvRequest r = MakeRecv(got, P2P(1000, 2));
  p.a->post_send(&s);
  p.a->send_error(ErrorCode::kAborted, "aborted by the user");
  p.b->post_recv(&r);
  // The error jumps the queue (the data frame was not started), so it arrives first.
  EXPECT_THROW(p.PumpUntil([] { return false; }), AbortedError);
}

TEST(ConnectionTest, ErrorFrameNeverCutsIntoAFramePartlyWritten) {
  Pair p(1, {97, 7, 3});
  const auto data = Pattern(1000, 5);
  std::vector<std::byte> got(1000);
  SendRequest s = MakeSend(data, P2P(1000, 2));
  RecvRequest r = MakeRecv(got, P2P(1000, 2));
  p.a->post_send(&s);
  p.b->post_recv(&r);
  p.a->progress();
  ASSERT_GT(s.written, 0u);
  ASSERT_FALSE(s.done);
  p.a->send_error(ErrorCode::kAborted, "aborted mid frame");
  try {
    p.PumpUntil([] { return false; });
    ADD_FAILURE() << "no error";
  } catch (const AbortedError& e) {
    EXPECT_NE(std::string(e.what()).find("aborted mid frame"), std::string::npos) << e.what();
  }
  // The frame in flight was finished first.
  EXPECT_TRUE(r.done);
  EXPECT_TRUE(SameBytes(got, data));
}

// abandon_requests() on the sender in the middle of a frame, then an error frame: the receiver
// must see the rest of the cut frame and then the error, never garbage.
void CheckAbandonThenError(std::size_t written_before_abandon, const StreamOptions& shape) {
  SCOPED_TRACE("abandon after " + std::to_string(written_before_abandon) + " bytes, " +
               ShapeName(shape));
  Pair p(1, shape);
  auto data = std::make_unique<std::vector<std::byte>>(Pattern(5000, 11));
  const std::vector<std::byte> original = *data;
  std::vector<std::byte> got(5000);
  auto s = std::make_unique<SendRequest>(MakeSend(*data, P2P(5000, 1)));
  RecvRequest r = MakeRecv(got, P2P(5000, 1));
  p.b->post_recv(&r);
  p.a->post_send(s.get());
  // Move bytes until the frame is partly written.
  while (s->written < written_before_abandon) {
    p.a->progress();
    p.b->progress();
  }
  ASSERT_FALSE(s->done);
  p.a->abandon_requests();
  // The failed op's memory goes away.
  std::fill(data->begin(), data->end(), std::byte{0xDD});
  s.reset();
  data.reset();
  p.a->send_error(ErrorCode::kSystem, "rank 0: disk on fire");
  try {
    p.PumpUntil([] { return false; });
    ADD_FAILURE() << "no error arrived";
  } catch (const SystemError& e) {
    EXPECT_NE(std::string(e.what()).find("disk on fire"), std::string::npos) << e.what();
  } catch (const Error& e) {
    ADD_FAILURE() << "expected the sender's SystemError, got " << error_code_name(e.code()) << ": "
                  << e.what();
  }
  // The receive got the whole frame, from the sender's private copy.
  EXPECT_TRUE(r.done);
  EXPECT_TRUE(SameBytes(got, original));
  EXPECT_FALSE(p.a->has_pending_sends());
}

TEST(ConnectionTest, AbandonMidPayloadThenErrorFrame) {
  CheckAbandonThenError(1000, {97, 7, 3});
  CheckAbandonThenError(100, {128, 64, SIZE_MAX});
}

TEST(ConnectionTest, AbandonMidHeaderThenErrorFrame) {
  CheckAbandonThenError(1, {97, 1, 3});
  CheckAbandonThenError(30, {97, 30, 3});
}

TEST(ConnectionTest, AbandonDropsUnstartedSendsAndPostedReceives) {
  Pair p(1);
  const auto data = Pattern(100, 1);
  std::vector<std::byte> got(100);
  SendRequest s = MakeSend(data, P2P(100, 0));
  RecvRequest r = MakeRecv(got, P2P(100, 0));
  p.a->post_send(&s);
  p.a->post_recv(&r);
  EXPECT_TRUE(p.a->needs_peer());
  p.a->abandon_requests();
  EXPECT_FALSE(p.a->has_pending_sends());
  EXPECT_FALSE(p.a->has_pending_recvs());
  EXPECT_FALSE(p.a->needs_peer());
  for (int i = 0; i < 10; ++i) {
    p.a->progress();
    p.b->progress();
  }
  EXPECT_EQ(p.wires[0]->to_b.total_written, 0u);
}

TEST(ConnectionTest, ReceiverAbandonMidPayloadSkipsTheRest) {
  Pair p(1, {97, 7, 3});
  const auto first = Pattern(2000, 1), second = Pattern(50, 2);
  std::vector<std::byte> got1(2000), got2(50);
  SendRequest s1 = MakeSend(first, P2P(2000, 0)), s2 = MakeSend(second, P2P(50, 0));
  RecvRequest r1 = MakeRecv(got1, P2P(2000, 0));
  p.a->post_send(&s1);
  p.a->post_send(&s2);
  p.b->post_recv(&r1);
  while (r1.received < 500) {
    p.a->progress();
    p.b->progress();
  }
  p.b->abandon_requests();
  const auto got1_at_abandon = got1;
  RecvRequest r2 = MakeRecv(got2, P2P(50, 0));
  p.b->post_recv(&r2);
  p.PumpUntil([&] { return r2.done; });
  EXPECT_TRUE(SameBytes(got2, second));
  EXPECT_FALSE(r1.done);
  EXPECT_TRUE(SameBytes(got1, got1_at_abandon));  // nothing written after the abandon
}

// ---------------------------------------------------------------------------------------------
// Dead peers.

TEST(ConnectionTest, CheckAliveOnlyFailsWhileThePeerIsNeeded) {
  Pair p(2);
  p.wires[1]->a_gone = true;  // one of rank 0's two streams has closed...
  EXPECT_FALSE(p.b->needs_peer());
  EXPECT_NO_THROW(p.b->check_alive());

  std::vector<std::byte> got(10);
  RecvRequest r = MakeRecv(got, P2P(10, 0));
  p.b->post_recv(&r);
  EXPECT_TRUE(p.b->needs_peer());
  // ...which is not proof yet: its last message may still be unread on the other stream.
  EXPECT_NO_THROW(p.b->check_alive());
  p.wires[0]->a_gone = true;  // now every stream is closed: rank 0's process is gone
  try {
    p.b->check_alive();
    ADD_FAILURE() << "check_alive passed with the peer gone";
  } catch (const PeerFailureError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kPeerFailure);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("rank 0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rank 1"), std::string::npos) << msg;
  }
}

TEST(ConnectionTest, SenderNeedsAPeerToWriteTo) {
  Pair p(1);
  p.wires[0]->b_gone = true;  // rank 1's process is gone
  EXPECT_NO_THROW(p.a->check_alive());
  const auto data = Pattern(10, 0);
  SendRequest s = MakeSend(data, P2P(10, 0));
  p.a->post_send(&s);
  EXPECT_TRUE(p.a->needs_peer());
  try {
    p.a->check_alive();
    ADD_FAILURE() << "check_alive passed with the peer gone";
  } catch (const PeerFailureError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(p.a->progress(), PeerFailureError);
}

TEST(ConnectionTest, BytesLeftByADeadPeerAreStillDelivered) {
  Pair p(1);
  const auto data = Pattern(300, 8);
  SendRequest s = MakeSend(data, P2P(300, 0));
  p.a->post_send(&s);
  p.a->progress();
  ASSERT_TRUE(s.done);
  p.wires[0]->a_gone = true;  // rank 0 sent, then exited
  std::vector<std::byte> got(300);
  RecvRequest r = MakeRecv(got, P2P(300, 0));
  p.b->post_recv(&r);
  EXPECT_NO_THROW(p.b->check_alive());  // its bytes are still there
  p.b->progress();
  EXPECT_TRUE(r.done);
  EXPECT_TRUE(SameBytes(got, data));
  EXPECT_FALSE(p.b->needs_peer());
  EXPECT_NO_THROW(p.b->check_alive());
}

TEST(ConnectionTest, DescribeAndPollFds) {
  Pair p(2);
  EXPECT_EQ(p.a->peer(), 1);
  EXPECT_EQ(p.b->peer(), 0);
  EXPECT_NE(p.a->describe().find("memstream"), std::string::npos);
  std::vector<pollfd> fds;
  p.a->add_poll_fds(fds);
  EXPECT_TRUE(fds.empty());  // in-memory streams have no descriptor
}

TEST(ConnectionTest, MaxSeqSeenTracksCollectivesOnly) {
  Pair p(1);
  EXPECT_EQ(p.b->max_seq_seen(), 0u);
  std::vector<std::vector<std::byte>> bufs(4, std::vector<std::byte>(4));
  const uint64_t seqs[] = {3, 7, 5};
  std::vector<SendRequest> sends(4);
  std::vector<RecvRequest> recvs(4);
  for (int i = 0; i < 3; ++i) {
    sends[i] = MakeSend(bufs[i], Coll(wire::OpKind::kAllGather, seqs[i], 4));
    p.a->post_send(&sends[i]);
  }
  sends[3] = MakeSend(bufs[3], P2P(4, 0));
  sends[3].what.seq = 100;  // ignored for point-to-point
  p.a->post_send(&sends[3]);
  p.PumpUntil([&] { return sends[3].done; });
  p.b->progress();
  EXPECT_EQ(p.b->max_seq_seen(), 7u);
}

}  // namespace
}  // namespace railcc::transport

namespace railcc::transport {
namespace {

// Single copy: both ends read "the peer's" memory in this very process (process_vm_readv on
// one's own pid is allowed wherever cross-memory attach is).
struct SingleCopyPair : Pair {
  SingleCopyPair(std::size_t min_bytes, StreamOptions o = {}) : Pair(1, o) {
    static_cast<StreamConnection&>(*a).enable_single_copy(getpid(), min_bytes);
    static_cast<StreamConnection&>(*b).enable_single_copy(getpid(), min_bytes);
  }
};

TEST(ConnectionSingleCopyTest, ProbeSucceedsOnOwnProcess) {
  EXPECT_TRUE(cross_memory_probe(getpid(), cross_memory_probe_address()));
  EXPECT_FALSE(cross_memory_probe(getpid(), 0));
  EXPECT_FALSE(cross_memory_probe(0, cross_memory_probe_address()));
}

TEST(ConnectionSingleCopyTest, LargeMessagesAreReadInPlaceSmallOnesTravel) {
  for (const StreamOptions& shape : kStreamShapes) {
    SCOPED_TRACE(ShapeName(shape));
    SingleCopyPair p(1000, shape);
    uint64_t seq = 0;
    for (std::size_t n : {0, 999, 1000, 1001, 300000}) {
      SCOPED_TRACE(n);
      ++seq;
      const auto data = Pattern(n, static_cast<uint32_t>(n) + 7);
      std::vector<std::byte> got(n, std::byte{0xEE});
      SendRequest s = MakeSend(data, Coll(wire::OpKind::kAllGather, seq, n));
      RecvRequest r = MakeRecv(got, Coll(wire::OpKind::kAllGather, seq, n));
      p.a->post_send(&s);
      p.b->post_recv(&r);
      p.PumpUntil([&] { return s.done && r.done; });
      EXPECT_TRUE(SameBytes(got, data));
      // By reference: only the header and an 8-byte address went over the stream.
      EXPECT_EQ(s.written, sizeof(wire::FrameHeader) + (n >= 1000 ? 8 : n));
      EXPECT_FALSE(p.a->needs_peer());
      EXPECT_FALSE(p.b->has_pending_control());
    }
  }
}

TEST(ConnectionSingleCopyTest, SendCompletesOnlyAfterTheReceiverRead) {
  SingleCopyPair p(1);
  const auto data = Pattern(5000, 1);
  SendRequest s = MakeSend(data, Coll(wire::OpKind::kBroadcast, 1, 5000));
  p.a->post_send(&s);
  for (int i = 0; i < 10; ++i) {
    p.a->progress();
    p.b->progress();  // buffers the reference as unexpected: nothing is read yet
  }
  EXPECT_FALSE(s.done);
  EXPECT_TRUE(p.a->needs_peer());
  std::vector<std::byte> got(5000);
  RecvRequest r = MakeRecv(got, Coll(wire::OpKind::kBroadcast, 1, 5000));
  p.b->post_recv(&r);  // reads now, and queues the acknowledgement
  EXPECT_TRUE(r.done);
  p.PumpUntil([&] { return s.done; });
  EXPECT_TRUE(SameBytes(got, data));
}

TEST(ConnectionSingleCopyTest, ReduceFromRemoteMemoryLargerThanTheBounceBuffer) {
  SingleCopyPair p(1);
  const std::size_t n = 100000;  // 400 KB of float32: several 64 KiB staging rounds
  std::vector<float> incoming(n), local(n), out(n, -1.0f);
  for (std::size_t i = 0; i < n; ++i) {
    incoming[i] = static_cast<float>(i % 1000);
    local[i] = 0.5f * static_cast<float>(i % 7);
  }
  SendRequest s;
  s.data = reinterpret_cast<const std::byte*>(incoming.data());
  s.length = n * sizeof(float);
  s.what = Coll(wire::OpKind::kAllReduce, 3, n, DataType::kFloat32);
  RecvRequest r;
  r.dst = reinterpret_cast<std::byte*>(out.data());
  r.length = n * sizeof(float);
  r.reduce_with = reinterpret_cast<const std::byte*>(local.data());
  r.expect = Coll(wire::OpKind::kAllReduce, 3, n, DataType::kFloat32);
  p.b->post_recv(&r);
  p.a->post_send(&s);
  p.PumpUntil([&] { return s.done && r.done; });
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], incoming[i] + local[i]) << i;
}

TEST(ConnectionSingleCopyTest, MismatchIsReportedAndTheStreamStaysFramed) {
  SingleCopyPair p(1);
  const auto data = Pattern(4096, 2);
  std::vector<std::byte> got(4096);
  SendRequest s = MakeSend(data, Coll(wire::OpKind::kAllGather, 1, 4096));
  RecvRequest r = MakeRecv(got, Coll(wire::OpKind::kBroadcast, 1, 4096));
  p.b->post_recv(&r);
  p.a->post_send(&s);
  try {
    p.PumpUntil([&] { return r.done; });
    FAIL() << "expected a mismatch";
  } catch (const MismatchError& e) {
    EXPECT_NE(std::string(e.what()).find("different operation"), std::string::npos) << e.what();
  }
}

TEST(ConnectionSingleCopyTest, ReferenceToAReceiverWithoutSingleCopyIsAProtocolError) {
  Pair p;
  static_cast<StreamConnection&>(*p.a).enable_single_copy(getpid(), 1);  // only the sender
  const auto data = Pattern(100, 3);
  std::vector<std::byte> got(100);
  SendRequest s = MakeSend(data, Coll(wire::OpKind::kAllGather, 1, 100));
  RecvRequest r = MakeRecv(got, Coll(wire::OpKind::kAllGather, 1, 100));
  p.b->post_recv(&r);
  p.a->post_send(&s);
  try {
    p.PumpUntil([&] { return r.done; });
    FAIL() << "expected a protocol error";
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read its memory"), std::string::npos) << e.what();
  }
}

TEST(ConnectionSingleCopyTest, UnsolicitedReadDoneIsAProtocolError) {
  Pair p;
  wire::FrameHeader h{};
  h.kind = static_cast<uint8_t>(wire::FrameKind::kReadDone);
  h.comm_id = kCommId;
  h.msg_id = 42;
  wire::seal(h);
  p.InjectToB(&h, sizeof(h));
  EXPECT_THROW(p.b->progress(), ProtocolError);
}

TEST(ConnectionSingleCopyTest, ReadOfAnExitedProcessIsAPeerFailure) {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  waitpid(child, nullptr, 0);
  char buf[16];
  EXPECT_FALSE(cross_memory_probe(child, cross_memory_probe_address()));
  EXPECT_THROW(cross_memory_read(child, cross_memory_probe_address(), buf, sizeof(buf), "rank 9"),
               PeerFailureError);
}

// Flow control for early messages (RAILCC_MAX_UNEXPECTED_BYTES): a sender that runs far ahead of
// its receiver's posted receives fills the receiver's buffer only up to the limit; the rest waits
// in the stream, the sender's writes stall, and everything arrives intact once receives are
// posted, in order, over one stream or several.
class UnexpectedLimitTest : public ::testing::TestWithParam<int> {};

TEST_P(UnexpectedLimitTest, SenderFarAheadIsHeldBackAndNothingIsLost) {
  constexpr std::size_t kMsg = 10000;
  constexpr int kMsgs = 40;
  constexpr std::size_t kLimit = 3 * kMsg;  // three early messages may be buffered
  Pair p(GetParam(), StreamOptions{4096, SIZE_MAX, SIZE_MAX});
  auto* b = static_cast<StreamConnection*>(p.b.get());
  b->set_unexpected_limit(kLimit);
  std::vector<std::vector<std::byte>> data, got;
  std::vector<SendRequest> sends(kMsgs);
  for (int i = 0; i < kMsgs; ++i) {
    data.push_back(Pattern(kMsg, i));
    got.emplace_back(kMsg);
  }
  for (int i = 0; i < kMsgs; ++i) {
    sends[i] = MakeSend(data[i], Coll(wire::OpKind::kBroadcast, i + 1, kMsg));
    p.a->post_send(&sends[i]);
  }
  // No receive posted: pump until nothing moves. The receiver buffers at most the limit.
  std::size_t most = 0;
  for (int idle = 0; idle < 50;) {
    const bool moved = p.a->progress() | p.b->progress();
    most = std::max(most, b->unexpected_bytes());
    idle = moved ? 0 : idle + 1;
  }
  EXPECT_LE(most, kLimit);
  EXPECT_GT(most, 0u) << "early messages within the limit are still buffered";
  const int sent = static_cast<int>(
      std::count_if(sends.begin(), sends.end(), [](const SendRequest& r) { return r.done; }));
  EXPECT_LT(sent, kMsgs) << "the sender was not held back";
  // Receives posted in order one at a time, as ops would: each completes, the limit holds.
  std::vector<RecvRequest> recvs(kMsgs);
  for (int i = 0; i < kMsgs; ++i) {
    recvs[i] = MakeRecv(got[i], Coll(wire::OpKind::kBroadcast, i + 1, kMsg));
    p.b->post_recv(&recvs[i]);
    p.PumpUntil([&] {
      most = std::max(most, b->unexpected_bytes());
      return recvs[i].done;
    });
    ASSERT_TRUE(SameBytes(got[i], data[i])) << "message " << i;
  }
  p.PumpUntil([&] {
    return std::all_of(sends.begin(), sends.end(), [](const SendRequest& r) { return r.done; });
  });
  EXPECT_LE(most, kLimit);
  EXPECT_EQ(b->unexpected_bytes(), 0u);
}

TEST_P(UnexpectedLimitTest, ZeroLimitDeliversStraightFromTheStream) {
  constexpr std::size_t kMsg = 5000;
  Pair p(GetParam(), StreamOptions{1024, SIZE_MAX, SIZE_MAX});
  auto* b = static_cast<StreamConnection*>(p.b.get());
  b->set_unexpected_limit(0);
  auto data = Pattern(kMsg, 7);
  std::vector<std::byte> sum(kMsg, std::byte{1});
  SendRequest s = MakeSend(data, Coll(wire::OpKind::kAllReduce, 1, kMsg));
  p.a->post_send(&s);
  for (int i = 0; i < 20; ++i) {
    p.a->progress();
    p.b->progress();
  }
  EXPECT_EQ(b->unexpected_bytes(), 0u);
  EXPECT_FALSE(s.done);
  // Posted later as a reduction: it reduces straight out of the stream.
  std::vector<std::byte> out(kMsg);
  RecvRequest r = MakeRecv(out, Coll(wire::OpKind::kAllReduce, 1, kMsg));
  r.reduce_with = sum.data();
  p.b->post_recv(&r);
  p.PumpUntil([&] { return r.done && s.done; });
  for (std::size_t i = 0; i < kMsg; ++i) {
    ASSERT_EQ(out[i], static_cast<std::byte>(static_cast<uint8_t>(data[i]) + 1)) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Streams, UnexpectedLimitTest, ::testing::Values(1, 2, 3),
                         [](const auto& info) { return std::to_string(info.param) + "streams"; });

}  // namespace
}  // namespace railcc::transport
