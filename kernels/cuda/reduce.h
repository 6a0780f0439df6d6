// CUDA reduction kernels (kernels/cuda/reduce.cu): the device counterpart of kernels/cpu/reduce.h.
//
// Same semantics as the CPU kernels, element for element: integers wrap, float16/bfloat16 use
// the GPU's native half-precision arithmetic (bit-identical to the CPU's compute-in-float32 then
// round: a float32 sum or product of two halves rounds only once more, which for + and * can
// never change the result), min/max propagate NaN with the CPU's `a > b ? a : b` rule, kAvg
// reduces as kSum and divide() finishes it.
//
// The header needs no CUDA headers: streams are passed as void* (a cudaStream_t; nullptr is the
// legacy default stream) and errors come back as the cudaError_t value (0 = cudaSuccess). Every
// function only enqueues work on `stream` and returns.
#pragma once

#include <cstddef>
#include <cstdint>

#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"

namespace railcc::kernels::cuda {

// Inputs one launch of reduce() combines; more are folded in by further launches.
inline constexpr int kMaxInputs = 8;

// dst[i] = inputs[0][i] op inputs[1][i] op ... op inputs[n-1][i], left to right, for i < count.
// n >= 1 (n == 1 copies). Pointers may be device memory of any device the current one can
// access (peer or CUDA IPC mappings included). dst may equal any input; no other overlap.
// Any alignment works; 16-byte vector loads and stores are used where the pointers allow.
int reduce(void* dst, const void* const* inputs, int n, std::size_t count, DataType type,
           ReduceOp op, void* stream);

// The fused two-input form the algorithms use: dst = a op b.
int reduce(void* dst, const void* a, const void* b, std::size_t count, DataType type, ReduceOp op,
           void* stream);

// dst[i] = src[i] / divisor (finishes kAvg), exactly as kernels::divide: integers truncate toward
// zero, float16/bfloat16/float32 divide in float32, float64 in double. dst may equal src.
int divide(void* dst, const void* src, std::size_t count, DataType type, uint64_t divisor,
           void* stream);

// Blocks `stream` until the 32-bit word at `flag` (device-visible memory, e.g. mapped pinned host
// memory) reaches `value` (wrap-around compare: (int32_t)(*flag - value) >= 0), or `timeout_ns`
// passed (then the stream goes on). One thread; the fallback where stream memory operations
// (cuStreamWaitValue32) are unavailable.
int wait_flag(const volatile uint32_t* flag, uint32_t value, uint64_t timeout_ns, void* stream);

// Blocks of the reduce kernel per SM and threads per block (grid = SMs x blocks per SM, capped
// by the work). Exposed for the benchmark.
struct LaunchShape {
  int blocks;
  int threads;
};
LaunchShape launch_shape(std::size_t vectors);

}  // namespace railcc::kernels::cuda
