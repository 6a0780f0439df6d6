// The GPU as the collectives see it: memory kinds, streams, events, copies, reduction kernels,
// flags the GPU can wait on, and CUDA IPC. One interface, so the orchestration above it
// (stream_ops.h, ipc_collectives.h) runs unchanged on
//   - the CUDA runtime (cuda_device_api.cc, built with RAILCC_CUDA), and
//   - a CPU emulation in the tests (tests/cuda/fake_device.h), which checks stream ordering,
//     staging and the IPC algorithms on machines without a GPU.
// Every call throws railcc::SystemError (naming the CUDA call and its error) on failure.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"

namespace railcc::cuda {

using StreamHandle = void*;  // cudaStream_t; nullptr is the legacy default stream
using EventHandle = void*;   // cudaEvent_t

// Where a pointer lives, as far as a collective cares.
struct PointerInfo {
  bool device = false;  // device (or managed) memory: move it with copies and kernels
  int ordinal = -1;     // its device, when device
};

// A CUDA IPC handle (cudaIpcMemHandle_t is 64 bytes) plus room for an emulation's own form.
struct IpcHandle {
  std::array<uint8_t, 128> bytes{};
};

class DeviceApi {
 public:
  virtual ~DeviceApi() = default;
  virtual const char* name() const = 0;  // "cuda" or the emulation's name

  virtual int device_count() = 0;
  virtual PointerInfo classify(const void* p) = 0;
  // The calling thread's device, and setting it (each thread starts on device 0).
  virtual int current_device() = 0;
  virtual void set_device(int ordinal) = 0;
  // Identifies a physical device across processes (its UUID): equal = the same GPU.
  virtual std::string device_uuid(int ordinal) = 0;

  virtual StreamHandle create_stream() = 0;  // non-blocking, on the current device
  virtual void destroy_stream(StreamHandle s) = 0;
  virtual EventHandle create_event() = 0;  // without timing
  virtual void destroy_event(EventHandle e) = 0;
  virtual void record(EventHandle e, StreamHandle s) = 0;
  // True once the work recorded before e finished (true for an event never recorded).
  virtual bool query(EventHandle e) = 0;
  virtual void stream_wait_event(StreamHandle s, EventHandle e) = 0;

  virtual void* alloc_device(std::size_t bytes) = 0;  // on the current device
  virtual void free_device(void* p) = 0;
  // Page-locked host memory the GPU can read and write (and wait on: see wait_flag()).
  virtual void* alloc_host(std::size_t bytes) = 0;
  virtual void free_host(void* p) = 0;
  // Any direction (unified addressing); enqueued on s.
  virtual void copy_async(void* dst, const void* src, std::size_t bytes, StreamHandle s) = 0;
  // Blocking copy (tests and benchmarks).
  virtual void copy(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void synchronize(StreamHandle s) = 0;

  // kernels/cuda/reduce.h: dst = inputs[0] op ... op inputs[n-1] (kAvg reduces as kSum), and
  // dst = src / divisor.
  virtual void reduce(void* dst, const void* const* inputs, int n, std::size_t count, DataType type,
                      ReduceOp op, StreamHandle s) = 0;
  virtual void divide(void* dst, const void* src, std::size_t count, DataType type,
                      uint64_t divisor, StreamHandle s) = 0;

  // Makes s wait until the 32-bit word `flag` (in alloc_host() memory) reaches `value`
  // (wrap-around compare). The host releases it with a release store of value or later.
  virtual void wait_flag(StreamHandle s, const uint32_t* flag, uint32_t value) = 0;

  // CUDA IPC: export device memory from alloc_device() (its base), open a peer's export (null
  // if this device cannot map it), close an opened mapping.
  virtual IpcHandle ipc_export(void* base) = 0;
  virtual void* ipc_open(const IpcHandle& handle) = 0;
  virtual void ipc_close(void* mapped) = 0;
};

// The device layer of this process: an installed one (tests), else the CUDA runtime when railcc
// was built with CUDA and a driver with at least one device is present, else nullptr (then every
// buffer is host memory). Never initializes CUDA on its own before someone asks.
DeviceApi* device_api();
// Tests: replaces the device layer for the rest of the process (before any communicator).
void install_device_api(std::unique_ptr<DeviceApi> api);
// Why device_api() is null ("built without CUDA", "no CUDA driver", ...), for messages.
std::string no_device_reason();

// Pointer classification for a collective's buffers: with a device layer, its classify();
// without one, a pointer CUDA knows as device memory (asked through the driver, when present)
// makes the call fail with a clear error instead of reading GPU memory as host memory.
// RAILCC_CUDA=0 skips every lookup (all buffers are host memory).
PointerInfo classify_pointer(const void* p);

}  // namespace railcc::cuda
