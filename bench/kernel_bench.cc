// Throughput of the CPU reduction kernels (kernels/cpu/reduce.h), with memcpy as a baseline.
//
// Sizes are bytes of output per call. Bytes/second counts the memory traffic the call must do:
// reduce reads two inputs and writes one output, 3x the output size; memcpy reads one and writes
// one, 2x. Neither counts the extra read a cache-missing store may cost (write-allocate), so at
// sizes beyond the caches both report memory bandwidth on the same footing.
//
//   build/bin/railcc_kernel_bench --benchmark_filter='float/sum'

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "kernels/cpu/reduce.h"

namespace {

using railcc::DataType;
using railcc::ReduceOp;
using railcc::kAllDataTypes;
namespace kernels = railcc::kernels;

constexpr int64_t kSizes[] = {64 << 10, 1 << 20, 16 << 20};

std::size_t ElemSize(DataType t) { return data_type_size(t); }
const char* TypeName(DataType t) { return data_type_name(t); }
const char* OpName(ReduceOp op) { return reduce_op_name(op); }

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<uint8_t, FreeDeleter>;

// Cache-line aligned, and written once so no page faults land inside the timed loop.
Buffer AllocBuffer(std::size_t bytes) {
  Buffer buf(static_cast<uint8_t*>(std::aligned_alloc(64, bytes)));
  std::memset(buf.get(), 0, bytes);
  return buf;
}

// Values near 1: sums and products stay ordinary numbers (no subnormals, whose float arithmetic
// is far slower on x86, nor NaN/inf), matching what real reductions mostly see.
void FillNearOne(DataType t, uint8_t* p, std::size_t count, int seed) {
  for (std::size_t i = 0; i < count; ++i) {
    const float f = 1.0f + static_cast<float>((i * 7 + static_cast<std::size_t>(seed)) % 32) / 64;
    const uint64_t small = (i + static_cast<std::size_t>(seed)) % 100;
    uint8_t* e = p + i * ElemSize(t);
    switch (t) {
      case DataType::kFloat16: {
        const uint16_t h = kernels::float_to_half(f);
        std::memcpy(e, &h, 2);
        break;
      }
      case DataType::kBFloat16: {
        const uint16_t b = kernels::float_to_bfloat16(f);
        std::memcpy(e, &b, 2);
        break;
      }
      case DataType::kFloat32:
        std::memcpy(e, &f, 4);
        break;
      case DataType::kFloat64: {
        const double d = f;
        std::memcpy(e, &d, 8);
        break;
      }
      default:
        std::memcpy(e, &small, ElemSize(t));  // little-endian: the low bytes
        break;
    }
  }
}

void BM_Reduce(benchmark::State& state, DataType t, ReduceOp op) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  const std::size_t count = bytes / ElemSize(t);
  Buffer a = AllocBuffer(bytes), b = AllocBuffer(bytes), out = AllocBuffer(bytes);
  FillNearOne(t, a.get(), count, 1);
  FillNearOne(t, b.get(), count, 2);
  for (auto _ : state) {
    kernels::reduce(out.get(), a.get(), b.get(), count, t, op);
    benchmark::ClobberMemory();
  }
  // Two inputs read plus one output written.
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 3 * state.range(0));
}

void BM_Memcpy(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  Buffer src = AllocBuffer(bytes), dst = AllocBuffer(bytes);
  for (auto _ : state) {
    std::memcpy(dst.get(), src.get(), bytes);
    benchmark::ClobberMemory();
  }
  // One input read plus one output written.
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 * state.range(0));
}

void AddSizes(benchmark::internal::Benchmark* b) {
  for (int64_t size : kSizes) b->Arg(size);
}

void RegisterAll() {
  AddSizes(benchmark::RegisterBenchmark("memcpy", BM_Memcpy));
  auto add = [](DataType t, ReduceOp op) {
    const std::string name = std::string("reduce/") + TypeName(t) + "/" + OpName(op);
    AddSizes(benchmark::RegisterBenchmark(name.c_str(), BM_Reduce, t, op));
  };
  for (DataType t : kAllDataTypes) add(t, ReduceOp::kSum);
  // Every op for float32; for the 16-bit floats and int64 the ops with their own code paths
  // (NaN-propagating max, 64-bit multiply).
  for (ReduceOp op : {ReduceOp::kProd, ReduceOp::kMax, ReduceOp::kMin, ReduceOp::kAvg}) {
    add(DataType::kFloat32, op);
  }
  add(DataType::kFloat16, ReduceOp::kMax);
  add(DataType::kBFloat16, ReduceOp::kMax);
  add(DataType::kInt64, ReduceOp::kProd);
}

}  // namespace

int main(int argc, char** argv) {
  RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("simd_target", kernels::simd_target_name());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
