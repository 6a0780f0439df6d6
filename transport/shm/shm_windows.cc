#include "transport/shm/shm_windows.h"

namespace railcc::transport {

uint64_t ShmWindows::add(Window w, std::size_t min_bytes) {
  std::lock_guard lock(mutex_);
  const uint64_t handle = windows_.size() + 1;  // its number + 1: 0 is never a handle
  windows_.emplace_back(std::move(w));
  if (min_bytes_.load(std::memory_order_relaxed) == 0) {
    min_bytes_.store(min_bytes, std::memory_order_relaxed);
  }
  return handle;
}

bool ShmWindows::remove(uint64_t handle) {
  std::lock_guard lock(mutex_);
  if (handle == 0 || handle > windows_.size() || !windows_[handle - 1]) return false;
  windows_[handle - 1].reset();
  return true;
}

std::pair<int32_t, uint64_t> ShmWindows::find(int rank, const void* p, std::size_t bytes) const {
  const auto* b = static_cast<const std::byte*>(p);
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < windows_.size(); ++i) {
    const auto& w = windows_[i];
    if (!w || b < w->base[rank]) continue;
    const std::size_t at = static_cast<std::size_t>(b - w->base[rank]);
    if (at <= w->bytes[rank] && bytes <= w->bytes[rank] - at) {
      // Freed and allocated again (mem_free before deregister_window, a misuse): peers would
      // read the old pages, so the op must not run on the window.
      const auto region = find_shared_region(p, bytes);
      if (!region || region->id != w->local_region) return {-1, 0};
      return {static_cast<int32_t>(i), at};
    }
  }
  return {-1, 0};
}

std::byte* ShmWindows::at(int r, int32_t w, uint64_t offset, std::size_t bytes) const {
  std::lock_guard lock(mutex_);
  if (w < 0 || static_cast<std::size_t>(w) >= windows_.size() || !windows_[w]) return nullptr;
  const Window& win = *windows_[w];
  if (r < 0 || static_cast<std::size_t>(r) >= win.base.size()) return nullptr;
  if (offset > win.bytes[r] || bytes > win.bytes[r] - offset) return nullptr;
  return win.base[r] + offset;
}

}  // namespace railcc::transport
