// Memory registration cache for one protection domain.
//
// Registering memory (pinning pages, programming the HCA's translation table) costs tens of
// microseconds to milliseconds, far more than sending a small message, so a buffer is registered
// once and found again by address. Entries cover whole pages; an entry in use (acquired and not
// yet released, e.g. by a work request in flight) is never evicted, the least recently used idle
// one is when the cache is full. Memory that is freed must be invalidated first (a new mapping at
// the same address would otherwise reuse the old, pinned pages).
#pragma once

#include <infiniband/verbs.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "transport/verbs/verbs_api.h"

namespace railcc::transport::verbs {

class RegCache {
 public:
  struct Stats {
    uint64_t hits = 0, misses = 0, evictions = 0;
  };

  // `hca` names the device in errors. At most `max_entries` registrations are kept.
  RegCache(VerbsApi& api, ibv_pd* pd, std::string hca, std::size_t max_entries = 256);
  ~RegCache();
  RegCache(const RegCache&) = delete;
  RegCache& operator=(const RegCache&) = delete;

  // An MR covering [addr, addr + length) with at least `access` rights (IBV_ACCESS_* flags), held
  // until release(mr). Throws SystemError naming the HCA and the likely cause when registration
  // fails.
  ibv_mr* acquire(const void* addr, std::size_t length, int access);
  void release(ibv_mr* mr);
  // Deregisters every idle entry overlapping the range; entries in use are dropped when released.
  void invalidate(const void* addr, std::size_t length);
  // Registers a dma-buf (device memory, e.g. CUDA) region; not cached (the fd identifies it).
  // Throws SystemError when the library or the provider cannot (no ibv_reg_dmabuf_mr).
  ibv_mr* register_dmabuf(int fd, uint64_t offset, std::size_t length, uint64_t iova, int access);
  void deregister(ibv_mr* mr);

  std::size_t size() const { return entries_.size(); }
  const Stats& stats() const { return stats_; }

 private:
  struct Entry {
    uintptr_t begin = 0, end = 0;
    int access = 0;
    ibv_mr* mr = nullptr;
    int users = 0;
    bool stale = false;  // invalidated while in use: deregister on last release
    uint64_t last_use = 0;
  };
  void evict_one();
  void drop(std::size_t index);

  VerbsApi& api_;
  ibv_pd* pd_;
  std::string hca_;
  std::size_t max_entries_;
  std::vector<Entry> entries_;  // a few hundred at most: a linear scan beats a tree here
  uint64_t tick_ = 0;
  Stats stats_;
};

}  // namespace railcc::transport::verbs
