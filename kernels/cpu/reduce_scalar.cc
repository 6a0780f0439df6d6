// Scalar reference kernels and the float16/bfloat16 bit conversions.
//
// This is the ground truth the SIMD kernels are tested against, so it is written for obviousness
// rather than speed, and independently of the SIMD code (no shared conversion tricks).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/cpu/reduce.h"

namespace railcc::kernels {

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7FFFFFFFu;
  if (x > 0x7F800000u) {
    // NaN: keep the top payload bits and set the quiet bit so the payload can't become zero (inf).
    return static_cast<uint16_t>(sign | 0x7E00u | ((x >> 13) & 0x3FFu));
  }
  if (x >= 0x47800000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65536 and inf
  const int exp = static_cast<int>(x >> 23) - 127;
  const uint32_t mant = x & 0x7FFFFFu;
  if (exp >= -14) {
    // Normal half: drop 13 mantissa bits, round to nearest even. A carry out of the mantissa
    // correctly bumps the exponent, up to inf for values >= 65520.
    uint32_t h = (static_cast<uint32_t>(exp + 15) << 10) | (mant >> 13);
    const uint32_t rem = mant & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  // Below 2^-25 everything rounds to zero (2^-25 itself is a tie and goes to the even zero).
  if (exp < -25) return sign;
  // Subnormal half: the value in units of 2^-24 is m * 2^(exp + 1), with exp + 1 <= -14.
  const uint32_t m = mant | 0x800000u;
  const int shift = -(exp + 1);
  uint32_t h = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (h & 1u))) ++h;  // may carry into the smallest normal
  return static_cast<uint16_t>(sign | h);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1F) {
    // inf, or NaN made quiet (as F16C's vcvtph2ps does) with its payload kept.
    bits = sign | 0x7F800000u | (mant << 13) | (mant != 0 ? 0x400000u : 0u);
  } else if (exp == 0) {
    const float v = std::ldexp(static_cast<float>(mant), -24);  // exact: mant < 2^10
    std::memcpy(&bits, &v, sizeof(bits));
    bits |= sign;
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

uint16_t float_to_bfloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) {
    // Rounding could carry a NaN into inf, or truncate its payload to zero: force the quiet bit.
    return static_cast<uint16_t>((x >> 16) | 0x40u);
  }
  const uint32_t lsb = (x >> 16) & 1u;
  return static_cast<uint16_t>((x + 0x7FFFu + lsb) >> 16);
}

float bfloat16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

namespace {

// Loads and stores go through memcpy: callers may pass pointers that are not aligned to T.
template <typename T>
T load_at(const void* p, std::size_t i) {
  T v;
  std::memcpy(&v, static_cast<const char*>(p) + i * sizeof(T), sizeof(T));
  return v;
}

template <typename T>
void store_at(void* p, std::size_t i, T v) {
  std::memcpy(static_cast<char*>(p) + i * sizeof(T), &v, sizeof(T));
}

template <typename T, typename Fn>
void binary_loop(void* out, const void* a, const void* b, std::size_t count, Fn fn) {
  // Both inputs are read before the output is written, so out == a and/or out == b is fine.
  for (std::size_t i = 0; i < count; ++i) {
    store_at<T>(out, i, fn(load_at<T>(a, i), load_at<T>(b, i)));
  }
}

// NaN in either input gives NaN; otherwise `a > b ? a : b`, the x86 maxps rule, which also fixes
// which zero wins for max(-0, +0). The SIMD kernels follow exactly the same rule.
template <typename F>
F max_nan(F a, F b) {
  return std::isnan(a) ? a : (a > b ? a : b);
}
template <typename F>
F min_nan(F a, F b) {
  return std::isnan(a) ? a : (a < b ? a : b);
}

template <typename S>
void reduce_int(void* out, const void* a, const void* b, std::size_t count, ReduceOp op) {
  // Sum and product wrap: do them on the unsigned type, where overflow is defined.
  using U = std::make_unsigned_t<S>;
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      binary_loop<U>(out, a, b, count, [](U x, U y) { return static_cast<U>(x + y); });
      break;
    case ReduceOp::kProd:
      // The promoted product of two uint8 fits in int; wider types are already unsigned.
      binary_loop<U>(out, a, b, count, [](U x, U y) { return static_cast<U>(x * y); });
      break;
    case ReduceOp::kMax:
      binary_loop<S>(out, a, b, count, [](S x, S y) { return x > y ? x : y; });
      break;
    case ReduceOp::kMin:
      binary_loop<S>(out, a, b, count, [](S x, S y) { return x < y ? x : y; });
      break;
  }
}

template <typename F>
F apply_float(ReduceOp op, F x, F y) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      return x + y;
    case ReduceOp::kProd:
      return x * y;
    case ReduceOp::kMax:
      return max_nan(x, y);
    case ReduceOp::kMin:
      return min_nan(x, y);
  }
  return x;
}

template <typename F>
void reduce_float(void* out, const void* a, const void* b, std::size_t count, ReduceOp op) {
  binary_loop<F>(out, a, b, count, [op](F x, F y) { return apply_float(op, x, y); });
}

template <float (*ToFloat)(uint16_t), uint16_t (*FromFloat)(float)>
void reduce_16(void* out, const void* a, const void* b, std::size_t count, ReduceOp op) {
  binary_loop<uint16_t>(out, a, b, count, [op](uint16_t x, uint16_t y) {
    return FromFloat(apply_float(op, ToFloat(x), ToFloat(y)));
  });
}

template <typename T, typename Fn>
void unary_loop(void* out, const void* in, std::size_t count, Fn fn) {
  for (std::size_t i = 0; i < count; ++i) store_at<T>(out, i, fn(load_at<T>(in, i)));
}

template <typename S>
void divide_int(void* out, const void* in, std::size_t count, uint64_t divisor) {
  if constexpr (std::is_signed_v<S>) {
    constexpr uint64_t kMaxSigned = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    unary_loop<S>(out, in, count, [divisor](S x) {
      const int64_t v = x;
      if (divisor <= kMaxSigned) return static_cast<S>(v / static_cast<int64_t>(divisor));
      // divisor >= 2^63 exceeds |v| except for INT64_MIN / 2^63.
      return static_cast<S>(
          v == std::numeric_limits<int64_t>::min() && divisor == kMaxSigned + 1 ? -1 : 0);
    });
  } else {
    unary_loop<S>(out, in, count, [divisor](S x) { return static_cast<S>(x / divisor); });
  }
}

}  // namespace

void reduce_scalar(void* out, const void* a, const void* b, std::size_t count, DataType type,
                   ReduceOp op) {
  switch (type) {
    case DataType::kInt8:
      return reduce_int<int8_t>(out, a, b, count, op);
    case DataType::kUint8:
      return reduce_int<uint8_t>(out, a, b, count, op);
    case DataType::kInt32:
      return reduce_int<int32_t>(out, a, b, count, op);
    case DataType::kUint32:
      return reduce_int<uint32_t>(out, a, b, count, op);
    case DataType::kInt64:
      return reduce_int<int64_t>(out, a, b, count, op);
    case DataType::kUint64:
      return reduce_int<uint64_t>(out, a, b, count, op);
    case DataType::kFloat16:
      return reduce_16<half_to_float, float_to_half>(out, a, b, count, op);
    case DataType::kFloat32:
      return reduce_float<float>(out, a, b, count, op);
    case DataType::kFloat64:
      return reduce_float<double>(out, a, b, count, op);
    case DataType::kBFloat16:
      return reduce_16<bfloat16_to_float, float_to_bfloat16>(out, a, b, count, op);
  }
}

void divide_scalar(void* out, const void* in, std::size_t count, DataType type, uint64_t divisor) {
  // Integer division by zero is a caller error; copy instead of trapping (same as divide()).
  if (divisor == 0 && type != DataType::kFloat16 && type != DataType::kFloat32 &&
      type != DataType::kFloat64 && type != DataType::kBFloat16) {
    divisor = 1;
  }
  const float fdiv = static_cast<float>(divisor);
  switch (type) {
    case DataType::kInt8:
      return divide_int<int8_t>(out, in, count, divisor);
    case DataType::kUint8:
      return divide_int<uint8_t>(out, in, count, divisor);
    case DataType::kInt32:
      return divide_int<int32_t>(out, in, count, divisor);
    case DataType::kUint32:
      return divide_int<uint32_t>(out, in, count, divisor);
    case DataType::kInt64:
      return divide_int<int64_t>(out, in, count, divisor);
    case DataType::kUint64:
      return divide_int<uint64_t>(out, in, count, divisor);
    case DataType::kFloat16:
      return unary_loop<uint16_t>(
          out, in, count, [fdiv](uint16_t x) { return float_to_half(half_to_float(x) / fdiv); });
    case DataType::kFloat32:
      return unary_loop<float>(out, in, count, [fdiv](float x) { return x / fdiv; });
    case DataType::kFloat64: {
      const double ddiv = static_cast<double>(divisor);
      return unary_loop<double>(out, in, count, [ddiv](double x) { return x / ddiv; });
    }
    case DataType::kBFloat16:
      return unary_loop<uint16_t>(out, in, count, [fdiv](uint16_t x) {
        return float_to_bfloat16(bfloat16_to_float(x) / fdiv);
      });
  }
}

}  // namespace railcc::kernels
