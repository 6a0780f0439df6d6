// Buffers the application registered for zero-copy sends (Communicator::register_buffer), on one
// protection domain.
//
// A send normally copies its bytes into the stream's registered staging ring. From a registered
// buffer it can instead RDMA-write straight from the caller's memory (VerbsStream's in-place
// writes), saving the copy for large messages. Registration is explicit, as with NCCL's
// ncclCommRegister: memory registered behind the application's back would keep pinning the old
// pages after a free, and a new allocation at the same address would then send stale data. Here
// the application says when a buffer stops being valid (deregister before free), and remove()
// drops its cache entries then.
//
// Registered from the application's thread, looked up from the communicator's worker thread:
// every call takes a lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "transport/verbs/reg_cache.h"

namespace railcc::transport::verbs {

class UserBuffers {
 public:
  explicit UserBuffers(RegCache& cache) : cache_(cache) {}
  ~UserBuffers();
  UserBuffers(const UserBuffers&) = delete;
  UserBuffers& operator=(const UserBuffers&) = delete;

  // Registers [addr, addr + bytes) under `handle` (the communicator's). Throws SystemError naming
  // the HCA when it cannot be registered.
  void add(uint64_t handle, const void* addr, std::size_t bytes);
  // Forgets `handle` and deregisters its memory (unknown handles are ignored). The caller must not
  // have sends from it in flight.
  void remove(uint64_t handle);
  // The lkey of a registered buffer that holds all of [addr, addr + bytes); none if no one does.
  std::optional<uint32_t> find(const void* addr, std::size_t bytes) const;

 private:
  struct Entry {
    uint64_t handle = 0;
    uintptr_t begin = 0, end = 0;
    ibv_mr* mr = nullptr;
  };
  RegCache& cache_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // a handful: a linear scan is enough
};

// Bytes the verbs streams of this process sent in place (from registered user memory) and through
// the staging ring: how tests and RAILCC_DEBUG readers see which path large sends took.
struct ZeroCopyCounters {
  std::atomic<uint64_t> in_place_bytes{0};
  std::atomic<uint64_t> staged_bytes{0};
};
ZeroCopyCounters& zero_copy_counters();

}  // namespace railcc::transport::verbs
