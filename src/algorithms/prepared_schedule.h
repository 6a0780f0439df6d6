// A schedule made ready to run many times: its steps sorted into the queues the executor walks
// (one per peer and direction, one for local steps), and a small cache of them per shape.
// Choosing an all_reduce algorithm (the cost model) and generating and sorting its schedule cost
// about a third of an 8-byte op's CPU time, all of it the same for every call of that size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/algorithms/schedule.h"

namespace railcc::algo {

struct PreparedSchedule {
  Schedule schedule;
  // Steps of queue q: queue_steps[queue_begin[q] .. queue_begin[q + 1]), in program order.
  std::vector<uint32_t> queue_steps;
  std::vector<uint32_t> queue_begin;
  uint32_t queues() const { return static_cast<uint32_t>(queue_begin.size()) - 1; }
};

// `ranks`: the communicator's size (peers are global ranks below it).
PreparedSchedule prepare(Schedule schedule, int ranks);

// The last few schedules a communicator ran, by shape. Everything an all_reduce schedule depends
// on besides the shape (rank, size, hosts, config) is fixed for the communicator's life.
class ScheduleCache {
 public:
  struct Key {
    std::size_t count = 0, elem_size = 0;
    bool avg = false;
    bool operator==(const Key&) const = default;
  };
  struct Entry {
    Key key;
    const char* algorithm = nullptr;  // a string literal
    PreparedSchedule prepared;
  };
  static constexpr std::size_t kEntries = 16;

  // The entry for `key`, or null. A hit moves it to the front.
  const Entry* find(const Key& key);
  // Adds an entry in front (dropping the least recently used beyond kEntries) and returns it.
  const Entry& insert(const Key& key, const char* algorithm, PreparedSchedule prepared);

 private:
  std::vector<std::unique_ptr<Entry>> entries_;  // most recently used first
};

}  // namespace railcc::algo
