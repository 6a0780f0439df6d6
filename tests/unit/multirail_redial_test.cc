// MultiRailConnection re-creating a rail whose stream broke for good (multirail_redial.cc): the
// two ends agree on the new stream over the other rail, everything the old one owed is resent
// and applied once, and the new stream carries traffic. Rails are in-memory streams; the verbs
// tests (tests/verbs/verbs_reconnect_test.cc) run it over queue pairs.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/mem_stream.h"
#include "transport/multirail/multirail_connection.h"

namespace railcc::transport {
namespace {

using memtest::MemStream;
using memtest::StreamOptions;
using memtest::Wire;

constexpr std::size_t kChunk = 4096;

// The new wires both ends' redials make: each end's open() names its new end, and connect()
// finds the wire of that pair of names (made by whichever end connects first).
struct Exchange {
  StreamOptions options;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Wire>> wires;
  int opened = 0;
};

class MemRedial final : public RailRedial {
 public:
  MemRedial(std::shared_ptr<Exchange> exchange, bool is_a)
      : exchange_(std::move(exchange)), is_a_(is_a) {}
  std::string open() override {
    mine_ = std::to_string(++exchange_->opened);
    mine_.insert(mine_.begin(), is_a_ ? 'a' : 'b');
    return mine_;
  }
  std::unique_ptr<Stream> connect(const std::string& data) override {
    const auto key = is_a_ ? std::make_pair(mine_, data) : std::make_pair(data, mine_);
    auto& wire = exchange_->wires[key];
    if (!wire) wire = std::make_shared<Wire>(exchange_->options);
    return std::make_unique<MemStream>(wire, is_a_);
  }

 private:
  std::shared_ptr<Exchange> exchange_;
  bool is_a_;
  std::string mine_;
};

struct RedialPair {
  explicit RedialPair(int rails) {
    exchange->options.max_write = 1000;  // frames are cut when a rail breaks
    std::vector<RailLink> la, lb;
    for (int i = 0; i < rails; ++i) {
      wires.push_back(std::make_shared<Wire>(exchange->options));
      RailLink x, y;
      const std::string n = std::to_string(i);
      x.local = {"mem" + n, "", "a" + n};
      y.local = {"mem" + n, "", "b" + n};
      x.peer_address = y.local.address;
      y.peer_address = x.local.address;
      x.stream = std::make_unique<MemStream>(wires.back(), true);
      y.stream = std::make_unique<MemStream>(wires.back(), false);
      x.redial = std::make_unique<MemRedial>(exchange, true);
      y.redial = std::make_unique<MemRedial>(exchange, false);
      la.push_back(std::move(x));
      lb.push_back(std::move(y));
    }
    MultiRailConnection::Options opt;
    opt.chunk_bytes = kChunk;
    a = std::make_unique<MultiRailConnection>(0, 1, 0xbeef, std::move(la), opt);
    b = std::make_unique<MultiRailConnection>(1, 0, 0xbeef, std::move(lb), opt);
  }
  // Pumps both ends until `done`, for at most 5 s (health checks run on a clock).
  bool PumpUntil(const std::function<bool()>& done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      a->progress();
      b->progress();
    }
    return true;
  }
  std::shared_ptr<Exchange> exchange = std::make_shared<Exchange>();
  std::vector<std::shared_ptr<Wire>> wires;
  std::unique_ptr<MultiRailConnection> a, b;
};

Expectation FloatSum(std::size_t count) {
  Expectation e;
  e.op = wire::OpKind::kAllReduce;
  e.dtype = DataType::kFloat32;
  e.redop = ReduceOp::kSum;
  e.count = count;
  e.seq = 1;
  return e;
}

// Rail 1 breaks for good mid-reduction (in place, so a chunk applied twice would show). The op
// finishes exact on rail 0, rail 1 gets a new stream that both ends agree on (epoch 1), rejoins,
// and the next message travels over it too.
TEST(MultiRailRedialTest, BrokenRailIsRecreatedAndCarriesTrafficAgain) {
  RedialPair p(2);
  const std::size_t count = 30 * kChunk / sizeof(float);
  std::vector<float> src(count), acc(count, 0.5f);
  std::iota(src.begin(), src.end(), 1.0f);
  SendRequest s{reinterpret_cast<const std::byte*>(src.data()), count * sizeof(float),
                FloatSum(count)};
  RecvRequest r{reinterpret_cast<std::byte*>(acc.data()), count * sizeof(float),
                reinterpret_cast<const std::byte*>(acc.data()), FloatSum(count)};
  p.a->post_send(&s);
  p.b->post_recv(&r);
  for (int i = 0; i < 20; ++i) {
    p.a->progress();
    p.b->progress();
  }
  p.wires[1]->broken = true;  // for good, mid-frame
  ASSERT_TRUE(p.PumpUntil([&] { return s.done && r.done; }));
  for (std::size_t i = 0; i < count; ++i) ASSERT_EQ(acc[i], src[i] + 0.5f) << "element " << i;

  ASSERT_TRUE(p.PumpUntil([&] {
    return p.a->scheduler().in_service(1) && p.b->scheduler().in_service(1);
  })) << "rail 1 never came back";
  EXPECT_EQ(p.a->rail_epoch(1), 1u);
  EXPECT_EQ(p.b->rail_epoch(1), 1u);
  ASSERT_EQ(p.exchange->wires.size(), 1u);  // one new stream, which both ends use
  const std::shared_ptr<Wire> fresh = p.exchange->wires.begin()->second;

  std::vector<std::byte> big(40 * kChunk), dst(big.size());
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = std::byte(i * 13 + 5);
  SendRequest s2{big.data(), big.size()};
  RecvRequest r2{dst.data(), dst.size()};
  p.a->post_send(&s2);
  p.b->post_recv(&r2);
  ASSERT_TRUE(p.PumpUntil([&] { return s2.done && r2.done; }));
  EXPECT_EQ(big, dst);
  EXPECT_GT(fresh->to_b.total_written, 4 * kChunk) << "the new stream carried no chunks";
}

}  // namespace
}  // namespace railcc::transport
