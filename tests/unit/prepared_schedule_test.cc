// prepare() sorts a schedule's steps into the executor's queues (per peer and direction, then
// local steps, each in program order); ScheduleCache keeps the most recently used shapes.
#include "src/algorithms/prepared_schedule.h"

#include <gtest/gtest.h>

#include <vector>

namespace railcc::algo {
namespace {

std::vector<uint32_t> queue(const PreparedSchedule& p, uint32_t q) {
  return {p.queue_steps.begin() + p.queue_begin[q], p.queue_steps.begin() + p.queue_begin[q + 1]};
}

TEST(PreparedScheduleTest, QueuesFollowFirstUseAndKeepProgramOrder) {
  Schedule s;
  const Ref send{Buf::kSend, 0}, recv{Buf::kRecv, 0};
  s.copy(recv, send, 8);            // 0: local
  s.send(2, send, 8);               // 1: send to 2
  s.recv(1, recv, 8);               // 2: recv from 1
  s.recv_reduce(2, recv, recv, 8);  // 3: recv from 2
  s.send(2, send, 8);               // 4: send to 2
  s.reduce(recv, send, 8);          // 5: local
  s.send(1, send, 8);               // 6: send to 1
  const PreparedSchedule p = prepare(s, 3);
  ASSERT_EQ(p.queues(), 5u);
  EXPECT_EQ(queue(p, 0), (std::vector<uint32_t>{0, 5}));  // local
  EXPECT_EQ(queue(p, 1), (std::vector<uint32_t>{1, 4}));  // send to 2
  EXPECT_EQ(queue(p, 2), (std::vector<uint32_t>{2}));     // recv from 1
  EXPECT_EQ(queue(p, 3), (std::vector<uint32_t>{3}));     // recv from 2
  EXPECT_EQ(queue(p, 4), (std::vector<uint32_t>{6}));     // send to 1
  EXPECT_EQ(p.schedule.size(), 7u);
}

TEST(PreparedScheduleTest, EmptyScheduleHasNoQueues) {
  const PreparedSchedule p = prepare(Schedule{}, 4);
  EXPECT_EQ(p.queues(), 0u);
  EXPECT_TRUE(p.queue_steps.empty());
}

TEST(ScheduleCacheTest, FindsByShapeAndDropsTheLeastRecentlyUsed) {
  ScheduleCache cache;
  auto key = [](std::size_t count) { return ScheduleCache::Key{count, 4, false}; };
  EXPECT_EQ(cache.find(key(1)), nullptr);
  for (std::size_t c = 0; c < ScheduleCache::kEntries; ++c) {
    cache.insert(key(c), "ring", PreparedSchedule{});
  }
  ASSERT_NE(cache.find(key(0)), nullptr);  // now the most recently used
  EXPECT_STREQ(cache.find(key(0))->algorithm, "ring");
  EXPECT_EQ(cache.find(ScheduleCache::Key{0, 2, false}), nullptr);  // other element size
  EXPECT_EQ(cache.find(ScheduleCache::Key{0, 4, true}), nullptr);   // avg differs
  cache.insert(key(100), "tree", PreparedSchedule{});  // drops key(1), the least recent
  EXPECT_EQ(cache.find(key(1)), nullptr);
  EXPECT_NE(cache.find(key(0)), nullptr);
  EXPECT_NE(cache.find(key(2)), nullptr);
  EXPECT_STREQ(cache.find(key(100))->algorithm, "tree");
}

}  // namespace
}  // namespace railcc::algo
