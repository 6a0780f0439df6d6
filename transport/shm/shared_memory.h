// Host memory other processes can map (railcc::mem_alloc): each allocation is its own memfd,
// mapped shared, so a rank on the same host maps the very same pages by opening
// /proc/<pid>/fd/<fd> of the owner. Nothing is named in /dev/shm, so a crash leaves nothing
// behind: the pages live as long as some process maps them or holds the fd.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>

namespace railcc::transport {

struct SharedRegion {
  std::byte* base = nullptr;  // start of the allocation in this process
  std::size_t bytes = 0;      // as allocated (the mapping is rounded up to pages)
  int fd = -1;                // the memfd, open until the allocation is freed
  uint64_t id = 0;            // unique per allocation of this process (addresses and fds recur)
};

// Throws SystemError when the kernel refuses (no memfd, out of memory).
void* shared_alloc(std::size_t bytes);
// Unknown pointers (and null) are ignored: freeing twice is harmless.
void shared_free(void* ptr);
// The allocation that holds all of [ptr, ptr + bytes), if any.
std::optional<SharedRegion> find_shared_region(const void* ptr, std::size_t bytes);

// A mapping of `bytes` at `offset` of another process's allocation (its fd `fd`).
class PeerMapping {
 public:
  PeerMapping() = default;
  // Throws SystemError naming `who` when the fd cannot be opened or mapped.
  PeerMapping(pid_t pid, int fd, std::size_t offset, std::size_t bytes, const char* who);
  PeerMapping(PeerMapping&& o) noexcept;
  PeerMapping& operator=(PeerMapping&& o) noexcept;
  PeerMapping(const PeerMapping&) = delete;
  PeerMapping& operator=(const PeerMapping&) = delete;
  ~PeerMapping();
  // The first byte of the peer's [offset, offset + bytes) here.
  std::byte* data() const { return data_; }

 private:
  void* map_ = nullptr;  // page-aligned start of the mapping
  std::size_t map_bytes_ = 0;
  std::byte* data_ = nullptr;
};

}  // namespace railcc::transport
