#include "transport/shm/shared_memory.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "railcc/status.hpp"

namespace railcc::transport {
namespace {

std::size_t page_size() {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

std::size_t round_up(std::size_t bytes, std::size_t to) { return (bytes + to - 1) / to * to; }

// Every live allocation, by the address of its first byte.
struct Registry {
  std::mutex mutex;
  std::map<const std::byte*, SharedRegion> regions;
};
Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: frees may come from static destructors
  return *r;
}

}  // namespace

void* shared_alloc(std::size_t bytes) {
  const std::size_t mapped = round_up(std::max<std::size_t>(bytes, 1), page_size());
  const int fd = ::memfd_create("railcc-mem", MFD_CLOEXEC);
  if (fd < 0) {
    throw SystemError(fmt::format("mem_alloc: memfd_create failed: {}", std::strerror(errno)));
  }
  if (::ftruncate(fd, static_cast<off_t>(mapped)) != 0) {
    const int e = errno;
    ::close(fd);
    throw SystemError(fmt::format("mem_alloc: cannot size {} bytes of shared memory: {}", mapped,
                                  std::strerror(e)));
  }
  void* p = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    ::close(fd);
    throw SystemError(fmt::format("mem_alloc: cannot map {} bytes of shared memory: {}", mapped,
                                  std::strerror(e)));
  }
  static std::atomic<uint64_t> next_id{1};
  SharedRegion r{static_cast<std::byte*>(p), bytes, fd, next_id.fetch_add(1)};
  Registry& reg = registry();
  std::lock_guard lock(reg.mutex);
  reg.regions[r.base] = r;
  return p;
}

void shared_free(void* ptr) {
  if (!ptr) return;
  SharedRegion r;
  {
    Registry& reg = registry();
    std::lock_guard lock(reg.mutex);
    auto it = reg.regions.find(static_cast<const std::byte*>(ptr));
    if (it == reg.regions.end()) return;
    r = it->second;
    reg.regions.erase(it);
  }
  ::munmap(r.base, round_up(std::max<std::size_t>(r.bytes, 1), page_size()));
  ::close(r.fd);
}

std::optional<SharedRegion> find_shared_region(const void* ptr, std::size_t bytes) {
  const auto* p = static_cast<const std::byte*>(ptr);
  Registry& reg = registry();
  std::lock_guard lock(reg.mutex);
  auto it = reg.regions.upper_bound(p);
  if (it == reg.regions.begin()) return std::nullopt;
  const SharedRegion& r = std::prev(it)->second;
  const std::size_t at = static_cast<std::size_t>(p - r.base);
  if (at > r.bytes || bytes > r.bytes - at) return std::nullopt;
  return r;
}

PeerMapping::PeerMapping(pid_t pid, int fd, std::size_t offset, std::size_t bytes,
                         const char* who) {
  const std::string path = fmt::format("/proc/{}/fd/{}", pid, fd);
  const int local = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (local < 0) {
    throw SystemError(fmt::format(
        "cannot open {}'s shared buffer ({}): {}; its ranks must run as one user in one PID "
        "namespace",
        who, path, std::strerror(errno)));
  }
  const std::size_t start = offset / page_size() * page_size();
  map_bytes_ = round_up(offset + std::max<std::size_t>(bytes, 1), page_size()) - start;
  map_ = ::mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, local,
                static_cast<off_t>(start));
  const int e = errno;
  ::close(local);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw SystemError(
        fmt::format("cannot map {}'s shared buffer ({}): {}", who, path, std::strerror(e)));
  }
  data_ = static_cast<std::byte*>(map_) + (offset - start);
}

PeerMapping::PeerMapping(PeerMapping&& o) noexcept
    : map_(std::exchange(o.map_, nullptr)),
      map_bytes_(std::exchange(o.map_bytes_, 0)),
      data_(std::exchange(o.data_, nullptr)) {}

PeerMapping& PeerMapping::operator=(PeerMapping&& o) noexcept {
  if (this != &o) {
    if (map_) ::munmap(map_, map_bytes_);
    map_ = std::exchange(o.map_, nullptr);
    map_bytes_ = std::exchange(o.map_bytes_, 0);
    data_ = std::exchange(o.data_, nullptr);
  }
  return *this;
}

PeerMapping::~PeerMapping() {
  if (map_) ::munmap(map_, map_bytes_);
}

}  // namespace railcc::transport
