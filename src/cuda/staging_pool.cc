#include "src/cuda/staging_pool.h"

#include <bit>

namespace railcc::cuda {

StagingPool::Lease& StagingPool::Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    reset();
    pool_ = std::move(o.pool_);
    data_ = o.data_;
    capacity_ = o.capacity_;
    o.data_ = nullptr;
    o.capacity_ = 0;
  }
  return *this;
}

void StagingPool::Lease::reset() {
  if (data_ && pool_) pool_->give_back(data_, capacity_);
  pool_.reset();
  data_ = nullptr;
  capacity_ = 0;
}

StagingPool::~StagingPool() {
  for (const Block& b : free_) api_.free_host(b.data);
}

StagingPool::Lease StagingPool::acquire(std::size_t bytes) {
  const std::size_t want = std::bit_ceil(std::max<std::size_t>(bytes, 64 * 1024));
  Lease lease;
  {
    std::lock_guard lock(mutex_);
    // The smallest free block that fits.
    int best = -1;
    for (std::size_t i = 0; i < free_.size(); ++i) {
      if (free_[i].capacity >= want &&
          (best < 0 || free_[i].capacity < free_[static_cast<std::size_t>(best)].capacity)) {
        best = static_cast<int>(i);
      }
    }
    if (best >= 0) {
      lease.data_ = free_[static_cast<std::size_t>(best)].data;
      lease.capacity_ = free_[static_cast<std::size_t>(best)].capacity;
      free_.erase(free_.begin() + best);
    }
  }
  if (!lease.data_) {
    lease.data_ = static_cast<std::byte*>(api_.alloc_host(want));
    lease.capacity_ = want;
    std::lock_guard lock(mutex_);
    held_ += want;
  }
  lease.pool_ = shared_from_this();
  return lease;
}

void StagingPool::give_back(std::byte* data, std::size_t capacity) {
  std::lock_guard lock(mutex_);
  // Keep the blocks, except smaller ones a larger free block already covers (ops reuse the
  // larger one): the pool stays near the peak size in use.
  for (auto it = free_.begin(); it != free_.end();) {
    if (it->capacity < capacity) {
      api_.free_host(it->data);
      held_ -= it->capacity;
      it = free_.erase(it);
    } else {
      ++it;
    }
  }
  free_.push_back({data, capacity});
}

std::size_t StagingPool::held_bytes() const {
  std::lock_guard lock(mutex_);
  return held_;
}

}  // namespace railcc::cuda
