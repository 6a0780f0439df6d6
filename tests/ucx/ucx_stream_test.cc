// Unit tests of the ucx transport's pieces in one process: two UCP workers connected to each
// other through UcxStreams, over UCX's tcp transport (loopback) and its shared-memory transports.
// Partial writes and back-pressure, a message many times the staging ring, byte-exact delivery
// through peek/consume in odd sizes, a peer that closes its endpoint (UCX's own error report),
// and clear errors when UCX cannot start or reach the peer.
#include "transport/ucx/ucx_stream.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <random>

#include "railcc/config.hpp"
#include "railcc/status.hpp"
#include "src/common/deadline.h"
#include "transport/ucx/ucx_worker.h"

namespace railcc::test {
namespace {

using transport::ucx::UcxStream;
using transport::ucx::UcxWorker;

constexpr std::size_t kStage = 1024 * 1024;  // small ring: large messages wrap it many times

// Sets UCX_TLS (and keeps UCX's tcp on the loopback interface) for one test; UCX reads the
// environment when each worker is created.
class ScopedUcxEnv {
 public:
  explicit ScopedUcxEnv(const std::string& tls) {
    setenv("UCX_TLS", tls.c_str(), 1);
    setenv("UCX_NET_DEVICES", "lo", 1);
  }
  ~ScopedUcxEnv() {
    unsetenv("UCX_TLS");
    unsetenv("UCX_NET_DEVICES");
  }
};

struct Pair {
  std::shared_ptr<UcxWorker> wa, wb;
  std::unique_ptr<UcxStream> a, b;  // a: worker a's endpoint to b; b: the reverse
};

Pair connect_pair(const std::string& tls) {
  UcxWorker::Options o;
  o.env_tls = tls;
  Pair p;
  p.wa = std::make_shared<UcxWorker>(0, o);
  p.wb = std::make_shared<UcxWorker>(1, o);
  // Shared memory only reaches "local" peers (a pid: see ucx_stream.h); this process stands in.
  const int pid = tls == "tcp" ? 0 : getpid();
  p.a = std::make_unique<UcxStream>(p.wa, 1, p.wb->address(), pid, kStage, "rank 1 (ucx)");
  p.b = std::make_unique<UcxStream>(p.wb, 0, p.wa->address(), pid, kStage, "rank 0 (ucx)");
  return p;
}

// Progresses both workers until done() or 20 s (a generous bound, not a timing assertion).
bool pump(Pair& p, const std::function<bool()>& done) {
  const Deadline until = Deadline::after(std::chrono::seconds(20));
  while (!until.expired()) {
    if (done()) return true;
    p.wa->progress();
    p.wb->progress();
  }
  return done();
}

std::vector<std::byte> pattern(std::size_t n, uint32_t seed) {
  std::vector<std::byte> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

class UcxStreamTest : public ::testing::TestWithParam<std::string> {
 protected:
  ScopedUcxEnv env_{GetParam()};
};

// A message 16 times the staging ring, written with a header piece (write_some2) and read back
// in odd-sized pieces: every write is partial, the ring wraps, and every byte arrives in order.
TEST_P(UcxStreamTest, LargeMessageArrivesExactlyThroughPartialWrites) {
  Pair p = connect_pair(GetParam());
  const auto header = pattern(64, 1);
  const auto body = pattern(16 * kStage + 7, 2);
  std::vector<std::byte> got;
  got.reserve(header.size() + body.size());
  std::size_t written = 0, writes = 0, largest = 0;
  std::mt19937 rng(3);
  const std::size_t total = header.size() + body.size();
  ASSERT_TRUE(
      pump(p,
           [&] {
             if (written < total) {
               std::size_t n;
               if (written < header.size()) {
                 n = p.a->write_some2(header.data() + written, header.size() - written, body.data(),
                                      body.size());
               } else {
                 n = p.a->write_some(body.data() + (written - header.size()), total - written);
               }
               if (n > 0) ++writes;
               largest = std::max(largest, n);
               written += n;
             }
             auto avail = p.b->peek();
             if (!avail.empty()) {
               const std::size_t take = std::min<std::size_t>(avail.size(), 1 + rng() % 100'000);
               got.insert(got.end(), avail.begin(), avail.begin() + static_cast<long>(take));
               p.b->consume(take);
             }
             return got.size() == total;
           }))
      << "received " << got.size() << " of " << total << " bytes";
  EXPECT_LE(largest, kStage) << "a write accepted more than the staging ring holds";
  EXPECT_GT(writes, 16u) << "the message should have needed many partial writes";
  ASSERT_EQ(0, std::memcmp(got.data(), header.data(), header.size()));
  ASSERT_EQ(0, std::memcmp(got.data() + header.size(), body.data(), body.size()));
  EXPECT_TRUE(p.a->failure().empty()) << p.a->failure();
  EXPECT_FALSE(p.b->peer_gone());
}

// Both directions at once, read with read_some (the path StreamConnection takes for copies).
TEST_P(UcxStreamTest, BothDirectionsAtOnce) {
  Pair p = connect_pair(GetParam());
  const auto ab = pattern(3 * kStage + 11, 4), ba = pattern(2 * kStage + 5, 5);
  std::vector<std::byte> at_b(ab.size()), at_a(ba.size());
  std::size_t wa = 0, wb = 0, ra = 0, rb = 0;
  ASSERT_TRUE(pump(p, [&] {
    wa += p.a->write_some(ab.data() + wa, ab.size() - wa);
    wb += p.b->write_some(ba.data() + wb, ba.size() - wb);
    rb += p.b->read_some(at_b.data() + rb, at_b.size() - rb);
    ra += p.a->read_some(at_a.data() + ra, at_a.size() - ra);
    return ra == at_a.size() && rb == at_b.size();
  }));
  EXPECT_EQ(at_b, ab);
  EXPECT_EQ(at_a, ba);
}

// A receiver that never reads: the sender's ring fills and write_some says so with 0 (instead of
// buffering without bound); once the receiver reads, everything written arrives.
TEST_P(UcxStreamTest, FullRingIsBackPressure) {
  Pair p = connect_pair(GetParam());
  const auto chunk = pattern(256 * 1024, 6);
  std::size_t written = 0;
  int zero_in_a_row = 0;
  // Only the sender's worker progresses, so nothing is consumed at the other end; bounded at
  // 1 GiB so a transport that buffered everything would fail the test rather than hang it.
  const Deadline until = Deadline::after(std::chrono::seconds(20));
  while (zero_in_a_row < 1000 && written < (1u << 30) && !until.expired()) {
    const std::size_t n = p.a->write_some(chunk.data() + written % chunk.size(),
                                          chunk.size() - written % chunk.size());
    written += n;
    zero_in_a_row = n == 0 ? zero_in_a_row + 1 : 0;
    p.wa->progress();
  }
  EXPECT_EQ(zero_in_a_row, 1000) << "writes never stopped; " << written << " bytes accepted";
  EXPECT_GE(written, kStage);
  EXPECT_GT(p.a->in_flight(), 0u);
  std::size_t got = 0;
  bool same = true;
  ASSERT_TRUE(pump(p,
                   [&] {
                     auto avail = p.b->peek();
                     for (std::size_t i = 0; i < avail.size(); ++i) {
                       same &= avail[i] == chunk[(got + i) % chunk.size()];
                     }
                     got += avail.size();
                     p.b->consume(avail.size());
                     return got == written;
                   }))
      << got << " of " << written;
  EXPECT_TRUE(same);
  EXPECT_TRUE(pump(p, [&] {
    p.a->peer_gone();  // progresses and reaps completed sends
    return p.a->in_flight() == 0;
  }));
}

// The peer closes its stream (its communicator went away) while we still hold unread bytes:
// those bytes are still delivered, then the stream reports the peer gone (its Goodbye), which is
// not a failure by itself, and writes to it are refused.
TEST_P(UcxStreamTest, PeerThatClosesIsSeenOnceItsBytesAreRead) {
  Pair p = connect_pair(GetParam());
  const auto last = pattern(1000, 7);
  std::size_t w = 0;
  ASSERT_TRUE(pump(p, [&] {
    w += p.b->write_some(last.data() + w, last.size() - w);
    return w == last.size();
  }));
  // The bytes reached our worker (not yet read) before the peer goes away.
  ASSERT_TRUE(pump(p, [&] { return !p.a->peek().empty(); }));
  p.b.reset();  // says goodbye, closes its endpoint
  std::vector<std::byte> got(last.size());
  std::size_t r = 0;
  ASSERT_TRUE(pump(p, [&] {
    r += p.a->read_some(got.data() + r, got.size() - r);
    return r == got.size();
  }));
  EXPECT_EQ(got, last);
  ASSERT_TRUE(pump(p, [&] { return p.a->peer_gone(); })) << "peer close never noticed";
  EXPECT_EQ(p.a->write_some(last.data(), last.size()), 0u);
}

// RAILCC_FAULT=drop: our end drops the stream; both ends then fail, naming each other.
TEST_P(UcxStreamTest, InjectedDropFailsBothEnds) {
  Pair p = connect_pair(GetParam());
  const char hello[] = "hello";
  ASSERT_TRUE(pump(p, [&] { return p.a->write_some(hello, sizeof(hello)) == sizeof(hello); }));
  ASSERT_TRUE(pump(p, [&] { return p.b->peek().size() == sizeof(hello); }));
  p.b->consume(sizeof(hello));
  p.a->inject_drop();
  EXPECT_TRUE(p.a->peer_gone());
  EXPECT_NE(p.a->failure().find("RAILCC_FAULT"), std::string::npos) << p.a->failure();
  ASSERT_TRUE(pump(p, [&] { return p.b->peer_gone(); })) << "the peer never saw the drop";
  EXPECT_NE(p.b->failure().find("rank 0 (ucx)"), std::string::npos) << p.b->failure();
}

// The engine sleeps on the worker's fd: with nothing to do it must not be readable (or idle ranks
// would spin and starve the others on a busy machine), and a message must make it readable.
TEST_P(UcxStreamTest, WaitFdSleepsWhenIdleAndWakesOnArrival) {
  Pair p = connect_pair(GetParam());
  const char hello[] = "wake up";
  // Connect both ways and drain: after this, neither side has anything to do.
  ASSERT_TRUE(pump(p, [&] { return p.a->write_some(hello, sizeof(hello)) == sizeof(hello); }));
  ASSERT_TRUE(pump(p, [&] { return p.b->peek().size() == sizeof(hello); }));
  p.b->consume(sizeof(hello));
  ASSERT_TRUE(pump(p, [&] {
    p.a->peer_gone();  // reaps the completed send
    return p.a->in_flight() == 0;
  }));
  // Idle: the fd the engine would sleep on stays quiet (a few tries: UCX may still have a
  // wire-up event of its own to hand out first).
  bool quiet = false;
  for (int i = 0; i < 20 && !quiet; ++i) {
    p.wb->progress();
    const int fd = p.b->poll_fd();
    ASSERT_GE(fd, 0) << "no wake-up fd with UCX_TLS=" << GetParam();
    pollfd pfd{fd, POLLIN, 0};
    quiet = ::poll(&pfd, 1, 10) == 0;
  }
  EXPECT_TRUE(quiet) << "the wake-up fd is readable with nothing to do: idle ranks would spin";
  // A message arrives: the armed fd becomes readable (the sender pushes it with its own
  // progress; the receiver does not progress until it wakes).
  const int fd = p.b->poll_fd();
  ASSERT_TRUE(pump(p, [&] {
    p.a->write_some(hello, sizeof(hello));
    return true;
  }));
  bool woke = false;
  const Deadline until = Deadline::after(std::chrono::seconds(20));
  while (!woke && !until.expired()) {
    p.wa->progress();
    pollfd pfd{fd, POLLIN, 0};
    woke = ::poll(&pfd, 1, 10) > 0;
  }
  EXPECT_TRUE(woke) << "a message arrived but the wake-up fd never became readable";
  ASSERT_TRUE(pump(p, [&] { return p.b->peek().size() >= sizeof(hello); }));
  EXPECT_EQ(0, std::memcmp(p.b->peek().data(), hello, sizeof(hello)));
}

INSTANTIATE_TEST_SUITE_P(Tls, UcxStreamTest, ::testing::Values("tcp", "sm"),
                         [](const auto& info) { return info.param; });

// A peer on another host whose process dies says no goodbye: UCX itself reports the broken
// endpoint (UCP_ERR_HANDLING_MODE_PEER), and failure() names the peer and the UCS status. The
// peer here is a bare UCP endpoint on a second worker that is torn down without a word.
TEST(UcxErrors, PeerWorkerGoneIsReportedWithUcxStatus) {
  ScopedUcxEnv env("tcp");
  UcxWorker::Options o;
  o.env_tls = "tcp";
  auto wa = std::make_shared<UcxWorker>(0, o);
  auto wb = std::make_shared<UcxWorker>(1, o);
  UcxStream a(wa, 1, wb->address(), 0, kStage, "rank 1 (ucx)");
  const auto& api = wb->api();
  ucp_ep_params_t ep_params{};
  ep_params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
  ep_params.address = reinterpret_cast<const ucp_address_t*>(wa->address().data());
  ep_params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
  ucp_ep_h raw = nullptr;
  ASSERT_EQ(api.ep_create(wb->handle(), &ep_params, &raw), UCS_OK);
  // Connected both ways: a message each way arrives.
  const char ping[] = "ping";
  ucp_request_param_t param{};
  void* req = api.stream_send_nbx(raw, ping, sizeof(ping), &param);
  ASSERT_FALSE(UCS_PTR_IS_ERR(req));
  const Deadline until = Deadline::after(std::chrono::seconds(20));
  while (a.peek().size() < sizeof(ping) && !until.expired()) wb->progress();
  ASSERT_EQ(a.peek().size(), sizeof(ping));
  a.consume(sizeof(ping));
  if (UCS_PTR_IS_PTR(req)) api.request_free(req);
  // Gone without a goodbye: its endpoint force-closed, its worker destroyed (sockets closed).
  param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  param.flags = UCP_EP_CLOSE_FLAG_FORCE;
  void* close = api.ep_close_nbx(raw, &param);
  if (UCS_PTR_IS_PTR(close)) {
    while (api.request_check_status(close) == UCS_INPROGRESS) wb->progress();
    api.request_free(close);
  }
  wb.reset();
  const Deadline gone = Deadline::after(std::chrono::seconds(30));
  while (!a.peer_gone() && !gone.expired()) {
    const char x = 'x';
    a.write_some(&x, 1);  // traffic makes tcp notice the closed socket
    wa->progress();
  }
  ASSERT_TRUE(a.peer_gone()) << "a dead peer was never noticed";
  EXPECT_NE(a.failure().find("UCS_ERR_"), std::string::npos) << a.failure();
  EXPECT_NE(a.failure().find("rank 1 (ucx)"), std::string::npos) << a.failure();
}

TEST(UcxConfig, ParsesTransportAndQuotesUcxSettings) {
  const Config c = Config::from_map(
      {{"RAILCC_TRANSPORT", "ucx"}, {"UCX_TLS", "tcp"}, {"UCX_NET_DEVICES", "eth1"}});
  EXPECT_EQ(c.transport, TransportKind::kUcx);
  EXPECT_EQ(c.ucx_tls, "tcp");
  EXPECT_EQ(c.ucx_net_devices, "eth1");
  EXPECT_STREQ(transport_kind_name(c.transport), "ucx");
  EXPECT_THROW(Config::from_map({{"RAILCC_TRANSPORT", "ucp"}}), ConfigError);
}

// Transports that do not exist here: UCX cannot start, and the error says which rank, what
// failed, the UCX status and the UCX_TLS in force.
TEST(UcxErrors, UnknownTransportIsAClearConfigError) {
  ScopedUcxEnv env("no_such_transport");
  UcxWorker::Options o;
  o.env_tls = "no_such_transport";
  try {
    UcxWorker w(3, o);
    FAIL() << "UCX started with UCX_TLS=no_such_transport";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("rank 3"), std::string::npos) << m;
    EXPECT_NE(m.find("UCX_TLS=no_such_transport"), std::string::npos) << m;
    EXPECT_NE(m.find("UCS_ERR_"), std::string::npos) << m;
  }
}

// An address that is not a UCX worker address: ucp_ep_create's failure names the peer.
TEST(UcxErrors, UnreachablePeerNamesIt) {
  ScopedUcxEnv env("tcp");
  UcxWorker::Options o;
  o.env_tls = "tcp";
  auto wa = std::make_shared<UcxWorker>(0, o);
  // A shared-memory-only worker: nothing in common with a tcp-only one.
  setenv("UCX_TLS", "posix", 1);
  o.env_tls = "posix";
  auto wb = std::make_shared<UcxWorker>(1, o);
  try {
    UcxStream s(wa, 1, wb->address(), 0, kStage, "rank 1 (ucx)");
    // Some UCX versions fail only on first use; then the stream must report it.
    const char x = 'x';
    for (int i = 0; i < 100000 && s.failure().empty(); ++i) {
      s.write_some(&x, 1);
      wa->progress();
      wb->progress();
    }
    EXPECT_NE(s.failure().find("rank 1 (ucx)"), std::string::npos) << s.failure();
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("rank 1 (ucx)"), std::string::npos) << m;
    EXPECT_NE(m.find("UCX_TLS"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace railcc::test
