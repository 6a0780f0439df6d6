// Test hooks for the SIMD reduction kernels; not part of the library's interface.
//
// reduce() only shows float16/bfloat16 conversions after a round trip through float32. These
// hooks run the very same per-target conversion code on arbitrary inputs so the tests can check it
// exhaustively, once per compiled target (select one with hwy::SetSupportedTargetsForTest).
#pragma once

#include <cstddef>
#include <cstdint>

namespace railcc::kernels::internal {

// Bitmask of the Highway targets compiled into the kernels (HWY_TARGETS of reduce.cc).
int64_t compiled_targets();

// Element-wise conversions through the dispatched target's float16/bfloat16 code path.
void half_to_float_simd(float* out, const uint16_t* in, std::size_t count);
void float_to_half_simd(uint16_t* out, const float* in, std::size_t count);
void bfloat16_to_float_simd(float* out, const uint16_t* in, std::size_t count);
void float_to_bfloat16_simd(uint16_t* out, const float* in, std::size_t count);

}  // namespace railcc::kernels::internal
