// Element and 16-byte-vector operators of the CUDA reduction kernels (device code only).
//
// The rules are the CPU kernels' (kernels/cpu/reduce_scalar.cc), element for element:
//   integers: sum and prod wrap (computed unsigned), max/min compare signed or unsigned;
//   floats:   IEEE add/multiply, round to nearest even, no fused multiply-add, no flush to zero;
//             max(a, b) = isnan(a) ? a : (a > b ? a : b), min alike (NaN in either input wins).
// float16 and bfloat16 use native half-precision add/multiply (__hadd2, __hmul2); these round the
// exact result once, as the CPU's "compute in float32, round to 16 bits" does (float32 carries
// more than twice the 16-bit significand plus two bits, so its rounding never shows).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "railcc/reduce_op.hpp"

namespace railcc::kernels::cuda::detail {

// --- scalar operators -------------------------------------------------------------------------

template <typename T>
struct IsHalfType : std::false_type {};
template <>
struct IsHalfType<__half> : std::true_type {};
template <>
struct IsHalfType<__nv_bfloat16> : std::true_type {};

template <typename T, ReduceOp Op>
__device__ __forceinline__ T apply(T a, T b) {
  if constexpr (IsHalfType<T>::value) {
    if constexpr (Op == ReduceOp::kSum || Op == ReduceOp::kAvg) return __hadd(a, b);
    if constexpr (Op == ReduceOp::kProd) return __hmul(a, b);
    if constexpr (Op == ReduceOp::kMax) return __hisnan(a) ? a : (__hgt(a, b) ? a : b);
    if constexpr (Op == ReduceOp::kMin) return __hisnan(a) ? a : (__hlt(a, b) ? a : b);
  } else if constexpr (std::is_floating_point_v<T>) {
    if constexpr (Op == ReduceOp::kSum || Op == ReduceOp::kAvg) {
      if constexpr (sizeof(T) == 4)
        return __fadd_rn(a, b);  // never contracted into an fma
      else
        return __dadd_rn(a, b);
    }
    if constexpr (Op == ReduceOp::kProd) {
      if constexpr (sizeof(T) == 4)
        return __fmul_rn(a, b);
      else
        return __dmul_rn(a, b);
    }
    if constexpr (Op == ReduceOp::kMax) return isnan(a) ? a : (a > b ? a : b);
    if constexpr (Op == ReduceOp::kMin) return isnan(a) ? a : (a < b ? a : b);
  } else {
    using U = std::make_unsigned_t<T>;
    if constexpr (Op == ReduceOp::kSum || Op == ReduceOp::kAvg) {
      return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
    }
    if constexpr (Op == ReduceOp::kProd) {
      // uint8 promotes to int: multiply as unsigned int so the product cannot overflow signed.
      using W = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, U>;
      return static_cast<T>(
          static_cast<U>(static_cast<W>(static_cast<U>(a)) * static_cast<W>(static_cast<U>(b))));
    }
    if constexpr (Op == ReduceOp::kMax) return a > b ? a : b;
    if constexpr (Op == ReduceOp::kMin) return a < b ? a : b;
  }
  return a;
}

// --- 16-byte vectors --------------------------------------------------------------------------

template <typename T>
inline constexpr int kLanes = 16 / sizeof(T);

template <typename T, ReduceOp Op>
__device__ __forceinline__ uint4 apply_vec(uint4 a, uint4 b) {
  if constexpr (std::is_same_v<T, __half> &&
                (Op == ReduceOp::kSum || Op == ReduceOp::kAvg || Op == ReduceOp::kProd)) {
    __half2* x = reinterpret_cast<__half2*>(&a);
    const __half2* y = reinterpret_cast<const __half2*>(&b);
#pragma unroll
    for (int i = 0; i < 4; ++i)
      x[i] = Op == ReduceOp::kProd ? __hmul2(x[i], y[i]) : __hadd2(x[i], y[i]);
    return a;
  } else if constexpr (std::is_same_v<T, __nv_bfloat16> &&
                       (Op == ReduceOp::kSum || Op == ReduceOp::kAvg || Op == ReduceOp::kProd)) {
    __nv_bfloat162* x = reinterpret_cast<__nv_bfloat162*>(&a);
    const __nv_bfloat162* y = reinterpret_cast<const __nv_bfloat162*>(&b);
#pragma unroll
    for (int i = 0; i < 4; ++i)
      x[i] = Op == ReduceOp::kProd ? __hmul2(x[i], y[i]) : __hadd2(x[i], y[i]);
    return a;
  } else {
    T* x = reinterpret_cast<T*>(&a);
    const T* y = reinterpret_cast<const T*>(&b);
#pragma unroll
    for (int i = 0; i < kLanes<T>; ++i) x[i] = apply<T, Op>(x[i], y[i]);
    return a;
  }
}

}  // namespace railcc::kernels::cuda::detail
