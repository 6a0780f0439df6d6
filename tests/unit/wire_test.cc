// Tests for the 64-byte frame header (transport/wire_format.h): seal() makes a header that
// validate() accepts, and every corruption of it (any single byte, any field out of range,
// random bytes) is reported instead of accepted.

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>

#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"
#include "transport/wire_format.h"

namespace railcc::wire {
namespace {

FrameHeader DataFrame() {
  FrameHeader h{};
  h.kind = static_cast<uint8_t>(FrameKind::kData);
  h.op = static_cast<uint8_t>(OpKind::kAllReduce);
  h.dtype = static_cast<uint8_t>(DataType::kFloat32);
  h.redop = static_cast<uint8_t>(ReduceOp::kSum);
  h.root = -1;
  h.tag = 0;
  h.comm_id = 0x1234567890abcdefull;
  h.seq = 42;
  h.msg_id = 7;
  h.count = 1000;
  h.length = 4000;
  seal(h);
  return h;
}

FrameHeader ErrorFrame(uint64_t length) {
  FrameHeader h{};
  h.kind = static_cast<uint8_t>(FrameKind::kError);
  h.root = 3;
  h.tag = 4;
  h.comm_id = 1;
  h.length = length;
  seal(h);
  return h;
}

FrameHeader HelloFrame() {
  FrameHeader h{};
  h.kind = static_cast<uint8_t>(FrameKind::kHello);
  h.root = 1;
  h.seq = 0xfeedfacecafebeefull;  // job key
  h.msg_id = 2;                   // stream index
  seal(h);
  return h;
}

// Validation result as text ("" when valid).
std::string Problem(const FrameHeader& h) { return validate(h).value_or(""); }

bool Contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

TEST(WireTest, HeaderLayout) {
  EXPECT_EQ(sizeof(FrameHeader), 64u);
  EXPECT_EQ(offsetof(FrameHeader, magic), 0u);
  EXPECT_EQ(offsetof(FrameHeader, version), 4u);
  EXPECT_EQ(offsetof(FrameHeader, checksum), 20u);
  EXPECT_EQ(offsetof(FrameHeader, length), 56u);
}

TEST(WireTest, SealedHeadersValidate) {
  const FrameHeader d = DataFrame();
  EXPECT_EQ(d.magic, kMagic);
  EXPECT_EQ(d.version, kVersion);
  EXPECT_EQ(d.checksum, header_checksum(d));
  EXPECT_EQ(validate(d), std::nullopt) << Problem(d);
  EXPECT_EQ(validate(ErrorFrame(0)), std::nullopt);
  EXPECT_EQ(validate(ErrorFrame(100)), std::nullopt);
  EXPECT_EQ(validate(ErrorFrame(kMaxErrorPayload)), std::nullopt);
  EXPECT_EQ(validate(HelloFrame()), std::nullopt);
}

TEST(WireTest, EveryOpDtypeAndRedopOfADataFrameValidates) {
  for (int op = 0; op < static_cast<int>(OpKind::kCount_); ++op) {
    for (int t = 0; t < kNumDataTypes; ++t) {
      for (int r = 0; r < kNumReduceOps; ++r) {
        FrameHeader h = DataFrame();
        h.op = static_cast<uint8_t>(op);
        h.dtype = static_cast<uint8_t>(t);
        h.redop = static_cast<uint8_t>(r);
        seal(h);
        ASSERT_EQ(validate(h), std::nullopt) << op << " " << t << " " << r << ": " << Problem(h);
      }
    }
  }
}

TEST(WireTest, ChecksumIgnoresItsOwnFieldAndCoversTheRest) {
  FrameHeader h = DataFrame();
  const uint32_t sum = header_checksum(h);
  h.checksum ^= 0xffffffffu;
  EXPECT_EQ(header_checksum(h), sum);
  FrameHeader g = DataFrame();
  g.length += 1;
  EXPECT_NE(header_checksum(g), sum);
}

TEST(WireTest, EverySingleByteCorruptionIsCaught) {
  const FrameHeader kValid = DataFrame();
  for (std::size_t i = 0; i < sizeof(FrameHeader); ++i) {
    for (int mask = 1; mask < 256; ++mask) {
      FrameHeader h = kValid;
      reinterpret_cast<uint8_t*>(&h)[i] ^= static_cast<uint8_t>(mask);
      const auto problem = validate(h);
      ASSERT_TRUE(problem.has_value()) << "byte " << i << " ^ " << mask << " went unnoticed";
      if (i < 4) {
        ASSERT_TRUE(Contains(*problem, "magic")) << i << ": " << *problem;
      } else if (i == 4) {
        ASSERT_TRUE(Contains(*problem, "version")) << i << ": " << *problem;
      } else {
        ASSERT_TRUE(Contains(*problem, "checksum")) << i << ": " << *problem;
      }
    }
  }
}

TEST(WireTest, EverySingleByteCorruptionOfOtherKindsIsCaught) {
  for (const FrameHeader& valid : {ErrorFrame(17), HelloFrame()}) {
    for (std::size_t i = 0; i < sizeof(FrameHeader); ++i) {
      for (int mask = 1; mask < 256; mask += 3) {
        FrameHeader h = valid;
        reinterpret_cast<uint8_t*>(&h)[i] ^= static_cast<uint8_t>(mask);
        ASSERT_TRUE(validate(h).has_value()) << "byte " << i << " ^ " << mask;
      }
    }
  }
}

TEST(WireTest, BadMagic) {
  FrameHeader h = DataFrame();
  h.magic = 0x47455420;  // "GET "
  h.checksum = header_checksum(h);
  EXPECT_TRUE(Contains(Problem(h), "magic")) << Problem(h);
  h.magic = 0;
  h.checksum = header_checksum(h);
  EXPECT_TRUE(Contains(Problem(h), "magic")) << Problem(h);
}

TEST(WireTest, BadVersion) {
  for (int v : {0, 2, 255}) {
    FrameHeader h = DataFrame();
    h.version = static_cast<uint8_t>(v);
    h.checksum = header_checksum(h);  // a well-formed header of another version
    EXPECT_TRUE(Contains(Problem(h), "version")) << v << ": " << Problem(h);
  }
}

TEST(WireTest, BadChecksum) {
  FrameHeader h = DataFrame();
  h.checksum += 1;
  EXPECT_TRUE(Contains(Problem(h), "checksum")) << Problem(h);
  h = DataFrame();
  h.count = 999;  // changed after sealing
  EXPECT_TRUE(Contains(Problem(h), "checksum")) << Problem(h);
}

TEST(WireTest, KindOutOfRange) {
  for (int kind : {0, 10, 11, 128, 255}) {
    FrameHeader h = DataFrame();
    h.kind = static_cast<uint8_t>(kind);
    seal(h);
    EXPECT_TRUE(Contains(Problem(h), "kind")) << kind << ": " << Problem(h);
  }
}

TEST(WireTest, UnknownOp) {
  for (int op : {static_cast<int>(OpKind::kCount_), 13, 100, 255}) {
    FrameHeader h = DataFrame();
    h.op = static_cast<uint8_t>(op);
    seal(h);
    EXPECT_TRUE(Contains(Problem(h), "op")) << op << ": " << Problem(h);
  }
}

TEST(WireTest, BadDtypeOrRedopInADataFrame) {
  for (int t : {kNumDataTypes, 42, 255}) {
    FrameHeader h = DataFrame();
    h.dtype = static_cast<uint8_t>(t);
    seal(h);
    EXPECT_TRUE(Contains(Problem(h), "data type")) << t << ": " << Problem(h);
  }
  for (int r : {kNumReduceOps, 17, 255}) {
    FrameHeader h = DataFrame();
    h.redop = static_cast<uint8_t>(r);
    seal(h);
    EXPECT_TRUE(Contains(Problem(h), "reduce op")) << r << ": " << Problem(h);
  }
}

TEST(WireTest, DtypeAndRedopAreNotCheckedOutsideDataFrames) {
  FrameHeader h = ErrorFrame(10);
  h.dtype = 200;
  h.redop = 200;
  seal(h);
  EXPECT_EQ(validate(h), std::nullopt) << Problem(h);
}

TEST(WireTest, ErrorFrameTooLong) {
  for (uint64_t len : {kMaxErrorPayload + 1, uint64_t{1} << 20, ~uint64_t{0}}) {
    const FrameHeader h = ErrorFrame(len);
    EXPECT_TRUE(Contains(Problem(h), "too long")) << len << ": " << Problem(h);
  }
}

TEST(WireTest, HelloWithPayload) {
  for (uint64_t len : {uint64_t{1}, uint64_t{64}, ~uint64_t{0}}) {
    FrameHeader h = HelloFrame();
    h.length = len;
    seal(h);
    EXPECT_TRUE(Contains(Problem(h), "payload")) << len << ": " << Problem(h);
  }
}

// Re-creating a rail (kRedial): an Open carries the new end's data, bounded like an error's
// text; a Ready carries nothing; no other flag is known.
TEST(WireTest, RedialFrames) {
  auto redial = [](uint8_t flags, uint64_t length) {
    FrameHeader h{};
    h.kind = static_cast<uint8_t>(FrameKind::kRedial);
    h.flags = flags;
    h.seq = 2;    // epoch
    h.count = 1;  // rail
    h.length = length;
    seal(h);
    return h;
  };
  EXPECT_EQ(validate(redial(kRedialOpen, 80)), std::nullopt);
  EXPECT_EQ(validate(redial(kRedialReady, 0)), std::nullopt);
  for (const FrameHeader& h : {redial(kRedialOpen, kMaxErrorPayload + 1), redial(kRedialReady, 1),
                               redial(0, 0), redial(3, 0)}) {
    EXPECT_TRUE(Contains(Problem(h), "malformed rail redial frame")) << Problem(h);
  }
}

TEST(WireTest, RandomBuffersNeverValidate) {
  std::mt19937_64 rng(20240601);
  for (int i = 0; i < 10000; ++i) {
    FrameHeader h;
    for (std::size_t w = 0; w < sizeof(h) / 8; ++w) {
      const uint64_t v = rng();
      std::memcpy(reinterpret_cast<uint8_t*>(&h) + 8 * w, &v, 8);
    }
    ASSERT_TRUE(validate(h).has_value()) << "random buffer " << i << " validated";
  }
}

TEST(WireTest, RandomBuffersWithTheRightMagicAndVersionNeverValidate) {
  // Past the magic and version checks, the checksum must still reject them.
  std::mt19937_64 rng(77);
  for (int i = 0; i < 10000; ++i) {
    FrameHeader h;
    for (std::size_t w = 0; w < sizeof(h) / 8; ++w) {
      const uint64_t v = rng();
      std::memcpy(reinterpret_cast<uint8_t*>(&h) + 8 * w, &v, 8);
    }
    h.magic = kMagic;
    h.version = kVersion;
    const auto problem = validate(h);
    ASSERT_TRUE(problem.has_value()) << "random buffer " << i << " validated";
    ASSERT_TRUE(Contains(*problem, "checksum")) << *problem;
  }
}

TEST(WireTest, RandomSealedHeadersAreJudgedByTheirFields) {
  // With a correct checksum, only the field checks stand between random bytes and acceptance;
  // whatever they decide must agree with the documented rules.
  std::mt19937_64 rng(5);
  int accepted = 0;
  for (int i = 0; i < 10000; ++i) {
    FrameHeader h;
    for (std::size_t w = 0; w < sizeof(h) / 8; ++w) {
      const uint64_t v = rng();
      std::memcpy(reinterpret_cast<uint8_t*>(&h) + 8 * w, &v, 8);
    }
    h.kind = static_cast<uint8_t>(1 + rng() % 7);
    h.op = static_cast<uint8_t>(rng() % 16);
    h.dtype = static_cast<uint8_t>(rng() % 12);
    h.redop = static_cast<uint8_t>(rng() % 6);
    if (rng() % 2) h.length = rng() % 8192;
    seal(h);
    const bool op_ok = h.op < static_cast<uint8_t>(OpKind::kCount_);
    const bool data = h.kind == static_cast<uint8_t>(FrameKind::kData) ||
                      h.kind == static_cast<uint8_t>(FrameKind::kChunk) ||
                      h.kind == static_cast<uint8_t>(FrameKind::kRead);
    const bool types_ok = !data || (h.dtype < kNumDataTypes && h.redop < kNumReduceOps);
    const bool error_ok =
        h.kind != static_cast<uint8_t>(FrameKind::kError) || h.length <= kMaxErrorPayload;
    const bool hello_ok = h.kind != static_cast<uint8_t>(FrameKind::kHello) || h.length == 0;
    const bool done_ok = (h.kind != static_cast<uint8_t>(FrameKind::kReadDone) &&
                          h.kind != static_cast<uint8_t>(FrameKind::kAck)) ||
                         h.length == 0;
    const bool expect_ok = op_ok && types_ok && error_ok && hello_ok && done_ok;
    ASSERT_EQ(!validate(h).has_value(), expect_ok) << i << ": " << Problem(h);
    accepted += expect_ok;
  }
  EXPECT_GT(accepted, 0);
}

TEST(WireTest, OpKindNames) {
  std::set<std::string> names;
  for (int op = 0; op < static_cast<int>(OpKind::kCount_); ++op) {
    const std::string name = op_kind_name(static_cast<OpKind>(op));
    EXPECT_NE(name, "unknown") << op;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(OpKind::kCount_));
  EXPECT_STREQ(op_kind_name(OpKind::kAllReduce), "all_reduce");
  EXPECT_STREQ(op_kind_name(OpKind::kCount_), "unknown");
  EXPECT_STREQ(op_kind_name(static_cast<OpKind>(200)), "unknown");
}

}  // namespace
}  // namespace railcc::wire
