// The end of an op on its CUDA stream: an event recorded on the user's stream right after the op,
// shared by the op and its railcc::Work (Work::synchronize, Work::wait_stream, is_completed).
#pragma once

#include "src/cuda/device_api.h"

namespace railcc::cuda {

class GpuCompletion {
 public:
  GpuCompletion(DeviceApi& api, EventHandle event) : api_(api), event_(event) {}
  ~GpuCompletion() { api_.destroy_event(event_); }
  GpuCompletion(const GpuCompletion&) = delete;
  GpuCompletion& operator=(const GpuCompletion&) = delete;

  DeviceApi& api() const { return api_; }
  EventHandle event() const { return event_; }
  // True once the op's stream work finished; throws SystemError on a CUDA error.
  bool query() const { return api_.query(event_); }

 private:
  DeviceApi& api_;
  EventHandle event_;
};

}  // namespace railcc::cuda
