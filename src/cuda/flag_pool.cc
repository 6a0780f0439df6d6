#include "src/cuda/flag_pool.h"

#include <atomic>

namespace railcc::cuda {

namespace {
// Pages of destroyed pools. A stream may still be queued to read a released flag when its
// communicator goes away (the wait has not executed yet), so the memory is never freed; kept
// reachable here (a few KiB per communicator that ran CUDA ops).
std::mutex g_retired_mutex;
std::vector<uint32_t*>* g_retired = new std::vector<uint32_t*>;
}  // namespace

FlagPool::~FlagPool() {
  std::lock_guard lock(g_retired_mutex);
  g_retired->insert(g_retired->end(), pages_.begin(), pages_.end());
}

FlagPool::Gate FlagPool::acquire() {
  std::lock_guard lock(mutex_);
  if (free_.empty()) {
    auto* page = static_cast<uint32_t*>(api_.alloc_host(kSlotsPerPage * sizeof(uint32_t)));
    const int base = static_cast<int>(pages_.size()) * kSlotsPerPage;
    pages_.push_back(page);
    for (int i = 0; i < kSlotsPerPage; ++i) {
      std::atomic_ref<uint32_t>(page[i]).store(0, std::memory_order_relaxed);
      free_.push_back(base + kSlotsPerPage - 1 - i);  // lowest slot first
    }
    next_.resize(next_.size() + kSlotsPerPage, 1);
  }
  const int slot = free_.back();
  free_.pop_back();
  Gate g;
  g.slot = slot;
  g.word = pages_[slot / kSlotsPerPage] + slot % kSlotsPerPage;
  g.value = next_[slot]++;
  return g;
}

void FlagPool::release(Gate& gate) {
  if (!gate.valid()) return;
  std::atomic_ref<uint32_t>(*gate.word).store(gate.value, std::memory_order_release);
  std::lock_guard lock(mutex_);
  free_.push_back(gate.slot);
  gate = Gate{};
}

}  // namespace railcc::cuda
