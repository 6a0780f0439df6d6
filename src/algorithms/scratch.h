// What a communicator keeps from one op to the next so that ops of a size it has seen allocate
// nothing: scratch memory, request storage, the executor's per-step state and the schedules of
// recent all_reduce shapes (training repeats the same sizes every step).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "src/algorithms/prepared_schedule.h"
#include "transport/connection.h"

namespace railcc::algo {

// What execute() tracks while one schedule runs; cleared, not freed, between ops.
struct ExecutorState {
  std::vector<const bool*> done;  // per step: its request's done flag; null until started
  std::vector<uint32_t> next;     // per queue: its first step not started (index into the queue)
  std::vector<uint32_t> cursor;   // per queue: dependencies of that step known done, from dep_begin
  std::vector<uint32_t> active;   // queues with steps not started
};

// Memory an op may use for intermediate data; owned by the communicator and reused across ops,
// so large ops do not pay for fresh pages every call. Not zeroed.
class Scratch {
 public:
  // Requests of the op being run: kept here so their storage is reused too (a fresh deque
  // allocates on construction).
  std::deque<transport::SendRequest> sends;
  std::deque<transport::RecvRequest> recvs;
  ExecutorState executor;
  ScheduleCache schedules;

  std::byte* get(std::size_t bytes) {
    if (bytes > size_) {
      data_.reset(new std::byte[bytes]);
      size_ = bytes;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<std::byte[]> data_;
  std::size_t size_ = 0;
};

}  // namespace railcc::algo
