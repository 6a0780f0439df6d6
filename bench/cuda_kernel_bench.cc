// railcc_cuda_kernel_bench: bandwidth of the CUDA reduction kernels (kernels/cuda/reduce.h)
// next to cudaMemcpy device-to-device on the same buffer size, nccl-tests style.
//
// Bandwidth counts the memory traffic each call must do: a reduce of n inputs reads n buffers
// and writes one ((n + 1) x size), a device-to-device copy reads one and writes one (2 x size).
// So "ratio" compares how close each kernel gets to the copy engine's / memcpy's use of HBM.
//
//   build/bin/railcc_cuda_kernel_bench -b 1M -e 256M -f 4 -d all -o all
//   build/bin/railcc_cuda_kernel_bench -b 256M -e 256M --min-ratio 0.85  # the gate in
//   cuda_check.sh
//
// Without a GPU it prints why and exits 0.
#include <cuda_runtime.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/common/perf_args.h"
#include "kernels/cuda/reduce.h"
#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"

namespace {

using railcc::DataType;
using railcc::ReduceOp;

#define CUDA_OK(call)                                                          \
  do {                                                                         \
    const cudaError_t e_ = (call);                                             \
    if (e_ != cudaSuccess) {                                                   \
      std::fprintf(stderr, "railcc_cuda_kernel_bench: %s failed: %s\n", #call, \
                   cudaGetErrorString(e_));                                    \
      std::exit(1);                                                            \
    }                                                                          \
  } while (0)

struct Timer {
  cudaEvent_t start, stop;
  Timer() {
    CUDA_OK(cudaEventCreate(&start));
    CUDA_OK(cudaEventCreate(&stop));
  }
  ~Timer() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  // Seconds per call of fn, averaged over `iters` calls after `warmup`.
  template <typename Fn>
  double time(cudaStream_t s, int warmup, int iters, Fn&& fn) {
    for (int i = 0; i < warmup; ++i) fn();
    CUDA_OK(cudaEventRecord(start, s));
    for (int i = 0; i < iters; ++i) fn();
    CUDA_OK(cudaEventRecord(stop, s));
    CUDA_OK(cudaEventSynchronize(stop));
    float ms = 0;
    CUDA_OK(cudaEventElapsedTime(&ms, start, stop));
    return ms / 1e3 / iters;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string min_bytes = "1M", max_bytes = "256M", types = "all", ops = "sum";
  int step = 4, iters = 20, warmup = 5, inputs = 2;
  double min_ratio = 0;
  CLI::App app("railcc_cuda_kernel_bench: CUDA reduce kernels vs cudaMemcpy device-to-device");
  app.add_option("-b,--minbytes", min_bytes, "Smallest output size (K/M/G suffix)")
      ->capture_default_str();
  app.add_option("-e,--maxbytes", max_bytes, "Largest output size")->capture_default_str();
  app.add_option("-f,--stepfactor", step, "Size multiplier between rows")->capture_default_str();
  app.add_option("-n,--iters", iters, "Timed calls per result")->capture_default_str();
  app.add_option("-w,--warmup_iters", warmup, "Untimed calls first")->capture_default_str();
  app.add_option("-d,--datatype", types, "A type or all")->capture_default_str();
  app.add_option("-o,--op", ops, "sum, prod, max, min, avg or all")->capture_default_str();
  app.add_option("-k,--inputs", inputs, "Inputs per reduce (2 = the fused a op b)")
      ->capture_default_str();
  app.add_option("--min-ratio", min_ratio,
                 "Exit 1 unless float32 and bfloat16 sum reach this fraction of the memcpy "
                 "bandwidth at the largest size (0 = report only)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const auto lo = railcc::bench::ParseSize(min_bytes), hi = railcc::bench::ParseSize(max_bytes);
  if (!lo || !hi || *lo > *hi || step < 2 || iters < 1 || inputs < 1 || inputs > 64) {
    std::fprintf(stderr, "railcc_cuda_kernel_bench: bad sizes, step, iters or inputs\n");
    return 2;
  }
  std::vector<DataType> type_list;
  std::vector<ReduceOp> op_list;
  if (types == "all") {
    type_list.assign(std::begin(railcc::kAllDataTypes), std::end(railcc::kAllDataTypes));
  } else if (auto t = railcc::parse_data_type(types)) {
    type_list.push_back(*t);
  } else {
    std::fprintf(stderr, "railcc_cuda_kernel_bench: unknown type %s\n", types.c_str());
    return 2;
  }
  if (ops == "all") {
    op_list.assign(std::begin(railcc::kAllReduceOps), std::end(railcc::kAllReduceOps));
  } else if (auto o = railcc::parse_reduce_op(ops)) {
    op_list.push_back(*o);
  } else {
    std::fprintf(stderr, "railcc_cuda_kernel_bench: unknown op %s\n", ops.c_str());
    return 2;
  }

  int devices = 0;
  const cudaError_t e = cudaGetDeviceCount(&devices);
  if (e != cudaSuccess || devices == 0) {
    std::printf("# railcc_cuda_kernel_bench: no CUDA device (%s): nothing to measure\n",
                e != cudaSuccess ? cudaGetErrorString(e) : "the driver sees no GPU");
    return 0;
  }
  cudaDeviceProp prop{};
  CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  std::printf("# railcc_cuda_kernel_bench: %s, %d SMs, %d inputs per reduce\n", prop.name,
              prop.multiProcessorCount, inputs);
  std::printf(
      "# traffic: reduce (inputs + 1) x bytes, memcpy D2D 2 x bytes; ratio = GB/s of the "
      "kernel / GB/s of the copy\n");
  std::printf("%12s %9s %5s %10s %9s %10s %9s %6s\n", "bytes", "type", "op", "time_us", "GB/s",
              "memcpy_us", "GB/s", "ratio");

  cudaStream_t s;
  CUDA_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  std::vector<void*> in(static_cast<std::size_t>(inputs));
  void* out = nullptr;
  for (auto& p : in) {
    CUDA_OK(cudaMalloc(&p, *hi));
    CUDA_OK(cudaMemset(p, 0x3c, *hi));  // 1.0-ish halves, small ordinary floats
  }
  CUDA_OK(cudaMalloc(&out, *hi));
  CUDA_OK(cudaDeviceSynchronize());
  Timer timer;
  bool below = false;
  for (std::size_t bytes = *lo; bytes <= *hi; bytes *= static_cast<std::size_t>(step)) {
    const double copy_s = timer.time(s, warmup, iters, [&] {
      CUDA_OK(cudaMemcpyAsync(out, in[0], bytes, cudaMemcpyDeviceToDevice, s));
    });
    const double copy_gbps = 2.0 * bytes / copy_s / 1e9;
    for (DataType t : type_list) {
      const std::size_t count = bytes / railcc::data_type_size(t);
      for (ReduceOp op : op_list) {
        const double k_s = timer.time(s, warmup, iters, [&] {
          const int r = railcc::kernels::cuda::reduce(out, in.data(), inputs, count, t, op, s);
          if (r != 0) {
            std::fprintf(stderr, "reduce launch failed: %s\n",
                         cudaGetErrorString(static_cast<cudaError_t>(r)));
            std::exit(1);
          }
        });
        const double gbps = (inputs + 1.0) * count * railcc::data_type_size(t) / k_s / 1e9;
        const double ratio = gbps / copy_gbps;
        std::printf("%12zu %9s %5s %10.1f %9.1f %10.1f %9.1f %6.2f\n", bytes,
                    railcc::data_type_name(t), railcc::reduce_op_name(op), k_s * 1e6, gbps,
                    copy_s * 1e6, copy_gbps, ratio);
        if (bytes * step > *hi && op == ReduceOp::kSum &&
            (t == DataType::kFloat32 || t == DataType::kBFloat16) && ratio < min_ratio) {
          below = true;
        }
      }
    }
    if (bytes > *hi / static_cast<std::size_t>(step)) break;
  }
  for (void* p : in) cudaFree(p);
  cudaFree(out);
  cudaStreamDestroy(s);
  if (min_ratio > 0) {
    std::printf("# float32/bfloat16 sum at %zu bytes %s %.0f%% of memcpy D2D\n", *hi,
                below ? "BELOW" : "reach", min_ratio * 100);
  }
  return below ? 1 : 0;
}
