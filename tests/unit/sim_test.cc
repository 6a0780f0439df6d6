// railcc-sim's checker must catch what it claims to: a missing contribution, a deadlock, a
// send/recv size mismatch, an unmatched message. And every real generator passes it.
#include <gtest/gtest.h>

#include "src/algorithms/algorithms.h"
#include "src/tools/sim/simulator.h"

namespace railcc::sim {
namespace {

using algo::Buf;
using algo::Deps;
using algo::Ref;
using algo::Schedule;

Params two_ranks(std::size_t count) {
  Params p;
  p.host_of = {0, 0};
  p.cost.intra = {1e-6, 1e-9};
  p.cost.inter = p.cost.intra;
  p.verify = true;
  p.count = count;
  return p;
}

const Ref kIn{Buf::kSend, 0}, kOut{Buf::kRecv, 0};

TEST(Sim, AcceptsACorrectExchange) {
  std::vector<Schedule> s(2);
  for (int r = 0; r < 2; ++r) {
    s[r].send(1 - r, kIn, 32);
    s[r].recv_reduce(1 - r, kOut, kIn, 32);
  }
  const Result res = simulate(s, two_ranks(4));
  EXPECT_TRUE(res.ok) << res.error;
  EXPECT_GT(res.seconds, 0);
}

TEST(Sim, CatchesAMissingContribution) {
  std::vector<Schedule> s(2);
  for (int r = 0; r < 2; ++r) s[r].copy(kOut, kIn, 32);
  const Result res = simulate(s, two_ranks(4));
  EXPECT_FALSE(res.ok);
  EXPECT_NE(res.error.find("contribution"), std::string::npos) << res.error;
}

TEST(Sim, CatchesADoubleContribution) {
  std::vector<Schedule> s(2);
  for (int r = 0; r < 2; ++r) {
    s[r].send(1 - r, kIn, 32);
    const uint32_t got = s[r].recv_reduce(1 - r, kOut, kIn, 32);
    s[r].reduce(kOut, kIn, 32, Deps::on(got));
  }
  EXPECT_FALSE(simulate(s, two_ranks(4)).ok);
}

TEST(Sim, CatchesADeadlock) {
  std::vector<Schedule> s(2);
  for (int r = 0; r < 2; ++r) {
    const uint32_t got = s[r].recv_reduce(1 - r, kOut, kIn, 32);
    s[r].send(1 - r, kIn, 32, Deps::on(got));  // each waits for the other's send
  }
  const Result res = simulate(s, two_ranks(4));
  EXPECT_FALSE(res.ok);
  EXPECT_NE(res.error.find("deadlock"), std::string::npos) << res.error;
}

TEST(Sim, CatchesASizeMismatchAndAnUnmatchedSend) {
  std::vector<Schedule> s(2);
  s[0].send(1, kIn, 32);
  s[1].recv(0, kOut, 16);
  Result res = simulate(s, two_ranks(4));
  EXPECT_NE(res.error.find("mismatch"), std::string::npos) << res.error;
  std::vector<Schedule> t(2);
  t[0].send(1, kIn, 32);
  res = simulate(t, two_ranks(4));
  EXPECT_FALSE(res.ok);
}

TEST(Sim, EveryGeneratorVerifiesOnTwoLevelJobs) {
  for (int n : {2, 3, 6, 7, 12}) {
    std::vector<int> host_of;
    for (int r = 0; r < n; ++r) host_of.push_back(r / 3);
    for (algo::Algo a : algo::kAllAlgos) {
      for (std::size_t count : {std::size_t{0}, std::size_t{2}, std::size_t{50}}) {
        algo::Shape sh;
        sh.size = n;
        sh.count = count;
        sh.elem_size = 8;
        sh.chunk_bytes = 64;  // many chunks
        sh.host_of = &host_of;
        std::vector<Schedule> all;
        for (int r = 0; r < n; ++r) {
          sh.rank = r;
          all.push_back(algo::build_all_reduce(a, sh, algo::Algo::kHd));
        }
        Params p;
        p.host_of = host_of;
        p.cost.intra = {1e-6, 1e-10};
        p.cost.inter = {5e-6, 1e-9};
        p.verify = true;
        p.count = count;
        for (bool in_place : {false, true}) {
          p.in_place = in_place;
          const Result res = simulate(all, p);
          EXPECT_TRUE(res.ok) << algo::algo_name(a) << " n=" << n << " count=" << count << ": "
                              << res.error;
        }
      }
    }
  }
}

}  // namespace
}  // namespace railcc::sim
