// Unit tests of the verbs transport's pieces, in one process, against the test double
// (fake_verbs.h): configuration, error wording, GID and port selection, the registration cache,
// and a pair of VerbsStreams connected to each other (credit flow, chunking, ring wrap-around,
// completion errors). The last test runs against the real libibverbs of this machine.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <thread>

#include "railcc/config.hpp"
#include "railcc/status.hpp"
#include "railcc/store.hpp"
#include "src/common/deadline.h"
#include "tests/verbs/fake_verbs.h"
#include "transport/verbs/reg_cache.h"
#include "transport/verbs/verbs_errors.h"
#include "transport/verbs/verbs_mesh.h"
#include "transport/verbs/verbs_port.h"
#include "transport/verbs/verbs_stream.h"

namespace railcc::test {
namespace {

using transport::verbs::completion_error;
using transport::verbs::open_verbs_ports;
using transport::verbs::QpInfo;
using transport::verbs::RegCache;
using transport::verbs::VerbsPort;
using transport::verbs::VerbsPorts;
using transport::verbs::VerbsStream;

class VerbsPieces : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeVerbsOptions o;
    o.devices = {"fake0", "fake1"};
    fake_ = &FakeVerbs::install(o);
  }
  void TearDown() override { FakeVerbs::uninstall(); }

  static Config config(std::map<std::string, std::string> env) { return Config::from_map(env); }

  FakeVerbs* fake_ = nullptr;
};

TEST(VerbsConfig, ParsesTransportAndPorts) {
  const Config c = Config::from_map({{"RAILCC_TRANSPORT", "verbs"},
                                     {"RAILCC_IB_HCA", "mlx5_0:1,mlx5_1:2,mlx5_2"},
                                     {"RAILCC_IB_GID_INDEX", "3"},
                                     {"RAILCC_IB_QPS", "4"},
                                     {"RAILCC_IB_RING_BYTES", "256K"}});
  EXPECT_EQ(c.transport, TransportKind::kVerbs);
  ASSERT_EQ(c.ib_hca.size(), 3u);
  EXPECT_EQ(c.ib_hca[0].device, "mlx5_0");
  EXPECT_EQ(c.ib_hca[1].port, 2);
  EXPECT_EQ(c.ib_hca[2].port, 1);
  EXPECT_EQ(c.ib_gid_index, 3);
  EXPECT_EQ(c.ib_qps_per_peer, 4);
  EXPECT_EQ(c.ib_ring_bytes, 256u * 1024);
  EXPECT_NE(c.to_string().find("RAILCC_IB_HCA"), std::string::npos);
  for (auto [var, value] : std::map<std::string, std::string>{{"RAILCC_IB_HCA", "mlx5_0:x"},
                                                              {"RAILCC_IB_HCA", "a,a"},
                                                              {"RAILCC_IB_GID_INDEX", "-2"},
                                                              {"RAILCC_IB_QPS", "0"},
                                                              {"RAILCC_IB_RING_BYTES", "100K"},
                                                              {"RAILCC_TRANSPORT", "rdma"}}) {
    try {
      Config::from_map({{var, value}});
      ADD_FAILURE() << var << "=" << value << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(var), std::string::npos) << e.what();
    }
  }
}

TEST(VerbsErrors, CompletionErrorNamesPeerHcaPortAndStatus) {
  ibv_wc wc{};
  wc.status = IBV_WC_RETRY_EXC_ERR;
  wc.qp_num = 0x1c2;
  wc.vendor_err = 0x81;
  const std::string m = completion_error(5, "mlx5_2", 1, wc, "RDMA write with immediate");
  EXPECT_NE(m.find("peer 5 unreachable on mlx5_2 port 1 (retry exceeded: IBV_WC_RETRY_EXC_ERR"),
            std::string::npos)
      << m;
  wc.status = IBV_WC_REM_ACCESS_ERR;
  const std::string r = completion_error(2, "mlx5_0", 2, wc, "credit send");
  EXPECT_NE(r.find("peer 2 failed on mlx5_0 port 2 (remote access error"), std::string::npos) << r;
  EXPECT_NE(r.find("IBV_WC_REM_ACCESS_ERR"), std::string::npos) << r;
  EXPECT_NE(r.find("credit send"), std::string::npos) << r;
}

TEST_F(VerbsPieces, OpensListedPortsAndPicksRoceV2Gid) {
  VerbsPorts p = open_verbs_ports(config({{"RAILCC_IB_HCA", "fake1:1,fake0"}}), 0);
  ASSERT_EQ(p.ports.size(), 2u) << p.unavailable;
  EXPECT_EQ(p.ports[0]->describe(), "fake1 port 1");
  EXPECT_TRUE(p.ports[0]->roce());
  EXPECT_EQ(p.ports[0]->gid_index(), 1);  // the RoCE v2 GID with an IPv4 address
  p = open_verbs_ports(config({{"RAILCC_IB_GID_INDEX", "0"}}), 0);
  ASSERT_EQ(p.ports.size(), 2u);  // default: port 1 of every device
  EXPECT_EQ(p.ports[1]->gid_index(), 0);
}

TEST_F(VerbsPieces, BadPortsAndGidsAreConfigErrors) {
  auto error_of = [&](std::map<std::string, std::string> env) -> std::string {
    try {
      open_verbs_ports(config(env), 3);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(error_of({{"RAILCC_IB_HCA", "mlx5_9"}})
                .find("rank 3: RAILCC_IB_HCA names mlx5_9, which this host does not have (its "
                      "RDMA devices: fake0, fake1)"),
            std::string::npos);
  EXPECT_NE(error_of({{"RAILCC_IB_HCA", "fake0:2"}}).find("fake0 has no port 2"),
            std::string::npos);
  EXPECT_NE(error_of({{"RAILCC_IB_GID_INDEX", "7"}}).find("RAILCC_IB_GID_INDEX=7"),
            std::string::npos);
  fake_->set_port_down("fake1", true);
  EXPECT_NE(error_of({{"RAILCC_IB_HCA", "fake1"}}).find("fake1 port 1 is DOWN (not ACTIVE)"),
            std::string::npos);
  // Without RAILCC_IB_HCA a down port is skipped.
  VerbsPorts p = open_verbs_ports(config({}), 0);
  ASSERT_EQ(p.ports.size(), 1u);
  EXPECT_EQ(p.ports[0]->hca(), "fake0");
  fake_->set_port_down("fake1", false);
}

TEST_F(VerbsPieces, RegistrationCacheReusesEvictsAndInvalidates) {
  VerbsPorts p = open_verbs_ports(config({{"RAILCC_IB_HCA", "fake0"}}), 0);
  const int before = fake_->registered_regions();
  RegCache cache(*&transport::verbs::verbs_api(), p.ports[0]->pd(), "fake0", 2);
  std::vector<char> a(10000), b(10000), c(10000);
  ibv_mr* ma = cache.acquire(a.data(), a.size(), IBV_ACCESS_LOCAL_WRITE);
  // Any part of a registered range hits; the entry covers whole pages.
  EXPECT_EQ(cache.acquire(a.data() + 100, 5000, IBV_ACCESS_LOCAL_WRITE), ma);
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_LE(reinterpret_cast<uintptr_t>(ma->addr), reinterpret_cast<uintptr_t>(a.data()));
  // More rights than registered: a new registration.
  ibv_mr* ma_remote = cache.acquire(a.data(), 10, IBV_ACCESS_REMOTE_WRITE);
  EXPECT_NE(ma_remote, ma);
  EXPECT_EQ(fake_->registered_regions(), before + 2);
  // Full (2 entries) and all in use: grows rather than failing.
  ibv_mr* mb = cache.acquire(b.data(), b.size(), IBV_ACCESS_LOCAL_WRITE);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.stats().evictions, 0u);
  // Released entries are evicted least recently used first.
  cache.release(ma);
  cache.release(ma);
  cache.release(ma_remote);
  cache.release(mb);
  cache.acquire(c.data(), c.size(), IBV_ACCESS_LOCAL_WRITE);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.stats().evictions, 2u);
  // Invalidation drops a range (memory about to be freed), so it is registered again.
  cache.invalidate(b.data(), b.size());
  const uint64_t misses = cache.stats().misses;
  cache.release(cache.acquire(b.data(), b.size(), IBV_ACCESS_LOCAL_WRITE));
  EXPECT_EQ(cache.stats().misses, misses + 1);
  // dma-buf (GPU memory): the emulated provider, like many real ones, cannot.
  try {
    cache.register_dmabuf(3, 0, 4096, 0, IBV_ACCESS_LOCAL_WRITE);
    ADD_FAILURE() << "dma-buf registration succeeded";
  } catch (const SystemError& e) {
    EXPECT_NE(std::string(e.what()).find("ibv_reg_dmabuf_mr"), std::string::npos) << e.what();
  }
}

// Two streams on two fake devices of this process, connected to each other.
struct Pair {
  std::unique_ptr<VerbsStream> a, b;
};
Pair connect_pair(const VerbsPorts& p, std::size_t ring, bool corrupt_rkey = false) {
  Pair s;
  s.a = std::make_unique<VerbsStream>(p.ports[0], 1, ring, "rank 1 (test)");
  s.b = std::make_unique<VerbsStream>(p.ports[1], 0, ring, "rank 0 (test)");
  QpInfo ia = s.a->local_info(), ib = s.b->local_info();
  if (corrupt_rkey) ib.ring_rkey += 1000;
  s.a->connect(ib);
  s.b->connect(ia);
  return s;
}

// Moves `bytes` from a to b with irregular write and read sizes; returns what b read.
std::vector<uint8_t> pump(VerbsStream& a, VerbsStream& b, const std::vector<uint8_t>& data,
                          std::mt19937& rng) {
  std::vector<uint8_t> got;
  std::size_t sent = 0;
  const Deadline deadline = Deadline::after(std::chrono::seconds(30));
  while (got.size() < data.size()) {
    if (deadline.expired()) throw std::runtime_error("pump: no progress for 30 s");
    if (sent < data.size()) {
      std::size_t n = std::min<std::size_t>(data.size() - sent, rng() % 300000 + 1);
      if (rng() % 2) {  // the gather form, as frames are written (header + payload)
        const std::size_t first = std::min<std::size_t>(n, 64);
        sent += a.write_some2(data.data() + sent, first, data.data() + sent + first, n - first);
      } else {
        sent += a.write_some(data.data() + sent, n);
      }
    }
    auto avail = b.peek();
    if (!avail.empty()) {
      const std::size_t n = std::min<std::size_t>(avail.size(), rng() % 70000 + 1);
      got.insert(got.end(), reinterpret_cast<const uint8_t*>(avail.data()),
                 reinterpret_cast<const uint8_t*>(avail.data()) + n);
      b.consume(n);
    }
    EXPECT_EQ(a.failure(), "");
  }
  return got;
}

TEST_F(VerbsPieces, StreamPairMovesBytesInOrderThroughSmallRing) {
  VerbsPorts p = open_verbs_ports(config({{"RAILCC_IB_HCA", "fake0,fake1"}}), 0);
  Pair s = connect_pair(p, 64 * 1024);  // the ring wraps ~150 times, credits flow constantly
  std::mt19937 rng(42);
  std::vector<uint8_t> data(10'000'000);
  for (auto& x : data) x = static_cast<uint8_t>(rng());
  EXPECT_EQ(pump(*s.a, *s.b, data, rng), data);
  // And the other way, on the same queue pairs.
  std::vector<uint8_t> back(1'000'003);
  for (auto& x : back) x = static_cast<uint8_t>(rng());
  EXPECT_EQ(pump(*s.b, *s.a, back, rng), back);
  EXPECT_GE(s.a->poll_fd(), 0);
}

TEST_F(VerbsPieces, SenderStopsAtRingSizeUntilCreditsReturn) {
  VerbsPorts p = open_verbs_ports(config({{"RAILCC_IB_HCA", "fake0,fake1"}}), 0);
  const std::size_t ring = 64 * 1024;
  Pair s = connect_pair(p, ring);
  std::vector<uint8_t> data(4 * ring, 7);
  std::size_t sent = 0;
  const Deadline until = Deadline::after(std::chrono::milliseconds(300));
  while (!until.expired()) sent += s.a->write_some(data.data() + sent, data.size() - sent);
  EXPECT_EQ(sent, ring);  // the receiver read nothing: exactly one ring's worth is accepted
  // Reading a quarter of the ring returns credits; the sender can go on.
  std::size_t read = 0;
  while (read < ring / 4) {
    auto avail = s.b->peek();
    const std::size_t n = std::min(avail.size(), ring / 4 - read);
    s.b->consume(n);
    read += n;
  }
  const Deadline more = Deadline::after(std::chrono::seconds(10));
  std::size_t extra = 0;
  while (extra == 0 && !more.expired()) extra = s.a->write_some(data.data() + sent, ring);
  EXPECT_EQ(extra, ring / 4);
}

TEST_F(VerbsPieces, BadRkeyBreaksTheStreamWithRemoteAccessError) {
  VerbsPorts p = open_verbs_ports(config({{"RAILCC_IB_HCA", "fake0,fake1"}}), 0);
  Pair s = connect_pair(p, 64 * 1024, /*corrupt_rkey=*/true);
  const char msg[] = "hello";
  EXPECT_EQ(s.a->write_some(msg, sizeof(msg)), sizeof(msg));
  const Deadline until = Deadline::after(std::chrono::seconds(10));
  while (!s.a->peer_gone() && !until.expired()) std::this_thread::yield();
  EXPECT_TRUE(s.a->peer_gone());
  EXPECT_NE(s.a->failure().find("peer 1 failed on fake0 port 1 (remote access error"),
            std::string::npos)
      << s.a->failure();
  EXPECT_NE(s.a->failure().find("IBV_WC_REM_ACCESS_ERR"), std::string::npos);
  EXPECT_EQ(s.a->write_some(msg, sizeof(msg)), 0u);  // broken: accepts nothing more
}

TEST_F(VerbsPieces, InjectedRetryExceededNamesPeerHcaPortAndStatus) {
  VerbsPorts p = open_verbs_ports(config({{"RAILCC_IB_HCA", "fake0,fake1"}}), 0);
  Pair s = connect_pair(p, 64 * 1024);
  fake_->fail_nth_send("fake0", 3, IBV_WC_RETRY_EXC_ERR);
  std::vector<uint8_t> data(1000, 1);
  const Deadline until = Deadline::after(std::chrono::seconds(10));
  while (s.a->failure().empty() && !until.expired()) {
    s.a->write_some(data.data(), data.size());
    auto avail = s.b->peek();
    s.b->consume(avail.size());
  }
  EXPECT_NE(s.a->failure().find("peer 1 unreachable on fake0 port 1 (retry exceeded: "
                                "IBV_WC_RETRY_EXC_ERR"),
            std::string::npos)
      << s.a->failure();
}

// Async port events, read from the progress path: a rail's stream reports its port down while it
// is (the stream still works, so the rail can rejoin), and a stream with no other port breaks,
// naming the peer, the HCA, the port and the event.
TEST_F(VerbsPieces, PortEventsReachTheStreamsOnThatPort) {
  VerbsPorts p = open_verbs_ports(config({{"RAILCC_IB_HCA", "fake0,fake1"}}), 0);
  Pair s = connect_pair(p, 64 * 1024);
  auto wait_for = [](auto done) {
    const Deadline until = Deadline::after(std::chrono::seconds(10));
    while (!done() && !until.expired()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return done();
  };
  EXPECT_EQ(s.a->link_down(), "");
  fake_->inject_async_event("fake1", IBV_EVENT_LID_CHANGE);  // not about the link: ignored
  fake_->inject_async_event("fake0", IBV_EVENT_PORT_ERR);
  EXPECT_TRUE(wait_for([&] { return !s.a->link_down().empty(); }));
  EXPECT_EQ(s.a->link_down(), "fake0 port 1 is down (IBV_EVENT_PORT_ERR)");
  EXPECT_EQ(s.b->link_down(), "");  // fake1: another port
  EXPECT_EQ(s.a->failure(), "");    // a rail's stream stays usable for when the port is back
  fake_->inject_async_event("fake0", IBV_EVENT_PORT_ACTIVE);
  EXPECT_TRUE(wait_for([&] { return s.a->link_down().empty(); }));
  // A stream without another port to fail over to breaks at once.
  s.a->set_port_down_fatal(true);
  fake_->inject_async_event("fake0", IBV_EVENT_PORT_ERR);
  EXPECT_TRUE(wait_for([&] { return s.a->peer_gone(); }));
  EXPECT_EQ(s.a->failure(),
            "peer 1 unreachable on fake0 port 1 (port down: IBV_EVENT_PORT_ERR; no other port to "
            "fail over to)");
  // A queue pair event breaks the stream that owns it.
  fake_->inject_qp_event("fake1", IBV_EVENT_QP_FATAL);
  EXPECT_TRUE(wait_for([&] { return s.b->peer_gone(); }));
  EXPECT_NE(s.b->failure().find("peer 0 unreachable on fake1 port 1 (queue pair 0x"),
            std::string::npos)
      << s.b->failure();
  EXPECT_NE(s.b->failure().find("failed: IBV_EVENT_QP_FATAL)"), std::string::npos);
}

TEST(VerbsInfiniband, LidAddressedPairWorks) {
  FakeVerbsOptions o;
  o.devices = {"ib0", "ib1"};
  o.infiniband = true;
  FakeVerbs::install(o);
  VerbsPorts p = open_verbs_ports(Config::from_map({}), 0);
  ASSERT_EQ(p.ports.size(), 2u);
  EXPECT_FALSE(p.ports[0]->roce());
  EXPECT_NE(p.ports[0]->lid(), 0);
  Pair s = connect_pair(p, 64 * 1024);
  std::mt19937 rng(7);
  std::vector<uint8_t> data(300'000);
  for (auto& x : data) x = static_cast<uint8_t>(rng());
  EXPECT_EQ(pump(*s.a, *s.b, data, rng), data);
  s = Pair{};
  p.ports.clear();
  FakeVerbs::uninstall();
}

// A store in memory, for the transport choice below.
class MapStore final : public Store {
 public:
  void set(const std::string& k, const std::vector<uint8_t>& v) override { m_[k] = v; }
  std::vector<uint8_t> get(const std::string& k, std::chrono::milliseconds) override {
    auto it = m_.find(k);
    if (it == m_.end()) throw TimeoutError("no key " + k);
    return it->second;
  }
  int64_t add(const std::string&, int64_t) override { return 0; }
  void wait(const std::vector<std::string>&, std::chrono::milliseconds) override {}
  bool check(const std::string& k) override { return m_.count(k) > 0; }

 private:
  std::map<std::string, std::vector<uint8_t>> m_;
};

// This machine has no RDMA device (no kernel provider can be loaded in this container), so the
// real libibverbs must report none: auto falls back to tcp with one log line, verbs is an error.
TEST(VerbsOnThisMachine, NoDeviceFallsBackOrFailsClearly) {
  transport::verbs::set_verbs_api_for_testing(nullptr);
  const VerbsPorts real = open_verbs_ports(Config::from_map({}), 0);
  if (!real.ports.empty()) GTEST_SKIP() << "this machine has an RDMA device";
  EXPECT_NE(real.unavailable.find("no RDMA device was found"), std::string::npos)
      << real.unavailable;
  MapStore store;
  store.set("verbs-ports/1", {'0'});
  const Deadline d = Deadline::after(std::chrono::seconds(5));
  std::shared_ptr<VerbsPorts> ports;
  ::testing::internal::CaptureStderr();
  const auto peers = transport::verbs::choose_verbs_peers(
      store, 0, {1}, Config::from_map({{"RAILCC_TRANSPORT", "auto"}}), d, ports);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(peers.empty());
  EXPECT_NE(log.find("no RDMA device was found"), std::string::npos) << log;
  EXPECT_NE(log.find("using tcp between hosts"), std::string::npos) << log;
  try {
    transport::verbs::choose_verbs_peers(
        store, 0, {1}, Config::from_map({{"RAILCC_TRANSPORT", "verbs"}}), d, ports);
    ADD_FAILURE() << "RAILCC_TRANSPORT=verbs without a device was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0: RAILCC_TRANSPORT=verbs, but no RDMA device was "
                                         "found"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace railcc::test
