// Small collectives among ranks that all share one host, without streams: each rank posts its
// contribution to an op in the mailbox of its own shared-memory segment and reads its peers'
// straight from their segments. A small op's description and data share one cache line, so an
// 8-byte all_reduce costs each rank one line written and one line read per peer: no frame
// header, no ring, no acknowledgement. (Open MPI's "fastbox" and NCCL's LL protocol rest on the
// same idea: the data is its own arrival flag.)
//
// The two slots alternate: the f-th exchange through a communicator's mailbox uses slot f % 2. A
// rank writes a slot again only at exchange f + 2, after it has seen every peer's post to
// exchange f + 1, which each peer makes only after it has finished reading exchange f. So no slot
// is overwritten while a peer still reads it, and no acknowledgement is needed. This needs every
// rank to post to, and wait for, every exchange, rooted ops too. Exchanges are numbered on their
// own (an op may make several, e.g. the barriers inside a CUDA IPC collective); the op's
// collective number travels with the post, to catch ranks that are not in step.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "transport/connection.h"
#include "transport/shm/peer_process.h"
#include "transport/shm/shm_segment.h"

namespace railcc::transport {

// The first cache line of a mailbox slot. `exchange` is written last (release): once a reader
// sees the number it waits for there, the fields after it and the payload are complete.
struct alignas(64) MailboxHeader {
  std::atomic<uint64_t> exchange{0};  // 1 + the poster's count of exchanges before this one
  std::atomic<uint64_t> seq{0};       // collective number of the op (read racily by latest_seq)
  uint64_t count = 0;                 // elements of the op, as the poster sees it
  uint32_t bytes = 0;                 // payload bytes
  uint8_t op = 0, dtype = 0, redop = 0, reserved = 0;
  int32_t root = -1;
  uint32_t reserved2 = 0;
  // 40 bytes so far; small payloads start here, in the same cache line.
};
inline constexpr std::size_t kMailboxInline = 40;  // payload offset from the slot's start

class ShmMailbox {
 public:
  // `segments[r]`: rank r's segment, this rank's own included (every rank of the communicator is
  // local). `pids[r]`: rank r's process, to notice a peer that died.
  ShmMailbox(int rank, std::vector<ShmSegment*> segments, const std::vector<int>& pids);
  ShmMailbox(const ShmMailbox&) = delete;
  ShmMailbox& operator=(const ShmMailbox&) = delete;

  int size() const { return static_cast<int>(segments_.size()); }
  // Largest payload of an op: the smallest mailbox of all ranks, so every rank decides alike.
  std::size_t capacity() const { return capacity_; }

  // Where this rank writes its payload for the next exchange (capacity() bytes).
  std::byte* payload() const;
  // Where this rank writes its payload for the exchange after the current one. Free once the
  // current exchange's posts have all arrived: every peer read it in the exchange before.
  std::byte* next_payload() const;
  // Posts this rank's part of an exchange for op `e` (its payload already written) and wakes
  // peers that sleep.
  void post(const Expectation& e, std::size_t bytes);
  // True once rank r posted to the current exchange (throws MismatchError if its post describes
  // another op; see check()).
  bool arrived(int r) const {
    if (header(r).exchange.load(std::memory_order_seq_cst) != exchanges_ + 1) return false;
    check(r);
    return true;
  }
  // True while this rank's part of the current exchange is out and rank r has not posted its own
  // (for the flight recorder: never throws, unlike arrived()).
  bool waits_for(int r) const {
    return posted_ && r != rank_ &&
           header(r).exchange.load(std::memory_order_acquire) != exchanges_ + 1;
  }
  // Rank r's payload in the current exchange (after arrived(r)).
  const std::byte* payload(int r) const;
  // True between post() and finish(): this rank's part of the current exchange is out (an op
  // whose wait was cut short and resumed later must not post, nor write its payload, again).
  bool posted() const { return posted_; }
  // After every peer has arrived and their payloads were read: moves on to the next exchange.
  void finish() {
    ++exchanges_;
    posted_ = false;
  }
  // Progress within an op, between exchanges (ShmSegment::progress): publishes this rank's, waking
  // peers that sleep (seq_cst, as post()), and reads rank r's.
  void publish_progress(uint64_t value);
  uint64_t progress(int r) const {
    return segments_[r]->progress().load(std::memory_order_seq_cst);
  }
  // The latest collective number rank r posted (0: none yet).
  uint64_t latest_seq(int r) const;
  // Rank r's latest post, as a frame header (to describe it, or to compare with another op).
  wire::FrameHeader latest_post(int r) const;
  // Throws PeerFailureError when rank r's process has exited.
  void check_alive(int r) const;

 private:
  MailboxHeader& header(int r, uint64_t exchange) const { return *slots_[2 * r + (exchange & 1)]; }
  MailboxHeader& header(int r) const { return header(r, exchanges_); }
  // Rank r's slot with its latest post.
  const MailboxHeader& latest(int r) const;
  // Throws MismatchError when rank r's post to the current op describes another op.
  void check(int r) const;

  int rank_;
  std::vector<ShmSegment*> segments_;
  std::vector<MailboxHeader*> slots_;   // rank r's slot i at 2r + i
  std::vector<PeerProcess> processes_;  // by rank, to notice a peer that died
  std::size_t capacity_ = 0;
  uint64_t exchanges_ = 0;    // exchanges finished by this rank
  uint64_t current_seq_ = 0;  // collective number of the op being run
  Expectation current_{};
  std::size_t current_bytes_ = 0;
  bool posted_ = false;
};

}  // namespace railcc::transport
