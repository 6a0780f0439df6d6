// CUDA reduction kernels: see reduce.h for the contract and reduce_ops.cuh for the arithmetic.
//
// One kernel per (type, op): each thread combines up to kMaxInputs inputs, kUnroll 16-byte
// vectors at a time (several independent loads in flight per thread), in a grid-stride loop
// over a grid sized to the device (SMs x kBlocksPerSm blocks of kThreads). Elements before the
// first 16-byte boundary and after the last one go through a scalar path in the same launch.
// avg reduces as sum (the caller divides once at the end, as on the CPU), so 4 ops x 10 types
// = 40 reduce kernels, plus 10 divide kernels and the flag wait: compile time stays small.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>

#include "kernels/cuda/reduce.h"
#include "kernels/cuda/reduce_ops.cuh"

namespace railcc::kernels::cuda {
namespace {

using detail::apply;
using detail::apply_vec;
using detail::kLanes;

constexpr int kThreads = 512;
constexpr int kBlocksPerSm = 2;
constexpr int kUnroll = 4;

struct Inputs {
  const void* p[kMaxInputs];
};

// Vector region [head, head + nvec * lanes) is 16-byte aligned in every pointer; the scalar
// elements are [0, head) and [head + nvec * lanes, count).
template <typename T, ReduceOp Op>
__global__ void __launch_bounds__(kThreads, kBlocksPerSm)
    reduce_kernel(void* dst_raw, Inputs in, int n, std::size_t head, std::size_t nvec,
                  std::size_t count) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  const std::size_t tid = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  T* dst = static_cast<T*>(dst_raw);

  // Vector body: kUnroll vectors per thread per pass, every load of a pass issued before use.
  uint4* vdst = reinterpret_cast<uint4*>(dst + head);
  std::size_t i = tid;
  for (; i + (kUnroll - 1) * stride < nvec; i += kUnroll * stride) {
    uint4 acc[kUnroll];
    const uint4* v0 = reinterpret_cast<const uint4*>(static_cast<const T*>(in.p[0]) + head);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) acc[u] = v0[i + u * stride];
#pragma unroll
    for (int k = 1; k < kMaxInputs; ++k) {  // unrolled: in.p stays in parameter space
      if (k >= n) break;
      const uint4* vk = reinterpret_cast<const uint4*>(static_cast<const T*>(in.p[k]) + head);
      uint4 x[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) x[u] = vk[i + u * stride];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) acc[u] = apply_vec<T, Op>(acc[u], x[u]);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) vdst[i + u * stride] = acc[u];
  }
  for (; i < nvec; i += stride) {
    uint4 acc = reinterpret_cast<const uint4*>(static_cast<const T*>(in.p[0]) + head)[i];
#pragma unroll
    for (int k = 1; k < kMaxInputs; ++k) {
      if (k >= n) break;
      acc = apply_vec<T, Op>(
          acc, reinterpret_cast<const uint4*>(static_cast<const T*>(in.p[k]) + head)[i]);
    }
    vdst[i] = acc;
  }

  // Scalar head and tail.
  const std::size_t body_end = head + nvec * kLanes<T>;
  const std::size_t scalars = head + (count - body_end);
  for (std::size_t s = tid; s < scalars; s += stride) {
    const std::size_t e = s < head ? s : body_end + (s - head);
    T acc = static_cast<const T*>(in.p[0])[e];
#pragma unroll
    for (int k = 1; k < kMaxInputs; ++k) {
      if (k >= n) break;
      acc = apply<T, Op>(acc, static_cast<const T*>(in.p[k])[e]);
    }
    dst[e] = acc;
  }
}

// Divisors converted on the host exactly as kernels::divide converts them.
struct Divisor {
  uint64_t u;
  float f;
  double d;
};

template <typename T>
__device__ __forceinline__ T divide_one(T x, const Divisor& d) {
  if constexpr (std::is_same_v<T, __half>) {
    return __float2half_rn(__fdiv_rn(__half2float(x), d.f));
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __float2bfloat16_rn(__fdiv_rn(__bfloat162float(x), d.f));
  } else if constexpr (std::is_same_v<T, float>) {
    return __fdiv_rn(x, d.f);
  } else if constexpr (std::is_same_v<T, double>) {
    return __ddiv_rn(x, d.d);
  } else if constexpr (std::is_signed_v<T>) {
    constexpr uint64_t kMaxSigned = 0x7FFFFFFFFFFFFFFFull;
    constexpr int64_t kMinSigned = -0x7FFFFFFFFFFFFFFFll - 1;
    const int64_t v = x;
    if (d.u <= kMaxSigned) return static_cast<T>(v / static_cast<int64_t>(d.u));
    // A divisor >= 2^63 exceeds |v| except for INT64_MIN / 2^63.
    return static_cast<T>(v == kMinSigned && d.u == kMaxSigned + 1 ? -1 : 0);
  } else {
    return static_cast<T>(static_cast<uint64_t>(x) / d.u);
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    divide_kernel(T* dst, const T* src, std::size_t count, Divisor d) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    dst[i] = divide_one<T>(src[i], d);
  }
}

__device__ __forceinline__ uint32_t load_acquire_sys(const volatile uint32_t* p) {
  uint32_t v;
  asm volatile("ld.acquire.sys.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ uint64_t global_timer_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void wait_flag_kernel(const volatile uint32_t* flag, uint32_t value,
                                 uint64_t timeout_ns) {
  const uint64_t start = global_timer_ns();
  while (static_cast<int32_t>(load_acquire_sys(flag) - value) < 0) {
    if (timeout_ns != 0 && global_timer_ns() - start > timeout_ns) return;
    __nanosleep(1000);
  }
}

// SM count of each device, read once (an attribute query per launch costs about a microsecond).
constexpr int kMaxDevices = 64;
std::atomic<int> g_sm_count[kMaxDevices];

int sm_count() {
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= kMaxDevices) return 132;
  int n = g_sm_count[dev].load(std::memory_order_relaxed);
  if (n == 0) {
    if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || n <= 0) {
      n = 132;
    }
    g_sm_count[dev].store(n, std::memory_order_relaxed);
  }
  return n;
}

int blocks_for(std::size_t work_items) {
  const std::size_t per_block = static_cast<std::size_t>(kThreads) * kUnroll;
  const std::size_t wanted = (work_items + per_block - 1) / per_block;
  const std::size_t cap = static_cast<std::size_t>(sm_count()) * kBlocksPerSm;
  return static_cast<int>(wanted < 1 ? 1 : (wanted < cap ? wanted : cap));
}

template <typename T>
int launch_reduce_typed(void* dst, const void* const* inputs, int n, std::size_t count, ReduceOp op,
                        cudaStream_t stream) {
  constexpr std::size_t es = sizeof(T);
  // Element alignment is required (as for any CUDA array of T); 16-byte vectors need every
  // pointer at the same offset from a 16-byte boundary.
  const uintptr_t mis = reinterpret_cast<uintptr_t>(dst) % 16;
  bool same = true;
  if (reinterpret_cast<uintptr_t>(dst) % es != 0) return cudaErrorMisalignedAddress;
  Inputs in{};
  for (int k = 0; k < n; ++k) {
    in.p[k] = inputs[k];
    if (reinterpret_cast<uintptr_t>(inputs[k]) % es != 0) return cudaErrorMisalignedAddress;
    same = same && reinterpret_cast<uintptr_t>(inputs[k]) % 16 == mis;
  }
  std::size_t head = count, nvec = 0;
  if (same) {
    head = ((16 - mis) % 16) / es;
    if (head > count) head = count;
    nvec = (count - head) / kLanes<T>;
  }
  const std::size_t work = nvec + (count - nvec * kLanes<T>) / kUnroll;
  const int blocks = blocks_for(work);
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      reduce_kernel<T, ReduceOp::kSum>
          <<<blocks, kThreads, 0, stream>>>(dst, in, n, head, nvec, count);
      break;
    case ReduceOp::kProd:
      reduce_kernel<T, ReduceOp::kProd>
          <<<blocks, kThreads, 0, stream>>>(dst, in, n, head, nvec, count);
      break;
    case ReduceOp::kMax:
      reduce_kernel<T, ReduceOp::kMax>
          <<<blocks, kThreads, 0, stream>>>(dst, in, n, head, nvec, count);
      break;
    case ReduceOp::kMin:
      reduce_kernel<T, ReduceOp::kMin>
          <<<blocks, kThreads, 0, stream>>>(dst, in, n, head, nvec, count);
      break;
    default:
      return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

int launch_reduce(void* dst, const void* const* inputs, int n, std::size_t count, DataType type,
                  ReduceOp op, cudaStream_t stream) {
  switch (type) {
    case DataType::kInt8:
      return launch_reduce_typed<int8_t>(dst, inputs, n, count, op, stream);
    case DataType::kUint8:
      return launch_reduce_typed<uint8_t>(dst, inputs, n, count, op, stream);
    case DataType::kInt32:
      return launch_reduce_typed<int32_t>(dst, inputs, n, count, op, stream);
    case DataType::kUint32:
      return launch_reduce_typed<uint32_t>(dst, inputs, n, count, op, stream);
    case DataType::kInt64:
      return launch_reduce_typed<int64_t>(dst, inputs, n, count, op, stream);
    case DataType::kUint64:
      return launch_reduce_typed<uint64_t>(dst, inputs, n, count, op, stream);
    case DataType::kFloat16:
      return launch_reduce_typed<__half>(dst, inputs, n, count, op, stream);
    case DataType::kFloat32:
      return launch_reduce_typed<float>(dst, inputs, n, count, op, stream);
    case DataType::kFloat64:
      return launch_reduce_typed<double>(dst, inputs, n, count, op, stream);
    case DataType::kBFloat16:
      return launch_reduce_typed<__nv_bfloat16>(dst, inputs, n, count, op, stream);
  }
  return cudaErrorInvalidValue;
}

template <typename T>
int launch_divide(void* dst, const void* src, std::size_t count, const Divisor& d,
                  cudaStream_t stream) {
  if (reinterpret_cast<uintptr_t>(dst) % sizeof(T) != 0 ||
      reinterpret_cast<uintptr_t>(src) % sizeof(T) != 0) {
    return cudaErrorMisalignedAddress;
  }
  divide_kernel<T><<<blocks_for(count / kUnroll + 1), kThreads, 0, stream>>>(
      static_cast<T*>(dst), static_cast<const T*>(src), count, d);
  return cudaGetLastError();
}

}  // namespace

LaunchShape launch_shape(std::size_t vectors) { return {blocks_for(vectors), kThreads}; }

int reduce(void* dst, const void* const* inputs, int n, std::size_t count, DataType type,
           ReduceOp op, void* stream) {
  if (n < 1 || !is_valid(type) || !is_valid(op)) return cudaErrorInvalidValue;
  if (count == 0) return cudaSuccess;
  const auto s = static_cast<cudaStream_t>(stream);
  // The first launch folds up to kMaxInputs inputs into dst; each further launch folds dst and
  // up to kMaxInputs - 1 more, keeping the left-to-right order.
  int first = n < kMaxInputs ? n : kMaxInputs;
  if (int e = launch_reduce(dst, inputs, first, count, type, op, s); e != cudaSuccess) return e;
  const void* batch[kMaxInputs];
  for (int k = first; k < n;) {
    batch[0] = dst;
    int m = 1;
    while (m < kMaxInputs && k < n) batch[m++] = inputs[k++];
    if (int e = launch_reduce(dst, batch, m, count, type, op, s); e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

int reduce(void* dst, const void* a, const void* b, std::size_t count, DataType type, ReduceOp op,
           void* stream) {
  const void* inputs[2] = {a, b};
  return reduce(dst, inputs, 2, count, type, op, stream);
}

int divide(void* dst, const void* src, std::size_t count, DataType type, uint64_t divisor,
           void* stream) {
  if (!is_valid(type)) return cudaErrorInvalidValue;
  if (count == 0) return cudaSuccess;
  const bool is_float = type == DataType::kFloat16 || type == DataType::kFloat32 ||
                        type == DataType::kFloat64 || type == DataType::kBFloat16;
  // Integer division by zero copies (kernels::divide does the same).
  const uint64_t u = divisor == 0 && !is_float ? 1 : divisor;
  const Divisor d{u, static_cast<float>(divisor), static_cast<double>(divisor)};
  const auto s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case DataType::kInt8:
      return launch_divide<int8_t>(dst, src, count, d, s);
    case DataType::kUint8:
      return launch_divide<uint8_t>(dst, src, count, d, s);
    case DataType::kInt32:
      return launch_divide<int32_t>(dst, src, count, d, s);
    case DataType::kUint32:
      return launch_divide<uint32_t>(dst, src, count, d, s);
    case DataType::kInt64:
      return launch_divide<int64_t>(dst, src, count, d, s);
    case DataType::kUint64:
      return launch_divide<uint64_t>(dst, src, count, d, s);
    case DataType::kFloat16:
      return launch_divide<__half>(dst, src, count, d, s);
    case DataType::kFloat32:
      return launch_divide<float>(dst, src, count, d, s);
    case DataType::kFloat64:
      return launch_divide<double>(dst, src, count, d, s);
    case DataType::kBFloat16:
      return launch_divide<__nv_bfloat16>(dst, src, count, d, s);
  }
  return cudaErrorInvalidValue;
}

int wait_flag(const volatile uint32_t* flag, uint32_t value, uint64_t timeout_ns, void* stream) {
  wait_flag_kernel<<<1, 1, 0, static_cast<cudaStream_t>(stream)>>>(flag, value, timeout_ns);
  return cudaGetLastError();
}

}  // namespace railcc::kernels::cuda
