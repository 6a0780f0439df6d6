#include "bench/common/data_pattern.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

namespace railcc::bench {
namespace {

// 16-bit floating-point storage types; arithmetic goes through float.
struct Half {
  uint16_t bits;
};
struct Bf16 {
  uint16_t bits;
};

template <typename T>
inline constexpr bool kIsInteger = std::is_integral_v<T>;

template <typename T>
double ToDouble(T value) {
  if constexpr (std::is_same_v<T, Half>) {
    return HalfToFloat(value.bits);
  } else if constexpr (std::is_same_v<T, Bf16>) {
    return Bf16ToFloat(value.bits);
  } else {
    return static_cast<double>(value);
  }
}

template <typename T>
T FromDouble(double value) {
  if constexpr (std::is_same_v<T, Half>) {
    return Half{FloatToHalf(static_cast<float>(value))};
  } else if constexpr (std::is_same_v<T, Bf16>) {
    return Bf16{FloatToBf16(static_cast<float>(value))};
  } else {
    return static_cast<T>(value);
  }
}

// Units of roundoff (2^-precision) of the floating-point types.
template <typename T>
double UnitRoundoff() {
  if constexpr (std::is_same_v<T, Half>) return std::ldexp(1.0, -11);
  if constexpr (std::is_same_v<T, Bf16>) return std::ldexp(1.0, -8);
  if constexpr (std::is_same_v<T, float>) return std::ldexp(1.0, -24);
  return std::ldexp(1.0, -53);
}

template <typename Fn>
decltype(auto) DispatchType(DataType type, Fn&& fn) {
  switch (type) {
    case DataType::kInt8:
      return fn(int8_t{});
    case DataType::kUint8:
      return fn(uint8_t{});
    case DataType::kInt32:
      return fn(int32_t{});
    case DataType::kUint32:
      return fn(uint32_t{});
    case DataType::kInt64:
      return fn(int64_t{});
    case DataType::kUint64:
      return fn(uint64_t{});
    case DataType::kFloat16:
      return fn(Half{});
    case DataType::kFloat32:
      return fn(float{});
    case DataType::kFloat64:
      return fn(double{});
    case DataType::kBFloat16:
      return fn(Bf16{});
  }
  return fn(uint8_t{});  // unreachable for valid types
}

struct PatternSpec {
  uint64_t period;
  uint64_t rank_stride;
};

PatternSpec Spec(Pattern pattern) {
  switch (pattern) {
    case Pattern::kCopy:
      return {113, 37};
    case Pattern::kSum:
      return {7, 1};
    case Pattern::kProd:
      return {4, 1};
    case Pattern::kMinMax:
      return {13, 5};
  }
  return {1, 0};
}

// Value of the element whose phase is `phase` (always a small positive integer).
uint64_t PatternValue(Pattern pattern, uint64_t phase) {
  if (pattern == Pattern::kProd) return phase == 0 ? 2 : 1;
  return phase + 1;
}

uint64_t Phase(const PatternSpec& spec, std::size_t offset, int rank, int seed) {
  const uint64_t r = static_cast<uint64_t>(rank) % spec.period;
  const uint64_t s = static_cast<uint64_t>(seed) % spec.period;
  return (offset % spec.period + s + r * spec.rank_stride % spec.period) % spec.period;
}

// Repeats `table` (one entry per phase) into dst starting at phase `phase`.
template <typename T>
void FillFromTable(T* dst, std::size_t count, const std::vector<T>& table, uint64_t phase) {
  const std::size_t period = table.size();
  std::size_t i = 0;
  // Head up to the end of the first period, then whole periods, then the tail.
  while (i < count && phase != 0) {
    dst[i++] = table[phase];
    if (++phase == period) phase = 0;
  }
  while (i + period <= count) {
    std::memcpy(dst + i, table.data(), period * sizeof(T));
    i += period;
  }
  for (std::size_t p = 0; i < count; ++i, ++p) dst[i] = table[p];
}

template <typename T>
void FillInputTyped(T* dst, std::size_t count, std::size_t offset, Pattern pattern, int rank,
                    int seed) {
  const PatternSpec spec = Spec(pattern);
  std::vector<T> table(spec.period);
  for (uint64_t p = 0; p < spec.period; ++p) {
    table[p] = FromDouble<T>(static_cast<double>(PatternValue(pattern, p)));
  }
  FillFromTable(dst, count, table, Phase(spec, offset, rank, seed));
}

// Expected result of `op` over ranks for each phase q = (index + seed) mod period.
template <typename T>
std::vector<T> ReducedTable(ReduceOp op, int nranks) {
  const Pattern pattern = PatternFor(op);
  const PatternSpec spec = Spec(pattern);
  std::vector<T> table(spec.period);
  for (uint64_t q = 0; q < spec.period; ++q) {
    auto value = [&](int r) {
      return PatternValue(
          pattern, (q + static_cast<uint64_t>(r) % spec.period * spec.rank_stride) % spec.period);
    };
    if constexpr (kIsInteger<T>) {
      // Unsigned 64-bit arithmetic wraps exactly like the narrower types do once truncated.
      uint64_t acc = value(0);
      for (int r = 1; r < nranks; ++r) {
        switch (op) {
          case ReduceOp::kSum:
          case ReduceOp::kAvg:
            acc += value(r);
            break;
          case ReduceOp::kProd:
            acc *= value(r);
            break;
          case ReduceOp::kMax:
            acc = std::max(acc, value(r));
            break;
          case ReduceOp::kMin:
            acc = std::min(acc, value(r));
            break;
        }
      }
      if (op == ReduceOp::kAvg) acc /= static_cast<uint64_t>(nranks);
      table[q] = static_cast<T>(acc);
    } else {
      double acc = static_cast<double>(value(0));
      for (int r = 1; r < nranks; ++r) {
        const double v = static_cast<double>(value(r));
        switch (op) {
          case ReduceOp::kSum:
          case ReduceOp::kAvg:
            acc += v;
            break;
          case ReduceOp::kProd:
            acc *= v;
            break;
          case ReduceOp::kMax:
            acc = std::max(acc, v);
            break;
          case ReduceOp::kMin:
            acc = std::min(acc, v);
            break;
        }
      }
      if (op == ReduceOp::kAvg) acc /= nranks;
      table[q] = FromDouble<T>(acc);
    }
  }
  return table;
}

template <typename T>
int64_t CountWrongTyped(const T* got, const T* want, std::size_t count, double rel_tol) {
  int64_t wrong = 0;
  if constexpr (kIsInteger<T>) {
    for (std::size_t i = 0; i < count; ++i) wrong += got[i] != want[i];
  } else {
    for (std::size_t i = 0; i < count; ++i) {
      const double g = ToDouble(got[i]);
      const double w = ToDouble(want[i]);
      // Equal infinities match; NaN never does.
      wrong += !(g == w || std::fabs(g - w) <= rel_tol * std::fabs(w));
    }
  }
  return wrong;
}

}  // namespace

Pattern PatternFor(std::optional<ReduceOp> op) {
  if (!op) return Pattern::kCopy;
  switch (*op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      return Pattern::kSum;
    case ReduceOp::kProd:
      return Pattern::kProd;
    case ReduceOp::kMax:
    case ReduceOp::kMin:
      return Pattern::kMinMax;
  }
  return Pattern::kCopy;
}

void FillInput(void* dst, std::size_t count, std::size_t offset, DataType type, Pattern pattern,
               int rank, int seed) {
  DispatchType(type, [&](auto tag) {
    using T = decltype(tag);
    FillInputTyped(static_cast<T*>(dst), count, offset, pattern, rank, seed);
  });
}

void FillReduced(void* dst, std::size_t count, std::size_t offset, DataType type, ReduceOp op,
                 int nranks, int seed) {
  DispatchType(type, [&](auto tag) {
    using T = decltype(tag);
    const std::vector<T> table = ReducedTable<T>(op, nranks);
    FillFromTable(static_cast<T*>(dst), count, table,
                  Phase(Spec(PatternFor(op)), offset, /*rank=*/0, seed));
  });
}

int64_t CountWrong(const void* got, const void* want, std::size_t count, DataType type,
                   std::optional<ReduceOp> op, int nranks) {
  return DispatchType(type, [&](auto tag) -> int64_t {
    using T = decltype(tag);
    double rel_tol = 0;
    if constexpr (!kIsInteger<T>) {
      if (op == ReduceOp::kAvg) rel_tol = (nranks + 2) * UnitRoundoff<T>();
    }
    return CountWrongTyped(static_cast<const T*>(got), static_cast<const T*>(want), count, rel_tol);
  });
}

uint16_t FloatToHalf(float value) {
  const uint32_t x = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to infinity
  if (abs < 0x38800000u) {
    // Below the smallest normal half (2^-14): a multiple of 2^-24, rounded to nearest even.
    const float scaled = std::bit_cast<float>(abs) * 16777216.0f;  // exact: power-of-two scale
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  const uint32_t exponent = (abs >> 23) - 127 + 15;
  const uint32_t mantissa = abs & 0x7fffffu;
  uint32_t half = (exponent << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // carries into the exponent
  return sign | static_cast<uint16_t>(half);
}

float HalfToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t FloatToBf16(float value) {
  const uint32_t x = std::bit_cast<uint32_t>(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // NaN
  const uint32_t rounded = x + 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(rounded >> 16);
}

float Bf16ToFloat(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

}  // namespace railcc::bench
