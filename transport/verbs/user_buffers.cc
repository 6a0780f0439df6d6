#include "transport/verbs/user_buffers.h"

#include <algorithm>

namespace railcc::transport::verbs {

UserBuffers::~UserBuffers() {
  for (const Entry& e : entries_) {
    cache_.release(e.mr);
    cache_.invalidate(reinterpret_cast<const void*>(e.begin), e.end - e.begin);
  }
}

void UserBuffers::add(uint64_t handle, const void* addr, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  // Access 0: the HCA only reads this memory (the source of RDMA writes), so read-only mappings
  // register too; a cached MR with more rights serves as well.
  ibv_mr* mr = cache_.acquire(addr, bytes, 0);
  const auto begin = reinterpret_cast<uintptr_t>(addr);
  entries_.push_back(Entry{handle, begin, begin + bytes, mr});
}

void UserBuffers::remove(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [handle](const Entry& e) { return e.handle == handle; });
  if (it == entries_.end()) return;
  cache_.release(it->mr);
  // The memory may be freed next: no later acquire may find its pinned pages again.
  cache_.invalidate(reinterpret_cast<const void*>(it->begin), it->end - it->begin);
  entries_.erase(it);
}

std::optional<uint32_t> UserBuffers::find(const void* addr, std::size_t bytes) const {
  const auto begin = reinterpret_cast<uintptr_t>(addr);
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : entries_) {
    if (e.begin <= begin && begin + bytes <= e.end) return e.mr->lkey;
  }
  return std::nullopt;
}

ZeroCopyCounters& zero_copy_counters() {
  static ZeroCopyCounters counters;
  return counters;
}

}  // namespace railcc::transport::verbs
