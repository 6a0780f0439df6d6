// DeviceApi over the CUDA runtime (linked statically) and the driver shim. Built only with
// RAILCC_CUDA; device_api() creates it once a driver with a device is present.
#include <cuda_runtime.h>
#include <fmt/format.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>

#include "kernels/cuda/reduce.h"
#include "railcc/status.hpp"
#include "src/common/log.h"
#include "src/cuda/device_api.h"
#include "src/cuda/driver_shim.h"

namespace railcc::cuda {
namespace {

void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  throw SystemError(
      fmt::format("CUDA: {} failed: {} ({})", what, cudaGetErrorName(e), cudaGetErrorString(e)));
}
void check(int e, const char* what) { check(static_cast<cudaError_t>(e), what); }

cudaStream_t stream_of(StreamHandle s) { return static_cast<cudaStream_t>(s); }
cudaEvent_t event_of(EventHandle e) { return static_cast<cudaEvent_t>(e); }

class CudaDeviceApi final : public DeviceApi {
 public:
  CudaDeviceApi() {
    const char* mode = std::getenv("RAILCC_CUDA_WAIT");
    const std::string_view m = mode ? mode : "auto";
    use_memops_ = m != "kernel";
    force_memops_ = m == "memop";
  }

  const char* name() const override { return "cuda"; }

  int device_count() override {
    int n = 0;
    check(cudaGetDeviceCount(&n), "cudaGetDeviceCount");
    return n;
  }

  PointerInfo classify(const void* p) override { return driver::pointer_info(p); }

  int current_device() override {
    int d = 0;
    check(cudaGetDevice(&d), "cudaGetDevice");
    return d;
  }
  void set_device(int ordinal) override { check(cudaSetDevice(ordinal), "cudaSetDevice"); }

  std::string device_uuid(int ordinal) override {
    std::lock_guard lock(mutex_);
    if (ordinal >= 0 && ordinal < static_cast<int>(uuids_.size()) && !uuids_[ordinal].empty()) {
      return uuids_[ordinal];
    }
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, ordinal), "cudaGetDeviceProperties");
    std::string out = "GPU-";
    for (char c : prop.uuid.bytes) out += fmt::format("{:02x}", static_cast<unsigned char>(c));
    if (ordinal >= 0 && ordinal < static_cast<int>(uuids_.size())) uuids_[ordinal] = out;
    return out;
  }

  StreamHandle create_stream() override {
    cudaStream_t s = nullptr;
    check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    return s;
  }
  void destroy_stream(StreamHandle s) override { cudaStreamDestroy(stream_of(s)); }

  EventHandle create_event() override {
    cudaEvent_t e = nullptr;
    check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    return e;
  }
  void destroy_event(EventHandle e) override { cudaEventDestroy(event_of(e)); }
  void record(EventHandle e, StreamHandle s) override {
    check(cudaEventRecord(event_of(e), stream_of(s)), "cudaEventRecord");
  }
  bool query(EventHandle e) override {
    const cudaError_t r = cudaEventQuery(event_of(e));
    if (r == cudaErrorNotReady) return false;
    check(r, "cudaEventQuery");
    return true;
  }
  void stream_wait_event(StreamHandle s, EventHandle e) override {
    check(cudaStreamWaitEvent(stream_of(s), event_of(e), 0), "cudaStreamWaitEvent");
  }

  void* alloc_device(std::size_t bytes) override {
    void* p = nullptr;
    check(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc");
    return p;
  }
  void free_device(void* p) override {
    if (p) cudaFree(p);
  }
  void* alloc_host(std::size_t bytes) override {
    void* p = nullptr;
    check(cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocPortable | cudaHostAllocMapped),
          "cudaHostAlloc");
    return p;
  }
  void free_host(void* p) override {
    if (p) cudaFreeHost(p);
  }
  void copy_async(void* dst, const void* src, std::size_t bytes, StreamHandle s) override {
    if (bytes == 0) return;
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream_of(s)), "cudaMemcpyAsync");
  }
  void copy(void* dst, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    // cudaMemcpy from pageable memory may return before the DMA landed: wait for it too.
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, cudaStreamLegacy), "cudaMemcpyAsync");
    check(cudaStreamSynchronize(cudaStreamLegacy), "cudaStreamSynchronize");
  }
  void synchronize(StreamHandle s) override {
    check(cudaStreamSynchronize(stream_of(s)), "cudaStreamSynchronize");
  }

  void reduce(void* dst, const void* const* inputs, int n, std::size_t count, DataType type,
              ReduceOp op, StreamHandle s) override {
    check(kernels::cuda::reduce(dst, inputs, n, count, type, op, s), "reduce kernel launch");
  }
  void divide(void* dst, const void* src, std::size_t count, DataType type, uint64_t divisor,
              StreamHandle s) override {
    check(kernels::cuda::divide(dst, src, count, type, divisor, s), "divide kernel launch");
  }

  void wait_flag(StreamHandle s, const uint32_t* flag, uint32_t value) override {
    void* dptr = nullptr;
    check(cudaHostGetDevicePointer(&dptr, const_cast<uint32_t*>(flag), 0),
          "cudaHostGetDevicePointer");
    if (use_memops_) {
      const int r = driver::stream_wait_value32(s, dptr, value);
      if (r == 0) return;
      if (force_memops_) {
        throw UnsupportedError(fmt::format(
            "RAILCC_CUDA_WAIT=memop: cuStreamWaitValue32 failed (CUresult {}); use auto or "
            "kernel",
            r));
      }
      RAILCC_INFO("cuda",
                  "cuStreamWaitValue32 is unavailable (CUresult {}): streams wait for railcc with "
                  "a one-thread kernel instead",
                  r);
      use_memops_ = false;
    }
    check(kernels::cuda::wait_flag(static_cast<const volatile uint32_t*>(dptr), value, 0, s),
          "wait kernel launch");
  }

  IpcHandle ipc_export(void* base) override {
    cudaIpcMemHandle_t h{};
    check(cudaIpcGetMemHandle(&h, base), "cudaIpcGetMemHandle");
    IpcHandle out;
    static_assert(sizeof(h) <= sizeof(out.bytes));
    std::memcpy(out.bytes.data(), &h, sizeof(h));
    return out;
  }
  void* ipc_open(const IpcHandle& handle) override {
    cudaIpcMemHandle_t h{};
    std::memcpy(&h, handle.bytes.data(), sizeof(h));
    void* p = nullptr;
    const cudaError_t e = cudaIpcOpenMemHandle(&p, h, cudaIpcMemLazyEnablePeerAccess);
    if (e != cudaSuccess) {
      RAILCC_INFO("cuda", "cudaIpcOpenMemHandle failed: {} ({})", cudaGetErrorName(e),
                  cudaGetErrorString(e));
      cudaGetLastError();  // not sticky: clear it so later calls do not report it
      return nullptr;
    }
    return p;
  }
  void ipc_close(void* mapped) override {
    if (mapped) cudaIpcCloseMemHandle(mapped);
  }

 private:
  std::mutex mutex_;
  std::array<std::string, 64> uuids_;
  std::atomic<bool> use_memops_{true};  // cleared for good after the first failure (auto)
  bool force_memops_ = false;
};

}  // namespace

std::unique_ptr<DeviceApi> make_cuda_device_api() { return std::make_unique<CudaDeviceApi>(); }

}  // namespace railcc::cuda
