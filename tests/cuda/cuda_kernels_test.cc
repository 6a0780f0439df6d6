// The CUDA reduction kernels (kernels/cuda/reduce.h) against the CPU reference
// (kernels::reduce_scalar), bit for bit (any NaN matches any NaN): every type x op, counts 0, 1,
// odd, around the vector width and large, aligned and misaligned pointers, 2 to 11 inputs, in
// place. Label cuda; skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/reduce.h"
#include "kernels/cuda/reduce.h"

namespace railcc::kernels {
namespace {

class CudaKernels : public ::testing::Test {
 protected:
  void SetUp() override {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
      GTEST_SKIP() << "no CUDA device: "
                   << (e != cudaSuccess ? cudaGetErrorString(e) : "the driver sees no GPU");
    }
    ASSERT_EQ(cudaStreamCreate(&stream_), cudaSuccess);
  }
  void TearDown() override {
    if (stream_) cudaStreamDestroy(stream_);
  }
  cudaStream_t stream_ = nullptr;
};

bool is_nan(DataType t, const std::byte* p) {
  uint16_t h;
  switch (t) {
    case DataType::kFloat16:
      std::memcpy(&h, p, 2);
      return (h & 0x7FFF) > 0x7C00;
    case DataType::kBFloat16:
      std::memcpy(&h, p, 2);
      return (h & 0x7FFF) > 0x7F80;
    case DataType::kFloat32: {
      float f;
      std::memcpy(&f, p, 4);
      return std::isnan(f);
    }
    case DataType::kFloat64: {
      double d;
      std::memcpy(&d, p, 8);
      return std::isnan(d);
    }
    default:
      return false;
  }
}

// Index of the first element that differs (NaN matches NaN), or -1.
long first_difference(DataType t, const std::vector<std::byte>& got,
                      const std::vector<std::byte>& want) {
  const std::size_t es = data_type_size(t);
  for (std::size_t i = 0; i < want.size() / es; ++i) {
    const std::byte* g = got.data() + i * es;
    const std::byte* w = want.data() + i * es;
    if (std::memcmp(g, w, es) == 0) continue;
    if (is_nan(t, g) && is_nan(t, w)) continue;
    return static_cast<long>(i);
  }
  return -1;
}

// Random bits; floats mostly ordinary numbers with some NaN, infinities, zeros and subnormals.
std::vector<std::byte> random_data(DataType t, std::size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  const std::size_t es = data_type_size(t);
  std::vector<std::byte> out(count * es);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(rng());
  auto put_float = [&](std::size_t i, float f) {
    if (t == DataType::kFloat16) {
      const uint16_t h = float_to_half(f);
      std::memcpy(&out[i * 2], &h, 2);
    } else if (t == DataType::kBFloat16) {
      const uint16_t b = float_to_bfloat16(f);
      std::memcpy(&out[i * 2], &b, 2);
    } else if (t == DataType::kFloat32) {
      std::memcpy(&out[i * 4], &f, 4);
    } else if (t == DataType::kFloat64) {
      const double d = static_cast<double>(f) * (1 + 1e-9 * (rng() % 1000));
      std::memcpy(&out[i * 8], &d, 8);
    }
  };
  if (t == DataType::kFloat16 || t == DataType::kBFloat16 || t == DataType::kFloat32 ||
      t == DataType::kFloat64) {
    std::uniform_real_distribution<float> v(-4.0f, 4.0f);
    for (std::size_t i = 0; i < count; ++i) {
      const uint32_t pick = rng() % 64;
      if (pick == 0) continue;  // random bits: any NaN payload, subnormals, ...
      if (pick == 1)
        put_float(i, NAN);
      else if (pick == 2)
        put_float(i, INFINITY);
      else if (pick == 3)
        put_float(i, -0.0f);
      else if (pick == 4)
        put_float(i, 1e-40f);
      else
        put_float(i, v(rng));
    }
  }
  return out;
}

struct Device {
  std::byte* p = nullptr;
  explicit Device(std::size_t bytes) { EXPECT_EQ(cudaMalloc(&p, bytes + 64), cudaSuccess); }
  ~Device() { cudaFree(p); }
};

// Reduces `n` random inputs of `count` elements at element offset `skew` of each buffer (so
// pointers lose their 16-byte alignment) and compares with the CPU reference.
void check(cudaStream_t s, DataType t, ReduceOp op, std::size_t count, int n, std::size_t skew,
           bool in_place) {
  const std::size_t es = data_type_size(t), bytes = count * es;
  std::vector<std::vector<std::byte>> in;
  std::vector<Device> dev;
  dev.reserve(static_cast<std::size_t>(n) + 1);
  std::vector<const void*> ptrs;
  for (int k = 0; k < n; ++k) {
    in.push_back(random_data(t, count, static_cast<uint32_t>(count * 131 + k * 7 + skew)));
    dev.emplace_back(bytes + skew * es);
    std::byte* p = dev.back().p + skew * es;
    if (bytes) {
      ASSERT_EQ(cudaMemcpy(p, in.back().data(), bytes, cudaMemcpyHostToDevice), cudaSuccess);
    }
    ptrs.push_back(p);
  }
  dev.emplace_back(bytes + skew * es);
  std::byte* out = in_place ? const_cast<std::byte*>(static_cast<const std::byte*>(ptrs[0]))
                            : dev.back().p + skew * es;
  std::vector<std::byte> want = in[0];
  for (int k = 1; k < n; ++k) reduce_scalar(want.data(), want.data(), in[k].data(), count, t, op);
  ASSERT_EQ(cuda::reduce(out, ptrs.data(), n, count, t, op, s), 0);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  std::vector<std::byte> got(bytes);
  if (bytes) {
    ASSERT_EQ(cudaMemcpy(got.data(), out, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
  }
  const long at = first_difference(t, got, want);
  EXPECT_LT(at, 0) << data_type_name(t) << " " << reduce_op_name(op) << " count " << count
                   << " inputs " << n << " skew " << skew << (in_place ? " in place" : "")
                   << ": first difference at element " << at;
}

TEST_F(CudaKernels, MatchTheCpuReferenceForEveryTypeAndOp) {
  for (DataType t : kAllDataTypes) {
    for (ReduceOp op : kAllReduceOps) {
      for (std::size_t count : {0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 1000, 65537}) {
        check(stream_, t, op, count, 2, 0, false);
      }
      check(stream_, t, op, 1000003, 2, 0, false);
    }
  }
}

TEST_F(CudaKernels, MisalignedPointersAndManyInputs) {
  for (DataType t : kAllDataTypes) {
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax, ReduceOp::kProd}) {
      for (std::size_t skew : {1, 3}) check(stream_, t, op, 4099, 2, skew, false);
      for (int n : {1, 3, 8, 9, 11}) check(stream_, t, op, 10007, n, 0, n % 2 == 1);
    }
  }
}

TEST_F(CudaKernels, InPlace) {
  for (DataType t : {DataType::kFloat32, DataType::kBFloat16, DataType::kInt8}) {
    check(stream_, t, ReduceOp::kSum, 123457, 2, 0, true);
  }
}

TEST_F(CudaKernels, DivideMatchesTheCpu) {
  for (DataType t : kAllDataTypes) {
    for (uint64_t divisor : {uint64_t{1}, uint64_t{3}, uint64_t{7}, uint64_t{1} << 63}) {
      for (std::size_t count : {0, 1, 17, 100003}) {
        const std::size_t bytes = count * data_type_size(t);
        const auto in = random_data(t, count, static_cast<uint32_t>(divisor + count));
        std::vector<std::byte> want(bytes), got(bytes);
        divide_scalar(want.data(), in.data(), count, t, divisor);
        Device d(bytes);
        if (bytes) {
          ASSERT_EQ(cudaMemcpy(d.p, in.data(), bytes, cudaMemcpyHostToDevice), cudaSuccess);
        }
        ASSERT_EQ(cuda::divide(d.p, d.p, count, t, divisor, stream_), 0);
        ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
        if (bytes) {
          ASSERT_EQ(cudaMemcpy(got.data(), d.p, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
        }
        EXPECT_LT(first_difference(t, got, want), 0)
            << data_type_name(t) << " / " << divisor << " count " << count;
      }
    }
  }
}

TEST_F(CudaKernels, WaitFlagHoldsTheStream) {
  uint32_t* flag = nullptr;
  ASSERT_EQ(cudaHostAlloc(reinterpret_cast<void**>(&flag), 4, cudaHostAllocMapped), cudaSuccess);
  *flag = 0;
  void* dflag = nullptr;
  ASSERT_EQ(cudaHostGetDevicePointer(&dflag, flag, 0), cudaSuccess);
  ASSERT_EQ(cuda::wait_flag(static_cast<const volatile uint32_t*>(dflag), 5, 0, stream_), 0);
  cudaEvent_t e;
  ASSERT_EQ(cudaEventCreate(&e), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(e, stream_), cudaSuccess);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(cudaEventQuery(e), cudaErrorNotReady);
  __atomic_store_n(flag, 4u, __ATOMIC_RELEASE);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(cudaEventQuery(e), cudaErrorNotReady);
  __atomic_store_n(flag, 5u, __ATOMIC_RELEASE);
  EXPECT_EQ(cudaEventSynchronize(e), cudaSuccess);
  cudaEventDestroy(e);
  cudaFreeHost(flag);
}

}  // namespace
}  // namespace railcc::kernels
