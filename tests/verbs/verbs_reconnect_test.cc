// A verbs rail whose queue pair broke while its port was down is re-created once the port is
// ACTIVE again (transport/multirail/multirail_redial.cc): both ends make new queue pairs, swap
// their addresses over the other rail, and the rail carries traffic again; results stay exact
// throughout. A peer that never answers gives a warning naming the rail and peer, not a hang.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "src/telemetry/metrics.h"
#include "tests/verbs/verbs_job.h"

namespace railcc::test {
namespace {

// How often `what` occurs in `text`.
int occurrences(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Bytes written on rail `name` ("fake1:1") to every peer so far, by this process.
uint64_t rail_bytes_sent(const std::string& name) {
  return telemetry::Metrics::global().channel(name)->sent.load();
}

// All ranks run the same rounds, so that none leaves while the others still need it; the pauses
// let the 100 ms probes and the 10 ms health checks run while ops are in flight.
void rounds_with_pauses(Communicator& c, int n) {
  for (int i = 0; i < n; ++i) {
    all_reduce_rounds(c, 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Rank 0's port fake1 goes down mid 8 MiB all_reduce (the event, the traffic, and a QP fatal
// event that puts the rail's queue pairs in the error state for good); the op finishes exact on
// fake0. When the port is ACTIVE again the rail is re-created with every peer and carries bytes
// again, over several more exact all_reduces.
TEST_F(VerbsTest, BrokenRailReconnectsWhenItsPortIsBack) {
  for (int world : {2, 3}) {
    auto results = run_job(
        world,
        [](int rank) {
          auto c = Communicator::init();
          all_reduce_rounds(*c, 2);
          const std::size_t count = 1 << 20;  // 8 MiB: many chunks on each rail
          std::vector<int64_t> v(count, rank + 1);
          auto work = c->all_reduce(v.data(), v.data(), count, DataType::kInt64, ReduceOp::kSum);
          if (rank == 0) {
            fake().set_port_down("fake1", true);
            fake().inject_async_event("fake1", IBV_EVENT_PORT_ERR);
            fake().inject_qp_event("fake1", IBV_EVENT_QP_FATAL);
          }
          work.wait();
          const int64_t want = int64_t{c->size()} * (c->size() + 1) / 2;
          for (std::size_t i = 0; i < count; ++i) {
            CHECK(v[i] == want, "element {}: {} != {}", i, v[i], want);
          }
          rounds_with_pauses(*c, 5);
          if (rank == 0) {
            fake().set_port_down("fake1", false);
            fake().inject_async_event("fake1", IBV_EVENT_PORT_ACTIVE);
          }
          rounds_with_pauses(*c, 25);  // reconnect and rejoin
          const uint64_t before = rail_bytes_sent("fake1:1");
          all_reduce_rounds(*c, 8);
          const uint64_t after = rail_bytes_sent("fake1:1");
          CHECK(after > before, "rank {}: rail fake1:1 carried nothing after reconnecting", rank);
        },
        verbs_job("fake0,fake1"));
    for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
    for (int peer = 1; peer < world; ++peer) {
      const std::string& log = results[0].stderr_text;
      const std::string to = "to rank " + std::to_string(peer);
      // Once: the new queue pairs work from the start.
      EXPECT_EQ(occurrences(log, to + " reconnected (stream "), 1) << summary(results);
      EXPECT_NE(log.find(to + " is back in service"), std::string::npos) << summary(results);
      EXPECT_NE(results[peer].stderr_text.find("to rank 0 reconnected (stream "), std::string::npos)
          << summary(results);
    }
  }
}

// Rank 0's port fake1 goes down and never comes back: rank 1's attempt to re-create the rail
// goes unanswered, and after RAILCC_TIMEOUT it says so, naming the HCA, port and peer, while
// every op finishes exact on fake0.
TEST_F(VerbsTest, ReconnectThePeerNeverAnswersIsAWarning) {
  auto opt = verbs_job("fake0,fake1");
  opt.env["RAILCC_TIMEOUT"] = "2.0";
  auto results = run_job(
      2,
      [](int rank) {
        auto c = Communicator::init();
        all_reduce_rounds(*c, 2);
        if (rank == 0) {
          fake().set_port_down("fake1", true);
          fake().inject_async_event("fake1", IBV_EVENT_PORT_ERR);
        }
        rounds_with_pauses(*c, 60);  // over 3 s
      },
      opt);
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
  EXPECT_NE(results[1].stderr_text.find("re-creating rail fake1:1 ("), std::string::npos)
      << summary(results);
  EXPECT_NE(results[1].stderr_text.find("to rank 0 failed: rank 0 did not answer within 2000 ms "
                                        "(RAILCC_TIMEOUT)"),
            std::string::npos)
      << summary(results);
  EXPECT_NE(results[0].stderr_text.find("rank 1 asks to re-create rail fake1:1 ("),
            std::string::npos)
      << summary(results);
}

}  // namespace
}  // namespace railcc::test
