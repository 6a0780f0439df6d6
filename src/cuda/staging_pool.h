// Page-locked host buffers that device data passes through on its way over the network
// transports (stage in: device -> host before the host algorithm runs; stage out: host -> device
// after). Pinned allocations cost milliseconds, so blocks are kept and reused.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "src/cuda/device_api.h"

namespace railcc::cuda {

class StagingPool : public std::enable_shared_from_this<StagingPool> {
 public:
  // A block held by one op; returns to the pool when destroyed.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& o) noexcept { *this = std::move(o); }
    Lease& operator=(Lease&& o) noexcept;
    ~Lease() { reset(); }
    std::byte* data() const { return data_; }
    std::size_t capacity() const { return capacity_; }
    explicit operator bool() const { return data_ != nullptr; }
    void reset();

   private:
    friend class StagingPool;
    std::shared_ptr<StagingPool> pool_;
    std::byte* data_ = nullptr;
    std::size_t capacity_ = 0;
  };

  static std::shared_ptr<StagingPool> create(DeviceApi& api) {
    return std::shared_ptr<StagingPool>(new StagingPool(api));
  }
  ~StagingPool();

  // At least `bytes` (rounded up to a power of two, 64 KiB or more).
  Lease acquire(std::size_t bytes);
  std::size_t held_bytes() const;

 private:
  struct Block {
    std::byte* data;
    std::size_t capacity;
  };
  explicit StagingPool(DeviceApi& api) : api_(api) {}
  void give_back(std::byte* data, std::size_t capacity);

  DeviceApi& api_;
  mutable std::mutex mutex_;
  std::vector<Block> free_;
  std::size_t held_ = 0;  // bytes allocated, free or leased
};

}  // namespace railcc::cuda
