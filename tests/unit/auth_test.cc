// The challenge-response of src/bootstrap/auth.h, and the rendezvous store that requires it.
#include "src/bootstrap/auth.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include "railcc/config.hpp"
#include "railcc/status.hpp"
#include "railcc/store.hpp"
#include "src/bootstrap/store_protocol.h"
#include "src/common/socket.h"

namespace railcc {
namespace {

using namespace std::chrono_literals;

constexpr const char* kKey = "a-job-key-of-some-length";

TEST(AuthKeys, DeriveIsSha256OfTheSecret) {
  EXPECT_EQ(auth::derive_key(kKey), auth::derive_key(kKey));
  EXPECT_NE(auth::derive_key(kKey), auth::derive_key("a-job-key-of-some-lengtH"));
  // SHA-256("abc"), FIPS 180-2 test vector.
  const auth::Key abc = auth::derive_key("abc");
  EXPECT_EQ(abc[0], 0xba);
  EXPECT_EQ(abc[1], 0x78);
  EXPECT_EQ(abc[31], 0xad);
}

TEST(AuthKeys, RandomSecretsAreLongHexAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 16; ++i) {
    const std::string s = auth::random_secret();
    EXPECT_EQ(s.size(), 64u);
    EXPECT_EQ(s.find_first_not_of("0123456789abcdef"), std::string::npos) << s;
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 16u);
}

TEST(AuthProof, CoversKeyContextRoleAndBothNonces) {
  const auth::Key k = auth::derive_key(kKey);
  auth::Nonce a{}, b{};
  a[0] = 1;
  b[0] = 2;
  const auth::Mac base = auth::proof(k, "store", "acceptor", a, b);
  EXPECT_TRUE(auth::same(base, auth::proof(k, "store", "acceptor", a, b)));
  EXPECT_FALSE(auth::same(
      base, auth::proof(auth::derive_key("other-key-xxxxxxx"), "store", "acceptor", a, b)));
  EXPECT_FALSE(auth::same(base, auth::proof(k, "peer comm 1 rank 0", "acceptor", a, b)));
  EXPECT_FALSE(auth::same(base, auth::proof(k, "store", "connector", a, b)));
  EXPECT_FALSE(auth::same(base, auth::proof(k, "store", "acceptor", b, a)));
  // Field boundaries are part of the message: moving a character between fields changes it.
  EXPECT_FALSE(auth::same(auth::proof(k, "ab", "c", a, b), auth::proof(k, "a", "bc", a, b)));
}

// A connected pair of sockets; the acceptor side is driven by hand with blocking I/O.
struct Pair {
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    connector.reset(fds[0]);
    acceptor.reset(fds[1]);
  }
  net::Fd connector, acceptor;
};

// Runs the acceptor's half on `fd`; returns whether the connector proved the key.
bool accept_side(int fd, const auth::Key& key, const std::string& context) {
  auth::Acceptor a(key, context);
  auth::Hello hello;
  if (!net::read_all(fd, &hello, sizeof(hello), Deadline::after(5s))) return false;
  const auto challenge = a.on_hello(hello);
  if (!challenge) return false;
  net::write_all(fd, &*challenge, sizeof(*challenge), Deadline::after(5s));
  auth::Answer answer;
  try {
    if (!net::read_all(fd, &answer, sizeof(answer), Deadline::after(5s))) return false;
  } catch (const PeerFailureError&) {
    return false;  // the connector gave up: it did not trust our proof
  }
  return a.on_answer(answer);
}

TEST(AuthHandshake, SameKeySucceedsBothWays) {
  Pair p;
  bool accepted = false;
  std::thread t([&] { accepted = accept_side(p.acceptor.get(), auth::derive_key(kKey), "store"); });
  EXPECT_NO_THROW(auth::authenticate_to(p.connector.get(), auth::derive_key(kKey), "store",
                                        Deadline::after(5s), "the test acceptor"));
  t.join();
  EXPECT_TRUE(accepted);
}

TEST(AuthHandshake, WrongKeyFailsOnBothSidesNamingTheVariable) {
  Pair p;
  bool accepted = true;
  std::thread t([&] {
    accepted = accept_side(p.acceptor.get(), auth::derive_key(kKey), "store");
    p.acceptor.reset();
  });
  try {
    auth::authenticate_to(p.connector.get(), auth::derive_key("the-wrong-key-123"), "store",
                          Deadline::after(5s), "the test acceptor");
    ADD_FAILURE() << "a wrong key was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("RAILCC_JOB_KEY"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("the test acceptor"), std::string::npos) << e.what();
  }
  p.connector.reset();
  t.join();
  EXPECT_FALSE(accepted);
}

TEST(AuthHandshake, ContextMismatchFails) {
  // A proof for rank 0's port does not open rank 1's.
  Pair p;
  bool accepted = true;
  std::thread t([&] {
    accepted = accept_side(p.acceptor.get(), auth::derive_key(kKey), auth::peer_context(1, 1));
    p.acceptor.reset();
  });
  EXPECT_THROW(auth::authenticate_to(p.connector.get(), auth::derive_key(kKey),
                                     auth::peer_context(1, 0), Deadline::after(5s), "rank 1"),
               ConfigError);
  p.connector.reset();
  t.join();
  EXPECT_FALSE(accepted);
}

TEST(AuthHandshake, AcceptorRejectsAForgedAnswerAndGarbage) {
  auth::Acceptor a(auth::derive_key(kKey), "store");
  auth::Hello junk{};
  junk.magic = 0x20544547;  // "GET "
  EXPECT_FALSE(a.on_hello(junk).has_value());
  auth::Hello hello{};
  hello.magic = auth::kMagic;
  const auto c = a.on_hello(hello);
  ASSERT_TRUE(c.has_value());
  auth::Answer forged{};
  forged.client_proof = c->server_proof;  // reflecting the acceptor's own proof back
  EXPECT_FALSE(a.on_answer(forged));
  forged.client_proof =
      auth::proof(auth::derive_key(kKey), "store", "connector", hello.client, c->server);
  EXPECT_TRUE(a.on_answer(forged));
}

TEST(AuthHandshake, SilentAcceptorTimesOut) {
  Pair p;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(auth::authenticate_to(p.connector.get(), auth::derive_key(kKey), "store",
                                     Deadline::after(200ms), "a silent acceptor"),
               TimeoutError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(AuthHandshake, AcceptorClosingIsAProtocolError) {
  Pair p;
  p.acceptor.reset();
  EXPECT_THROW(auth::authenticate_to(p.connector.get(), auth::derive_key(kKey), "store",
                                     Deadline::after(2s), "a closed acceptor"),
               ProtocolError);
}

TEST(AuthConfig, JobKeyIsReadCheckedAndNeverPrinted) {
  const Config c = Config::from_map({{"RAILCC_JOB_KEY", kKey}});
  EXPECT_EQ(c.launch.job_key, kKey);
  EXPECT_NE(c.to_string().find("RAILCC_JOB_KEY"), std::string::npos);
  EXPECT_NE(c.to_string().find("(set)"), std::string::npos);
  EXPECT_EQ(c.to_string().find(kKey), std::string::npos) << c.to_string();
  EXPECT_TRUE(Config::from_map({}).launch.job_key.empty());
  try {
    Config::from_map({{"RAILCC_JOB_KEY", "short-secret"}});
    ADD_FAILURE() << "a 12-character key was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("RAILCC_JOB_KEY"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("short-secret"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// The store with a key.

class KeyedStore : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = start_store_server("127.0.0.1", 0, kKey);
    addr_ = "127.0.0.1:" + std::to_string(server_->port());
  }
  std::unique_ptr<StoreServer> server_;
  std::string addr_;
};

TEST_F(KeyedStore, ClientWithTheKeyIsServed) {
  auto s = connect_tcp_store(addr_, 5s, kKey);
  s->set("k", {1, 2, 3});
  EXPECT_EQ(s->get("k", 1s), (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(s->add("n", 5), 5);
  auto other = connect_tcp_store(addr_, 5s, kKey);
  EXPECT_EQ(other->add("n", 1), 6);
}

TEST_F(KeyedStore, StrangersAreRejectedLoggedAndTheStoreGoesOn) {
  auto member = connect_tcp_store(addr_, 5s, kKey);
  member->set("secret", {42});
  testing::internal::CaptureStderr();
  // No key: the first request is refused with an error that says what to set.
  try {
    connect_tcp_store(addr_, 5s)->get("secret", 1s);
    ADD_FAILURE() << "a client without the key read the store";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("RAILCC_JOB_KEY"), std::string::npos) << e.what();
  }
  // Wrong key: connecting fails.
  EXPECT_THROW(connect_tcp_store(addr_, 5s, "not-the-job-key-at-all"), ConfigError);
  // Raw bytes.
  {
    auto fd = net::connect_to(net::resolve(addr_, "test"), Deadline::after(5s), "store");
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789012345678901234567890123";
    net::write_all(fd.get(), junk, sizeof(junk), Deadline::after(5s));
    char byte;
    EXPECT_THROW(net::read_all(fd.get(), &byte, 1, Deadline::after(5s)), PeerFailureError);
  }
  // The server logs each on its own thread; a member's round trip orders us after them.
  EXPECT_EQ(member->get("secret", 1s), std::vector<uint8_t>{42});
  std::this_thread::sleep_for(50ms);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("to the store: failed authentication (wrong or missing RAILCC_JOB_KEY)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("rejected connection from 127.0.0.1:"), std::string::npos) << log;
  EXPECT_EQ(log.find(kKey), std::string::npos) << "the key was logged: " << log;
  EXPECT_TRUE(member->check("secret"));
}

TEST(OpenStore, ClientWithAKeyRefusesAStoreWithout) {
  auto server = start_store_server("127.0.0.1", 0);
  const std::string addr = "127.0.0.1:" + std::to_string(server->port());
  try {
    connect_tcp_store(addr, 5s, kKey);
    ADD_FAILURE() << "a keyed client trusted an open store";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("RAILCC_JOB_KEY"), std::string::npos) << e.what();
  }
  auto plain = connect_tcp_store(addr, 5s);
  plain->set("still", {1});
  EXPECT_TRUE(plain->check("still"));
}

}  // namespace
}  // namespace railcc
