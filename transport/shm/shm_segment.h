// A POSIX shared-memory segment owned by one rank: a doorbell other ranks ring when they give it
// data or free space, a mailbox the owner posts small collective contributions in (shm_mailbox.h),
// and one single-producer/single-consumer ring per local peer that writes to this rank. Peers map
// each other's segments; names are unlinked once everyone has mapped them, so a crash leaves
// nothing behind in /dev/shm.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace railcc::transport {

struct alignas(64) Doorbell {
  std::atomic<uint32_t> seq{0};       // bumped on every event for the owner
  std::atomic<uint32_t> sleepers{0};  // >0 while the owner sleeps in futex_wait
};

struct alignas(64) RingControl {
  std::atomic<uint64_t> head{0};  // bytes ever written (producer)
  char pad0[56];
  std::atomic<uint64_t> tail{0};    // bytes ever consumed (consumer)
  std::atomic<uint32_t> closed{0};  // set by either end to close the pair (fault injection)
  char pad1[52];
};

class ShmSegment {
 public:
  // Creates and maps a new segment with `slots` rings of `ring_bytes` (a power of two) and a
  // mailbox of two slots holding up to `mailbox_bytes` each (0: none).
  static ShmSegment create(const std::string& name, int slots, std::size_t ring_bytes,
                           std::size_t mailbox_bytes = 0);
  // Maps a segment created by another rank.
  static ShmSegment open(const std::string& name);
  static void unlink(const std::string& name);

  ShmSegment() = default;
  ShmSegment(ShmSegment&& o) noexcept;
  ShmSegment& operator=(ShmSegment&& o) noexcept;
  ~ShmSegment();

  Doorbell& doorbell() const;
  // How far the owner has got in the op it is running, for peers that wait on its parts one by
  // one (src/algorithms/window.cc); its meaning is the op's.
  std::atomic<uint64_t>& progress() const;
  RingControl& control(int slot) const;
  std::byte* ring(int slot) const;
  std::size_t ring_bytes() const;
  int slots() const;
  // The mailbox: slot i (0 or 1) starts at mailbox(i), 64-byte aligned, with room for a 64-byte
  // header and mailbox_bytes() of payload.
  std::byte* mailbox(int i) const;
  std::size_t mailbox_bytes() const;
  const std::string& name() const { return name_; }
  // The CPUs the owner process may run on (its affinity when it created the segment; empty if
  // unknown): whether local ranks share cores decides how their waits poll.
  const cpu_set_t& owner_cpus() const;

  // Wakes the owner if it sleeps.
  void ring_doorbell() const;
  // Wakes the owner only if it sleeps or is about to: for an event the owner also looks for
  // before it sleeps (the `recheck` of wait_doorbell), published with a seq_cst store. Saves
  // writing the doorbell's cache line, which the owner reads while it spins.
  void ring_doorbell_if_sleeping() const {
    if (doorbell().sleepers.load(std::memory_order_seq_cst) > 0) ring_doorbell();
  }
  // Sleeps until seq != observed or timeout_ms passes; not at all if recheck(state) holds once
  // this owner counts as sleeping.
  void wait_doorbell(uint32_t observed, int timeout_ms, bool (*recheck)(void*) = nullptr,
                     void* state = nullptr) const;

 private:
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  std::string name_;
};

}  // namespace railcc::transport
