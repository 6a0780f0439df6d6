#include "transport/shm/shm_segment.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "railcc/status.hpp"

namespace railcc::transport {
namespace {

constexpr uint64_t kSegmentMagic = 0x314D485343434C52ull;  // "RLCCSHM1"
constexpr std::size_t kHeaderBytes = 4096;

struct SegmentHeader {
  uint64_t magic;
  uint32_t slots;
  uint32_t mailbox_bytes;  // payload room of each mailbox slot
  uint64_t ring_bytes;
  Doorbell doorbell;
  cpu_set_t cpus;  // the CPUs the owner may run on (see ShmSegment::owner_cpus)
  alignas(64) std::atomic<uint64_t> progress;  // see ShmSegment::progress
};
static_assert(sizeof(SegmentHeader) <= kHeaderBytes);

std::size_t controls_bytes(int slots) {
  return (sizeof(RingControl) * slots + 4095) & ~std::size_t{4095};
}

// One mailbox slot: a cache line of header, then the payload, rounded up to whole lines.
std::size_t mailbox_slot_bytes(std::size_t payload) {
  return 64 + ((payload + 63) & ~std::size_t{63});
}
// Both slots, rounded up to whole pages; none without payload room.
std::size_t mailbox_area_bytes(std::size_t payload) {
  return payload == 0 ? 0 : (2 * mailbox_slot_bytes(payload) + 4095) & ~std::size_t{4095};
}

std::size_t segment_bytes(int slots, std::size_t ring_bytes, std::size_t mailbox_bytes) {
  return kHeaderBytes + mailbox_area_bytes(mailbox_bytes) + controls_bytes(slots) +
         ring_bytes * slots;
}

[[noreturn]] void fail(const std::string& what) {
  throw SystemError(
      fmt::format("{}: {} (is /dev/shm mounted and large enough? set "
                  "RAILCC_SHM_RING_BYTES smaller or RAILCC_TRANSPORT=tcp)",
                  what, std::strerror(errno)));
}

SegmentHeader* header(std::byte* base) { return reinterpret_cast<SegmentHeader*>(base); }

}  // namespace

const cpu_set_t& ShmSegment::owner_cpus() const { return header(base_)->cpus; }

ShmSegment ShmSegment::create(const std::string& name, int slots, std::size_t ring_bytes,
                              std::size_t mailbox_bytes) {
  const int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) fail(fmt::format("cannot create shared memory {}", name));
  const std::size_t size = segment_bytes(slots, ring_bytes, mailbox_bytes);
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    ::close(fd);
    shm_unlink(name.c_str());
    fail(fmt::format("cannot size shared memory {} to {} bytes", name, size));
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) {
    shm_unlink(name.c_str());
    fail(fmt::format("cannot map shared memory {}", name));
  }
  ShmSegment seg;
  seg.base_ = static_cast<std::byte*>(p);
  seg.size_ = size;
  seg.name_ = name;
  auto* h = new (seg.base_) SegmentHeader{};
  h->slots = static_cast<uint32_t>(slots);
  h->mailbox_bytes = static_cast<uint32_t>(mailbox_bytes);
  h->ring_bytes = ring_bytes;
  if (sched_getaffinity(0, sizeof(h->cpus), &h->cpus) != 0) CPU_ZERO(&h->cpus);
  for (int i = 0; i < slots; ++i) new (&seg.control(i)) RingControl{};
  // Published last, so a peer that sees the magic sees an initialized segment.
  std::atomic_ref<uint64_t>(h->magic).store(kSegmentMagic, std::memory_order_release);
  return seg;
}

ShmSegment ShmSegment::open(const std::string& name) {
  const int fd = shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) fail(fmt::format("cannot open shared memory {} of a local peer", name));
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(kHeaderBytes)) {
    ::close(fd);
    fail(fmt::format("shared memory {} is too small", name));
  }
  void* p = mmap(nullptr, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) fail(fmt::format("cannot map shared memory {}", name));
  ShmSegment seg;
  seg.base_ = static_cast<std::byte*>(p);
  seg.size_ = static_cast<std::size_t>(st.st_size);
  seg.name_ = name;
  const SegmentHeader* h = header(seg.base_);
  const uint64_t magic =
      std::atomic_ref<uint64_t>(const_cast<uint64_t&>(h->magic)).load(std::memory_order_acquire);
  if (magic != kSegmentMagic || h->slots > 4096 || h->ring_bytes > (1ull << 30) ||
      h->mailbox_bytes > (64u << 20) ||
      segment_bytes(static_cast<int>(h->slots), h->ring_bytes, h->mailbox_bytes) != seg.size_) {
    throw ProtocolError(fmt::format("shared memory {} is not a railcc segment", name));
  }
  return seg;
}

void ShmSegment::unlink(const std::string& name) { shm_unlink(name.c_str()); }

ShmSegment::ShmSegment(ShmSegment&& o) noexcept { *this = std::move(o); }

ShmSegment& ShmSegment::operator=(ShmSegment&& o) noexcept {
  if (this != &o) {
    if (base_) munmap(base_, size_);
    base_ = o.base_;
    size_ = o.size_;
    name_ = std::move(o.name_);
    o.base_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

ShmSegment::~ShmSegment() {
  if (base_) munmap(base_, size_);
}

Doorbell& ShmSegment::doorbell() const { return header(base_)->doorbell; }

std::atomic<uint64_t>& ShmSegment::progress() const { return header(base_)->progress; }

RingControl& ShmSegment::control(int slot) const {
  return reinterpret_cast<RingControl*>(base_ + kHeaderBytes +
                                        mailbox_area_bytes(mailbox_bytes()))[slot];
}

std::byte* ShmSegment::ring(int slot) const {
  return base_ + kHeaderBytes + mailbox_area_bytes(mailbox_bytes()) + controls_bytes(slots()) +
         ring_bytes() * slot;
}

std::byte* ShmSegment::mailbox(int i) const {
  return base_ + kHeaderBytes + mailbox_slot_bytes(mailbox_bytes()) * i;
}

std::size_t ShmSegment::mailbox_bytes() const { return header(base_)->mailbox_bytes; }

std::size_t ShmSegment::ring_bytes() const { return header(base_)->ring_bytes; }
int ShmSegment::slots() const { return static_cast<int>(header(base_)->slots); }

void ShmSegment::ring_doorbell() const {
  Doorbell& d = doorbell();
  d.seq.fetch_add(1, std::memory_order_seq_cst);
  if (d.sleepers.load(std::memory_order_seq_cst) > 0) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&d.seq), FUTEX_WAKE, INT32_MAX, nullptr, nullptr,
            0);
  }
}

void ShmSegment::wait_doorbell(uint32_t observed, int timeout_ms, bool (*recheck)(void*),
                               void* state) const {
  Doorbell& d = doorbell();
  d.sleepers.fetch_add(1, std::memory_order_seq_cst);
  struct Leave {
    Doorbell& d;
    ~Leave() { d.sleepers.fetch_sub(1, std::memory_order_seq_cst); }
  } leave{d};  // recheck may throw
  if (d.seq.load(std::memory_order_seq_cst) == observed && !(recheck && recheck(state))) {
    timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&d.seq), FUTEX_WAIT, observed, &ts, nullptr, 0);
  }
}

}  // namespace railcc::transport
