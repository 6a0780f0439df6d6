// CPU reduction kernels with runtime SIMD dispatch (Highway).
#pragma once

#include <cstddef>
#include <cstdint>

#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"

namespace railcc::kernels {

// out[i] = a[i] op b[i] for i < count. kAvg reduces as kSum (see divide()).
// out may be the same pointer as a and/or b; no other overlap is allowed.
// Integers wrap on overflow; float16/bfloat16 compute in float32 and round to nearest even.
// min/max on floats: a NaN in either input gives NaN.
void reduce(void* out, const void* a, const void* b, std::size_t count, DataType type, ReduceOp op);

// out[i] = in[i] / divisor (finishes kAvg). Integers truncate toward zero. out may equal in.
void divide(void* out, const void* in, std::size_t count, DataType type, uint64_t divisor);

// Name of the SIMD target chosen for this CPU, e.g. "AVX3", "AVX2", "SSE4", "EMU128".
const char* simd_target_name();

// Plain scalar versions, the reference the SIMD code is tested against.
void reduce_scalar(void* out, const void* a, const void* b, std::size_t count, DataType type,
                   ReduceOp op);
void divide_scalar(void* out, const void* in, std::size_t count, DataType type, uint64_t divisor);

// float <-> half / bfloat16 bit conversions, round to nearest even, NaN kept NaN.
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);
uint16_t float_to_bfloat16(float f);
float bfloat16_to_float(uint16_t b);

}  // namespace railcc::kernels
