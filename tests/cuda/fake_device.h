// A GPU emulated on the CPU, for the tests of railcc's CUDA path on machines without one
// (src/cuda/device_api.h). Linked into test binaries only, never into the library.
//
// "Device memory" is shared memory (shm_open), so other processes can map it through the
// emulated IPC handles, as CUDA IPC maps GPU memory; classify() knows it as device memory.
// Each stream is a thread running its queue in order: copies, reductions (the CPU kernels),
// event records, waits for events and for host flags. Everything a real GPU does out of order
// with the host is out of order here too, so missing synchronization shows up as wrong data.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "src/cuda/device_api.h"

namespace railcc::test {

struct FakeDeviceOptions {
  // Added to every copy and reduction: widens the windows in which a missing wait shows.
  std::chrono::microseconds op_delay{0};
};

class FakeDevice : public cuda::DeviceApi {
 public:
  // Makes a FakeDevice the device layer of this process (call before any communicator).
  static FakeDevice& install(FakeDeviceOptions options = {});

  // Test controls. Runs fn on stream s, in order with the stream's other work (a "kernel").
  virtual void enqueue(cuda::StreamHandle s, std::function<void()> fn) = 0;
  // Work every stream of this process has run so far (copies, reductions, ...): a progress probe.
  virtual uint64_t executed() const = 0;
  // Makes ipc_open() fail, as CUDA does between GPUs without peer access.
  virtual void set_refuse_ipc(bool refuse) = 0;
};

}  // namespace railcc::test
