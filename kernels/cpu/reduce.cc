// CPU reduction kernels: SIMD code compiled once per Highway target, chosen at runtime.
//
// hwy/foreach_target.h re-includes this file once per target in HWY_TARGETS (without -march flags
// on x86: SSSE3, SSE4, AVX2, AVX3, and EMU128 or, with GCC < 12.3, SCALAR as the fallback), each
// pass in its own namespace with its own target attributes; HWY_DYNAMIC_DISPATCH then calls the
// best one this CPU supports.

#include "kernels/cpu/reduce.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/reduce_internal.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/reduce.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// highway.h must follow foreach_target.h.
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace railcc::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET != HWY_SCALAR

// Per-target capabilities of hwy 1.0.3, redefined on every pass through this file.
#undef RAILCC_KERNELS_F16C
#undef RAILCC_KERNELS_MUL64
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2 && !defined(HWY_DISABLE_F16C)
// Here hwy converts float16 with F16C (vcvtph2ps/vcvtps2ph), which rounds to nearest even. Its
// fallback for SSSE3/SSE4/EMU128 truncates instead of rounding and turns inf/NaN inputs into
// finite numbers, so those targets use the integer conversion in HalfIntFormat instead.
#define RAILCC_KERNELS_F16C 1
#else
#define RAILCC_KERNELS_F16C 0
#endif
#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3) || HWY_TARGET == HWY_EMU128
// 64-bit lane multiplication exists only with AVX-512 (vpmullq) and in the emulated target.
#define RAILCC_KERNELS_MUL64 1
#else
#define RAILCC_KERNELS_MUL64 0
#endif

template <class D>
using Vec = hn::Vec<D>;

// ------------------------------------------------------------------------------------------------
// Element-wise operators. Each takes the descriptor so it can build related vector types.

struct AddOp {
  template <class D, class V>
  HWY_INLINE V operator()(D /*d*/, V a, V b) const {
    return hn::Add(a, b);
  }
};

struct MulOp {
  template <class D, class V>
  HWY_INLINE V operator()(D /*d*/, V a, V b) const {
    return hn::Mul(a, b);
  }
};

// There is no 8-bit multiply: multiply even and odd bytes as 16-bit lanes, keep each low byte.
struct MulU8Op {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V a, V b) const {
    const hn::Repartition<uint16_t, D> d16;
    const auto a16 = hn::BitCast(d16, a);
    const auto b16 = hn::BitCast(d16, b);
    const auto even = hn::And(hn::Mul(a16, b16), hn::Set(d16, uint16_t{0x00FF}));
    // (a >> 8) * (b & 0xFF00) mod 2^16 is the odd bytes' product already shifted into place.
    const auto odd = hn::Mul(hn::ShiftRight<8>(a16), hn::And(b16, hn::Set(d16, uint16_t{0xFF00})));
    return hn::BitCast(d, hn::Or(even, odd));
  }
};

// Float max/min must return NaN when either input is NaN; hwy's Max/Min don't promise that. The
// rule is `isnan(a) ? a : (a > b ? a : b)`, exactly what reduce_scalar does, so that even
// max(-0, +0) and which NaN comes out agree with the reference on every target.
template <class V>
HWY_INLINE V MaxOrNaN(V a, V b) {
#if HWY_ARCH_X86 && HWY_TARGET != HWY_EMU128
  const V m = hn::Max(a, b);  // maxps is `a > b ? a : b`: it gives b when either is NaN
#else
  const V m = hn::IfThenElse(hn::Gt(a, b), a, b);  // emulated Max skips NaN inputs
#endif
  return hn::IfThenElse(hn::IsNaN(a), a, m);
}

template <class V>
HWY_INLINE V MinOrNaN(V a, V b) {
#if HWY_ARCH_X86 && HWY_TARGET != HWY_EMU128
  const V m = hn::Min(a, b);  // minps is `a < b ? a : b`
#else
  const V m = hn::IfThenElse(hn::Lt(a, b), a, b);
#endif
  return hn::IfThenElse(hn::IsNaN(a), a, m);
}

struct MaxOp {
  template <class D, class V>
  HWY_INLINE V operator()(D /*d*/, V a, V b) const {
    if constexpr (hwy::IsFloat<hn::TFromD<D>>()) {
      return MaxOrNaN(a, b);
    } else {
      return hn::Max(a, b);
    }
  }
};

struct MinOp {
  template <class D, class V>
  HWY_INLINE V operator()(D /*d*/, V a, V b) const {
    if constexpr (hwy::IsFloat<hn::TFromD<D>>()) {
      return MinOrNaN(a, b);
    } else {
      return hn::Min(a, b);
    }
  }
};

// v / divisor for float lanes.
template <class V>
struct DivOp {
  V divisor;
  template <class D>
  HWY_INLINE V operator()(D /*d*/, V v) const {
    return hn::Div(v, divisor);
  }
};

// ------------------------------------------------------------------------------------------------
// Loops over whole vectors. Every step loads all its inputs before storing, and touches only its
// own indices, so out may be the same pointer as a and/or b. Pointers need not be aligned, not
// even to the element size: all accesses are LoadU/StoreU or memcpy.

template <class D, class Op, typename T = hn::TFromD<D>>
HWY_INLINE void BinaryLoop(D d, T* out, const T* a, const T* b, std::size_t count, Op op) {
  const std::size_t n = hn::Lanes(d);
  std::size_t i = 0;
  // Two vectors per step keep more loads in flight.
  for (; i + 2 * n <= count; i += 2 * n) {
    const auto a0 = hn::LoadU(d, a + i);
    const auto b0 = hn::LoadU(d, b + i);
    const auto a1 = hn::LoadU(d, a + i + n);
    const auto b1 = hn::LoadU(d, b + i + n);
    hn::StoreU(op(d, a0, b0), d, out + i);
    hn::StoreU(op(d, a1, b1), d, out + i + n);
  }
  for (; i + n <= count; i += n) {
    hn::StoreU(op(d, hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
  }
  if (i == count) return;
  // The last partial vector goes through zero-padded buffers so nothing past count is accessed.
  constexpr std::size_t kMaxLanes = HWY_MAX_BYTES / sizeof(T);
  HWY_ALIGN T ta[kMaxLanes] = {};
  HWY_ALIGN T tb[kMaxLanes] = {};
  const std::size_t rest = count - i;
  std::memcpy(ta, a + i, rest * sizeof(T));
  std::memcpy(tb, b + i, rest * sizeof(T));
  hn::Store(op(d, hn::Load(d, ta), hn::Load(d, tb)), d, ta);
  std::memcpy(out + i, ta, rest * sizeof(T));
}

template <class D, class Op, typename T = hn::TFromD<D>>
HWY_INLINE void UnaryLoop(D d, T* out, const T* in, std::size_t count, Op op) {
  const std::size_t n = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + n <= count; i += n) {
    hn::StoreU(op(d, hn::LoadU(d, in + i)), d, out + i);
  }
  if (i == count) return;
  constexpr std::size_t kMaxLanes = HWY_MAX_BYTES / sizeof(T);
  HWY_ALIGN T buf[kMaxLanes] = {};
  const std::size_t rest = count - i;
  std::memcpy(buf, in + i, rest * sizeof(T));
  hn::Store(op(d, hn::Load(d, buf)), d, buf);
  std::memcpy(out + i, buf, rest * sizeof(T));
}

// ------------------------------------------------------------------------------------------------
// 16-bit float formats. A format loads 2 * Lanes(df) 16-bit values as two float32 vectors and
// stores them back; the element order inside the pair is the format's business (kEvenOdd says
// which), as the kernels are element-wise and Store undoes exactly what Load did.

template <class DF>
struct F32Pair {
  Vec<DF> v0;
  Vec<DF> v1;
};

// bfloat16 with integer ops only: hwy 1.0.3's DemoteTo(bfloat16) truncates. Each u32 lane holds
// two bfloat16, the even element in its low half and the odd one in its high half, so widening
// and narrowing need shifts and masks but no shuffles.
struct BF16Format {
  static constexpr bool kEvenOdd = true;

  template <class DF>
  static HWY_INLINE F32Pair<DF> Load(DF df, const uint16_t* p) {
    const hn::RebindToUnsigned<DF> du;
    const hn::Repartition<uint16_t, DF> d16;
    const auto bits = hn::BitCast(du, hn::LoadU(d16, p));
    return {hn::BitCast(df, hn::ShiftLeft<16>(bits)),
            hn::BitCast(df, hn::And(bits, hn::Set(du, 0xFFFF0000u)))};
  }

  template <class DF>
  static HWY_INLINE void Store(DF df, Vec<DF> v0, Vec<DF> v1, uint16_t* p) {
    const hn::RebindToUnsigned<DF> du;
    const hn::Repartition<uint16_t, DF> d16;
    const auto lo = hn::ShiftRight<16>(Round(df, v0));
    const auto hi = hn::And(Round(df, v1), hn::Set(du, 0xFFFF0000u));
    hn::StoreU(hn::BitCast(d16, hn::Or(lo, hi)), d16, p);
  }

  // The float's bits rounded to nearest even at bit 16: the bfloat16 is the upper half.
  template <class DF>
  static HWY_INLINE Vec<hn::RebindToUnsigned<DF>> Round(DF /*df*/, Vec<DF> v) {
    const hn::RebindToUnsigned<DF> du;
    const auto bits = hn::BitCast(du, v);
    const auto lsb = hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1u));
    const auto rounded = hn::Add(bits, hn::Add(lsb, hn::Set(du, 0x7FFFu)));
    // Rounding a NaN could carry it into inf or leave a zero payload (inf): make it quiet instead.
    const auto quiet = hn::Or(bits, hn::Set(du, 0x00400000u));
    return hn::IfThenElse(hn::RebindMask(du, hn::IsNaN(v)), quiet, rounded);
  }
};

// float16 with integer ops (and one float add or subtract each way for subnormals), for targets
// without F16C. Same lane layout as BF16Format. NaNs come out as F16C makes them, so every target
// gives the same bits.
struct HalfIntFormat {
  static constexpr bool kEvenOdd = true;

  template <class DF>
  static HWY_INLINE F32Pair<DF> Load(DF df, const uint16_t* p) {
    const hn::RebindToUnsigned<DF> du;
    const hn::Repartition<uint16_t, DF> d16;
    const auto bits = hn::BitCast(du, hn::LoadU(d16, p));
    return {ToFloat(df, hn::And(bits, hn::Set(du, 0xFFFFu))),
            ToFloat(df, hn::ShiftRight<16>(bits))};
  }

  template <class DF>
  static HWY_INLINE void Store(DF df, Vec<DF> v0, Vec<DF> v1, uint16_t* p) {
    const hn::Repartition<uint16_t, DF> d16;
    const auto packed = hn::Or(FromFloat(df, v0), hn::ShiftLeft<16>(FromFloat(df, v1)));
    hn::StoreU(hn::BitCast(d16, packed), d16, p);
  }

  // h: one half per u32 lane, in the low 16 bits.
  template <class DF>
  static HWY_INLINE Vec<DF> ToFloat(DF df, Vec<hn::RebindToUnsigned<DF>> h) {
    const hn::RebindToUnsigned<DF> du;
    const hn::RebindToSigned<DF> di;
    const auto sign = hn::ShiftLeft<16>(hn::And(h, hn::Set(du, 0x8000u)));
    // Exponent and mantissa moved to their float32 positions.
    const auto em = hn::ShiftLeft<13>(hn::And(h, hn::Set(du, 0x7FFFu)));
    const auto exp = hn::And(em, hn::Set(du, 0x0F800000u));
    const auto rebias = hn::Set(du, (127u - 15u) << 23);
    const auto normal = hn::Add(em, rebias);
    // Exponent 31 (inf/NaN): rebias once more to 255; set the quiet bit of NaNs like vcvtph2ps.
    const auto is_nan = hn::RebindMask(du, hn::Gt(hn::BitCast(di, em), hn::Set(di, 0x0F800000)));
    const auto inf_nan =
        hn::Or(hn::Add(normal, rebias), hn::IfThenElseZero(is_nan, hn::Set(du, 0x00400000u)));
    // Exponent 0 (zero/subnormal): 2^-14 * (1 + m / 1024) - 2^-14 is exactly m * 2^-24.
    const auto min_normal = hn::Set(du, 113u << 23);  // 2^-14
    const auto sub = hn::BitCast(
        du, hn::Sub(hn::BitCast(df, hn::Add(em, min_normal)), hn::BitCast(df, min_normal)));
    auto bits = hn::IfThenElse(hn::Eq(exp, hn::Zero(du)), sub, normal);
    bits = hn::IfThenElse(hn::Eq(exp, hn::Set(du, 0x0F800000u)), inf_nan, bits);
    return hn::BitCast(df, hn::Or(bits, sign));
  }

  // Returns the half in the low 16 bits of each u32 lane, rounded to nearest even.
  template <class DF>
  static HWY_INLINE Vec<hn::RebindToUnsigned<DF>> FromFloat(DF df, Vec<DF> v) {
    const hn::RebindToUnsigned<DF> du;
    const hn::RebindToSigned<DF> di;
    const auto bits = hn::BitCast(du, v);
    const auto sign = hn::ShiftRight<16>(hn::And(bits, hn::Set(du, 0x80000000u)));
    const auto abs = hn::And(bits, hn::Set(du, 0x7FFFFFFFu));
    const auto abs_i = hn::BitCast(di, abs);  // < 2^31, so signed compares work on all targets
    // Normal half (abs >= 2^-14): round to nearest even at bit 13 by adding 0xFFF plus the bit
    // that survives, rebias the exponent from 127 to 15 (mod 2^32), then shift. A mantissa carry
    // correctly bumps the exponent, up to inf from 65520 on.
    const auto odd = hn::And(hn::ShiftRight<13>(abs), hn::Set(du, 1u));
    const auto bias = hn::Set(du, 0xFFFu - (112u << 23));
    const auto normal = hn::ShiftRight<13>(hn::Add(hn::Add(abs, bias), odd));
    // Subnormal or zero (abs < 2^-14): in 0.5f + abs the float unit rounds abs to nearest even
    // at 2^-24, the half's unit, leaving the half's bits in the low mantissa bits.
    const auto magic = hn::Set(du, 126u << 23);  // 0.5f
    const auto sub =
        hn::Sub(hn::BitCast(du, hn::Add(hn::BitCast(df, abs), hn::BitCast(df, magic))), magic);
    auto h = hn::IfThenElse(hn::RebindMask(du, hn::Lt(abs_i, hn::Set(di, 113 << 23))), sub, normal);
    // abs >= 65536: inf, or for NaN a quiet NaN with the top payload bits (as vcvtps2ph does).
    const auto nan =
        hn::Or(hn::Set(du, 0x7E00u), hn::And(hn::ShiftRight<13>(abs), hn::Set(du, 0x3FFu)));
    const auto is_nan = hn::RebindMask(du, hn::Gt(abs_i, hn::Set(di, 0x7F800000)));
    const auto big = hn::IfThenElse(is_nan, nan, hn::Set(du, 0x7C00u));
    h = hn::IfThenElse(hn::RebindMask(du, hn::Gt(abs_i, hn::Set(di, 0x477FFFFF))), big, h);
    return hn::Or(h, sign);
  }
};

#if RAILCC_KERNELS_F16C
// float16 through hwy's PromoteTo/DemoteTo, i.e. F16C on this target. Load and Store take two
// contiguous halves of the 2 * Lanes(df) elements.
struct HalfF16CFormat {
  static constexpr bool kEvenOdd = false;

  template <class DF>
  static HWY_INLINE F32Pair<DF> Load(DF df, const uint16_t* p) {
    const hn::Rebind<hwy::float16_t, DF> dh;
    const auto* ph = reinterpret_cast<const hwy::float16_t*>(p);
    return {hn::PromoteTo(df, hn::LoadU(dh, ph)),
            hn::PromoteTo(df, hn::LoadU(dh, ph + hn::Lanes(df)))};
  }

  template <class DF>
  static HWY_INLINE void Store(DF df, Vec<DF> v0, Vec<DF> v1, uint16_t* p) {
    const hn::Rebind<hwy::float16_t, DF> dh;
    auto* ph = reinterpret_cast<hwy::float16_t*>(p);
    hn::StoreU(hn::DemoteTo(dh, v0), dh, ph);
    hn::StoreU(hn::DemoteTo(dh, v1), dh, ph + hn::Lanes(df));
  }
};
using HalfFormat = HalfF16CFormat;
#else
using HalfFormat = HalfIntFormat;
#endif

using DF32 = hn::ScalableTag<float>;
// Largest number of 16-bit elements a format handles per step, on any target.
constexpr std::size_t kMax16PerStep = 2 * HWY_MAX_BYTES / sizeof(float);

template <class Fmt, class Op>
HWY_INLINE void Binary16(uint16_t* out, const uint16_t* a, const uint16_t* b, std::size_t count,
                         Op op) {
  const DF32 df;
  const std::size_t n = 2 * hn::Lanes(df);
  std::size_t i = 0;
  for (; i + n <= count; i += n) {
    const F32Pair<DF32> va = Fmt::Load(df, a + i);
    const F32Pair<DF32> vb = Fmt::Load(df, b + i);
    Fmt::Store(df, op(df, va.v0, vb.v0), op(df, va.v1, vb.v1), out + i);
  }
  if (i == count) return;
  uint16_t ta[kMax16PerStep] = {};
  uint16_t tb[kMax16PerStep] = {};
  const std::size_t rest = count - i;
  std::memcpy(ta, a + i, rest * sizeof(uint16_t));
  std::memcpy(tb, b + i, rest * sizeof(uint16_t));
  const F32Pair<DF32> va = Fmt::Load(df, ta);
  const F32Pair<DF32> vb = Fmt::Load(df, tb);
  Fmt::Store(df, op(df, va.v0, vb.v0), op(df, va.v1, vb.v1), ta);
  std::memcpy(out + i, ta, rest * sizeof(uint16_t));
}

template <class Fmt, class Op>
HWY_INLINE void Unary16(uint16_t* out, const uint16_t* in, std::size_t count, Op op) {
  const DF32 df;
  const std::size_t n = 2 * hn::Lanes(df);
  std::size_t i = 0;
  for (; i + n <= count; i += n) {
    const F32Pair<DF32> v = Fmt::Load(df, in + i);
    Fmt::Store(df, op(df, v.v0), op(df, v.v1), out + i);
  }
  if (i == count) return;
  uint16_t buf[kMax16PerStep] = {};
  const std::size_t rest = count - i;
  std::memcpy(buf, in + i, rest * sizeof(uint16_t));
  const F32Pair<DF32> v = Fmt::Load(df, buf);
  Fmt::Store(df, op(df, v.v0), op(df, v.v1), buf);
  std::memcpy(out + i, buf, rest * sizeof(uint16_t));
}

// ------------------------------------------------------------------------------------------------
// reduce

template <class Fmt>
void Reduce16(void* out, const void* a, const void* b, std::size_t count, ReduceOp op) {
  auto* o = static_cast<uint16_t*>(out);
  const auto* pa = static_cast<const uint16_t*>(a);
  const auto* pb = static_cast<const uint16_t*>(b);
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      return Binary16<Fmt>(o, pa, pb, count, AddOp());
    case ReduceOp::kProd:
      return Binary16<Fmt>(o, pa, pb, count, MulOp());
    case ReduceOp::kMax:
      return Binary16<Fmt>(o, pa, pb, count, MaxOp());
    case ReduceOp::kMin:
      return Binary16<Fmt>(o, pa, pb, count, MinOp());
  }
}

template <typename T, class Op>
HWY_INLINE void BinaryAs(void* out, const void* a, const void* b, std::size_t count, Op op) {
  const hn::ScalableTag<T> d;
  BinaryLoop(d, static_cast<T*>(out), static_cast<const T*>(a), static_cast<const T*>(b), count,
             op);
}

// The lane type for sum and product: unsigned for integers, the type itself for floats.
template <typename S, bool = std::is_integral_v<S>>
struct WrapType {
  using type = S;
};
template <typename S>
struct WrapType<S, true> {
  using type = std::make_unsigned_t<S>;
};

// S is the element type: int8_t ... uint64_t, float or double.
template <typename S>
void ReduceTyped(void* out, const void* a, const void* b, std::size_t count, DataType type,
                 ReduceOp op) {
  // Integer sum and product wrap, so run them on unsigned lanes (same bits either way).
  using U = typename WrapType<S>::type;
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      return BinaryAs<U>(out, a, b, count, AddOp());
    case ReduceOp::kProd:
      if constexpr (sizeof(U) == 1) {
        return BinaryAs<U>(out, a, b, count, MulU8Op());
      } else if constexpr (sizeof(U) == 8 && !hwy::IsFloat<U>() && !RAILCC_KERNELS_MUL64) {
        return reduce_scalar(out, a, b, count, type, op);
      } else {
        return BinaryAs<U>(out, a, b, count, MulOp());
      }
    case ReduceOp::kMax:
      return BinaryAs<S>(out, a, b, count, MaxOp());
    case ReduceOp::kMin:
      return BinaryAs<S>(out, a, b, count, MinOp());
  }
}

void ReduceImpl(void* out, const void* a, const void* b, std::size_t count, DataType type,
                ReduceOp op) {
  if (count == 0) return;
  switch (type) {
    case DataType::kInt8:
      return ReduceTyped<int8_t>(out, a, b, count, type, op);
    case DataType::kUint8:
      return ReduceTyped<uint8_t>(out, a, b, count, type, op);
    case DataType::kInt32:
      return ReduceTyped<int32_t>(out, a, b, count, type, op);
    case DataType::kUint32:
      return ReduceTyped<uint32_t>(out, a, b, count, type, op);
    case DataType::kInt64:
      return ReduceTyped<int64_t>(out, a, b, count, type, op);
    case DataType::kUint64:
      return ReduceTyped<uint64_t>(out, a, b, count, type, op);
    case DataType::kFloat16:
      return Reduce16<HalfFormat>(out, a, b, count, op);
    case DataType::kFloat32:
      return ReduceTyped<float>(out, a, b, count, type, op);
    case DataType::kFloat64:
      return ReduceTyped<double>(out, a, b, count, type, op);
    case DataType::kBFloat16:
      return Reduce16<BF16Format>(out, a, b, count, op);
  }
}

// ------------------------------------------------------------------------------------------------
// divide
//
// There is no SIMD integer division, but 8- and 32-bit integers divide exactly in a wider float
// type: for |x| < 2^8 in float32 (24-bit significand) and |x| < 2^32 in float64 (53 bits), the
// rounded quotient x / d can't reach the next integer, since the gap is at least 1/d, i.e. a
// relative 1/|x|, far above the rounding error. Truncating it therefore gives C's x / d.

// 8-bit lanes, each widened to int32 and divided in float32.
template <class D32>
struct Divide8Op {
  D32 di32;
  Vec<hn::Rebind<float, D32>> divisor;
  template <class D8>
  HWY_INLINE Vec<D8> operator()(D8 d8, Vec<D8> v) const {
    const hn::Rebind<float, D32> df;
    const auto q = hn::Div(hn::ConvertTo(df, hn::PromoteTo(di32, v)), divisor);
    return hn::DemoteTo(d8, hn::ConvertTo(di32, q));  // ConvertTo truncates toward zero
  }
};

// int32 lanes divided in float64.
template <class DD>
struct DivideI32Op {
  DD dd;
  Vec<DD> divisor;
  template <class DI>
  HWY_INLINE Vec<DI> operator()(DI di, Vec<DI> v) const {
    return hn::DemoteTo(di, hn::Div(hn::PromoteTo(dd, v), divisor));  // DemoteTo truncates
  }
};

// uint32 lanes (stored as int32) divided in float64, biased by 2^31 through the signed
// conversions that hwy offers.
template <class DD>
struct DivideU32Op {
  DD dd;
  Vec<DD> divisor;
  template <class DI>
  HWY_INLINE Vec<DI> operator()(DI di, Vec<DI> v) const {
    const auto sign = hn::Set(di, hn::TFromD<DI>{-2147483647 - 1});
    const auto k2p31 = hn::Set(dd, 2147483648.0);
    const auto x = hn::Add(hn::PromoteTo(dd, hn::Xor(v, sign)), k2p31);
    const auto q = hn::Trunc(hn::Div(x, divisor));
    return hn::Xor(hn::DemoteTo(di, hn::Sub(q, k2p31)), sign);
  }
};

template <typename T>
void Divide8(void* out, const void* in, std::size_t count, uint64_t divisor) {
  const hn::ScalableTag<int32_t> di32;
  const hn::Rebind<T, decltype(di32)> d8;
  const hn::Rebind<float, decltype(di32)> df;
  const Divide8Op<decltype(di32)> op{di32, hn::Set(df, static_cast<float>(divisor))};
  UnaryLoop(d8, static_cast<T*>(out), static_cast<const T*>(in), count, op);
}

template <bool kSigned>
void Divide32(void* out, const void* in, std::size_t count, uint64_t divisor) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<int32_t, decltype(dd)> di;
  const auto vdiv = hn::Set(dd, static_cast<double>(divisor));
  auto* o = static_cast<int32_t*>(out);
  const auto* p = static_cast<const int32_t*>(in);
  if constexpr (kSigned) {
    UnaryLoop(di, o, p, count, DivideI32Op<decltype(dd)>{dd, vdiv});
  } else {
    UnaryLoop(di, o, p, count, DivideU32Op<decltype(dd)>{dd, vdiv});
  }
}

template <typename T>
void DivideFloat(void* out, const void* in, std::size_t count, uint64_t divisor) {
  const hn::ScalableTag<T> d;
  const DivOp<Vec<decltype(d)>> op{hn::Set(d, static_cast<T>(divisor))};
  UnaryLoop(d, static_cast<T*>(out), static_cast<const T*>(in), count, op);
}

template <class Fmt>
void Divide16(void* out, const void* in, std::size_t count, uint64_t divisor) {
  const DF32 df;
  const DivOp<Vec<DF32>> op{hn::Set(df, static_cast<float>(divisor))};
  Unary16<Fmt>(static_cast<uint16_t*>(out), static_cast<const uint16_t*>(in), count, op);
}

void DivideImpl(void* out, const void* in, std::size_t count, DataType type, uint64_t divisor) {
  if (count == 0) return;
  // Integer division by zero is a caller error; copy instead of trapping (as divide_scalar).
  const uint64_t idiv = divisor == 0 ? 1 : divisor;
  switch (type) {
    case DataType::kInt8:
      return Divide8<int8_t>(out, in, count, idiv);
    case DataType::kUint8:
      return Divide8<uint8_t>(out, in, count, idiv);
    case DataType::kInt32:
      return Divide32<true>(out, in, count, idiv);
    case DataType::kUint32:
      return Divide32<false>(out, in, count, idiv);
    case DataType::kInt64:
    case DataType::kUint64:
      // Not exact in float64 and no SIMD division: the plain loop is as good as it gets.
      return divide_scalar(out, in, count, type, divisor);
    case DataType::kFloat16:
      return Divide16<HalfFormat>(out, in, count, divisor);
    case DataType::kFloat32:
      return DivideFloat<float>(out, in, count, divisor);
    case DataType::kFloat64:
      return DivideFloat<double>(out, in, count, divisor);
    case DataType::kBFloat16:
      return Divide16<BF16Format>(out, in, count, divisor);
  }
}

// ------------------------------------------------------------------------------------------------
// Test hooks: the formats' conversions on arbitrary inputs, in element order.

// Where element k of a 2 * n step lives: in v0 or v1, and at which lane.
template <class Fmt>
HWY_INLINE std::size_t LaneOf(std::size_t k, std::size_t n, bool* in_v1) {
  if (Fmt::kEvenOdd) {
    *in_v1 = (k & 1) != 0;
    return k / 2;
  }
  *in_v1 = k >= n;
  return k % n;
}

template <class Fmt>
void ToFloatN(float* out, const uint16_t* in, std::size_t count) {
  const DF32 df;
  const std::size_t n = hn::Lanes(df);
  for (std::size_t i = 0; i < count; i += 2 * n) {
    const std::size_t rest = count - i < 2 * n ? count - i : 2 * n;
    uint16_t src[kMax16PerStep] = {};
    float f[2][kMax16PerStep / 2];
    std::memcpy(src, in + i, rest * sizeof(uint16_t));
    const F32Pair<DF32> v = Fmt::Load(df, src);
    hn::StoreU(v.v0, df, f[0]);
    hn::StoreU(v.v1, df, f[1]);
    for (std::size_t k = 0; k < rest; ++k) {
      bool in_v1;
      const std::size_t lane = LaneOf<Fmt>(k, n, &in_v1);
      out[i + k] = f[in_v1][lane];
    }
  }
}

template <class Fmt>
void FromFloatN(uint16_t* out, const float* in, std::size_t count) {
  const DF32 df;
  const std::size_t n = hn::Lanes(df);
  for (std::size_t i = 0; i < count; i += 2 * n) {
    const std::size_t rest = count - i < 2 * n ? count - i : 2 * n;
    float f[2][kMax16PerStep / 2] = {};
    uint16_t dst[kMax16PerStep];
    for (std::size_t k = 0; k < rest; ++k) {
      bool in_v1;
      const std::size_t lane = LaneOf<Fmt>(k, n, &in_v1);
      f[in_v1][lane] = in[i + k];
    }
    Fmt::Store(df, hn::LoadU(df, f[0]), hn::LoadU(df, f[1]), dst);
    std::memcpy(out + i, dst, rest * sizeof(uint16_t));
  }
}

void HalfToFloatImpl(float* out, const uint16_t* in, std::size_t count) {
  ToFloatN<HalfFormat>(out, in, count);
}
void FloatToHalfImpl(uint16_t* out, const float* in, std::size_t count) {
  FromFloatN<HalfFormat>(out, in, count);
}
void BF16ToFloatImpl(float* out, const uint16_t* in, std::size_t count) {
  ToFloatN<BF16Format>(out, in, count);
}
void FloatToBF16Impl(uint16_t* out, const float* in, std::size_t count) {
  FromFloatN<BF16Format>(out, in, count);
}

#else  // HWY_TARGET == HWY_SCALAR
// HWY_SCALAR is the fallback for CPUs without SSSE3 (and, with GCC < 12.3, hwy 1.0.3 uses it in
// place of EMU128, which that compiler miscompiles). Its one-lane vectors can't be split into
// narrower lanes, which the 16-bit formats need, and it would be no faster than plain loops anyway.

void ReduceImpl(void* out, const void* a, const void* b, std::size_t count, DataType type,
                ReduceOp op) {
  reduce_scalar(out, a, b, count, type, op);
}

void DivideImpl(void* out, const void* in, std::size_t count, DataType type, uint64_t divisor) {
  divide_scalar(out, in, count, type, divisor);
}

void HalfToFloatImpl(float* out, const uint16_t* in, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) out[i] = half_to_float(in[i]);
}
void FloatToHalfImpl(uint16_t* out, const float* in, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) out[i] = float_to_half(in[i]);
}
void BF16ToFloatImpl(float* out, const uint16_t* in, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) out[i] = bfloat16_to_float(in[i]);
}
void FloatToBF16Impl(uint16_t* out, const float* in, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) out[i] = float_to_bfloat16(in[i]);
}

#endif  // HWY_TARGET != HWY_SCALAR

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace railcc::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace railcc::kernels {

HWY_EXPORT(ReduceImpl);
HWY_EXPORT(DivideImpl);
HWY_EXPORT(TargetNameImpl);
HWY_EXPORT(HalfToFloatImpl);
HWY_EXPORT(FloatToHalfImpl);
HWY_EXPORT(BF16ToFloatImpl);
HWY_EXPORT(FloatToBF16Impl);

void reduce(void* out, const void* a, const void* b, std::size_t count, DataType type,
            ReduceOp op) {
  HWY_DYNAMIC_DISPATCH(ReduceImpl)(out, a, b, count, type, op);
}

void divide(void* out, const void* in, std::size_t count, DataType type, uint64_t divisor) {
  HWY_DYNAMIC_DISPATCH(DivideImpl)(out, in, count, type, divisor);
}

const char* simd_target_name() { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }

namespace internal {

int64_t compiled_targets() { return HWY_TARGETS; }

void half_to_float_simd(float* out, const uint16_t* in, std::size_t count) {
  HWY_DYNAMIC_DISPATCH(HalfToFloatImpl)(out, in, count);
}
void float_to_half_simd(uint16_t* out, const float* in, std::size_t count) {
  HWY_DYNAMIC_DISPATCH(FloatToHalfImpl)(out, in, count);
}
void bfloat16_to_float_simd(float* out, const uint16_t* in, std::size_t count) {
  HWY_DYNAMIC_DISPATCH(BF16ToFloatImpl)(out, in, count);
}
void float_to_bfloat16_simd(uint16_t* out, const float* in, std::size_t count) {
  HWY_DYNAMIC_DISPATCH(FloatToBF16Impl)(out, in, count);
}

}  // namespace internal
}  // namespace railcc::kernels
#endif  // HWY_ONCE
