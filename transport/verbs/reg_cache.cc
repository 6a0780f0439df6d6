#include "transport/verbs/reg_cache.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "railcc/status.hpp"
#include "src/common/log.h"

namespace railcc::transport::verbs {
namespace {

uintptr_t page_size() {
  static const uintptr_t size = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  return size;
}

}  // namespace

RegCache::RegCache(VerbsApi& api, ibv_pd* pd, std::string hca, std::size_t max_entries)
    : api_(api),
      pd_(pd),
      hca_(std::move(hca)),
      max_entries_(std::max<std::size_t>(max_entries, 1)) {}

RegCache::~RegCache() {
  for (auto& e : entries_) api_.dereg_mr(e.mr);
}

ibv_mr* RegCache::acquire(const void* addr, std::size_t length, int access) {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(addr);
  const uintptr_t end = begin + std::max<std::size_t>(length, 1);
  ++tick_;
  for (auto& e : entries_) {
    if (!e.stale && e.begin <= begin && end <= e.end && (e.access & access) == access) {
      ++stats_.hits;
      ++e.users;
      e.last_use = tick_;
      return e.mr;
    }
  }
  ++stats_.misses;
  while (entries_.size() >= max_entries_) {
    const std::size_t before = entries_.size();
    evict_one();
    if (entries_.size() == before) break;  // all in use: grow past the limit rather than fail
  }
  Entry e;
  e.begin = begin & ~(page_size() - 1);
  e.end = (end + page_size() - 1) & ~(page_size() - 1);
  e.access = access;
  e.mr = api_.reg_mr(pd_, reinterpret_cast<void*>(e.begin), e.end - e.begin, access);
  if (!e.mr) {
    const int err = errno;
    throw SystemError(fmt::format(
        "registering {} bytes at {:#x} with {} failed: {}{}", e.end - e.begin, e.begin, hca_,
        std::strerror(err),
        err == ENOMEM || err == EAGAIN
            ? " (the locked-memory limit is probably too low: raise `ulimit -l` to unlimited)"
            : ""));
  }
  e.users = 1;
  e.last_use = tick_;
  entries_.push_back(e);
  return e.mr;
}

void RegCache::release(ibv_mr* mr) {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (e.mr != mr) continue;
    if (e.users > 0) --e.users;
    if (e.users == 0 && e.stale) drop(i);
    return;
  }
}

void RegCache::invalidate(const void* addr, std::size_t length) {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(addr);
  const uintptr_t end = begin + length;
  for (std::size_t i = entries_.size(); i-- > 0;) {
    Entry& e = entries_[i];
    if (e.end <= begin || end <= e.begin) continue;
    if (e.users > 0) {
      e.stale = true;
    } else {
      drop(i);
    }
  }
}

void RegCache::evict_one() {
  std::size_t victim = entries_.size();
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].users > 0) continue;
    if (victim == entries_.size() || entries_[i].last_use < entries_[victim].last_use) victim = i;
  }
  if (victim == entries_.size()) return;
  ++stats_.evictions;
  drop(victim);
}

void RegCache::drop(std::size_t index) {
  if (api_.dereg_mr(entries_[index].mr) != 0) {
    RAILCC_WARN("net", "deregistering memory on {} failed: {}", hca_, std::strerror(errno));
  }
  entries_.erase(entries_.begin() + static_cast<long>(index));
}

ibv_mr* RegCache::register_dmabuf(int fd, uint64_t offset, std::size_t length, uint64_t iova,
                                  int access) {
  ibv_mr* mr = api_.reg_dmabuf_mr(pd_, offset, length, iova, fd, access);
  if (!mr) {
    const int err = errno;
    throw SystemError(fmt::format(
        "registering a {}-byte dma-buf (device memory) with {} failed: {}{}", length, hca_,
        std::strerror(err),
        err == EOPNOTSUPP || err == ENOSYS
            ? " (this rdma-core or provider has no ibv_reg_dmabuf_mr: GPU buffers need rdma-core "
              "34+ and a provider and kernel with dma-buf support)"
            : ""));
  }
  return mr;
}

void RegCache::deregister(ibv_mr* mr) {
  if (mr && api_.dereg_mr(mr) != 0) {
    RAILCC_WARN("net", "deregistering memory on {} failed: {}", hca_, std::strerror(errno));
  }
}

}  // namespace railcc::transport::verbs
