// Soak: thousands of mixed collectives on 8 ranks over shared memory, every result checked, and
// each rank's resident memory and open file descriptors compared between the end of a warm-up
// and the end of the run. A leak per op (a buffer, a connection's state, an fd) shows up here
// long before it would in the short functional tests.
//
// RAILCC_SOAK_OPS sets the op count (default 2000, the CI variant; run 10000 by hand). Every
// rank draws the same op sequence from a fixed-seed RNG, so they agree on ops, sizes and roots.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tests/mp/harness.h"
#include "tests/soak/soak_ops.h"

namespace railcc::test {
namespace {

int op_count() {
  const char* v = std::getenv("RAILCC_SOAK_OPS");
  return v != nullptr && *v != '\0' ? std::atoi(v) : 2000;
}

TEST(Soak, MixedCollectivesShmFlatMemoryAndFds) {
  constexpr int kWorld = 8;
  const int ops = op_count();
  ASSERT_GT(ops, 0) << "RAILCC_SOAK_OPS must be a positive number";
  JobOptions opt;
  opt.env["RAILCC_TRANSPORT"] = "shm";
  opt.env["RAILCC_TIMEOUT"] = "120";
  opt.limit = std::chrono::seconds(1800);
  const auto start = std::chrono::steady_clock::now();
  auto results = run_job(
      kWorld, [ops](int) { soak(ops); }, opt);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The figures each rank printed (see soak_ops.cc), for the log of the run.
  std::cout << ops << " ops on " << kWorld << " ranks in " << seconds << " s\n";
  for (const auto& r : results) std::cout << r.stderr_text;
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
}

}  // namespace
}  // namespace railcc::test
