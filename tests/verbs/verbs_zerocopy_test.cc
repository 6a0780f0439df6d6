// Zero-copy sends over verbs (Communicator::register_buffer, RAILCC_IB_ZCOPY_BYTES): collectives
// from registered buffers stay exact, in place and out of place, over many rounds that reuse the
// same buffers (the emulated HCA counts writes whose source changed before their completion, the
// early-reuse bug an in-place all_reduce would hit), and large sends really skip the staging ring.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <numeric>
#include <vector>

#include "railcc/railcc.hpp"
#include "tests/mp/harness.h"
#include "tests/verbs/fake_verbs.h"
#include "transport/verbs/user_buffers.h"
#include "transport/verbs/verbs_api.h"

namespace railcc::test {
namespace {

FakeVerbs& fake() { return static_cast<FakeVerbs&>(transport::verbs::verbs_api()); }
uint64_t in_place_bytes() { return transport::verbs::zero_copy_counters().in_place_bytes.load(); }

JobOptions zcopy_job(const std::string& zcopy_bytes) {
  JobOptions opt;
  opt.env["RAILCC_TRANSPORT"] = "verbs";
  opt.env["RAILCC_IB_HCA"] = "fake0";
  // Small rings and chunks, so messages wrap the ring and exhaust credits mid-message.
  opt.env["RAILCC_IB_RING_BYTES"] = "64K";
  opt.env["RAILCC_CHUNK_BYTES"] = "32K";
  opt.env["RAILCC_SMALL_MSG_BYTES"] = "2K";
  opt.env["RAILCC_IB_ZCOPY_BYTES"] = zcopy_bytes;
  opt.env["RAILCC_TIMEOUT"] = "60";
  opt.limit = std::chrono::seconds(100);
  return opt;
}

class VerbsZeroCopy : public ::testing::Test {
 protected:
  void SetUp() override { FakeVerbs::install({}); }
  void TearDown() override { FakeVerbs::uninstall(); }
};

constexpr std::size_t kCount = 48 * 1024;  // int64 elements: 384 KiB, several ring wraps

// One round of all_reduce (in place and out of place), all_gather (both) and broadcast from the
// same buffers, with values that change every round, checked exactly.
void collective_round(Communicator& c, int round, std::vector<int64_t>& a, std::vector<int64_t>& b,
                      std::vector<int64_t>& gathered) {
  const int n = c.size();
  const int64_t r = c.rank();
  // In place: the sum overwrites the very buffer this rank is sending from.
  std::iota(a.begin(), a.end(), r * 1000 + round);
  c.all_reduce(a.data(), a.data(), kCount, DataType::kInt64, ReduceOp::kSum).wait();
  for (std::size_t i = 0; i < kCount; ++i) {
    const int64_t want = n * static_cast<int64_t>(i + round) + 1000 * int64_t{n} * (n - 1) / 2;
    CHECK(a[i] == want, "round {} in-place all_reduce [{}]: {} != {}", round, i, a[i], want);
  }
  // Out of place, b as the source.
  std::iota(b.begin(), b.end(), r - round);
  c.all_reduce(b.data(), a.data(), kCount, DataType::kInt64, ReduceOp::kSum).wait();
  for (std::size_t i = 0; i < kCount; ++i) {
    const int64_t want = n * static_cast<int64_t>(i) - n * round + int64_t{n} * (n - 1) / 2;
    CHECK(a[i] == want, "round {} all_reduce [{}]: {} != {}", round, i, a[i], want);
  }
  // all_gather out of place (from b), then in place (this rank's block inside gathered).
  const std::size_t block = kCount / static_cast<std::size_t>(n);
  for (int in_place = 0; in_place < 2; ++in_place) {
    int64_t* mine = in_place ? gathered.data() + r * block : b.data();
    for (std::size_t i = 0; i < block; ++i) mine[i] = r * 7 + round * 3 + in_place + int64_t(i);
    c.all_gather(mine, gathered.data(), block, DataType::kInt64).wait();
    for (int q = 0; q < n; ++q) {
      for (std::size_t i = 0; i < block; ++i) {
        const int64_t want = int64_t{q} * 7 + round * 3 + in_place + static_cast<int64_t>(i);
        const int64_t got = gathered[q * block + i];
        CHECK(got == want, "round {} all_gather (in place {}) block {} [{}]: {} != {}", round,
              in_place, q, i, got, want);
      }
    }
  }
  // broadcast from a rotating root, in place.
  const int root = round % n;
  if (c.rank() == root) std::iota(b.begin(), b.end(), int64_t{round} * 11);
  c.broadcast(b.data(), b.data(), kCount, DataType::kInt64, root).wait();
  for (std::size_t i = 0; i < kCount; ++i) {
    const int64_t want = int64_t{round} * 11 + static_cast<int64_t>(i);
    CHECK(b[i] == want, "round {} broadcast [{}]: {} != {}", round, i, b[i], want);
  }
}

TEST_F(VerbsZeroCopy, CollectivesFromRegisteredBuffersAreExactAndSkipStaging) {
  for (int world : {2, 3}) {
    auto results = run_job(
        world,
        [](int) {
          auto c = Communicator::init();
          std::vector<int64_t> a(kCount), b(kCount), gathered(kCount);
          const uint64_t ha = c->register_buffer(a.data(), a.size() * sizeof(int64_t));
          const uint64_t hb = c->register_buffer(b.data(), b.size() * sizeof(int64_t));
          const uint64_t hg =
              c->register_buffer(gathered.data(), gathered.size() * sizeof(int64_t));
          for (int round = 0; round < 6; ++round) collective_round(*c, round, a, b, gathered);
          CHECK(in_place_bytes() > 0, "no byte was sent in place from a registered buffer");
          CHECK(fake().sources_changed_in_flight() == 0,
                "{} RDMA writes had their source overwritten before completing",
                fake().sources_changed_in_flight());
          for (uint64_t h : {ha, hb, hg}) c->deregister_buffer(h);
          c->barrier().wait();
        },
        zcopy_job("16K"));
    for (const auto& r : results) ASSERT_TRUE(r.ok()) << "world " << world << summary(results);
  }
}

// Only registered memory is sent in place, and only while RAILCC_IB_ZCOPY_BYTES is on; a buffer
// that was deregistered, freed and replaced by a new allocation is copied again (its pages are
// not the registered ones), and in place again once the new one is registered.
TEST_F(VerbsZeroCopy, OnlyRegisteredBuffersAndDeregisterThenFreeThenReuse) {
  auto results = run_job(
      2,
      [](int) {
        auto c = Communicator::init();
        std::vector<int64_t> unregistered(kCount), spare(kCount), gathered(kCount);
        // Unregistered: everything staged.
        collective_round(*c, 0, unregistered, spare, gathered);
        CHECK(in_place_bytes() == 0, "{} bytes in place from unregistered memory",
              in_place_bytes());
        auto a = std::make_unique<std::vector<int64_t>>(kCount);
        uint64_t h = c->register_buffer(a->data(), a->size() * sizeof(int64_t));
        collective_round(*c, 1, *a, spare, gathered);
        const uint64_t first = in_place_bytes();
        CHECK(first > 0, "nothing sent in place from a registered buffer");
        // Deregister, free, allocate anew (quite possibly at the same address): staged again.
        c->deregister_buffer(h);
        a.reset();
        a = std::make_unique<std::vector<int64_t>>(kCount);
        collective_round(*c, 2, *a, spare, gathered);
        CHECK(in_place_bytes() == first, "a deregistered buffer was still sent in place");
        h = c->register_buffer(a->data(), a->size() * sizeof(int64_t));
        collective_round(*c, 3, *a, spare, gathered);
        CHECK(in_place_bytes() > first, "the re-registered buffer was not sent in place");
        c->deregister_buffer(h);
        c->deregister_buffer(h);  // twice: ignored
        CHECK(fake().sources_changed_in_flight() == 0, "source overwritten in flight");
      },
      zcopy_job("16K"));
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
}

TEST_F(VerbsZeroCopy, ZeroThresholdTurnsItOff) {
  auto results = run_job(
      2,
      [](int) {
        auto c = Communicator::init();
        std::vector<int64_t> a(kCount), b(kCount), gathered(kCount);
        const uint64_t h = c->register_buffer(a.data(), a.size() * sizeof(int64_t));
        collective_round(*c, 0, a, b, gathered);
        CHECK(in_place_bytes() == 0, "{} bytes in place with RAILCC_IB_ZCOPY_BYTES=0",
              in_place_bytes());
        c->deregister_buffer(h);
      },
      zcopy_job("0"));
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
}

// A completion error while writes from a registered buffer are in flight fails the op with the
// same clear message as a staged write's error (peer, HCA, port, verbs status).
TEST_F(VerbsZeroCopy, CompletionErrorDuringInPlaceWritesIsAClearPeerFailure) {
  auto opt = zcopy_job("16K");
  opt.env["RAILCC_TIMEOUT"] = "10";
  auto results = run_job(
      2,
      [](int rank) {
        auto c = Communicator::init();
        std::vector<int64_t> a(kCount), b(kCount), gathered(kCount);
        const uint64_t h = c->register_buffer(a.data(), a.size() * sizeof(int64_t));
        try {
          collective_round(*c, 0, a, b, gathered);
          if (rank == 1) fake().fail_nth_send("fake0", 5, IBV_WC_RETRY_EXC_ERR);
          for (int round = 1; round < 20; ++round) collective_round(*c, round, a, b, gathered);
        } catch (const PeerFailureError& e) {
          const std::string m = e.what();
          CHECK((m.find("peer 0 unreachable on fake0 port 1 (retry exceeded: "
                        "IBV_WC_RETRY_EXC_ERR") != std::string::npos ||
                 m.find("peer 1 unreachable on fake0 port 1 (retry exceeded: "
                        "IBV_WC_RETRY_EXC_ERR") != std::string::npos),
                "rank {}'s message: {}", rank, m);
          CHECK(in_place_bytes() > 0, "the failure did not strike the zero-copy path");
          c->deregister_buffer(h);
          return;
        }
        CHECK(false, "no error after an injected completion failure");
      },
      opt);
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
}

TEST(VerbsZeroCopyConfig, ParsesThresholdAndRejectsGarbage) {
  EXPECT_EQ(Config::from_map({}).ib_zcopy_bytes, 64u * 1024);
  EXPECT_EQ(Config::from_map({{"RAILCC_IB_ZCOPY_BYTES", "256K"}}).ib_zcopy_bytes, 256u * 1024);
  EXPECT_EQ(Config::from_map({{"RAILCC_IB_ZCOPY_BYTES", "0"}}).ib_zcopy_bytes, 0u);
  EXPECT_NE(
      Config::from_map({{"RAILCC_IB_ZCOPY_BYTES", "1M"}}).to_string().find("RAILCC_IB_ZCOPY_BYTES"),
      std::string::npos);
  for (const char* bad : {"-1", "12X", "lots", "1.5M"}) {
    try {
      Config::from_map({{"RAILCC_IB_ZCOPY_BYTES", bad}});
      ADD_FAILURE() << "RAILCC_IB_ZCOPY_BYTES=" << bad << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("RAILCC_IB_ZCOPY_BYTES"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace railcc::test
