// Collectives on GPU buffers, checked element by element: the same checks run on the CPU
// emulation (fake_device.h, every CI run) and on a real GPU (label cuda). Each function runs
// inside one rank of a multi-process test (tests/mp/harness.h) and throws CheckFailure.
#pragma once

#include <cstddef>
#include <vector>

#include "railcc/railcc.hpp"
#include "src/cuda/device_api.h"

namespace railcc::test {

// GPU memory of the current device, freed on destruction.
class DeviceBuffer {
 public:
  DeviceBuffer(cuda::DeviceApi& api, std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  std::byte* get() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }
  void upload(const std::vector<std::byte>& host, std::size_t at = 0);
  std::vector<std::byte> download(std::size_t at = 0, std::size_t bytes = SIZE_MAX) const;

 private:
  cuda::DeviceApi& api_;
  std::byte* ptr_;
  std::size_t bytes_;
};

// Every collective (in place and out of place, counts 0, 1, odd and multi-chunk, the types and
// ops that exercise distinct paths) on GPU buffers ordered on `stream`. `full`: every type x op
// for all_reduce.
void exercise_device_collectives(Communicator& c, cuda::DeviceApi& api, cuda::StreamHandle stream,
                                 bool full);

// The op waits for the stream's earlier work (its input is written on the stream behind a closed
// gate), is not complete while that work is held back, and the stream's later work and a second
// stream ordered with Work::wait_stream see its results.
void check_stream_ordering(Communicator& c, cuda::DeviceApi& api, cuda::StreamHandle stream);

// Host buffers passed with a stream are ordered on it the same way.
void check_host_buffers_on_stream(Communicator& c, cuda::DeviceApi& api, cuda::StreamHandle stream);

}  // namespace railcc::test
