#include "transport/shm/shm_stream.h"

#include <fmt/format.h>

#include <cstring>

#include "railcc/status.hpp"
#include "src/common/log.h"

namespace railcc::transport {

ShmStream::ShmStream(const ShmSegment* mine, int in_slot, const ShmSegment* theirs, int out_slot,
                     int peer_pid, std::string who)
    : mine_(mine),
      theirs_(theirs),
      in_(&mine->control(in_slot)),
      in_data_(mine->ring(in_slot)),
      out_(&theirs->control(out_slot)),
      out_data_(theirs->ring(out_slot)),
      in_mask_(mine->ring_bytes() - 1),
      out_mask_(theirs->ring_bytes() - 1),
      peer_(peer_pid),
      who_(std::move(who)) {}

std::size_t ShmStream::write_some(const void* data, std::size_t n) {
  const uint64_t head = out_->head.load(std::memory_order_relaxed);
  const uint64_t tail = out_->tail.load(std::memory_order_acquire);
  const std::size_t cap = out_mask_ + 1;
  const std::size_t space = cap - static_cast<std::size_t>(head - tail);
  n = std::min(n, space);
  if (n == 0) {
    check_open();
    return 0;
  }
  const std::size_t pos = head & out_mask_;
  const std::size_t first = std::min(n, cap - pos);
  std::memcpy(out_data_ + pos, data, first);
  if (n > first) std::memcpy(out_data_, static_cast<const std::byte*>(data) + first, n - first);
  out_->head.store(head + n, std::memory_order_release);
  theirs_->ring_doorbell();
  return n;
}

std::span<const std::byte> ShmStream::peek() {
  const uint64_t tail = in_->tail.load(std::memory_order_relaxed);
  const uint64_t head = in_->head.load(std::memory_order_acquire);
  const std::size_t avail = static_cast<std::size_t>(head - tail);
  if (avail == 0) {
    check_open();
    return {};
  }
  const std::size_t pos = tail & in_mask_;
  return {in_data_ + pos, std::min(avail, in_mask_ + 1 - pos)};
}

void ShmStream::consume(std::size_t n) {
  in_->tail.store(in_->tail.load(std::memory_order_relaxed) + n, std::memory_order_release);
  // The peer may be waiting for space in this ring.
  theirs_->ring_doorbell();
}

bool ShmStream::peer_gone() {
  if (in_->closed.load(std::memory_order_acquire)) return true;
  if (in_->head.load(std::memory_order_acquire) != in_->tail.load(std::memory_order_relaxed)) {
    return false;  // it left data we have not read yet
  }
  return peer_.exited();
}

void ShmStream::inject_drop() {
  RAILCC_WARN("shm", "RAILCC_FAULT: dropping the connection to {}", who_);
  in_->closed.store(1, std::memory_order_release);
  out_->closed.store(1, std::memory_order_release);
  mine_->ring_doorbell();
  theirs_->ring_doorbell();
}

void ShmStream::check_open() const {
  if (in_->closed.load(std::memory_order_acquire) || out_->closed.load(std::memory_order_acquire)) {
    throw PeerFailureError(fmt::format("shared-memory connection to {} was closed", who_));
  }
}

}  // namespace railcc::transport
