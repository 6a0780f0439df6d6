// railcc::mem_alloc's allocations (transport/shm/shared_memory.h): zeroed, found by any range
// inside them and by nothing outside, mappable by another process through /proc/<pid>/fd, and
// safe to free twice. Windows' bookkeeping (transport/shm/shm_windows.h) refuses ranges that
// leave a window.
#include "transport/shm/shared_memory.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <span>
#include <vector>

#include "railcc/memory.hpp"
#include "railcc/status.hpp"
#include "transport/shm/shm_windows.h"

namespace railcc::transport {
namespace {

TEST(SharedMemory, FindsRangesInsideAllocationsOnly) {
  auto* p = static_cast<std::byte*>(mem_alloc(10000));
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(p[i], std::byte{0});
  auto r = find_shared_region(p + 100, 9900);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->base, p);
  EXPECT_EQ(r->bytes, 10000u);
  EXPECT_TRUE(find_shared_region(p + 10000, 0));
  EXPECT_FALSE(find_shared_region(p + 100, 9901));  // one byte past the end
  EXPECT_FALSE(find_shared_region(p - 1, 1));
  int on_stack = 0;
  EXPECT_FALSE(find_shared_region(&on_stack, sizeof on_stack));
  mem_free(p);
  EXPECT_FALSE(find_shared_region(p, 1));
  mem_free(p);  // a second free is ignored
  mem_free(nullptr);
}

TEST(SharedMemory, AnotherProcessMapsTheSamePages) {
  auto* p = static_cast<char*>(mem_alloc(3 * 4096));
  const auto r = find_shared_region(p, 1);
  ASSERT_TRUE(r);
  // Written before the fork and read by the child through its own mapping of the fd; the
  // child's write comes back the same way.
  std::memcpy(p + 5006, "!!", 2);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child == 0) {
    // Offset 5000: not page-aligned, so the mapping must round it.
    PeerMapping m(parent, r->fd, 5000, 100, "the parent");
    std::memcpy(m.data(), "window", 6);
    ::_exit(std::memcmp(m.data() + 6, "!!", 2) == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(std::memcmp(p + 5000, "window", 6), 0);
  mem_free(p);
}

TEST(SharedMemory, MappingAMissingFdNamesThePeer) {
  try {
    PeerMapping m(::getpid(), 100000, 0, 10, "rank 3 (pid 1)");
    FAIL() << "mapped a missing fd";
  } catch (const SystemError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 3 (pid 1)"), std::string::npos) << e.what();
  }
}

TEST(ShmWindows, RangesThatLeaveAWindowAreRefused) {
  auto* mine_mem = static_cast<std::byte*>(mem_alloc(1000));
  std::span<std::byte> mine(mine_mem, 1000);
  std::vector<std::byte> theirs(500);
  ShmWindows w;
  EXPECT_FALSE(w.exchanges_refs(1 << 20));
  ShmWindows::Window win;
  win.base = {mine.data(), theirs.data()};
  win.bytes = {mine.size(), theirs.size()};
  win.local_region = find_shared_region(mine.data(), 1)->id;
  EXPECT_EQ(w.add(std::move(win), 4096), 1u);
  EXPECT_TRUE(w.exchanges_refs(4096));
  EXPECT_FALSE(w.exchanges_refs(4095));
  EXPECT_EQ(w.find(0, mine.data() + 10, 990), std::make_pair(int32_t{0}, uint64_t{10}));
  EXPECT_EQ(w.find(0, mine.data() + 10, 991).first, -1);
  EXPECT_EQ(w.at(1, 0, 100, 400), theirs.data() + 100);
  EXPECT_EQ(w.at(1, 0, 100, 401), nullptr);
  EXPECT_EQ(w.at(1, 0, ~uint64_t{0}, 2), nullptr);  // offset + bytes would wrap
  EXPECT_EQ(w.at(2, 0, 0, 1), nullptr);             // no such rank
  EXPECT_EQ(w.at(1, 1, 0, 1), nullptr);             // no such window
  EXPECT_TRUE(w.remove(1));
  EXPECT_FALSE(w.remove(1));
  EXPECT_EQ(w.at(1, 0, 0, 1), nullptr);
  EXPECT_EQ(w.find(0, mine.data(), 1).first, -1);
  mem_free(mine_mem);
}

// Memory freed while still registered (a misuse) and allocated again, even at the same address,
// is not the window's: ops on it must not run in place.
TEST(ShmWindows, FreedMemoryIsNoLongerTheWindow) {
  auto* p = static_cast<std::byte*>(mem_alloc(8192));
  ShmWindows w;
  ShmWindows::Window win;
  win.base = {p};
  win.bytes = {8192};
  win.local_region = find_shared_region(p, 1)->id;
  w.add(std::move(win), 1);
  EXPECT_EQ(w.find(0, p, 8192).first, 0);
  mem_free(p);
  EXPECT_EQ(w.find(0, p, 8192).first, -1);
  auto* q = static_cast<std::byte*>(mem_alloc(8192));  // often at the same address
  EXPECT_EQ(w.find(0, q, 8192).first, -1);
  mem_free(q);
}

}  // namespace
}  // namespace railcc::transport
