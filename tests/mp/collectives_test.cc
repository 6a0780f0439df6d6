// Every collective at 1, 2, 3, 4, 5 and 8 ranks over shm and tcp, in place and out of place,
// with counts 0, 1, primes, count < ranks and multi-chunk sizes; results checked element by
// element against an independent reference.
#include <gtest/gtest.h>

#include "railcc/railcc.hpp"
#include "tests/mp/collective_suite.h"
#include "tests/mp/harness.h"

namespace railcc::test {
namespace {

void run_everything(int world, const std::string& transport) {
  JobOptions opt;
  opt.env["RAILCC_TRANSPORT"] = transport == "shm_ring" ? "shm" : transport;
  if (transport == "shm") {
    // Chunks of 8K and more are read from the sender's memory (where the kernel allows it).
    opt.env["RAILCC_SHM_SINGLE_COPY_BYTES"] = "8K";
  } else if (transport == "shm_ring") {
    // Everything through the rings, and every op on the worker thread.
    opt.env["RAILCC_SHM_SINGLE_COPY_BYTES"] = "0";
    opt.env["RAILCC_INLINE_BYTES"] = "0";
  } else if (transport == "rails") {
    // Multi-rail over two loopback rails; small chunks, so pipelined messages are striped.
    opt.env["RAILCC_TRANSPORT"] = "tcp";
    opt.env["RAILCC_RAILS"] = "lo,127.0.0.1";
    opt.env["RAILCC_RAIL_CHUNK_BYTES"] = "4K";
  }
  // Small chunks and a low direct-path threshold, so modest sizes exercise the pipelined rings.
  opt.env["RAILCC_CHUNK_BYTES"] = "16K";
  opt.env["RAILCC_SMALL_MSG_BYTES"] = "2K";
  opt.env["RAILCC_TIMEOUT"] = "60";
  auto results = run_job(
      world,
      [](int) {
        auto c = Communicator::init();
        exercise_every_collective(*c);
      },
      opt);
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
}

class Collectives : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(Collectives, AllOpsAllTypesCorrect) {
  run_everything(std::get<1>(GetParam()), std::get<0>(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Transports, Collectives,
                         ::testing::Combine(::testing::Values("shm", "shm_ring", "tcp", "rails"),
                                            ::testing::Values(1, 2, 3, 4, 5, 8)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_np" +
                                  std::to_string(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace railcc::test
