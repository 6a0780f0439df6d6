// A rank of a small job for the telemetry tests: runs all_reduces (the rank named by
// --slow-rank sleeps before each one, a straggler), prints "ready" and keeps its metrics
// endpoint up until stdin closes, so a test can scrape every rank. --skip-rank R --skip-op N:
// rank R skips its N-th all_reduce and then just waits for stdin to close (an induced hang).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "railcc/railcc.hpp"

int main(int argc, char** argv) {
  int slow_rank = -1, ops = 20, skip_rank = -1, skip_op = 0;
  std::size_t count = 1 << 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--slow-rank") slow_rank = std::atoi(argv[i + 1]);
    if (flag == "--ops") ops = std::atoi(argv[i + 1]);
    if (flag == "--count") count = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--skip-rank") skip_rank = std::atoi(argv[i + 1]);
    if (flag == "--skip-op") skip_op = std::atoi(argv[i + 1]);
  }
  try {
    auto comm = railcc::Communicator::init();
    std::vector<float> buf(count, 1.0f);
    std::string line;
    for (int i = 0; i < ops; ++i) {
      if (comm->rank() == skip_rank && i + 1 == skip_op) {
        std::printf("rank %d skips all_reduce #%d (pid %d)\n", comm->rank(), skip_op,
                    static_cast<int>(::getpid()));
        std::fflush(stdout);
        while (std::getline(std::cin, line)) {
        }
        return 0;
      }
      if (comm->rank() == slow_rank) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::fill(buf.begin(), buf.end(), 1.0f);
      comm->all_reduce(buf.data(), buf.data(), count, railcc::DataType::kFloat32,
                       railcc::ReduceOp::kSum)
          .wait();
      if (buf[count - 1] != static_cast<float>(comm->size())) {
        std::fprintf(stderr, "wrong result %f\n", buf[count - 1]);
        return 1;
      }
    }
    comm->barrier().wait();
    std::printf("ready rank %d pid %d\n", comm->rank(), static_cast<int>(::getpid()));
    std::fflush(stdout);
    // Stay up (metrics endpoint alive) until the test closes stdin.
    while (std::getline(std::cin, line)) {
    }
    comm->barrier().wait();
  } catch (const railcc::Error& e) {
    std::fprintf(stderr, "telemetry_probe: %s\n", e.what());
    return 1;
  }
  return 0;
}
