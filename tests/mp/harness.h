// Multi-process test harness: forks one process per rank (plus one hosting the rendezvous
// store), runs a function in each, and reports every rank's outcome and stderr to the test.
// Children report failures by throwing; the harness never lets a child hang the test.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "railcc/status.hpp"

namespace railcc::test {

struct RankOutcome {
  int exit_code = -1;  // 0 = the function returned normally
  int signal = 0;      // set when the child was killed by a signal
  std::string error;   // what() of the exception that ended the child, if any
  std::string stderr_text;
  double seconds = 0;  // wall time of the child
  bool killed_by_harness = false;
  bool ok() const { return exit_code == 0 && signal == 0; }
};

struct JobOptions {
  // Extra RAILCC_* settings for every rank. RAILCC_JOB_KEY here also keys the store.
  std::map<std::string, std::string> env;
  std::chrono::seconds limit{120};  // the harness kills ranks still running after this
};

// Runs fn(rank) in `world` processes. Each has RAILCC_RANK, RAILCC_WORLD_SIZE and
// RAILCC_STORE_ADDR set, so railcc::Communicator::init() joins the job.
std::vector<RankOutcome> run_job(int world, const std::function<void(int)>& fn,
                                 const JobOptions& options = {});

// Formats every rank's outcome, for assertion messages.
std::string summary(const std::vector<RankOutcome>& outcomes);

// Thrown by CHECK in a child.
struct CheckFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs fn and returns the railcc error it threw (code and message); a CheckFailure if it threw
// none.
template <typename Fn>
std::pair<ErrorCode, std::string> expect_error(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return {e.code(), e.what()};
  }
  throw CheckFailure("expected a railcc::Error, the call succeeded");
}

}  // namespace railcc::test

#define CHECK(cond, ...)                                                                          \
  do {                                                                                            \
    if (!(cond))                                                                                  \
      throw ::railcc::test::CheckFailure(fmt::format("{}:{}: CHECK({}) failed: {}", __FILE__,     \
                                                     __LINE__, #cond, fmt::format(__VA_ARGS__))); \
  } while (0)
