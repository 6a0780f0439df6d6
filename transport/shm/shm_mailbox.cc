#include "transport/shm/shm_mailbox.h"

#include <fmt/format.h>

#include <algorithm>

#include "railcc/status.hpp"

namespace railcc::transport {

static_assert(sizeof(MailboxHeader) == 64);
static_assert(offsetof(MailboxHeader, reserved2) + sizeof(uint32_t) <= kMailboxInline);

ShmMailbox::ShmMailbox(int rank, std::vector<ShmSegment*> segments, const std::vector<int>& pids)
    : rank_(rank), segments_(std::move(segments)) {
  capacity_ = segments_[rank_]->mailbox_bytes();
  for (const ShmSegment* s : segments_) capacity_ = std::min(capacity_, s->mailbox_bytes());
  for (const ShmSegment* s : segments_) {
    for (int i = 0; i < 2; ++i) slots_.push_back(reinterpret_cast<MailboxHeader*>(s->mailbox(i)));
  }
  for (int pid : pids) processes_.emplace_back(pid);
}

std::byte* ShmMailbox::payload() const {
  return reinterpret_cast<std::byte*>(&header(rank_)) + kMailboxInline;
}

std::byte* ShmMailbox::next_payload() const {
  return reinterpret_cast<std::byte*>(&header(rank_, exchanges_ + 1)) + kMailboxInline;
}

const std::byte* ShmMailbox::payload(int r) const {
  return reinterpret_cast<const std::byte*>(&header(r)) + kMailboxInline;
}

namespace {
wire::FrameHeader describe(const MailboxHeader& h) {
  wire::FrameHeader f{};
  f.seq = h.seq.load(std::memory_order_relaxed);
  f.op = h.op;
  f.dtype = h.dtype;
  f.redop = h.redop;
  f.root = h.root;
  f.count = h.count;
  f.length = h.bytes;
  return f;
}
}  // namespace

void ShmMailbox::post(const Expectation& e, std::size_t bytes) {
  current_ = e;
  current_seq_ = e.seq;
  current_bytes_ = bytes;
  MailboxHeader& h = header(rank_);
  h.seq.store(e.seq, std::memory_order_relaxed);
  h.count = e.count;
  h.bytes = static_cast<uint32_t>(bytes);
  h.op = static_cast<uint8_t>(e.op);
  h.dtype = static_cast<uint8_t>(e.dtype);
  h.redop = static_cast<uint8_t>(e.redop);
  h.root = e.root;
  // seq_cst, like the peers' loads of it and of the sleeper counts: a waiting peer checks the
  // mailbox again after it counts itself as sleeping (Engine::block), so only a peer that
  // sleeps, or is about to, needs its doorbell rung (store-load order on both sides).
  h.exchange.store(exchanges_ + 1, std::memory_order_seq_cst);
  posted_ = true;
  for (int r = 0; r < size(); ++r) {
    if (r != rank_) segments_[r]->ring_doorbell_if_sleeping();
  }
}

void ShmMailbox::publish_progress(uint64_t value) {
  segments_[rank_]->progress().store(value, std::memory_order_seq_cst);
  for (int r = 0; r < size(); ++r) {
    if (r != rank_) segments_[r]->ring_doorbell_if_sleeping();
  }
}

void ShmMailbox::check(int r) const {
  const MailboxHeader& h = header(r);
  if (h.seq.load(std::memory_order_relaxed) == current_seq_ &&
      h.op == static_cast<uint8_t>(current_.op) &&
      h.dtype == static_cast<uint8_t>(current_.dtype) &&
      h.redop == static_cast<uint8_t>(current_.redop) && h.root == current_.root &&
      h.bytes == current_bytes_ && (!current_.check_count || h.count == current_.count)) {
    return;
  }
  RecvRequest mine;
  mine.expect = current_;
  mine.length = current_bytes_;
  check_expectation(describe(h), mine, rank_, r, 0);
  throw MismatchError(
      fmt::format("mismatch between rank {} and rank {} at collective #{}: rank {} "
                  "posted {} bytes, rank {} {} bytes",
                  rank_, r, current_seq_, r, h.bytes, rank_, current_bytes_));
}

const MailboxHeader& ShmMailbox::latest(int r) const {
  const MailboxHeader& a = header(r, 0);
  const MailboxHeader& b = header(r, 1);
  return a.exchange.load(std::memory_order_acquire) >= b.exchange.load(std::memory_order_acquire)
             ? a
             : b;
}

uint64_t ShmMailbox::latest_seq(int r) const {
  return latest(r).seq.load(std::memory_order_relaxed);
}

wire::FrameHeader ShmMailbox::latest_post(int r) const { return describe(latest(r)); }

void ShmMailbox::check_alive(int r) const {
  if (processes_[r].exited()) {
    throw PeerFailureError(fmt::format(
        "rank {} (pid {}) exited before it posted its part of collective #{} to the shared-memory "
        "mailbox rank {} waits on",
        r, processes_[r].pid(), current_seq_, rank_));
  }
}

}  // namespace railcc::transport
