// Authenticated bootstrap across real processes: with RAILCC_JOB_KEY the store and every peer
// socket require the key; strangers that know an address but not the key are turned away (and
// logged) while the job goes on; a rank with the wrong key fails init naming RAILCC_JOB_KEY.
#include "src/bootstrap/auth.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "railcc/railcc.hpp"
#include "src/common/socket.h"
#include "tests/mp/harness.h"

namespace railcc::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kKey = "0123456789abcdef-the-job-key";
constexpr const char* kWrongKey = "fedcba9876543210-not-the-key";

// With one_host, every 3 ranks count as one host whatever name they publish.
JobOptions keyed(const std::string& transport, bool one_host = false) {
  JobOptions o;
  o.env["RAILCC_JOB_KEY"] = kKey;
  if (one_host) o.env["RAILCC_RANKS_PER_HOST"] = "3";
  o.env["RAILCC_TRANSPORT"] = "tcp";
  if (transport == "rails") o.env["RAILCC_RAILS"] = "lo,127.0.0.1";
  o.env["RAILCC_TIMEOUT"] = "20";
  o.limit = 40s;
  return o;
}

void sum_check(Communicator& c, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    int32_t v = c.rank() + 1, sum = 0;
    c.all_reduce(&v, &sum, 1, DataType::kInt32, ReduceOp::kSum).wait();
    const int n = c.size();
    CHECK(sum == n * (n + 1) / 2, "sum {} on {} ranks", sum, n);
  }
}

class Auth : public ::testing::TestWithParam<std::string> {};

TEST_P(Auth, RightKeyWorks) {
  auto out = run_job(
      3,
      [](int) {
        auto c = Communicator::init();
        sum_check(*c, 3);
        auto half = c->split(c->rank() % 2, 0);  // a child communicator authenticates too
        sum_check(*half, 2);
      },
      keyed(GetParam()));
  for (const auto& o : out) ASSERT_TRUE(o.ok()) << summary(out);
}

INSTANTIATE_TEST_SUITE_P(Transports, Auth, ::testing::Values("tcp", "rails"));

TEST(AuthStore, RogueClientsAreRejectedAndTheJobGoesOn) {
  auto out = run_job(
      2,
      [](int rank) {
        const std::string addr = Config::from_env().launch.store_addr;
        if (rank == 1) {
          // Strangers that know the address: no key, a wrong key, raw bytes.
          auto [code, msg] =
              expect_error([&] { connect_tcp_store(addr, 5s)->check("railcc/peer_key"); });
          CHECK(code == ErrorCode::kConfig && msg.find("RAILCC_JOB_KEY") != std::string::npos,
                "no key: {}", msg);
          std::tie(code, msg) = expect_error([&] { connect_tcp_store(addr, 5s, kWrongKey); });
          CHECK(code == ErrorCode::kConfig && msg.find("RAILCC_JOB_KEY") != std::string::npos,
                "wrong key: {}", msg);
          auto fd = net::connect_to(net::resolve(addr, "test"), Deadline::after(5s), "store");
          const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789012345678901234567890";
          net::write_all(fd.get(), junk, sizeof(junk), Deadline::after(5s));
        }
        auto c = Communicator::init();
        sum_check(*c, 5);
      },
      keyed("tcp"));
  for (const auto& o : out) ASSERT_TRUE(o.ok()) << summary(out);
}

TEST(AuthPeer, RoguePeerIsRejectedDuringInitAndTheJobGoesOn) {
  auto out = run_job(
      3,
      [](int rank) {
        if (rank == 2) {
          // Before joining, knock on rank 0's peer port without the key. To get rank 0 into its
          // accept loop, the test (not the rogue) pre-publishes a placeholder for rank 2, which
          // init overwrites; nobody dials it since higher ranks connect to lower ones.
          const Config cfg = Config::from_env();
          auto store = connect_tcp_store(cfg.launch.store_addr, 5s, kKey);
          const std::string placeholder = "placeholder\n1\n127.0.0.1\n1";
          store->set("railcc/comm/1/peer/2", {placeholder.begin(), placeholder.end()});
          auto info = store->get("railcc/comm/1/peer/0", 10s);
          std::string text(info.begin(), info.end());
          std::vector<std::string> lines;
          for (std::size_t pos = 0; pos <= text.size();) {
            const auto nl = text.find('\n', pos);
            lines.push_back(text.substr(pos, nl - pos));
            if (nl == std::string::npos) break;
            pos = nl + 1;
          }
          const auto ep = net::resolve(lines.at(2) + ":" + lines.at(3), "test");
          // 1. A connector with the wrong key finds out the acceptor does not share it.
          auto fd = net::connect_to(ep, Deadline::after(5s), "rank 0");
          auto [code, msg] = expect_error([&] {
            auth::authenticate_to(fd.get(), auth::derive_key(kWrongKey), auth::peer_context(1, 0),
                                  Deadline::after(5s), "rank 0");
          });
          CHECK(code == ErrorCode::kConfig && msg.find("RAILCC_JOB_KEY") != std::string::npos, "{}",
                msg);
          // 2. One that answers the challenge anyway with a made-up proof is closed.
          auto fd2 = net::connect_to(ep, Deadline::after(5s), "rank 0");
          auth::Hello hello{};
          hello.magic = auth::kMagic;
          auth::Challenge challenge{};
          auth::Answer forged{};
          CHECK(net::write_all(fd2.get(), &hello, sizeof(hello), Deadline::after(5s)), "hello");
          CHECK(net::read_all(fd2.get(), &challenge, sizeof(challenge), Deadline::after(5s)),
                "challenge");
          CHECK(net::write_all(fd2.get(), &forged, sizeof(forged), Deadline::after(5s)), "answer");
          char byte;
          auto [code2, msg2] = expect_error([&] {
            if (!net::read_all(fd2.get(), &byte, 1, Deadline::after(5s))) {
              throw TimeoutError("still open 5 s after the forged answer");
            }
          });
          CHECK(code2 == ErrorCode::kPeerFailure, "the forged answer was not closed: {}", msg2);
        }
        auto c = Communicator::init();
        sum_check(*c, 5);
      },
      keyed("tcp", /*one_host=*/true));  // the placeholder's host name must not count
  for (const auto& o : out) ASSERT_TRUE(o.ok()) << summary(out);
  EXPECT_NE(out[0].stderr_text.find("to its peer port: failed authentication (wrong or missing "
                                    "RAILCC_JOB_KEY)"),
            std::string::npos)
      << summary(out);
}

TEST(AuthRank, WrongOrMissingKeyFailsInitNamingTheVariable) {
  for (const char* key : {kWrongKey, ""}) {
    auto out = run_job(
        2,
        [key](int rank) {
          if (rank == 0) return;  // the job never forms; rank 1 must fail on its own, at once
          if (*key) {
            setenv("RAILCC_JOB_KEY", key, 1);
          } else {
            unsetenv("RAILCC_JOB_KEY");
          }
          auto [code, msg] = expect_error([] { Communicator::init(); });
          CHECK(code == ErrorCode::kConfig, "{}", msg);
          CHECK(msg.find("RAILCC_JOB_KEY") != std::string::npos, "{}", msg);
        },
        keyed("tcp"));
    for (const auto& o : out) ASSERT_TRUE(o.ok()) << summary(out);
  }
}

}  // namespace
}  // namespace railcc::test
