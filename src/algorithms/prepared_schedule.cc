#include "src/algorithms/prepared_schedule.h"

#include <algorithm>
#include <utility>

namespace railcc::algo {

PreparedSchedule prepare(Schedule schedule, int ranks) {
  PreparedSchedule p;
  // Queue keys: 2 * peer for sends to it, 2 * peer + 1 for receives from it, 2 * ranks for local
  // steps. Queues are numbered in order of their first step.
  const std::size_t keys = 2 * static_cast<std::size_t>(ranks) + 1;
  std::vector<int> queue_of(keys, -1);
  std::vector<uint32_t> step_queue(schedule.size());
  std::vector<uint32_t> sizes;
  for (uint32_t i = 0; i < schedule.size(); ++i) {
    const Step& st = schedule.steps[i];
    std::size_t key = keys - 1;
    if (st.op == StepOp::kSend) key = 2 * static_cast<std::size_t>(st.peer);
    if (st.op == StepOp::kRecv || st.op == StepOp::kRecvReduce) {
      key = 2 * static_cast<std::size_t>(st.peer) + 1;
    }
    if (queue_of[key] < 0) {
      queue_of[key] = static_cast<int>(sizes.size());
      sizes.push_back(0);
    }
    step_queue[i] = static_cast<uint32_t>(queue_of[key]);
    ++sizes[step_queue[i]];
  }
  p.queue_begin.assign(sizes.size() + 1, 0);
  for (std::size_t q = 0; q < sizes.size(); ++q) p.queue_begin[q + 1] = p.queue_begin[q] + sizes[q];
  p.queue_steps.resize(schedule.size());
  std::vector<uint32_t> fill(p.queue_begin.begin(), p.queue_begin.end() - 1);
  for (uint32_t i = 0; i < schedule.size(); ++i) p.queue_steps[fill[step_queue[i]]++] = i;
  p.schedule = std::move(schedule);
  return p;
}

const ScheduleCache::Entry* ScheduleCache::find(const Key& key) {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i]->key == key) {
      std::rotate(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(i),
                  entries_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      return entries_.front().get();
    }
  }
  return nullptr;
}

const ScheduleCache::Entry& ScheduleCache::insert(const Key& key, const char* algorithm,
                                                  PreparedSchedule prepared) {
  if (entries_.size() >= kEntries) entries_.pop_back();
  auto e = std::make_unique<Entry>();
  e->key = key;
  e->algorithm = algorithm;
  e->prepared = std::move(prepared);
  entries_.insert(entries_.begin(), std::move(e));
  return *entries_.front();
}

}  // namespace railcc::algo
