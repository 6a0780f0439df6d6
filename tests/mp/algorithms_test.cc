// Every all_reduce algorithm, forced with RAILCC_ALGO, at 1-9 and 16 ranks over shm and tcp:
// sizes 0, 1, fewer elements than ranks, odd and multi-chunk; in place and out of place; sum,
// avg and max. The hierarchical one runs with emulated hosts (RAILCC_RANKS_PER_HOST) so its
// three phases all run; uneven host sizes exercise its fallback.
#include <gtest/gtest.h>

#include "railcc/railcc.hpp"
#include "tests/mp/harness.h"
#include "tests/mp/values.h"

namespace railcc::test {
namespace {

using Bytes = std::vector<std::byte>;

void check(Communicator& c, std::size_t count, DataType t, ReduceOp op, bool in_place) {
  const Bytes input = make_input(c.rank(), count, t, op);
  Bytes send = input, recv(input.size());
  if (in_place) {
    c.all_reduce(send.data(), send.data(), count, t, op).wait();
    recv = send;
  } else {
    c.all_reduce(send.data(), recv.data(), count, t, op).wait();
    const long touched = first_mismatch(send, input, t);
    CHECK(touched < 0, "all_reduce modified its input at element {}", touched);
  }
  const long at = first_mismatch(recv, expected_reduction(c.size(), count, t, op), t);
  CHECK(at < 0, "all_reduce {} x {} {} {}: first wrong element {}", count, data_type_name(t),
        reduce_op_name(op), in_place ? "in place" : "out of place", at);
}

int ranks_per_host(int world) {
  if (world % 4 == 0 && world > 4) return 4;
  if (world % 2 == 0) return 2;
  if (world % 3 == 0) return 3;
  return 2;  // uneven hosts: hier falls back to the ring
}

using Param = std::tuple<std::string, std::string, int>;  // transport, algorithm, ranks
class Algorithms : public ::testing::TestWithParam<Param> {};

TEST_P(Algorithms, AllReduceCorrect) {
  const auto& [transport, algo, world] = GetParam();
  JobOptions opt;
  opt.env["RAILCC_TRANSPORT"] = transport;
  opt.env["RAILCC_ALGO"] = algo;
  opt.env["RAILCC_CHUNK_BYTES"] = "16K";  // several pipeline chunks at modest sizes
  opt.env["RAILCC_RANKS_PER_HOST"] = std::to_string(ranks_per_host(world));
  opt.env["RAILCC_TIMEOUT"] = "60";
  auto results = run_job(
      world,
      [](int) {
        auto c = Communicator::init();
        const std::size_t n = c->size();
        for (std::size_t count : {std::size_t{0}, std::size_t{1}, n > 1 ? n - 1 : 2, std::size_t{7},
                                  std::size_t{1031}, std::size_t{40000}}) {
          for (bool in_place : {false, true})
            check(*c, count, DataType::kFloat32, ReduceOp::kSum, in_place);
        }
        check(*c, 517, DataType::kInt32, ReduceOp::kAvg, false);
        check(*c, 9001, DataType::kFloat64, ReduceOp::kMax, true);
      },
      opt);
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << summary(results);
}

INSTANTIATE_TEST_SUITE_P(Forced, Algorithms,
                         ::testing::Combine(::testing::Values("shm", "tcp"),
                                            ::testing::Values("ring", "tree", "hd", "rd", "hier",
                                                              "direct"),
                                            ::testing::Values(1, 2, 3, 4, 5, 6, 7, 8, 9, 16)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param) + "_np" +
                                  std::to_string(std::get<2>(info.param));
                         });

}  // namespace
}  // namespace railcc::test
