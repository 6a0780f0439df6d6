// A Schedule is one rank's part of a collective as plain data: steps that send, receive,
// receive-and-reduce, copy, reduce or divide byte ranges of the op's send buffer, receive buffer
// and scratch. The same schedules run on a Context (executor.h) and in railcc-sim, so what the
// simulator verifies is exactly what the library executes.
//
// Ordering: messages between two ranks match in posting order, so sends to one peer start in
// program order, and so do receives from one peer. Otherwise a step starts as soon as its
// dependencies completed: the steps in [dep_begin, dep_end) and every step before after_all.
// Independent steps (e.g. all receives of a ring) are therefore in flight together.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace railcc::algo {

enum class Buf : uint8_t { kSend, kRecv, kScratch };
enum class StepOp : uint8_t {
  kSend,        // peer <- src
  kRecv,        // dst <- peer
  kRecvReduce,  // dst <- src (op) peer's data
  kCopy,        // dst <- src (local; may overlap)
  kReduce,      // dst <- dst (op) src (local)
  kDivide,      // dst <- dst / ranks (finishes avg)
};

// A place in one of the op's buffers, in bytes.
struct Ref {
  Buf buf = Buf::kRecv;
  std::size_t off = 0;
  Ref at(std::size_t bytes) const { return {buf, off + bytes}; }
};

// Steps [begin, end) of the same schedule.
struct Deps {
  uint32_t begin = 0, end = 0;
  static Deps on(uint32_t step) { return {step, step + 1}; }
};

struct Step {
  StepOp op = StepOp::kSend;
  Buf dst_buf = Buf::kRecv, src_buf = Buf::kSend;
  int32_t peer = -1;
  uint32_t dep_begin = 0, dep_end = 0;
  uint32_t after_all = 0;  // every step before this index completes first (phase barrier)
  std::size_t dst = 0, src = 0, bytes = 0;
};

class Schedule {
 public:
  std::vector<Step> steps;
  std::size_t scratch_bytes = 0;

  uint32_t size() const { return static_cast<uint32_t>(steps.size()); }
  // Later steps wait for everything added so far (used between phases that use other links).
  void barrier() { after_all_ = size(); }
  // Reserves scratch; returns its place.
  Ref scratch(std::size_t bytes) {
    const Ref r{Buf::kScratch, scratch_bytes};
    scratch_bytes += (bytes + 63) / 64 * 64;  // keep every area cache-line aligned
    return r;
  }

  uint32_t send(int peer, Ref src, std::size_t bytes, Deps d = {}) {
    return add(StepOp::kSend, peer, {}, src, bytes, d);
  }
  uint32_t recv(int peer, Ref dst, std::size_t bytes, Deps d = {}) {
    return add(StepOp::kRecv, peer, dst, {}, bytes, d);
  }
  uint32_t recv_reduce(int peer, Ref dst, Ref local, std::size_t bytes, Deps d = {}) {
    return add(StepOp::kRecvReduce, peer, dst, local, bytes, d);
  }
  uint32_t copy(Ref dst, Ref src, std::size_t bytes, Deps d = {}) {
    return add(StepOp::kCopy, -1, dst, src, bytes, d);
  }
  uint32_t reduce(Ref dst, Ref src, std::size_t bytes, Deps d = {}) {
    return add(StepOp::kReduce, -1, dst, src, bytes, d);
  }
  uint32_t divide(Ref dst, std::size_t bytes, Deps d = {}) {
    return add(StepOp::kDivide, -1, dst, {}, bytes, d);
  }

 private:
  uint32_t add(StepOp op, int peer, Ref dst, Ref src, std::size_t bytes, Deps d) {
    Step s;
    s.op = op;
    s.peer = peer;
    s.dst_buf = dst.buf;
    s.dst = dst.off;
    s.src_buf = src.buf;
    s.src = src.off;
    s.bytes = bytes;
    s.dep_begin = d.begin;
    s.dep_end = d.end;
    s.after_all = after_all_;
    steps.push_back(s);
    return size() - 1;
  }
  uint32_t after_all_ = 0;
};

// The ranks an algorithm runs over (all ranks, or a host's ranks, or one rail) and which of
// them this rank is. Schedules name global ranks, so sub-algorithms compose.
struct Group {
  std::vector<int> ranks;
  int me = 0;  // index of this rank in `ranks`
  int size() const { return static_cast<int>(ranks.size()); }
  int at(int i) const { return ranks[((i % size()) + size()) % size()]; }
};

// What a generator needs to know about the op and the job.
struct Shape {
  int rank = 0, size = 1;
  std::size_t count = 0;  // elements of the vector (all_reduce)
  std::size_t elem_size = 1;
  std::size_t chunk_bytes = 512 * 1024;
  bool avg = false;  // divide by `size` once every element is reduced
  // Host index of every rank (empty = one host); ranks on one host share memory.
  const std::vector<int>* host_of = nullptr;
  int host(int r) const { return host_of && !host_of->empty() ? (*host_of)[r] : 0; }
  Group world() const;
};

}  // namespace railcc::algo
