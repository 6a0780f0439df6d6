// Windows: buffers that every rank of a host registered together (Communicator::register_window)
// from memory each of them allocated with railcc::mem_alloc. Each rank maps every peer's window,
// so a collective on buffers inside windows reads its peers' inputs and results in place: no
// kernel copy (cross-memory attach) and no copy through a ring.
//
// Windows are numbered in registration order. Registration and deregistration are collective, so
// a number means the same registration on every rank (each rank's own buffer in it).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "transport/shm/shared_memory.h"

namespace railcc::transport {

// Where one rank's buffers of an op lie in its windows: what ranks post to each other before an
// op on windows (through the mailbox).
struct WindowRef {
  int32_t send_window = -1;  // -1: not in a window
  int32_t recv_window = -1;
  uint64_t send_offset = 0;
  uint64_t recv_offset = 0;
};

class ShmWindows {
 public:
  struct Window {
    // The mem_alloc allocation this rank's buffer lies in (SharedRegion::id): memory freed and
    // allocated again at the same address is not the window's any more.
    uint64_t local_region = 0;
    std::vector<std::byte*> base;     // by rank: where its buffer lies in this process
    std::vector<std::size_t> bytes;   // by rank
    std::vector<PeerMapping> mapped;  // keeps the peers' buffers mapped
  };

  // True once a window was registered, for ops of `bytes` from the agreed threshold up: such ops
  // start by exchanging WindowRefs (alike on every rank, since registration is collective).
  bool exchanges_refs(std::size_t bytes) const {
    const std::size_t from = min_bytes_.load(std::memory_order_relaxed);
    return from > 0 && bytes >= from;
  }
  // Adds the next window; returns its handle. `min_bytes`: the threshold the ranks agreed on
  // (RAILCC_SHM_WINDOW_BYTES), set by the first registration.
  uint64_t add(Window w, std::size_t min_bytes);
  // Unmaps the window with this handle; false if there is none.
  bool remove(uint64_t handle);
  // Where [p, p + bytes) lies in one of `rank`'s windows (rank = this process): (window, offset),
  // or (-1, 0), also when the window's memory was freed (its allocation is gone or another).
  std::pair<int32_t, uint64_t> find(int rank, const void* p, std::size_t bytes) const;
  // Rank r's bytes [offset, offset + bytes) of window w, as mapped here; null if the window is
  // gone or the range leaves it (a garbled ref: it must never touch memory).
  std::byte* at(int r, int32_t w, uint64_t offset, std::size_t bytes) const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::optional<Window>> windows_;  // by number; deregistered ones stay empty
  std::atomic<std::size_t> min_bytes_{0};       // 0 until the first registration
};

}  // namespace railcc::transport
