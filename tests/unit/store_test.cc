// Tests for the TCP rendezvous store (src/bootstrap): a real server on 127.0.0.1 and real
// clients, plus raw sockets that send the server garbage and tiny fake servers that answer the
// client garbage. Both sides must fail cleanly (drop the connection, throw a railcc::Error) and
// never crash or hang.

#include "railcc/store.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "railcc/status.hpp"
#include "src/bootstrap/store_protocol.h"

namespace railcc {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using Bytes = std::vector<uint8_t>;

Bytes ToBytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

long long MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

// Wraps a thread body so that an exception fails the test instead of terminating the binary.
template <typename F>
auto Guarded(F f) {
  return [f = std::move(f)]() mutable {
    try {
      f();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "a helper thread threw: " << e.what();
    }
  };
}

// A connected raw TCP socket to 127.0.0.1:port (blocking).
int RawConnect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)), 0)
      << std::strerror(errno);
  return fd;
}

void RawSend(int fd, const void* data, std::size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return;  // the other side may already have dropped us
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

// True when the peer closes (EOF or reset) within `timeout`; any bytes it sends are discarded.
bool ClosedByPeerWithin(int fd, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    const int left =
        static_cast<int>(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count());
    if (::poll(&p, 1, std::max(left, 1)) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return true;
    if (n < 0 && errno != EINTR && errno != EAGAIN) return true;
  }
  return false;
}

// A listening socket on 127.0.0.1 with a free port; `handler` runs on a thread for each
// accepted connection (one at a time) until the object is destroyed. The handler returns false
// when it closed the connection itself; the others are closed at destruction.
class FakeServer {
 public:
  explicit FakeServer(std::function<bool(int)> handler) : handler_(std::move(handler)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<const sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(listener_, 16), 0);
    socklen_t len = sizeof(a);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    for (int fd : accepted_) ::close(fd);
    ::close(listener_);
  }
  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void Run() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      if (handler_(fd)) accepted_.push_back(fd);
    }
  }

  std::function<bool(int)> handler_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<int> accepted_;
  std::thread thread_;
};

// Waits until the connection has request bytes to read (without reading them).
void WaitReadable(int fd, int timeout_ms = 2000) {
  pollfd p{fd, POLLIN, 0};
  ::poll(&p, 1, timeout_ms);
}

void ReadSome(int fd) {
  WaitReadable(fd);
  char buf[256];
  (void)::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = start_store_server("127.0.0.1", 0);
    ASSERT_NE(server_, nullptr);
    addr_ = "127.0.0.1:" + std::to_string(server_->port());
  }
  std::shared_ptr<Store> Connect() { return connect_tcp_store(addr_, milliseconds(5000)); }

  // A fresh client can still use the server.
  void ExpectServerHealthy() {
    auto s = Connect();
    const std::string key = "healthy-" + std::to_string(healthy_checks_++);
    s->set(key, ToBytes("yes"));
    EXPECT_EQ(s->get(key, milliseconds(2000)), ToBytes("yes"));
  }

  std::unique_ptr<StoreServer> server_;
  std::string addr_;
  int healthy_checks_ = 0;
};

TEST_F(StoreTest, ServerPicksAFreePort) {
  EXPECT_GT(server_->port(), 0);
  EXPECT_LT(server_->port(), 65536);
  auto other = start_store_server("127.0.0.1", 0);
  EXPECT_NE(other->port(), server_->port());
}

TEST_F(StoreTest, SetThenGet) {
  auto s = Connect();
  s->set("alpha", ToBytes("one"));
  EXPECT_EQ(s->get("alpha", milliseconds(1000)), ToBytes("one"));
  // Overwrite.
  s->set("alpha", ToBytes("two!"));
  EXPECT_EQ(s->get("alpha", milliseconds(1000)), ToBytes("two!"));
  // Empty value, binary value with NULs, empty key.
  s->set("empty", {});
  EXPECT_EQ(s->get("empty", milliseconds(1000)), Bytes{});
  const Bytes binary = {0, 1, 0, 255, 0, 128};
  s->set("bin", binary);
  EXPECT_EQ(s->get("bin", milliseconds(1000)), binary);
  s->set("", ToBytes("empty key"));
  EXPECT_EQ(s->get("", milliseconds(1000)), ToBytes("empty key"));
  // Another client sees the same data.
  auto t = Connect();
  EXPECT_EQ(t->get("alpha", milliseconds(1000)), ToBytes("two!"));
  EXPECT_EQ(t->get("bin", milliseconds(1000)), binary);
}

TEST_F(StoreTest, LongestKeyWorksAndLongerKeysAreRejectedByTheClient) {
  auto s = Connect();
  const std::string longest(store_protocol::kMaxKeyBytes, 'k');
  s->set(longest, ToBytes("v"));
  EXPECT_EQ(s->get(longest, milliseconds(1000)), ToBytes("v"));
  const std::string too_long(store_protocol::kMaxKeyBytes + 1, 'k');
  EXPECT_THROW(s->set(too_long, ToBytes("v")), InvalidArgumentError);
  // The connection is still usable.
  EXPECT_EQ(s->get(longest, milliseconds(1000)), ToBytes("v"));
}

TEST_F(StoreTest, GetBlocksUntilAnotherClientSets) {
  auto waiter = Connect();
  auto setter = Connect();
  const auto start = Clock::now();
  std::jthread t(Guarded([&] {
    std::this_thread::sleep_for(milliseconds(150));
    setter->set("late", ToBytes("arrived"));
  }));
  const Bytes v = waiter->get("late", milliseconds(5000));
  const long long waited = MsSince(start);
  t.join();
  EXPECT_EQ(v, ToBytes("arrived"));
  EXPECT_GE(waited, 100);
  EXPECT_LT(waited, 3000);
}

TEST_F(StoreTest, SeveralWaitersOnOneKeyAllWakeUp) {
  constexpr int kWaiters = 4;
  std::vector<std::shared_ptr<Store>> clients;
  for (int i = 0; i < kWaiters; ++i) clients.push_back(Connect());
  std::vector<Bytes> got(kWaiters);
  std::vector<std::jthread> threads;
  for (int i = 0; i < kWaiters; ++i) {
    threads.emplace_back(Guarded([&, i] { got[i] = clients[i]->get("go", milliseconds(5000)); }));
  }
  std::this_thread::sleep_for(milliseconds(100));
  Connect()->set("go", ToBytes("now"));
  for (auto& t : threads) t.join();
  for (int i = 0; i < kWaiters; ++i) EXPECT_EQ(got[i], ToBytes("now")) << i;
}

TEST_F(StoreTest, GetTimeoutNamesTheKey) {
  auto s = Connect();
  const auto start = Clock::now();
  try {
    s->get("never-set-key", milliseconds(300));
    FAIL() << "get of a missing key returned";
  } catch (const TimeoutError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTimeout);
    EXPECT_NE(std::string(e.what()).find("never-set-key"), std::string::npos) << e.what();
  }
  const long long waited = MsSince(start);
  EXPECT_GE(waited, 250);
  EXPECT_LT(waited, 3000);
  // The connection stays usable after a timeout.
  s->set("after", ToBytes("ok"));
  EXPECT_EQ(s->get("after", milliseconds(1000)), ToBytes("ok"));
}

TEST_F(StoreTest, AddIsACounter) {
  auto s = Connect();
  EXPECT_EQ(s->add("counter", 1), 1);
  EXPECT_EQ(s->add("counter", 5), 6);
  EXPECT_EQ(s->add("counter", -10), -4);
  EXPECT_EQ(s->add("counter", 0), -4);
  EXPECT_TRUE(s->check("counter"));
  // The counter is readable as decimal text (like c10d).
  EXPECT_EQ(s->get("counter", milliseconds(1000)), ToBytes("-4"));
  EXPECT_EQ(s->add("other", 7), 7);
  EXPECT_EQ(s->add("big", int64_t{1} << 40), int64_t{1} << 40);
}

TEST_F(StoreTest, AddWakesAGetOnTheCounter) {
  auto waiter = Connect();
  std::jthread t(Guarded([&] {
    std::this_thread::sleep_for(milliseconds(100));
    Connect()->add("arrivals", 3);
  }));
  EXPECT_EQ(waiter->get("arrivals", milliseconds(5000)), ToBytes("3"));
  t.join();
}

TEST_F(StoreTest, ConcurrentAddsSumCorrectly) {
  constexpr int kThreads = 4;
  constexpr int kAddsPerThread = 250;
  std::vector<std::vector<int64_t>> seen(kThreads);
  std::vector<std::jthread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back(Guarded([&, i] {
      auto s = Connect();
      for (int k = 0; k < kAddsPerThread; ++k) seen[i].push_back(s->add("sum", 1));
    }));
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(Connect()->add("sum", 0), kThreads * kAddsPerThread);
  // Every add saw a distinct value: the adds were atomic.
  std::set<int64_t> all;
  for (const auto& v : seen) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kAddsPerThread));
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kAddsPerThread);
}

TEST_F(StoreTest, ConcurrentAddsThroughOneSharedClient) {
  auto s = Connect();
  std::vector<std::jthread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back(Guarded([&] {
      for (int k = 0; k < 100; ++k) s->add("shared", 2);
    }));
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(s->add("shared", 0), 800);
}

TEST_F(StoreTest, Check) {
  auto s = Connect();
  EXPECT_FALSE(s->check("k"));
  s->set("k", ToBytes("v"));
  EXPECT_TRUE(s->check("k"));
  EXPECT_FALSE(s->check("k2"));
  s->add("k2", 1);
  EXPECT_TRUE(s->check("k2"));
}

TEST_F(StoreTest, WaitReturnsOnceEveryKeyExists) {
  auto s = Connect();
  s->wait({}, milliseconds(100));  // nothing to wait for
  s->set("w1", ToBytes("1"));
  s->wait({"w1"}, milliseconds(1000));
  std::jthread t(Guarded([&] {
    auto other = Connect();
    std::this_thread::sleep_for(milliseconds(50));
    other->set("w3", ToBytes("3"));
    std::this_thread::sleep_for(milliseconds(50));
    other->set("w2", ToBytes("2"));
  }));
  const auto start = Clock::now();
  s->wait({"w1", "w2", "w3"}, milliseconds(5000));
  EXPECT_GE(MsSince(start), 50);
  t.join();
}

TEST_F(StoreTest, WaitTimeoutListsTheMissingKeys) {
  auto s = Connect();
  s->set("present-alpha", ToBytes("a"));
  s->set("present-gamma", ToBytes("c"));
  const auto start = Clock::now();
  try {
    s->wait({"present-alpha", "missing-beta", "present-gamma", "missing-delta"}, milliseconds(300));
    FAIL() << "wait returned with keys missing";
  } catch (const TimeoutError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("missing-beta"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing-delta"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("present-alpha"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("present-gamma"), std::string::npos) << msg;
  }
  const long long waited = MsSince(start);
  EXPECT_GE(waited, 250);
  EXPECT_LT(waited, 3000);
}

TEST_F(StoreTest, PrefixStoreIsolatesKeys) {
  auto base = Connect();
  auto a = prefix_store(base, "comm-a/");
  auto b = prefix_store(base, "comm-b/");
  a->set("x", ToBytes("from a"));
  b->set("x", ToBytes("from b"));
  EXPECT_EQ(a->get("x", milliseconds(1000)), ToBytes("from a"));
  EXPECT_EQ(b->get("x", milliseconds(1000)), ToBytes("from b"));
  EXPECT_EQ(base->get("comm-a/x", milliseconds(1000)), ToBytes("from a"));
  EXPECT_FALSE(base->check("x"));

  a->set("only-a", ToBytes("1"));
  EXPECT_TRUE(a->check("only-a"));
  EXPECT_FALSE(b->check("only-a"));
  EXPECT_THROW(b->get("only-a", milliseconds(100)), TimeoutError);
  EXPECT_THROW(b->wait({"only-a"}, milliseconds(100)), TimeoutError);
  a->wait({"x", "only-a"}, milliseconds(1000));

  EXPECT_EQ(a->add("n", 2), 2);
  EXPECT_EQ(b->add("n", 5), 5);
  EXPECT_EQ(a->add("n", 1), 3);

  // Nested prefixes compose.
  auto nested = prefix_store(a, "sub/");
  nested->set("y", ToBytes("deep"));
  EXPECT_EQ(base->get("comm-a/sub/y", milliseconds(1000)), ToBytes("deep"));
}

TEST_F(StoreTest, EightMebibyteValueRoundTrip) {
  auto s = Connect();
  Bytes big(8u << 20);
  std::mt19937 rng(7);
  for (auto& b : big) b = static_cast<uint8_t>(rng());
  s->set("big", big);
  auto t = Connect();
  EXPECT_EQ(t->get("big", milliseconds(5000)), big);
  // The connection still frames correctly afterwards.
  t->set("small", ToBytes("s"));
  EXPECT_EQ(t->get("small", milliseconds(1000)), ToBytes("s"));
}

TEST_F(StoreTest, ManyClients) {
  constexpr int kClients = 24;
  std::vector<std::shared_ptr<Store>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(Connect());
  std::vector<std::jthread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back(Guarded([&, i] {
      clients[i]->set("rank/" + std::to_string(i), ToBytes(std::to_string(i * i)));
      for (int j = 0; j < kClients; ++j) {
        const Bytes v = clients[i]->get("rank/" + std::to_string(j), milliseconds(5000));
        if (v != ToBytes(std::to_string(j * j))) ++failures;
      }
      clients[i]->add("done", 1);
    }));
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(clients[0]->add("done", 0), kClients);
}

TEST_F(StoreTest, ClientFailsWhenTheServerGoesAway) {
  auto s = Connect();
  std::jthread killer(Guarded([&] {
    std::this_thread::sleep_for(milliseconds(100));
    server_.reset();
  }));
  const auto start = Clock::now();
  EXPECT_THROW(s->get("never", milliseconds(20000)), PeerFailureError);
  EXPECT_LT(MsSince(start), 3000);
  killer.join();
  // Later calls fail fast too.
  EXPECT_THROW(s->set("k", ToBytes("v")), PeerFailureError);
}

// ---------------------------------------------------------------------------------------------
// Garbage sent to the server.

TEST_F(StoreTest, ServerDropsRandomBytes) {
  auto before = Connect();  // connected before the garbage arrives
  std::mt19937 rng(1234);
  std::vector<uint8_t> junk(4096);
  for (auto& b : junk) b = static_cast<uint8_t>(rng());
  const int fd = RawConnect(server_->port());
  RawSend(fd, junk.data(), junk.size());
  EXPECT_TRUE(ClosedByPeerWithin(fd, milliseconds(2000)));
  ::close(fd);
  before->set("before", ToBytes("still fine"));
  EXPECT_EQ(before->get("before", milliseconds(1000)), ToBytes("still fine"));
  ExpectServerHealthy();
}

TEST_F(StoreTest, ServerDropsAnHttpRequest) {
  const int fd = RawConnect(server_->port());
  const std::string http =
      "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n";
  RawSend(fd, http.data(), http.size());
  EXPECT_TRUE(ClosedByPeerWithin(fd, milliseconds(2000)));
  ::close(fd);
  ExpectServerHealthy();
}

TEST_F(StoreTest, ServerDropsABadMagic) {
  store_protocol::RequestHeader h{};
  h.magic = store_protocol::kMagic ^ 0x01000000u;
  h.command = static_cast<uint8_t>(store_protocol::Command::kCheck);
  h.key_len = 1;
  const int fd = RawConnect(server_->port());
  RawSend(fd, &h, sizeof(h));
  RawSend(fd, "k", 1);
  EXPECT_TRUE(ClosedByPeerWithin(fd, milliseconds(2000)));
  ::close(fd);
  ExpectServerHealthy();
}

TEST_F(StoreTest, ServerDropsOversizedLengths) {
  for (int which = 0; which < 2; ++which) {
    SCOPED_TRACE(which == 0 ? "key_len" : "value_len");
    store_protocol::RequestHeader h{};
    h.magic = store_protocol::kMagic;
    h.command = static_cast<uint8_t>(store_protocol::Command::kSet);
    if (which == 0) {
      h.key_len = 0xFFFFFFF0u;
    } else {
      h.key_len = 1;
      h.value_len = store_protocol::kMaxValueBytes + 1;
    }
    const int fd = RawConnect(server_->port());
    RawSend(fd, &h, sizeof(h));
    EXPECT_TRUE(ClosedByPeerWithin(fd, milliseconds(2000)));
    ::close(fd);
    ExpectServerHealthy();
  }
}

TEST_F(StoreTest, ServerDropsAnUnknownCommand) {
  store_protocol::RequestHeader h{};
  h.magic = store_protocol::kMagic;
  h.command = 99;
  const int fd = RawConnect(server_->port());
  RawSend(fd, &h, sizeof(h));
  EXPECT_TRUE(ClosedByPeerWithin(fd, milliseconds(2000)));
  ::close(fd);
  ExpectServerHealthy();
}

TEST_F(StoreTest, ServerSurvivesAClientThatHangsUpMidRequest) {
  auto waiter = Connect();
  std::jthread t(
      Guarded([&] { EXPECT_EQ(waiter->get("mid", milliseconds(5000)), ToBytes("ok")); }));
  {
    // Half a header, then close.
    store_protocol::RequestHeader h{};
    h.magic = store_protocol::kMagic;
    const int fd = RawConnect(server_->port());
    RawSend(fd, &h, sizeof(h) / 2);
    ::close(fd);
  }
  {
    // A whole header announcing a value that never comes, then close.
    store_protocol::RequestHeader h{};
    h.magic = store_protocol::kMagic;
    h.command = static_cast<uint8_t>(store_protocol::Command::kSet);
    h.key_len = 3;
    h.value_len = 1000;
    const int fd = RawConnect(server_->port());
    RawSend(fd, &h, sizeof(h));
    RawSend(fd, "mid", 3);
    ::close(fd);
  }
  {
    // A blocking get, then close without waiting for the answer.
    store_protocol::RequestHeader h{};
    h.magic = store_protocol::kMagic;
    h.command = static_cast<uint8_t>(store_protocol::Command::kGet);
    h.key_len = 3;
    h.arg = 60000;
    const int fd = RawConnect(server_->port());
    RawSend(fd, &h, sizeof(h));
    RawSend(fd, "mid", 3);
    std::this_thread::sleep_for(milliseconds(20));
    ::close(fd);
  }
  std::this_thread::sleep_for(milliseconds(50));
  auto s = Connect();
  EXPECT_FALSE(s->check("mid"));  // the cut-short set stored nothing
  s->set("mid", ToBytes("ok"));
  t.join();
  ExpectServerHealthy();
}

TEST_F(StoreTest, ServerSurvivesManyGarbageConnectionsAtOnce) {
  auto before = Connect();
  std::vector<int> fds;
  std::mt19937 rng(99);
  for (int i = 0; i < 20; ++i) {
    const int fd = RawConnect(server_->port());
    std::vector<uint8_t> junk(24 + rng() % 1000);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    RawSend(fd, junk.data(), junk.size());
    fds.push_back(fd);
  }
  for (int fd : fds) {
    EXPECT_TRUE(ClosedByPeerWithin(fd, milliseconds(2000)));
    ::close(fd);
  }
  EXPECT_EQ(before->add("after-garbage", 1), 1);
  ExpectServerHealthy();
}

// ---------------------------------------------------------------------------------------------
// A client talking to something that is not a railcc store.

TEST(StoreClientTest, JunkReplyIsAProtocolError) {
  FakeServer fake([](int fd) {
    ReadSome(fd);
    const std::string junk(64, 'x');
    RawSend(fd, junk.data(), junk.size());
    return true;
  });
  auto s = connect_tcp_store(fake.addr(), milliseconds(2000));
  const auto start = Clock::now();
  EXPECT_THROW(s->set("k", ToBytes("v")), ProtocolError);
  EXPECT_LT(MsSince(start), 3000);
  // The client gave up on that connection; later calls fail at once, without hanging.
  EXPECT_THROW(s->check("k"), PeerFailureError);
}

TEST(StoreClientTest, HttpServerIsAProtocolError) {
  FakeServer fake([](int fd) {
    ReadSome(fd);
    const std::string reply =
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n";
    RawSend(fd, reply.data(), reply.size());
    return true;
  });
  auto s = connect_tcp_store(fake.addr(), milliseconds(2000));
  EXPECT_THROW(s->get("k", milliseconds(500)), ProtocolError);
}

TEST(StoreClientTest, OversizedReplyLengthIsAProtocolError) {
  FakeServer fake([](int fd) {
    ReadSome(fd);
    store_protocol::ReplyHeader r{};
    r.magic = store_protocol::kMagic;
    r.value_len = 0xFFFFFFFFu;
    RawSend(fd, &r, sizeof(r));
    return true;
  });
  auto s = connect_tcp_store(fake.addr(), milliseconds(2000));
  EXPECT_THROW(s->get("k", milliseconds(500)), ProtocolError);
}

TEST(StoreClientTest, ServerClosingMidReplyIsAPeerFailure) {
  FakeServer fake([](int fd) {
    ReadSome(fd);
    store_protocol::ReplyHeader r{};
    r.magic = store_protocol::kMagic;
    r.value_len = 1000;  // announces 1000 bytes, sends 10, hangs up
    RawSend(fd, &r, sizeof(r));
    RawSend(fd, "0123456789", 10);
    ::shutdown(fd, SHUT_RDWR);
    return true;
  });
  auto s = connect_tcp_store(fake.addr(), milliseconds(2000));
  const auto start = Clock::now();
  EXPECT_THROW(s->get("k", milliseconds(500)), PeerFailureError);
  EXPECT_LT(MsSince(start), 3000);
}

TEST(StoreClientTest, ServerClosingWithoutAnswerIsAPeerFailure) {
  FakeServer fake([](int fd) {
    ReadSome(fd);
    ::shutdown(fd, SHUT_RDWR);
    return true;
  });
  auto s = connect_tcp_store(fake.addr(), milliseconds(2000));
  EXPECT_THROW(s->add("k", 1), PeerFailureError);
  EXPECT_THROW(s->add("k", 1), PeerFailureError);
}

TEST(StoreClientTest, ServerResettingTheConnectionIsAPeerFailure) {
  // The server aborts the connection (RST, as when its process is killed with data unread).
  FakeServer fake([](int fd) {
    WaitReadable(fd);
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    ::close(fd);  // with unread data and linger 0: a reset, not an orderly close
    return false;
  });
  auto s = connect_tcp_store(fake.addr(), milliseconds(2000));
  try {
    s->set("k", ToBytes("v"));
    FAIL() << "set succeeded against a server that reset the connection";
  } catch (const PeerFailureError&) {
  } catch (const Error& e) {
    ADD_FAILURE() << "expected PeerFailureError, got " << error_code_name(e.code()) << ": "
                  << e.what();
  }
  EXPECT_THROW(s->set("k", ToBytes("v")), PeerFailureError);
}

// A TCP socket bound to a free port of 127.0.0.1 but not listening: connections to it are
// refused, and nobody else can take the port while it is held.
class BoundPort {
 public:
  BoundPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof(a)), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~BoundPort() { ::close(fd_); }
  int port() const { return port_; }
  void Listen() { EXPECT_EQ(::listen(fd_, 4), 0); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(StoreClientTest, ConnectToAClosedPortTimesOut) {
  BoundPort closed;
  const std::string addr = "127.0.0.1:" + std::to_string(closed.port());
  const auto start = Clock::now();
  try {
    connect_tcp_store(addr, milliseconds(300));
    FAIL() << "connected to a closed port";
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(closed.port())), std::string::npos)
        << e.what();
  }
  const long long waited = MsSince(start);
  EXPECT_GE(waited, 250);
  EXPECT_LT(waited, 3000);
}

TEST(StoreClientTest, ConnectRetriesUntilTheServerListens) {
  // The rendezvous server may come up after the clients start: connect keeps retrying.
  BoundPort late;
  std::jthread t(Guarded([&] {
    std::this_thread::sleep_for(milliseconds(150));
    late.Listen();
  }));
  const auto start = Clock::now();
  auto s = connect_tcp_store("127.0.0.1:" + std::to_string(late.port()), milliseconds(5000));
  const long long waited = MsSince(start);
  t.join();
  EXPECT_NE(s, nullptr);
  EXPECT_GE(waited, 100);
  EXPECT_LT(waited, 3000);
}

TEST(StoreClientTest, BadAddressIsAConfigError) {
  EXPECT_THROW(connect_tcp_store("no-port-here", milliseconds(100)), ConfigError);
  EXPECT_THROW(connect_tcp_store("127.0.0.1:", milliseconds(100)), ConfigError);
  EXPECT_THROW(connect_tcp_store("127.0.0.1:99999", milliseconds(100)), ConfigError);
}

}  // namespace
}  // namespace railcc
