// Host words a CUDA stream waits on (DeviceApi::wait_flag) and the host releases: the gate that
// holds the user's stream until railcc has finished an op on the host side. Each slot only grows:
// a wait for value v is released by storing v, so a slot is reusable as soon as it is released.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "src/cuda/device_api.h"

namespace railcc::cuda {

class FlagPool {
 public:
  struct Gate {
    uint32_t* word = nullptr;
    uint32_t value = 0;
    int slot = -1;
    bool valid() const { return word != nullptr; }
  };

  explicit FlagPool(DeviceApi& api) : api_(api) {}
  ~FlagPool();
  FlagPool(const FlagPool&) = delete;
  FlagPool& operator=(const FlagPool&) = delete;

  // A gate that is closed until release(); any thread.
  Gate acquire();
  // Opens the gate (a release store: everything written before is visible to the GPU after its
  // wait) and returns the slot to the pool. Idempotent for an invalid gate.
  void release(Gate& gate);

 private:
  static constexpr int kSlotsPerPage = 1024;
  DeviceApi& api_;
  std::mutex mutex_;
  std::vector<uint32_t*> pages_;  // alloc_host() memory, kSlotsPerPage words each
  std::vector<uint32_t> next_;    // next value to hand out, per slot
  std::vector<int> free_;
};

}  // namespace railcc::cuda
