// Tests for the CPU reduction kernels (kernels/cpu/reduce.h).
//
// The SIMD kernels are checked against the scalar reference on every Highway target compiled in
// and supported by this CPU (hwy::SetSupportedTargetsForTest forces the dispatch), and the
// reference and conversions are checked against independently computed values.

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/copy.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cpu/reduce_internal.h"

namespace railcc::kernels {
namespace {

constexpr std::size_t kCounts[] = {0, 1, 2, 3, 7, 15, 16, 17, 31, 63, 64, 65, 127, 1000, 4097};

std::size_t ElemSize(DataType t) { return data_type_size(t); }
const char* TypeName(DataType t) { return data_type_name(t); }
const char* OpName(ReduceOp op) { return reduce_op_name(op); }

bool IsFloatType(DataType t) {
  return t == DataType::kFloat16 || t == DataType::kFloat32 || t == DataType::kFloat64 ||
         t == DataType::kBFloat16;
}

template <typename T>
T Bits(const void* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

bool IsHalfNaN(uint16_t h) { return (h & 0x7FFF) > 0x7C00; }
bool IsBF16NaN(uint16_t b) { return (b & 0x7FFF) > 0x7F80; }
uint32_t FloatBits(float f) { return Bits<uint32_t>(&f); }
float FloatFromBits(uint32_t u) { return Bits<float>(&u); }

// Whether one element is NaN, for the float types.
bool ElemIsNaN(DataType t, const uint8_t* p) {
  switch (t) {
    case DataType::kFloat16:
      return IsHalfNaN(Bits<uint16_t>(p));
    case DataType::kBFloat16:
      return IsBF16NaN(Bits<uint16_t>(p));
    case DataType::kFloat32:
      return std::isnan(Bits<float>(p));
    case DataType::kFloat64:
      return std::isnan(Bits<double>(p));
    default:
      return false;
  }
}

std::string ElemToString(DataType t, const uint8_t* p) {
  char buf[64];
  switch (t) {
    case DataType::kInt8:
      return std::to_string(Bits<int8_t>(p));
    case DataType::kUint8:
      return std::to_string(Bits<uint8_t>(p));
    case DataType::kInt32:
      return std::to_string(Bits<int32_t>(p));
    case DataType::kUint32:
      return std::to_string(Bits<uint32_t>(p));
    case DataType::kInt64:
      return std::to_string(Bits<int64_t>(p));
    case DataType::kUint64:
      return std::to_string(Bits<uint64_t>(p));
    case DataType::kFloat16:
      std::snprintf(buf, sizeof(buf), "0x%04x (%g)", Bits<uint16_t>(p),
                    half_to_float(Bits<uint16_t>(p)));
      return buf;
    case DataType::kBFloat16:
      std::snprintf(buf, sizeof(buf), "0x%04x (%g)", Bits<uint16_t>(p),
                    bfloat16_to_float(Bits<uint16_t>(p)));
      return buf;
    case DataType::kFloat32:
      std::snprintf(buf, sizeof(buf), "0x%08x (%g)", Bits<uint32_t>(p), Bits<float>(p));
      return buf;
    case DataType::kFloat64:
      std::snprintf(buf, sizeof(buf), "%.17g", Bits<double>(p));
      return buf;
  }
  return "?";
}

// Element-wise equality: identical bits, except that any NaN equals any NaN (the contract only
// promises a NaN, and NaN payloads from x86 arithmetic depend on operand order).
::testing::AssertionResult SameElements(DataType t, const uint8_t* got, const uint8_t* want,
                                        std::size_t count) {
  const std::size_t size = ElemSize(t);
  for (std::size_t i = 0; i < count; ++i) {
    const uint8_t* g = got + i * size;
    const uint8_t* w = want + i * size;
    if (std::memcmp(g, w, size) == 0) continue;
    if (IsFloatType(t) && ElemIsNaN(t, g) && ElemIsNaN(t, w)) continue;
    return ::testing::AssertionFailure()
           << TypeName(t) << " element " << i << " of " << count << ": got " << ElemToString(t, g)
           << ", want " << ElemToString(t, w);
  }
  return ::testing::AssertionSuccess();
}

// Random inputs: arbitrary bit patterns (all the NaNs, infs, subnormals and overflows), mixed
// with ordinary values so that sums and products are mostly meaningful too.
void FillRandom(DataType t, uint8_t* p, std::size_t count, std::mt19937_64& rng) {
  const std::size_t size = ElemSize(t);
  std::uniform_real_distribution<double> nice(-100.0, 100.0);
  for (std::size_t i = 0; i < count; ++i) {
    uint8_t* e = p + i * size;
    const uint64_t r = rng();
    const bool random_bits = !IsFloatType(t) || (r & 3) == 0;
    if (random_bits) {
      const uint64_t bits = rng();
      std::memcpy(e, &bits, size);
      continue;
    }
    const double v = nice(rng);
    switch (t) {
      case DataType::kFloat16: {
        const uint16_t h = float_to_half(static_cast<float>(v / 16));
        std::memcpy(e, &h, 2);
        break;
      }
      case DataType::kBFloat16: {
        const uint16_t b = float_to_bfloat16(static_cast<float>(v));
        std::memcpy(e, &b, 2);
        break;
      }
      case DataType::kFloat32: {
        const float f = static_cast<float>(v);
        std::memcpy(e, &f, 4);
        break;
      }
      default:
        std::memcpy(e, &v, 8);
        break;
    }
  }
}

std::vector<int64_t> TargetsToTest() {
  std::vector<int64_t> targets;
  const uint64_t have =
      static_cast<uint64_t>(hwy::SupportedTargets() & internal::compiled_targets());
  for (uint64_t bits = have; bits != 0; bits &= bits - 1) {
    targets.push_back(static_cast<int64_t>(bits & (~bits + 1)));
  }
  return targets;
}

// Runs each test once per target: the mock makes HWY_DYNAMIC_DISPATCH pick exactly that one.
class KernelsTest : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override { hwy::SetSupportedTargetsForTest(GetParam()); }
  void TearDown() override { hwy::SetSupportedTargetsForTest(0); }

  // reduce() vs reduce_scalar() with the given element offsets (in bytes) of out, a and b from a
  // 64-byte aligned base, checking that no byte outside out[0, count) is written.
  void CheckAgainstReference(DataType t, ReduceOp op, std::size_t count, std::size_t out_off,
                             std::size_t a_off, std::size_t b_off, uint64_t seed) {
    constexpr std::size_t kGuard = 64;
    constexpr uint8_t kFill = 0xA5;
    const std::size_t bytes = count * ElemSize(t);
    std::mt19937_64 rng(seed);
    std::vector<uint8_t> a(bytes + 2 * kGuard), b(bytes + 2 * kGuard);
    std::vector<uint8_t> out(bytes + 2 * kGuard, kFill), want(bytes + 1);
    FillRandom(t, a.data() + kGuard + a_off, count, rng);
    FillRandom(t, b.data() + kGuard + b_off, count, rng);
    uint8_t* o = out.data() + kGuard + out_off;
    const uint8_t* pa = a.data() + kGuard + a_off;
    const uint8_t* pb = b.data() + kGuard + b_off;
    reduce_scalar(want.data(), pa, pb, count, t, op);
    reduce(o, pa, pb, count, t, op);
    EXPECT_TRUE(SameElements(t, o, want.data(), count))
        << OpName(op) << " offsets " << out_off << "," << a_off << "," << b_off;
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (o <= &out[i] && &out[i] < o + bytes) continue;
      ASSERT_EQ(out[i], kFill) << TypeName(t) << " " << OpName(op) << " count " << count
                               << ": byte " << i << " outside the output was written";
    }
  }
};

std::string TargetParamName(const ::testing::TestParamInfo<int64_t>& info) {
  return hwy::TargetName(info.param);
}

INSTANTIATE_TEST_SUITE_P(Targets, KernelsTest, ::testing::ValuesIn(TargetsToTest()),
                         TargetParamName);

// Every length around the 16-byte alignment and 64-byte block edges, from every source and
// destination offset: exact bytes, nothing written outside.
TEST(CopyStreamingTest, CopiesExactlyAtEveryAlignment) {
  std::vector<unsigned char> src(600), dst(700);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 7 + 1);
  for (std::size_t n : {0u, 1u, 15u, 16u, 63u, 64u, 79u, 80u, 95u, 127u, 128u, 129u, 500u}) {
    for (std::size_t so = 0; so < 17; so += 3) {
      for (std::size_t d_off = 0; d_off < 17; ++d_off) {
        std::fill(dst.begin(), dst.end(), 0xEE);
        copy_streaming(dst.data() + d_off, src.data() + so, n);
        ASSERT_EQ(std::memcmp(dst.data() + d_off, src.data() + so, n), 0)
            << "n " << n << " src+" << so << " dst+" << d_off;
        for (std::size_t i = 0; i < d_off; ++i) ASSERT_EQ(dst[i], 0xEE);
        for (std::size_t i = d_off + n; i < dst.size(); ++i) ASSERT_EQ(dst[i], 0xEE);
      }
    }
  }
}

TEST(KernelsDispatchTest, UsesBestSupportedTarget) {
  const uint64_t have =
      static_cast<uint64_t>(hwy::SupportedTargets() & internal::compiled_targets());
  ASSERT_NE(have, 0u);
  const int64_t best = static_cast<int64_t>(have & (~have + 1));  // lower bit = better target
  EXPECT_STREQ(simd_target_name(), hwy::TargetName(best));
  std::printf("kernels dispatch to %s\n", simd_target_name());
}

TEST_P(KernelsTest, DispatchesToTheTargetUnderTest) {
  EXPECT_STREQ(simd_target_name(), hwy::TargetName(GetParam()));
}

TEST_P(KernelsTest, MatchesReferenceForAllTypesOpsAndCounts) {
  uint64_t seed = 1;
  for (DataType t : kAllDataTypes) {
    const std::size_t size = ElemSize(t);
    for (ReduceOp op : kAllReduceOps) {
      for (std::size_t count : kCounts) {
        SCOPED_TRACE(std::string(TypeName(t)) + " " + OpName(op) + " count " +
                     std::to_string(count));
        CheckAgainstReference(t, op, count, 0, 0, 0, ++seed);
        // Whole elements off the 64-byte alignment, each pointer differently.
        CheckAgainstReference(t, op, count, size, 3 * size, 2 * size, ++seed);
        // Not even aligned to the element size.
        CheckAgainstReference(t, op, count, 1, 3, 5, ++seed);
      }
    }
  }
}

TEST_P(KernelsTest, ZeroCountTouchesNothing) {
  for (DataType t : kAllDataTypes) {
    for (ReduceOp op : kAllReduceOps) reduce(nullptr, nullptr, nullptr, 0, t, op);
    divide(nullptr, nullptr, 0, t, 3);
  }
  uint64_t canary = 0x0123456789ABCDEF;
  const uint64_t one = 1;
  reduce(&canary, &one, &one, 0, DataType::kUint64, ReduceOp::kSum);
  EXPECT_EQ(canary, 0x0123456789ABCDEFu);
}

TEST_P(KernelsTest, InPlaceAliasing) {
  std::mt19937_64 rng(7);
  for (DataType t : kAllDataTypes) {
    const std::size_t size = ElemSize(t);
    for (ReduceOp op : kAllReduceOps) {
      for (std::size_t count : {std::size_t{17}, std::size_t{1000}, std::size_t{4097}}) {
        SCOPED_TRACE(std::string(TypeName(t)) + " " + OpName(op) + " count " +
                     std::to_string(count));
        const std::size_t bytes = count * size;
        std::vector<uint8_t> a(bytes), b(bytes), want(bytes);
        FillRandom(t, a.data(), count, rng);
        FillRandom(t, b.data(), count, rng);

        std::vector<uint8_t> buf = a;  // out == a
        reduce_scalar(want.data(), a.data(), b.data(), count, t, op);
        reduce(buf.data(), buf.data(), b.data(), count, t, op);
        EXPECT_TRUE(SameElements(t, buf.data(), want.data(), count)) << "out == a";

        buf = b;  // out == b
        reduce(buf.data(), a.data(), buf.data(), count, t, op);
        EXPECT_TRUE(SameElements(t, buf.data(), want.data(), count)) << "out == b";

        buf = a;  // out == a == b
        reduce_scalar(want.data(), a.data(), a.data(), count, t, op);
        reduce(buf.data(), buf.data(), buf.data(), count, t, op);
        EXPECT_TRUE(SameElements(t, buf.data(), want.data(), count)) << "out == a == b";

        // Misaligned in-place, as a reduction into a packed byte buffer would be.
        std::vector<uint8_t> odd(bytes + 1);
        std::memcpy(odd.data() + 1, a.data(), bytes);
        reduce_scalar(want.data(), a.data(), b.data(), count, t, op);
        reduce(odd.data() + 1, odd.data() + 1, b.data(), count, t, op);
        EXPECT_TRUE(SameElements(t, odd.data() + 1, want.data(), count)) << "misaligned out == a";
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// NaN and infinity

// Per type: encodings of NaN (quiet and signaling), +inf, -inf, and a few finite values.
struct FloatSpecials {
  DataType type;
  std::vector<uint64_t> nans;
  uint64_t inf;
  uint64_t neg_inf;
  std::vector<uint64_t> finite;
};

std::vector<FloatSpecials> AllFloatSpecials() {
  return {
      {DataType::kFloat16,
       {0x7E00, 0x7C01, 0xFE00, 0x7FFF},
       0x7C00,
       0xFC00,
       {0x3C00, 0xC000, 0x0001, 0x8000, 0x7BFF}},
      {DataType::kBFloat16,
       {0x7FC0, 0x7F81, 0xFFC0, 0x7FFF},
       0x7F80,
       0xFF80,
       {0x3F80, 0xC000, 0x0001, 0x8000, 0x7F7F}},
      {DataType::kFloat32,
       {0x7FC00000, 0x7F800001, 0xFFC00000, 0x7FFFFFFF},
       0x7F800000,
       0xFF800000,
       {0x3F800000, 0xC0000000, 0x00000001, 0x80000000, 0x7F7FFFFF}},
      {DataType::kFloat64,
       {0x7FF8000000000000, 0x7FF0000000000001, 0xFFF8000000000000},
       0x7FF0000000000000,
       0xFFF0000000000000,
       {0x3FF0000000000000, 0xC000000000000000, 0x1, 0x8000000000000000, 0x7FEFFFFFFFFFFFFF}},
  };
}

void PutElem(std::vector<uint8_t>& buf, DataType t, std::size_t i, uint64_t bits) {
  std::memcpy(buf.data() + i * ElemSize(t), &bits, ElemSize(t));  // little-endian
}

TEST_P(KernelsTest, NaNInEitherInputPropagates) {
  for (const FloatSpecials& s : AllFloatSpecials()) {
    const DataType t = s.type;
    for (ReduceOp op : kAllReduceOps) {
      SCOPED_TRACE(std::string(TypeName(t)) + " " + OpName(op));
      // NaN in a only, in b only, in both, and nowhere, cycling through all NaN encodings and
      // finite partners, at positions that hit the vector body and the tail.
      const std::size_t count = 203;
      std::vector<uint8_t> a(count * ElemSize(t)), b(a.size()), out(a.size());
      std::vector<bool> expect_nan(count);
      for (std::size_t i = 0; i < count; ++i) {
        const uint64_t nan = s.nans[i % s.nans.size()];
        const uint64_t fin_a = s.finite[i % s.finite.size()];
        const uint64_t fin_b = s.finite[(i / 4) % s.finite.size()];
        const int pattern = static_cast<int>(i % 4);
        PutElem(a, t, i, pattern == 0 || pattern == 2 ? nan : fin_a);
        PutElem(b, t, i, pattern == 1 || pattern == 2 ? nan : fin_b);
        expect_nan[i] = pattern != 3;
      }
      reduce(out.data(), a.data(), b.data(), count, t, op);
      for (std::size_t i = 0; i < count; ++i) {
        const bool is_nan = ElemIsNaN(t, out.data() + i * ElemSize(t));
        if (expect_nan[i]) {
          EXPECT_TRUE(is_nan) << "element " << i << " = "
                              << ElemToString(t, out.data() + i * ElemSize(t));
        } else {
          EXPECT_FALSE(is_nan) << "element " << i;
        }
      }
    }
  }
}

TEST_P(KernelsTest, InfinitiesBehave) {
  for (const FloatSpecials& s : AllFloatSpecials()) {
    const DataType t = s.type;
    SCOPED_TRACE(TypeName(t));
    const std::size_t count = 37;
    const std::size_t size = ElemSize(t);
    std::vector<uint8_t> inf(count * size), neg_inf(inf.size()), fin(inf.size()), out(inf.size());
    for (std::size_t i = 0; i < count; ++i) {
      PutElem(inf, t, i, s.inf);
      PutElem(neg_inf, t, i, s.neg_inf);
      PutElem(fin, t, i, s.finite[i % s.finite.size()]);
    }
    auto expect_all = [&](uint64_t bits, const char* what) {
      for (std::size_t i = 0; i < count; ++i) {
        uint64_t got = 0;
        std::memcpy(&got, out.data() + i * size, size);
        EXPECT_EQ(got, bits) << what << " element " << i;
      }
    };
    auto expect_all_nan = [&](const char* what) {
      for (std::size_t i = 0; i < count; ++i) {
        EXPECT_TRUE(ElemIsNaN(t, out.data() + i * size)) << what << " element " << i;
      }
    };
    reduce(out.data(), inf.data(), fin.data(), count, t, ReduceOp::kMax);
    expect_all(s.inf, "max(inf, x)");
    reduce(out.data(), fin.data(), neg_inf.data(), count, t, ReduceOp::kMin);
    expect_all(s.neg_inf, "min(x, -inf)");
    reduce(out.data(), fin.data(), inf.data(), count, t, ReduceOp::kSum);
    expect_all(s.inf, "x + inf");
    reduce(out.data(), inf.data(), neg_inf.data(), count, t, ReduceOp::kSum);
    expect_all_nan("inf + -inf");
    reduce(out.data(), neg_inf.data(), inf.data(), count, t, ReduceOp::kProd);
    expect_all(s.neg_inf, "-inf * inf");
    reduce(out.data(), inf.data(), neg_inf.data(), count, t, ReduceOp::kMax);
    expect_all(s.inf, "max(inf, -inf)");
    reduce(out.data(), inf.data(), neg_inf.data(), count, t, ReduceOp::kMin);
    expect_all(s.neg_inf, "min(inf, -inf)");
  }
}

// max(-0, +0) and friends: the kernels follow `a > b ? a : b` exactly, like the reference.
TEST_P(KernelsTest, SignedZerosMatchReference) {
  for (const FloatSpecials& s : AllFloatSpecials()) {
    const DataType t = s.type;
    const uint64_t neg_zero = s.finite[3];  // -0
    const std::size_t count = 67;
    std::vector<uint8_t> a(count * ElemSize(t)), b(a.size()), out(a.size()), want(a.size());
    for (std::size_t i = 0; i < count; ++i) {
      PutElem(a, t, i, i % 2 ? neg_zero : 0);
      PutElem(b, t, i, (i / 2) % 2 ? neg_zero : 0);
    }
    for (ReduceOp op : kAllReduceOps) {
      reduce(out.data(), a.data(), b.data(), count, t, op);
      reduce_scalar(want.data(), a.data(), b.data(), count, t, op);
      EXPECT_TRUE(SameElements(t, out.data(), want.data(), count)) << OpName(op);  // no NaNs
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Integer wrap-around

template <typename T>
std::vector<T> Reduced(T x, T y, ReduceOp op, DataType t, std::size_t count = 37) {
  std::vector<T> a(count, x), b(count, y), out(count);
  reduce(out.data(), a.data(), b.data(), count, t, op);
  return out;
}

template <typename T>
void ExpectAll(const std::vector<T>& v, T want, const char* what) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    ASSERT_EQ(v[i], want) << what << " element " << i;
  }
}

TEST_P(KernelsTest, IntegersWrapOnOverflow) {
  using I8 = std::numeric_limits<int8_t>;
  using I32 = std::numeric_limits<int32_t>;
  using I64 = std::numeric_limits<int64_t>;
  constexpr DataType kI8 = DataType::kInt8, kU8 = DataType::kUint8, kI32 = DataType::kInt32,
                     kU32 = DataType::kUint32, kI64 = DataType::kInt64, kU64 = DataType::kUint64;
  constexpr ReduceOp kSum = ReduceOp::kSum, kProd = ReduceOp::kProd, kAvg = ReduceOp::kAvg;

  ExpectAll(Reduced<int8_t>(127, 1, kSum, kI8), int8_t{-128}, "int8 127 + 1");
  ExpectAll(Reduced<int8_t>(-128, -1, kSum, kI8), int8_t{127}, "int8 -128 + -1");
  ExpectAll(Reduced<int8_t>(127, 1, kAvg, kI8), int8_t{-128}, "int8 avg sums");
  ExpectAll(Reduced<uint8_t>(255, 1, kSum, kU8), uint8_t{0}, "uint8 255 + 1");
  ExpectAll(Reduced<int32_t>(I32::max(), 1, kSum, kI32), I32::min(), "int32 max + 1");
  ExpectAll(Reduced<uint32_t>(0xFFFFFFFFu, 1, kSum, kU32), 0u, "uint32 max + 1");
  ExpectAll(Reduced<int64_t>(I64::max(), 1, kSum, kI64), I64::min(), "int64 max + 1");
  ExpectAll(Reduced<uint64_t>(~uint64_t{0}, 2, kSum, kU64), uint64_t{1}, "uint64 max + 2");

  ExpectAll(Reduced<int8_t>(I8::min(), -1, kProd, kI8), I8::min(), "int8 -128 * -1");
  ExpectAll(Reduced<int8_t>(16, 8, kProd, kI8), int8_t{-128}, "int8 16 * 8");
  ExpectAll(Reduced<int8_t>(-3, 7, kProd, kI8), int8_t{-21}, "int8 -3 * 7");
  ExpectAll(Reduced<uint8_t>(16, 16, kProd, kU8), uint8_t{0}, "uint8 16 * 16");
  ExpectAll(Reduced<uint8_t>(255, 255, kProd, kU8), uint8_t{1}, "uint8 255 * 255");
  ExpectAll(Reduced<uint8_t>(13, 11, kProd, kU8), uint8_t{143}, "uint8 13 * 11");
  ExpectAll(Reduced<int32_t>(65536, 65536, kProd, kI32), 0, "int32 2^16 * 2^16");
  ExpectAll(Reduced<int32_t>(46341, 46341, kProd, kI32), int32_t{-2147479015}, "int32 46341^2");
  ExpectAll(Reduced<int32_t>(I32::min(), -1, kProd, kI32), I32::min(), "int32 min * -1");
  ExpectAll(Reduced<uint32_t>(0x10001u, 0x10001u, kProd, kU32), 0x20001u, "uint32 0x10001^2");
  ExpectAll(Reduced<uint64_t>(uint64_t{1} << 32, uint64_t{1} << 32, kProd, kU64), uint64_t{0},
            "uint64 2^32 * 2^32");
  ExpectAll(Reduced<int64_t>((int64_t{1} << 62) + 1, 4, kProd, kI64), int64_t{4},
            "int64 (2^62 + 1) * 4");
  ExpectAll(Reduced<int64_t>(I64::min(), -1, kProd, kI64), I64::min(), "int64 min * -1");
  ExpectAll(Reduced<int64_t>(-3, 0x123456789, kProd, kI64), int64_t{-3 * 0x123456789LL},
            "int64 -3 * 0x123456789");
  ExpectAll(Reduced<uint64_t>(0xFFFFFFFF00000001u, 0xFFFFFFFF00000001u, kProd, kU64),
            uint64_t{0xFFFFFFFE00000001u}, "uint64 (2^64 - 2^32 + 1)^2");

  // Signed and unsigned comparisons differ on the same bits.
  ExpectAll(Reduced<int8_t>(-1, 1, ReduceOp::kMax, kI8), int8_t{1}, "int8 max(-1, 1)");
  ExpectAll(Reduced<uint8_t>(0xFF, 1, ReduceOp::kMax, kU8), uint8_t{0xFF}, "uint8 max");
  ExpectAll(Reduced<int32_t>(-1, 1, ReduceOp::kMin, kI32), -1, "int32 min(-1, 1)");
  ExpectAll(Reduced<uint32_t>(0xFFFFFFFFu, 1, ReduceOp::kMin, kU32), 1u, "uint32 min");
  ExpectAll(Reduced<int64_t>(I64::min(), I64::max(), ReduceOp::kMax, kI64), I64::max(),
            "int64 max");
  ExpectAll(Reduced<int64_t>(-1, 1, ReduceOp::kMin, kI64), int64_t{-1}, "int64 min(-1, 1)");
  ExpectAll(Reduced<uint64_t>(~uint64_t{0}, 1, ReduceOp::kMax, kU64), ~uint64_t{0}, "uint64 max");
  ExpectAll(Reduced<uint64_t>(~uint64_t{0}, 1, ReduceOp::kMin, kU64), uint64_t{1}, "uint64 min");
}

// ---------------------------------------------------------------------------------------------
// float16 / bfloat16 rounding through reduce()

TEST_P(KernelsTest, HalfRoundingCases) {
  struct Case {
    uint16_t a, b;
    ReduceOp op;
    uint16_t want;
    const char* what;
  };
  const Case kCases[] = {
      {0x3C00, 0x1000, ReduceOp::kSum, 0x3C00, "1 + 2^-11: tie, stays even"},
      {0x3C01, 0x1000, ReduceOp::kSum, 0x3C02, "(1 + 2^-10) + 2^-11: tie, rounds up to even"},
      {0x3C00, 0x1001, ReduceOp::kSum, 0x3C01, "just above the tie rounds up"},
      {0x7BFF, 0x4C00, ReduceOp::kSum, 0x7C00, "65504 + 16: tie, rounds to inf"},
      {0x7BFF, 0x4800, ReduceOp::kSum, 0x7BFF, "65504 + 8 stays"},
      {0x5CB0, 0x5CB0, ReduceOp::kProd, 0x7C00, "300 * 300 overflows"},
      {0xDCB0, 0x5CB0, ReduceOp::kProd, 0xFC00, "-300 * 300 overflows to -inf"},
      {0x0001, 0x3800, ReduceOp::kProd, 0x0000, "2^-24 * 0.5: tie, to zero"},
      {0x0003, 0x3800, ReduceOp::kProd, 0x0002, "3 * 2^-24 * 0.5: tie, to even 2"},
      {0x0005, 0x3800, ReduceOp::kProd, 0x0002, "5 * 2^-24 * 0.5: tie, to even 2"},
      {0x0001, 0x3A00, ReduceOp::kProd, 0x0001, "2^-24 * 0.75 rounds up"},
      {0x0001, 0x3400, ReduceOp::kProd, 0x0000, "2^-24 * 0.25 underflows"},
      {0x8001, 0x3400, ReduceOp::kProd, 0x8000, "-2^-24 * 0.25 gives -0"},
      {0x0001, 0x0001, ReduceOp::kSum, 0x0002, "subnormal sum"},
      {0x03FF, 0x0001, ReduceOp::kSum, 0x0400, "subnormal sum reaches the smallest normal"},
      {0x0400, 0x8001, ReduceOp::kSum, 0x03FF, "smallest normal minus 2^-24 is subnormal"},
      {0x0001, 0x0002, ReduceOp::kMax, 0x0002, "subnormal max"},
      {0x8001, 0x0001, ReduceOp::kMin, 0x8001, "subnormal min"},
  };
  for (const Case& c : kCases) {
    const std::vector<uint16_t> out = Reduced<uint16_t>(c.a, c.b, c.op, DataType::kFloat16);
    ExpectAll(out, c.want, c.what);
  }
}

TEST_P(KernelsTest, BFloat16RoundingCases) {
  struct Case {
    uint16_t a, b;
    ReduceOp op;
    uint16_t want;
    const char* what;
  };
  const Case kCases[] = {
      {0x3F80, 0x3B80, ReduceOp::kSum, 0x3F80, "1 + 2^-8: tie, stays even"},
      {0x3F81, 0x3B80, ReduceOp::kSum, 0x3F82, "(1 + 2^-7) + 2^-8: tie, rounds up to even"},
      {0x3F80, 0x3B81, ReduceOp::kSum, 0x3F81, "just above the tie rounds up"},
      {0x3F80, 0x3B00, ReduceOp::kSum, 0x3F80, "below the tie rounds down"},
      {0x7F7F, 0x7F7F, ReduceOp::kSum, 0x7F80, "max + max overflows"},
      {0x7F7F, 0x7B00, ReduceOp::kSum, 0x7F80, "max + half an ulp (2^119): tie, to even inf"},
      {0xFF7F, 0xFF7F, ReduceOp::kSum, 0xFF80, "-max + -max overflows to -inf"},
      {0x0001, 0x3F00, ReduceOp::kProd, 0x0000, "smallest subnormal * 0.5: tie, to zero"},
      {0x0003, 0x3F00, ReduceOp::kProd, 0x0002, "3 * smallest * 0.5: tie, to even"},
      {0x0001, 0x0001, ReduceOp::kSum, 0x0002, "subnormal sum"},
      {0x007F, 0x0001, ReduceOp::kSum, 0x0080, "subnormal sum reaches the smallest normal"},
      {0x3FC0, 0x4040, ReduceOp::kProd, 0x4090, "1.5 * 3 = 4.5, exact"},
  };
  for (const Case& c : kCases) {
    const std::vector<uint16_t> out = Reduced<uint16_t>(c.a, c.b, c.op, DataType::kBFloat16);
    ExpectAll(out, c.want, c.what);
  }
}

// x + k/4 ulp(x) for every positive x whose quarter ulp is representable: a quarter rounds down,
// half an ulp is a tie (to even), three quarters round up. The sums are exact in float32, so this
// checks round-to-nearest-even of the narrowing in isolation, with the expected bits worked out
// independently of any conversion code. mant_bits: 10 (half) or 7 (bfloat16).
// bias: the exponent bias, 15 or 127.
void CheckTieSweep(DataType t, int mant_bits, int bias, int min_exp, int max_exp,
                   float (*to_float)(uint16_t), uint16_t (*from_float)(float)) {
  std::vector<uint16_t> x, delta, want;
  for (int e = min_exp; e <= max_exp; ++e) {
    for (uint16_t m = 0; m < (1u << mant_bits); ++m) {
      const uint16_t h = static_cast<uint16_t>((e << mant_bits) | m);
      const float ulp = std::ldexp(1.0f, e - bias - mant_bits);
      for (int quarters = 1; quarters <= 3; ++quarters) {
        const uint16_t d = from_float(ulp * 0.25f * static_cast<float>(quarters));
        ASSERT_EQ(to_float(d), ulp * 0.25f * static_cast<float>(quarters));  // representable
        const bool up = quarters == 3 || (quarters == 2 && (m & 1));
        for (const uint16_t sign : {uint16_t{0}, uint16_t{0x8000}}) {
          x.push_back(h | sign);
          delta.push_back(d | sign);
          want.push_back(static_cast<uint16_t>((h + (up ? 1 : 0)) | sign));
        }
      }
    }
  }
  std::vector<uint16_t> out(x.size());
  reduce(out.data(), x.data(), delta.data(), x.size(), t, ReduceOp::kSum);
  for (std::size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(out[i], want[i]) << TypeName(t) << " 0x" << std::hex << x[i] << " + 0x" << delta[i];
  }
}

TEST_P(KernelsTest, HalfTiesToEvenSweep) {
  // Exponent field 3 is the first whose quarter ulp (2^-24) is representable; at 30 the top
  // mantissa rounds up to inf.
  CheckTieSweep(DataType::kFloat16, 10, 15, 3, 30, half_to_float, float_to_half);
}

TEST_P(KernelsTest, BFloat16TiesToEvenSweep) {
  CheckTieSweep(DataType::kBFloat16, 7, 127, 10, 254, bfloat16_to_float, float_to_bfloat16);
}

// ---------------------------------------------------------------------------------------------
// Conversions

// Independent float16 oracle: the value of every finite half, computed in double.
double HalfValue(uint16_t h) {
  const int e = (h >> 10) & 0x1F;
  const int m = h & 0x3FF;
  const double v = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
  return (h & 0x8000) ? -v : v;
}

// Round-to-nearest-even float -> half by searching the sorted positive halves.
uint16_t HalfOracle(float f) {
  if (std::isnan(f)) return 0x7E00;  // only NaN-ness is compared
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  const double x = std::fabs(static_cast<double>(f));
  // 65520 is the tie between 65504 and 2^16 (which would be next): even is 2^16, i.e. inf.
  if (x >= 65520.0) return static_cast<uint16_t>(sign | 0x7C00);
  uint16_t lo = 0, hi = 0x7BFF;  // the largest half <= x is in [lo, hi]
  while (lo < hi) {
    const uint16_t mid = static_cast<uint16_t>((lo + hi + 1) / 2);
    if (HalfValue(mid) <= x) {
      lo = mid;
    } else {
      hi = static_cast<uint16_t>(mid - 1);
    }
  }
  const double below = HalfValue(lo);
  if (below == x || lo == 0x7BFF) return static_cast<uint16_t>(sign | lo);
  const double above = HalfValue(static_cast<uint16_t>(lo + 1));
  const double d_lo = x - below, d_hi = above - x;
  const bool up = d_hi < d_lo || (d_hi == d_lo && (lo & 1));
  return static_cast<uint16_t>(sign | (lo + (up ? 1 : 0)));
}

// Round-to-nearest-even float -> bfloat16 by comparing the two neighbours in double.
uint16_t BF16Oracle(float f) {
  if (std::isnan(f)) return 0x7FC0;
  const uint32_t bits = FloatBits(f);
  const uint16_t lo = static_cast<uint16_t>(bits >> 16);  // truncated toward zero
  if ((bits & 0xFFFF) == 0) return lo;
  const double x = std::fabs(static_cast<double>(f));
  const double below = std::fabs(static_cast<double>(bfloat16_to_float(lo)));
  // One past the largest finite bfloat16 is 2^128, not representable as float.
  const double above = (lo & 0x7FFF) == 0x7F7F
                           ? std::ldexp(1.0, 128)
                           : std::fabs(static_cast<double>(bfloat16_to_float(lo + 1)));
  const double d_lo = x - below, d_hi = above - x;
  const bool up = d_hi < d_lo || (d_hi == d_lo && (lo & 1));
  return static_cast<uint16_t>(lo + (up ? 1 : 0));
}

// Floats that probe every rounding situation: for each exponent in [min_exp, max_exp], every
// pattern of the kept mantissa bits combined with the critical patterns of the dropped bits
// (zero, one, just below/at/above the tie, all ones, random), both signs; plus specials and
// random bit patterns.
std::vector<float> ConversionSamples(int min_exp, int max_exp, int kept_bits) {
  const int dropped = 23 - kept_bits;
  const uint32_t half = 1u << (dropped - 1);
  std::mt19937 rng(123);
  std::vector<float> v;
  for (int e = min_exp; e <= max_exp; ++e) {
    for (uint32_t top = 0; top < (1u << kept_bits); ++top) {
      const uint32_t lows[] = {0,
                               1,
                               half - 1,
                               half,
                               half + 1,
                               (1u << dropped) - 1,
                               static_cast<uint32_t>(rng()) & ((1u << dropped) - 1)};
      for (uint32_t low : lows) {
        const uint32_t bits = (static_cast<uint32_t>(e) << 23) | (top << dropped) | low;
        v.push_back(FloatFromBits(bits));
        v.push_back(FloatFromBits(bits | 0x80000000u));
      }
    }
  }
  const uint32_t specials[] = {0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000,
                               0xFFC00000, 0x7F800001, 0x7FFFFFFF, 0x7FBFFFFF, 0x7F802000,
                               0xFF801000, 0x7FA00000, 0x00000001, 0x807FFFFF, 0x7F7FFFFF,
                               0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x47800000,
                               0x33000000, 0x33000001, 0x337FFFFF, 0x32FFFFFF, 0x387FC000,
                               0x387FE000, 0x38800000, 0x7F7F8000, 0x7F7F7FFF, 0x7F7FFFFF};
  for (uint32_t s : specials) v.push_back(FloatFromBits(s));
  for (int i = 0; i < 500000; ++i) v.push_back(FloatFromBits(static_cast<uint32_t>(rng())));
  return v;
}

TEST(KernelsConversionTest, HalfToFloatIsExact) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = half_to_float(static_cast<uint16_t>(h));
    if (IsHalfNaN(static_cast<uint16_t>(h))) {
      ASSERT_TRUE(std::isnan(f)) << h;
      ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;
      continue;
    }
    if ((h & 0x7FFF) == 0x7C00) {
      ASSERT_EQ(f, (h & 0x8000) ? -INFINITY : INFINITY);
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), HalfValue(static_cast<uint16_t>(h))) << h;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;
    // Every half survives the round trip.
    ASSERT_EQ(float_to_half(f), h) << h;
  }
}

TEST(KernelsConversionTest, FloatToHalfRoundsToNearestEven) {
  for (float f : ConversionSamples(100, 145, 10)) {
    const uint16_t got = float_to_half(f);
    const uint16_t want = HalfOracle(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(IsHalfNaN(got)) << std::hex << FloatBits(f);
      ASSERT_EQ(got & 0x8000, (FloatBits(f) >> 16) & 0x8000);
    } else {
      ASSERT_EQ(got, want) << std::hex << "float 0x" << FloatBits(f) << " (" << f << ")";
    }
  }
}

TEST(KernelsConversionTest, BFloat16ConversionsRoundToNearestEven) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = bfloat16_to_float(static_cast<uint16_t>(b));
    ASSERT_EQ(FloatBits(f), b << 16);
    if (!IsBF16NaN(static_cast<uint16_t>(b))) {
      ASSERT_EQ(float_to_bfloat16(f), b);
    }
  }
  for (float f : ConversionSamples(0, 254, 7)) {
    const uint16_t got = float_to_bfloat16(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(IsBF16NaN(got)) << std::hex << FloatBits(f);
      ASSERT_EQ(got & 0x8000, (FloatBits(f) >> 16) & 0x8000);
    } else {
      ASSERT_EQ(got, BF16Oracle(f)) << std::hex << "float 0x" << FloatBits(f) << " (" << f << ")";
    }
  }
}

// The dispatched target's own conversion code: exhaustive for the 65536 promotions, and the
// rounding probe set for demotions, bit for bit against the scalar conversions (which the tests
// above check against the oracles). Bit for bit includes NaNs: F16C, the integer code and the
// scalar reference all quiet them and keep the top payload bits.
TEST_P(KernelsTest, SimdHalfConversionsMatchScalar) {
  std::vector<uint16_t> all(0x10000);
  for (uint32_t h = 0; h < 0x10000; ++h) all[h] = static_cast<uint16_t>(h);
  std::vector<float> f(all.size());
  internal::half_to_float_simd(f.data(), all.data(), all.size());
  for (uint32_t h = 0; h < 0x10000; ++h) {
    ASSERT_EQ(FloatBits(f[h]), FloatBits(half_to_float(static_cast<uint16_t>(h))))
        << std::hex << "half 0x" << h;
  }
  const std::vector<float> samples = ConversionSamples(100, 145, 10);
  std::vector<uint16_t> got(samples.size());
  internal::float_to_half_simd(got.data(), samples.data(), samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    ASSERT_EQ(got[i], float_to_half(samples[i]))
        << std::hex << "float 0x" << FloatBits(samples[i]) << " (" << samples[i] << ")";
  }
}

TEST_P(KernelsTest, SimdBFloat16ConversionsMatchScalar) {
  std::vector<uint16_t> all(0x10000);
  for (uint32_t b = 0; b < 0x10000; ++b) all[b] = static_cast<uint16_t>(b);
  std::vector<float> f(all.size());
  internal::bfloat16_to_float_simd(f.data(), all.data(), all.size());
  for (uint32_t b = 0; b < 0x10000; ++b) ASSERT_EQ(FloatBits(f[b]), b << 16) << std::hex << b;
  const std::vector<float> samples = ConversionSamples(0, 254, 7);
  std::vector<uint16_t> got(samples.size());
  internal::float_to_bfloat16_simd(got.data(), samples.data(), samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    ASSERT_EQ(got[i], float_to_bfloat16(samples[i]))
        << std::hex << "float 0x" << FloatBits(samples[i]);
  }
}

// ---------------------------------------------------------------------------------------------
// divide

constexpr uint64_t kDivisors[] = {1,    2, 3, 7, 8, 255, 256, 1000, 1ull << 31, (1ull << 32) + 1,
                                  ~0ull};

TEST_P(KernelsTest, DivideMatchesReference) {
  uint64_t seed = 99;
  for (DataType t : kAllDataTypes) {
    const std::size_t size = ElemSize(t);
    for (uint64_t divisor : kDivisors) {
      for (std::size_t count : kCounts) {
        SCOPED_TRACE(std::string(TypeName(t)) + " / " + std::to_string(divisor) + " count " +
                     std::to_string(count));
        std::mt19937_64 rng(++seed);
        std::vector<uint8_t> in(count * size + 3), out(count * size + 1), want(count * size);
        uint8_t* pin = in.data() + 3;  // misaligned on purpose
        FillRandom(t, pin, count, rng);
        divide_scalar(want.data(), pin, count, t, divisor);
        divide(out.data() + 1, pin, count, t, divisor);
        EXPECT_TRUE(SameElements(t, out.data() + 1, want.data(), count));
        divide(pin, pin, count, t, divisor);  // in place
        EXPECT_TRUE(SameElements(t, pin, want.data(), count)) << "in place";
      }
    }
  }
}

template <typename T>
T Divided(T x, uint64_t divisor, DataType t) {
  std::vector<T> v(19, x);  // through the vector body and the tail
  divide(v.data(), v.data(), v.size(), t, divisor);
  for (const T& e : v) EXPECT_EQ(std::memcmp(&e, &v[0], sizeof(T)), 0);
  return v.back();
}

TEST_P(KernelsTest, DivideTruncatesTowardZero) {
  EXPECT_EQ(Divided<int8_t>(-7, 2, DataType::kInt8), -3);
  EXPECT_EQ(Divided<int8_t>(7, 2, DataType::kInt8), 3);
  EXPECT_EQ(Divided<int8_t>(-128, 3, DataType::kInt8), -42);
  EXPECT_EQ(Divided<int8_t>(-128, 1, DataType::kInt8), -128);
  EXPECT_EQ(Divided<int8_t>(-128, 1000, DataType::kInt8), 0);
  EXPECT_EQ(Divided<uint8_t>(255, 2, DataType::kUint8), 127);
  EXPECT_EQ(Divided<int32_t>(-7, 2, DataType::kInt32), -3);
  EXPECT_EQ(Divided<int32_t>(std::numeric_limits<int32_t>::min(), 1, DataType::kInt32),
            std::numeric_limits<int32_t>::min());
  EXPECT_EQ(Divided<int32_t>(std::numeric_limits<int32_t>::min(), 1ull << 31, DataType::kInt32),
            -1);
  EXPECT_EQ(Divided<int32_t>(2147483647, 3, DataType::kInt32), 715827882);
  EXPECT_EQ(Divided<int32_t>(-2147483647, 2147483647, DataType::kInt32), -1);
  EXPECT_EQ(Divided<int32_t>(-2147483646, 2147483647, DataType::kInt32), 0);
  EXPECT_EQ(Divided<uint32_t>(0xFFFFFFFFu, 2, DataType::kUint32), 0x7FFFFFFFu);
  EXPECT_EQ(Divided<uint32_t>(0xFFFFFFFFu, 0xFFFFFFFFu, DataType::kUint32), 1u);
  EXPECT_EQ(Divided<uint32_t>(0xFFFFFFFEu, 0xFFFFFFFFu, DataType::kUint32), 0u);
  EXPECT_EQ(Divided<uint32_t>(0x80000000u, 3, DataType::kUint32), 715827882u);
  EXPECT_EQ(Divided<int64_t>(-7, 2, DataType::kInt64), -3);
  EXPECT_EQ(Divided<int64_t>(std::numeric_limits<int64_t>::min(), 1ull << 63, DataType::kInt64),
            -1);
  EXPECT_EQ(Divided<int64_t>(std::numeric_limits<int64_t>::max(), ~0ull, DataType::kInt64), 0);
  EXPECT_EQ(Divided<uint64_t>(~0ull, 3, DataType::kUint64), 0x5555555555555555ull);
  EXPECT_EQ(Divided<float>(1.0f, 3, DataType::kFloat32), 1.0f / 3.0f);
  EXPECT_EQ(Divided<double>(1.0, 3, DataType::kFloat64), 1.0 / 3.0);
  EXPECT_EQ(Divided<uint16_t>(0x3C00, 3, DataType::kFloat16), 0x3555);   // 1/3 rounded
  EXPECT_EQ(Divided<uint16_t>(0x3F80, 3, DataType::kBFloat16), 0x3EAB);  // 1/3 rounded
  EXPECT_EQ(Divided<uint16_t>(0x0001, 2, DataType::kFloat16), 0x0000);   // tie to even zero
  EXPECT_EQ(Divided<uint16_t>(0x0003, 2, DataType::kFloat16), 0x0002);   // tie to even two
  EXPECT_TRUE(std::isinf(Divided<float>(1.0f, 0, DataType::kFloat32)));  // IEEE x / 0
  EXPECT_EQ(Divided<int32_t>(-5, 0, DataType::kInt32), -5);              // integer / 0: left as is
}

TEST_P(KernelsTest, DivideSmallIntegersExhaustively) {
  std::vector<int8_t> s(256), s_out(256);
  std::vector<uint8_t> u(256), u_out(256);
  for (int i = 0; i < 256; ++i) {
    s[i] = static_cast<int8_t>(i - 128);
    u[i] = static_cast<uint8_t>(i);
  }
  for (uint64_t d = 1; d <= 300; ++d) {
    divide(s_out.data(), s.data(), 256, DataType::kInt8, d);
    divide(u_out.data(), u.data(), 256, DataType::kUint8, d);
    for (int i = 0; i < 256; ++i) {
      ASSERT_EQ(s_out[i], static_cast<int8_t>(s[i] / static_cast<int>(d))) << i << " / " << d;
      ASSERT_EQ(u_out[i], static_cast<uint8_t>(u[i] / d)) << i << " / " << d;
    }
  }
}

// 32-bit division goes through float64: hit the values right around multiples of the divisor.
TEST_P(KernelsTest, Divide32BitAtQuotientBoundaries) {
  std::vector<int32_t> s;
  std::vector<uint32_t> u;
  const uint64_t divisors[] = {3, 7, 10, 255, 65537, 2147483647, 2147483648u, 4294967295u};
  for (uint64_t d : divisors) {
    s.clear();
    u.clear();
    for (uint64_t q : {uint64_t{0}, uint64_t{1}, uint64_t{2}, 0xFFFFFFFFu / d, 0x7FFFFFFFu / d,
                       12345u % (0xFFFFFFFFu / d + 1)}) {
      for (int64_t delta = -1; delta <= 1; ++delta) {
        const int64_t x = static_cast<int64_t>(q * d) + delta;
        if (x >= 0 && x <= 0xFFFFFFFF) u.push_back(static_cast<uint32_t>(x));
        if (x >= 0 && x <= 0x7FFFFFFF) {
          s.push_back(static_cast<int32_t>(x));
          s.push_back(static_cast<int32_t>(-x));
        }
      }
    }
    s.push_back(std::numeric_limits<int32_t>::min());
    u.push_back(0xFFFFFFFFu);
    std::vector<int32_t> s_out(s.size());
    std::vector<uint32_t> u_out(u.size());
    divide(s_out.data(), s.data(), s.size(), DataType::kInt32, d);
    divide(u_out.data(), u.data(), u.size(), DataType::kUint32, d);
    for (std::size_t i = 0; i < s.size(); ++i) {
      ASSERT_EQ(s_out[i], static_cast<int32_t>(s[i] / static_cast<int64_t>(d)))
          << s[i] << " / " << d;
    }
    for (std::size_t i = 0; i < u.size(); ++i) {
      ASSERT_EQ(u_out[i], static_cast<uint32_t>(u[i] / d)) << u[i] << " / " << d;
    }
  }
}

}  // namespace
}  // namespace railcc::kernels
