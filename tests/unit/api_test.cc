// Tests for the public C++ API in one process: a communicator of one rank (what init() builds
// when no launcher variables are set) runs every collective, in place and out of place; every bad
// argument is rejected with InvalidArgumentError before anything runs; plus the small value
// helpers (error codes, data types, reduce ops) and Work on its own.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "railcc/railcc.hpp"

extern char** environ;

namespace railcc {
namespace {

using std::chrono::milliseconds;

// Removes every variable that could make init() join a job (or reject the configuration) and
// restores them afterwards, so other tests in this process see the original environment.
class CleanLaunchEnv {
 public:
  CleanLaunchEnv() {
    static const char* const kNames[] = {"RAILCC_RANK",
                                         "RAILCC_WORLD_SIZE",
                                         "RAILCC_STORE_ADDR",
                                         "RANK",
                                         "WORLD_SIZE",
                                         "LOCAL_RANK",
                                         "LOCAL_WORLD_SIZE",
                                         "MASTER_ADDR",
                                         "MASTER_PORT",
                                         "OMPI_COMM_WORLD_RANK",
                                         "OMPI_COMM_WORLD_SIZE",
                                         "OMPI_COMM_WORLD_LOCAL_RANK",
                                         "OMPI_COMM_WORLD_LOCAL_SIZE",
                                         "SLURM_PROCID",
                                         "SLURM_NTASKS",
                                         "SLURM_LOCALID",
                                         "SLURM_NTASKS_PER_NODE",
                                         "PMI_RANK",
                                         "PMI_SIZE",
                                         "MPI_LOCALRANKID",
                                         "MPI_LOCALNRANKS"};
    std::vector<std::string> names(std::begin(kNames), std::end(kNames));
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      if (entry.rfind("RAILCC_", 0) == 0) names.push_back(entry.substr(0, entry.find('=')));
    }
    for (const std::string& name : names) {
      if (const char* v = getenv(name.c_str())) {
        saved_.emplace_back(name, v);
        unsetenv(name.c_str());
      }
    }
  }
  ~CleanLaunchEnv() {
    for (const auto& [name, value] : saved_) setenv(name.c_str(), value.c_str(), 1);
  }

 private:
  std::vector<std::pair<std::string, std::string>> saved_;
};

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

constexpr DataType kAllTypes[] = {DataType::kInt8,    DataType::kUint8,   DataType::kInt32,
                                  DataType::kUint32,  DataType::kInt64,   DataType::kUint64,
                                  DataType::kFloat16, DataType::kFloat32, DataType::kFloat64,
                                  DataType::kBFloat16};
constexpr ReduceOp kAllOps[] = {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMax, ReduceOp::kMin,
                                ReduceOp::kAvg};
const DataType kBadType = static_cast<DataType>(42);
const ReduceOp kBadOp = static_cast<ReduceOp>(9);

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CleanLaunchEnv clean;
    comm_ = Communicator::init();
    ASSERT_NE(comm_, nullptr);
  }
  Communicator& c() { return *comm_; }

  std::shared_ptr<Communicator> comm_;
};

std::vector<float> Iota(std::size_t n, float start = 1.0f) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// Writes the value k (0, 1 or 2) as one element of type t.
void SetSmallValue(DataType t, uint8_t* dst, int k) {
  auto put = [dst](auto v) { std::memcpy(dst, &v, sizeof(v)); };
  switch (t) {
    case DataType::kInt8:
      return put(static_cast<int8_t>(k));
    case DataType::kUint8:
      return put(static_cast<uint8_t>(k));
    case DataType::kInt32:
      return put(static_cast<int32_t>(k));
    case DataType::kUint32:
      return put(static_cast<uint32_t>(k));
    case DataType::kInt64:
      return put(static_cast<int64_t>(k));
    case DataType::kUint64:
      return put(static_cast<uint64_t>(k));
    case DataType::kFloat16:
      return put(static_cast<uint16_t>(k == 0 ? 0 : k == 1 ? 0x3c00 : 0x4000));
    case DataType::kBFloat16:
      return put(static_cast<uint16_t>(k == 0 ? 0 : k == 1 ? 0x3f80 : 0x4000));
    case DataType::kFloat32:
      return put(static_cast<float>(k));
    case DataType::kFloat64:
      return put(static_cast<double>(k));
  }
}

TEST_F(ApiTest, SingleRankCommunicator) {
  EXPECT_EQ(c().rank(), 0);
  EXPECT_EQ(c().size(), 1);
  EXPECT_EQ(c().config().launch.source, "");
}

TEST_F(ApiTest, AllReduceOutOfPlaceEveryTypeAndOp) {
  for (DataType t : kAllTypes) {
    for (ReduceOp op : kAllOps) {
      SCOPED_TRACE(std::string(data_type_name(t)) + " " + reduce_op_name(op));
      const std::size_t n = 37, es = data_type_size(t);
      std::vector<uint8_t> send(n * es), recv(n * es, 0xEE);
      for (std::size_t i = 0; i < n; ++i) {
        SetSmallValue(t, send.data() + i * es, static_cast<int>(i % 3));
      }
      Work w = c().all_reduce(send.data(), recv.data(), n, t, op);
      EXPECT_TRUE(w.valid());
      w.wait();
      EXPECT_TRUE(w.is_completed());
      EXPECT_TRUE(w.test());
      EXPECT_EQ(w.exception(), nullptr);
      EXPECT_EQ(recv, send);
    }
  }
}

TEST_F(ApiTest, AllReduceInPlace) {
  auto v = Iota(1000);
  const auto expected = v;
  c().all_reduce(v.data(), v.data(), v.size(), DataType::kFloat32, ReduceOp::kSum).wait();
  EXPECT_EQ(v, expected);
  c().all_reduce(v.data(), v.data(), v.size(), DataType::kFloat32, ReduceOp::kAvg).wait();
  EXPECT_EQ(v, expected);
}

TEST_F(ApiTest, LargeAllReduce) {
  // Larger than RAILCC_SMALL_MSG_BYTES and the chunk size.
  auto send = Iota(1 << 20);
  std::vector<float> recv(send.size());
  c().all_reduce(send.data(), recv.data(), send.size(), DataType::kFloat32, ReduceOp::kMax).wait();
  EXPECT_EQ(recv, send);
}

TEST_F(ApiTest, ReduceScatter) {
  auto send = Iota(64);
  std::vector<float> recv(64);
  c().reduce_scatter(send.data(), recv.data(), 64, DataType::kFloat32, ReduceOp::kSum).wait();
  EXPECT_EQ(recv, send);
  auto v = Iota(64, 5);
  const auto expected = v;
  c().reduce_scatter(v.data(), v.data(), 64, DataType::kFloat32, ReduceOp::kAvg).wait();
  EXPECT_EQ(v, expected);
}

TEST_F(ApiTest, AllGather) {
  auto send = Iota(50);
  std::vector<float> recv(50);
  c().all_gather(send.data(), recv.data(), 50, DataType::kFloat32).wait();
  EXPECT_EQ(recv, send);
  auto v = Iota(50, 3);
  const auto expected = v;
  c().all_gather(v.data(), v.data(), 50, DataType::kFloat32).wait();  // rank 0's block
  EXPECT_EQ(v, expected);
}

TEST_F(ApiTest, Broadcast) {
  std::vector<int64_t> send = {1, -2, 3, -4, 5}, recv(5);
  c().broadcast(send.data(), recv.data(), 5, DataType::kInt64, 0).wait();
  EXPECT_EQ(recv, send);
  c().broadcast(send.data(), send.data(), 5, DataType::kInt64, 0).wait();
  EXPECT_EQ(send, (std::vector<int64_t>{1, -2, 3, -4, 5}));
}

TEST_F(ApiTest, Reduce) {
  auto send = Iota(33);
  std::vector<float> recv(33);
  for (ReduceOp op : kAllOps) {
    std::fill(recv.begin(), recv.end(), 0.0f);
    c().reduce(send.data(), recv.data(), 33, DataType::kFloat32, op, 0).wait();
    EXPECT_EQ(recv, send) << reduce_op_name(op);
  }
  auto v = Iota(33, 2);
  const auto expected = v;
  c().reduce(v.data(), v.data(), 33, DataType::kFloat32, ReduceOp::kProd, 0).wait();
  EXPECT_EQ(v, expected);
}

TEST_F(ApiTest, Gather) {
  std::vector<int32_t> send = {7, 8, 9}, recv(3);
  c().gather(send.data(), recv.data(), 3, DataType::kInt32, 0).wait();
  EXPECT_EQ(recv, send);
  c().gather(send.data(), send.data(), 3, DataType::kInt32, 0).wait();
  EXPECT_EQ(send, (std::vector<int32_t>{7, 8, 9}));
}

TEST_F(ApiTest, Scatter) {
  std::vector<int32_t> send = {7, 8, 9}, recv(3);
  c().scatter(send.data(), recv.data(), 3, DataType::kInt32, 0).wait();
  EXPECT_EQ(recv, send);
  c().scatter(send.data(), send.data(), 3, DataType::kInt32, 0).wait();
  EXPECT_EQ(send, (std::vector<int32_t>{7, 8, 9}));
}

TEST_F(ApiTest, AllToAll) {
  std::vector<uint8_t> send = {1, 2, 3, 4}, recv(4);
  c().all_to_all(send.data(), recv.data(), 4, DataType::kUint8).wait();
  EXPECT_EQ(recv, send);
  c().all_to_all(send.data(), send.data(), 4, DataType::kUint8).wait();
  EXPECT_EQ(send, (std::vector<uint8_t>{1, 2, 3, 4}));
}

TEST_F(ApiTest, AllToAllv) {
  const std::vector<double> send = {0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<double> recv(10, -1);
  const std::size_t sc[] = {5}, sd[] = {2}, rc[] = {5}, rd[] = {4};
  c().all_to_allv(send.data(), sc, sd, recv.data(), rc, rd, DataType::kFloat64).wait();
  EXPECT_EQ(recv, (std::vector<double>{-1, -1, -1, -1, 2, 3, 4, 5, 6, -1}));
  // In place.
  std::vector<double> v = {0, 1, 2, 3, 4, 5};
  const std::size_t c6[] = {6}, d0[] = {0};
  c().all_to_allv(v.data(), c6, d0, v.data(), c6, d0, DataType::kFloat64).wait();
  EXPECT_EQ(v, (std::vector<double>{0, 1, 2, 3, 4, 5}));
}

TEST_F(ApiTest, SendAndRecvToSelf) {
  std::vector<int32_t> out = {4, 5, 6}, in(3);
  Work r = c().recv(in.data(), 3, DataType::kInt32, 0, 11);
  Work s = c().send(out.data(), 3, DataType::kInt32, 0, 11);
  s.wait(milliseconds(5000));
  r.wait(milliseconds(5000));
  EXPECT_EQ(in, out);
  // Send first, then receive.
  std::vector<int32_t> in2(3);
  Work s2 = c().send(out.data(), 3, DataType::kInt32, 0);
  Work r2 = c().recv(in2.data(), 3, DataType::kInt32, 0);
  r2.wait(milliseconds(5000));
  s2.wait(milliseconds(5000));
  EXPECT_EQ(in2, out);
}

TEST_F(ApiTest, Barrier) {
  for (int i = 0; i < 3; ++i) c().barrier().wait(milliseconds(5000));
}

TEST_F(ApiTest, ManyQueuedOpsCompleteInOrder) {
  std::vector<std::vector<float>> in, out;
  std::vector<Work> works;
  for (int i = 0; i < 50; ++i) {
    in.push_back(Iota(10, static_cast<float>(i)));
    out.emplace_back(10);
  }
  for (int i = 0; i < 50; ++i) {
    works.push_back(
        c().all_reduce(in[i].data(), out[i].data(), 10, DataType::kFloat32, ReduceOp::kSum));
  }
  works.back().wait();
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(works[i].is_completed()) << i;  // ops complete in the order they were called
    EXPECT_EQ(out[i], in[i]) << i;
  }
  EXPECT_NE(works[0].description().find("all_reduce"), std::string::npos) << works[0].description();
}

TEST_F(ApiTest, NullBuffersWithZeroCountAreFine) {
  const std::size_t zero[] = {0};
  std::vector<Work> w;
  w.push_back(c().all_reduce(nullptr, nullptr, 0, DataType::kFloat32, ReduceOp::kSum));
  w.push_back(c().reduce_scatter(nullptr, nullptr, 0, DataType::kFloat32, ReduceOp::kSum));
  w.push_back(c().all_gather(nullptr, nullptr, 0, DataType::kFloat32));
  w.push_back(c().broadcast(nullptr, nullptr, 0, DataType::kFloat32, 0));
  w.push_back(c().reduce(nullptr, nullptr, 0, DataType::kFloat32, ReduceOp::kSum, 0));
  w.push_back(c().gather(nullptr, nullptr, 0, DataType::kFloat32, 0));
  w.push_back(c().scatter(nullptr, nullptr, 0, DataType::kFloat32, 0));
  w.push_back(c().all_to_all(nullptr, nullptr, 0, DataType::kFloat32));
  w.push_back(c().all_to_allv(nullptr, zero, zero, nullptr, zero, zero, DataType::kFloat32));
  w.push_back(c().recv(nullptr, 0, DataType::kFloat32, 0));
  w.push_back(c().send(nullptr, 0, DataType::kFloat32, 0));
  for (const Work& x : w) x.wait(milliseconds(5000));
}

TEST_F(ApiTest, SplitAndNewGroupAtSizeOne) {
  auto same = c().split(0, 0);
  ASSERT_NE(same, nullptr);
  EXPECT_EQ(same->size(), 1);
  EXPECT_EQ(same->rank(), 0);
  auto v = Iota(8);
  std::vector<float> out(8);
  same->all_reduce(v.data(), out.data(), 8, DataType::kFloat32, ReduceOp::kSum).wait();
  EXPECT_EQ(out, v);

  EXPECT_EQ(c().split(-1, 0), nullptr);
  EXPECT_EQ(c().split(-7, 3), nullptr);

  const int zero[] = {0};
  auto group = c().new_group(zero);
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(group->size(), 1);
  group->barrier().wait(milliseconds(5000));
}

TEST_F(ApiTest, SetTimeout) {
  EXPECT_THROW(c().set_timeout(milliseconds(0)), InvalidArgumentError);
  EXPECT_THROW(c().set_timeout(milliseconds(-5)), InvalidArgumentError);
  c().set_timeout(milliseconds(1500));
  std::vector<float> v(4);
  c().all_reduce(v.data(), v.data(), 4, DataType::kFloat32, ReduceOp::kSum).wait();
}

TEST_F(ApiTest, AbortFailsLaterOps) {
  c().abort();
  std::vector<float> v(4);
  Work w = c().all_reduce(v.data(), v.data(), 4, DataType::kFloat32, ReduceOp::kSum);
  EXPECT_THROW(w.wait(milliseconds(5000)), AbortedError);
  EXPECT_TRUE(w.is_completed());
  EXPECT_NE(w.exception(), nullptr);
}

// ---------------------------------------------------------------------------------------------
// Bad arguments: InvalidArgumentError at the call, nothing queued.

#define EXPECT_INVALID(call) EXPECT_THROW(call, InvalidArgumentError)

TEST_F(ApiTest, NullBuffersWithNonZeroCount) {
  float buf[8] = {};
  EXPECT_INVALID(c().all_reduce(nullptr, buf, 8, DataType::kFloat32, ReduceOp::kSum));
  EXPECT_INVALID(c().all_reduce(buf, nullptr, 8, DataType::kFloat32, ReduceOp::kSum));
  EXPECT_INVALID(c().reduce_scatter(nullptr, buf, 8, DataType::kFloat32, ReduceOp::kSum));
  EXPECT_INVALID(c().reduce_scatter(buf, nullptr, 8, DataType::kFloat32, ReduceOp::kSum));
  EXPECT_INVALID(c().all_gather(nullptr, buf, 8, DataType::kFloat32));
  EXPECT_INVALID(c().all_gather(buf, nullptr, 8, DataType::kFloat32));
  EXPECT_INVALID(c().broadcast(nullptr, buf, 8, DataType::kFloat32, 0));
  EXPECT_INVALID(c().broadcast(buf, nullptr, 8, DataType::kFloat32, 0));
  EXPECT_INVALID(c().reduce(nullptr, buf, 8, DataType::kFloat32, ReduceOp::kSum, 0));
  EXPECT_INVALID(c().reduce(buf, nullptr, 8, DataType::kFloat32, ReduceOp::kSum, 0));
  EXPECT_INVALID(c().gather(nullptr, buf, 8, DataType::kFloat32, 0));
  EXPECT_INVALID(c().gather(buf, nullptr, 8, DataType::kFloat32, 0));
  EXPECT_INVALID(c().scatter(nullptr, buf, 8, DataType::kFloat32, 0));
  EXPECT_INVALID(c().scatter(buf, nullptr, 8, DataType::kFloat32, 0));
  EXPECT_INVALID(c().all_to_all(nullptr, buf, 8, DataType::kFloat32));
  EXPECT_INVALID(c().all_to_all(buf, nullptr, 8, DataType::kFloat32));
  const std::size_t n[] = {8}, d[] = {0};
  EXPECT_INVALID(c().all_to_allv(nullptr, n, d, buf, n, d, DataType::kFloat32));
  EXPECT_INVALID(c().all_to_allv(buf, n, d, nullptr, n, d, DataType::kFloat32));
  EXPECT_INVALID(c().send(nullptr, 8, DataType::kFloat32, 0));
  EXPECT_INVALID(c().recv(nullptr, 8, DataType::kFloat32, 0));
}

TEST_F(ApiTest, UnknownDataType) {
  float a[8] = {}, b[8] = {};
  const std::size_t n[] = {8}, d[] = {0};
  EXPECT_INVALID(c().all_reduce(a, b, 8, kBadType, ReduceOp::kSum));
  EXPECT_INVALID(c().reduce_scatter(a, b, 8, kBadType, ReduceOp::kSum));
  EXPECT_INVALID(c().all_gather(a, b, 8, kBadType));
  EXPECT_INVALID(c().broadcast(a, b, 8, kBadType, 0));
  EXPECT_INVALID(c().reduce(a, b, 8, kBadType, ReduceOp::kSum, 0));
  EXPECT_INVALID(c().gather(a, b, 8, kBadType, 0));
  EXPECT_INVALID(c().scatter(a, b, 8, kBadType, 0));
  EXPECT_INVALID(c().all_to_all(a, b, 8, kBadType));
  EXPECT_INVALID(c().all_to_allv(a, n, d, b, n, d, kBadType));
  EXPECT_INVALID(c().send(a, 8, kBadType, 0));
  EXPECT_INVALID(c().recv(a, 8, kBadType, 0));
  // Even with nothing to move.
  EXPECT_INVALID(c().all_reduce(nullptr, nullptr, 0, kBadType, ReduceOp::kSum));
  EXPECT_INVALID(c().send(nullptr, 0, kBadType, 0));
  try {
    c().all_reduce(a, b, 8, kBadType, ReduceOp::kSum);
  } catch (const InvalidArgumentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("42"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("all_reduce"), std::string::npos) << e.what();
  }
}

TEST_F(ApiTest, UnknownReduceOp) {
  float a[8] = {}, b[8] = {};
  EXPECT_INVALID(c().all_reduce(a, b, 8, DataType::kFloat32, kBadOp));
  EXPECT_INVALID(c().reduce_scatter(a, b, 8, DataType::kFloat32, kBadOp));
  EXPECT_INVALID(c().reduce(a, b, 8, DataType::kFloat32, kBadOp, 0));
  EXPECT_INVALID(c().all_reduce(a, b, 8, DataType::kFloat32, static_cast<ReduceOp>(5)));
  EXPECT_INVALID(c().all_reduce(nullptr, nullptr, 0, DataType::kFloat32, kBadOp));
}

TEST_F(ApiTest, RootOutOfRange) {
  float a[8] = {}, b[8] = {};
  for (int root : {-1, 1, 1000, std::numeric_limits<int>::min()}) {
    SCOPED_TRACE(root);
    EXPECT_INVALID(c().broadcast(a, b, 8, DataType::kFloat32, root));
    EXPECT_INVALID(c().reduce(a, b, 8, DataType::kFloat32, ReduceOp::kSum, root));
    EXPECT_INVALID(c().gather(a, b, 8, DataType::kFloat32, root));
    EXPECT_INVALID(c().scatter(a, b, 8, DataType::kFloat32, root));
    // Also with nothing to move.
    EXPECT_INVALID(c().broadcast(nullptr, nullptr, 0, DataType::kFloat32, root));
  }
  try {
    c().broadcast(a, b, 8, DataType::kFloat32, 1);
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("root"), std::string::npos) << e.what();
  }
}

TEST_F(ApiTest, PeerOutOfRange) {
  float a[8] = {};
  for (int peer : {-1, 1, 5}) {
    SCOPED_TRACE(peer);
    EXPECT_INVALID(c().send(a, 8, DataType::kFloat32, peer));
    EXPECT_INVALID(c().recv(a, 8, DataType::kFloat32, peer));
  }
}

TEST_F(ApiTest, CountOverflow) {
  double a[8] = {}, b[8] = {};
  const std::size_t huge = std::numeric_limits<std::size_t>::max() / 2;
  const std::size_t max = std::numeric_limits<std::size_t>::max();
  for (std::size_t count : {huge, max, max / 8 + 1}) {
    SCOPED_TRACE(count);
    EXPECT_INVALID(c().all_reduce(a, b, count, DataType::kFloat64, ReduceOp::kSum));
    EXPECT_INVALID(c().reduce_scatter(a, b, count, DataType::kFloat64, ReduceOp::kSum));
    EXPECT_INVALID(c().all_gather(a, b, count, DataType::kFloat64));
    EXPECT_INVALID(c().broadcast(a, b, count, DataType::kFloat64, 0));
    EXPECT_INVALID(c().reduce(a, b, count, DataType::kFloat64, ReduceOp::kSum, 0));
    EXPECT_INVALID(c().gather(a, b, count, DataType::kFloat64, 0));
    EXPECT_INVALID(c().scatter(a, b, count, DataType::kFloat64, 0));
    EXPECT_INVALID(c().all_to_all(a, b, count, DataType::kFloat64));
    EXPECT_INVALID(c().send(a, count, DataType::kFloat64, 0));
    EXPECT_INVALID(c().recv(a, count, DataType::kFloat64, 0));
    const std::size_t big[] = {count}, one[] = {1}, zero[] = {0};
    EXPECT_INVALID(c().all_to_allv(a, big, zero, b, one, zero, DataType::kFloat64));
    EXPECT_INVALID(c().all_to_allv(a, one, zero, b, big, zero, DataType::kFloat64));
    EXPECT_INVALID(c().all_to_allv(a, one, big, b, one, zero, DataType::kFloat64));
    EXPECT_INVALID(c().all_to_allv(a, one, zero, b, one, big, DataType::kFloat64));
  }
  // Count and displacement each fine, their sum past the limit.
  const std::size_t half[] = {max / 4 / 8 - 1}, zero[] = {0};
  EXPECT_INVALID(c().all_to_allv(a, half, half, b, zero, zero, DataType::kFloat64));
}

TEST_F(ApiTest, PartialOverlap) {
  std::vector<float> buf(64);
  float* p = buf.data();
  EXPECT_INVALID(c().all_reduce(p, p + 1, 16, DataType::kFloat32, ReduceOp::kSum));
  EXPECT_INVALID(c().all_reduce(p + 15, p, 16, DataType::kFloat32, ReduceOp::kSum));
  EXPECT_INVALID(c().reduce_scatter(p, p + 3, 16, DataType::kFloat32, ReduceOp::kSum));
  EXPECT_INVALID(c().all_gather(p + 1, p, 16, DataType::kFloat32));
  EXPECT_INVALID(c().broadcast(p, p + 8, 16, DataType::kFloat32, 0));
  EXPECT_INVALID(c().reduce(p + 8, p, 16, DataType::kFloat32, ReduceOp::kSum, 0));
  EXPECT_INVALID(c().gather(p, p + 2, 16, DataType::kFloat32, 0));
  EXPECT_INVALID(c().scatter(p + 2, p, 16, DataType::kFloat32, 0));
  EXPECT_INVALID(c().all_to_all(p, p + 4, 16, DataType::kFloat32));
  const std::size_t n[] = {16}, d[] = {0};
  EXPECT_INVALID(c().all_to_allv(p, n, d, p + 4, n, d, DataType::kFloat32));
  // Adjacent but disjoint buffers are fine.
  c().all_reduce(p, p + 16, 16, DataType::kFloat32, ReduceOp::kSum).wait();
  c().all_to_all(p + 16, p, 16, DataType::kFloat32).wait();
}

TEST_F(ApiTest, AllToAllvNeedsOneEntryPerRank) {
  float a[8] = {}, b[8] = {};
  const std::vector<std::size_t> one = {1}, two = {1, 1}, none;
  const std::vector<std::size_t> n = one, d = {0};
  EXPECT_INVALID(c().all_to_allv(a, none, d, b, n, d, DataType::kFloat32));
  EXPECT_INVALID(c().all_to_allv(a, two, d, b, n, d, DataType::kFloat32));
  EXPECT_INVALID(c().all_to_allv(a, n, none, b, n, d, DataType::kFloat32));
  EXPECT_INVALID(c().all_to_allv(a, n, two, b, n, d, DataType::kFloat32));
  EXPECT_INVALID(c().all_to_allv(a, n, d, b, none, d, DataType::kFloat32));
  EXPECT_INVALID(c().all_to_allv(a, n, d, b, two, d, DataType::kFloat32));
  EXPECT_INVALID(c().all_to_allv(a, n, d, b, n, none, DataType::kFloat32));
  EXPECT_INVALID(c().all_to_allv(a, n, d, b, n, two, DataType::kFloat32));
}

TEST_F(ApiTest, NewGroupRejectsBadRankLists) {
  const std::vector<int> empty, dup = {0, 0}, above = {1}, below = {-1}, mixed = {0, 1};
  EXPECT_INVALID(c().new_group(empty));
  EXPECT_INVALID(c().new_group(dup));
  EXPECT_INVALID(c().new_group(above));
  EXPECT_INVALID(c().new_group(below));
  EXPECT_INVALID(c().new_group(mixed));
}

TEST_F(ApiTest, BadCallsQueueNothingAndLeaveBuffersAlone) {
  std::vector<float> send = Iota(16), recv(16, -1.0f);
  EXPECT_INVALID(c().all_reduce(send.data(), recv.data(), 16, DataType::kFloat32, kBadOp));
  EXPECT_INVALID(c().broadcast(send.data(), recv.data(), 16, DataType::kFloat32, 3));
  EXPECT_INVALID(c().all_gather(send.data(), recv.data(), 16, kBadType));
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(recv, std::vector<float>(16, -1.0f));
  // The communicator is still healthy.
  c().all_reduce(send.data(), recv.data(), 16, DataType::kFloat32, ReduceOp::kSum).wait();
  EXPECT_EQ(recv, send);
}

// ---------------------------------------------------------------------------------------------
// Work, init and the value helpers.

TEST(ApiWorkTest, EmptyWork) {
  Work w;
  EXPECT_FALSE(w.valid());
  EXPECT_THROW(w.wait(), InvalidArgumentError);
  EXPECT_THROW(w.wait(milliseconds(10)), InvalidArgumentError);
  EXPECT_THROW(w.test(), InvalidArgumentError);
  EXPECT_FALSE(w.is_completed());
  EXPECT_EQ(w.exception(), nullptr);
  EXPECT_FALSE(w.description().empty());
}

TEST(ApiInitTest, StoreAddressWithoutRankIsAConfigError) {
  EXPECT_THROW(Communicator::init(Config::from_map({{"RAILCC_STORE_ADDR", "127.0.0.1:1"}})),
               ConfigError);
  EXPECT_THROW(
      Communicator::init(Config::from_map({{"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "1"}})),
      ConfigError);
}

TEST(ApiInitTest, MultiRankWithoutStoreIsAConfigError) {
  EXPECT_THROW(
      Communicator::init(Config::from_map({{"RAILCC_RANK", "0"}, {"RAILCC_WORLD_SIZE", "2"}})),
      ConfigError);
}

TEST(ApiInitTest, LaunchedAsRankZeroOfOne) {
  auto comm =
      Communicator::init(Config::from_map({{"RAILCC_RANK", "0"}, {"RAILCC_WORLD_SIZE", "1"}}));
  ASSERT_NE(comm, nullptr);
  EXPECT_EQ(comm->size(), 1);
  EXPECT_EQ(comm->config().launch.source, "railcc");
  comm->barrier().wait(milliseconds(5000));
}

TEST(ApiInitTest, InitFromStoreChecksRankAndSize) {
  const Config config = Config::from_map({});
  EXPECT_THROW(Communicator::init(nullptr, 0, 0, config), InvalidArgumentError);
  EXPECT_THROW(Communicator::init(nullptr, 1, 1, config), InvalidArgumentError);
  EXPECT_THROW(Communicator::init(nullptr, -1, 1, config), InvalidArgumentError);
  EXPECT_THROW(Communicator::init(nullptr, 0, 2, config), InvalidArgumentError);
  auto comm = Communicator::init(nullptr, 0, 1, config);
  ASSERT_NE(comm, nullptr);
  EXPECT_EQ(comm->size(), 1);
}

TEST(ApiInitTest, NewGroupRejectsAnUnsortedListOnTwoRanks) {
  // Two ranks in this process, joined through a store, so a list can be in range but unsorted.
  auto server = start_store_server("127.0.0.1", 0);
  const std::string addr = "127.0.0.1:" + std::to_string(server->port());
  const Config config = Config::from_map({{"RAILCC_TIMEOUT", "20"}});
  std::shared_ptr<Communicator> comms[2];
  std::jthread t1(Guarded([&] {
    comms[1] = Communicator::init(connect_tcp_store(addr, milliseconds(5000)), 1, 2, config);
  }));
  comms[0] = Communicator::init(connect_tcp_store(addr, milliseconds(5000)), 0, 2, config);
  t1.join();
  ASSERT_NE(comms[0], nullptr);
  ASSERT_NE(comms[1], nullptr);
  const std::vector<int> unsorted = {1, 0}, dup = {1, 1}, out = {0, 2};
  for (auto& comm : comms) {
    EXPECT_INVALID(comm->new_group(unsorted));
    EXPECT_INVALID(comm->new_group(dup));
    EXPECT_INVALID(comm->new_group(out));
    float a[4] = {}, b[4] = {};
    EXPECT_INVALID(comm->broadcast(a, b, 4, DataType::kFloat32, 2));
    EXPECT_INVALID(comm->send(a, 4, DataType::kFloat32, 2));
  }
  // Still usable together afterwards.
  float in0[4] = {1, 2, 3, 4}, in1[4] = {10, 20, 30, 40}, out0[4] = {}, out1[4] = {};
  Work w1 = comms[1]->all_reduce(in1, out1, 4, DataType::kFloat32, ReduceOp::kSum);
  Work w0 = comms[0]->all_reduce(in0, out0, 4, DataType::kFloat32, ReduceOp::kSum);
  w0.wait(milliseconds(10000));
  w1.wait(milliseconds(10000));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(out0[i], in0[i] + in1[i]);
    EXPECT_EQ(out1[i], in0[i] + in1[i]);
  }
}

TEST(ApiValuesTest, ErrorCodeNames) {
  std::set<std::string> names;
  for (int code = 0; code <= 10; ++code) {
    const std::string name = error_code_name(static_cast<ErrorCode>(code));
    EXPECT_NE(name, "unknown error") << code;
    EXPECT_FALSE(name.empty());
    names.insert(name);
  }
  EXPECT_EQ(names.size(), 11u);
  EXPECT_STREQ(error_code_name(ErrorCode::kOk), "ok");
  EXPECT_STREQ(error_code_name(ErrorCode::kTimeout), "timeout");
  EXPECT_STREQ(error_code_name(static_cast<ErrorCode>(99)), "unknown error");
  EXPECT_STREQ(error_code_name(static_cast<ErrorCode>(-1)), "unknown error");
}

TEST(ApiValuesTest, ThrowErrorPicksTheMatchingClass) {
  for (int code = 0; code <= 11; ++code) {
    SCOPED_TRACE(code);
    try {
      throw_error(static_cast<ErrorCode>(code), "msg " + std::to_string(code));
    } catch (const Error& e) {
      const ErrorCode want =
          (code == 0 || code == 11) ? ErrorCode::kInternal : static_cast<ErrorCode>(code);
      EXPECT_EQ(e.code(), want);
      EXPECT_EQ(std::string(e.what()), "msg " + std::to_string(code));
    }
  }
  EXPECT_THROW(throw_error(ErrorCode::kMismatch, "m"), MismatchError);
  EXPECT_THROW(throw_error(ErrorCode::kConfig, "m"), ConfigError);
  EXPECT_THROW(throw_error(ErrorCode::kProtocol, "m"), ProtocolError);
  EXPECT_THROW(throw_error(ErrorCode::kUnsupported, "m"), UnsupportedError);
  EXPECT_THROW(throw_error(ErrorCode::kAborted, "m"), AbortedError);
}

TEST(ApiValuesTest, DataTypes) {
  const std::pair<DataType, std::size_t> kSizes[] = {
      {DataType::kInt8, 1},    {DataType::kUint8, 1},   {DataType::kInt32, 4},
      {DataType::kUint32, 4},  {DataType::kInt64, 8},   {DataType::kUint64, 8},
      {DataType::kFloat16, 2}, {DataType::kFloat32, 4}, {DataType::kFloat64, 8},
      {DataType::kBFloat16, 2}};
  std::set<std::string> names;
  for (const auto& [t, size] : kSizes) {
    EXPECT_EQ(data_type_size(t), size) << data_type_name(t);
    EXPECT_TRUE(is_valid(t));
    const char* name = data_type_name(t);
    names.insert(name);
    EXPECT_EQ(parse_data_type(name), t) << name;  // round trip
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kNumDataTypes));
  // nccl-tests spellings.
  EXPECT_STREQ(data_type_name(DataType::kFloat16), "half");
  EXPECT_STREQ(data_type_name(DataType::kFloat32), "float");
  EXPECT_STREQ(data_type_name(DataType::kFloat64), "double");
  EXPECT_STREQ(data_type_name(DataType::kBFloat16), "bfloat16");
  // Out of range.
  EXPECT_EQ(data_type_size(kBadType), 0u);
  EXPECT_FALSE(is_valid(kBadType));
  EXPECT_FALSE(is_valid(static_cast<DataType>(kNumDataTypes)));
  EXPECT_STREQ(data_type_name(kBadType), "invalid");
}

TEST(ApiValuesTest, DataTypeAliases) {
  const std::pair<const char*, DataType> kAliases[] = {
      {"int8", DataType::kInt8},         {"char", DataType::kInt8},
      {"uint8", DataType::kUint8},       {"int32", DataType::kInt32},
      {"int", DataType::kInt32},         {"uint32", DataType::kUint32},
      {"int64", DataType::kInt64},       {"uint64", DataType::kUint64},
      {"half", DataType::kFloat16},      {"float16", DataType::kFloat16},
      {"fp16", DataType::kFloat16},      {"f16", DataType::kFloat16},
      {"float", DataType::kFloat32},     {"float32", DataType::kFloat32},
      {"fp32", DataType::kFloat32},      {"f32", DataType::kFloat32},
      {"double", DataType::kFloat64},    {"float64", DataType::kFloat64},
      {"fp64", DataType::kFloat64},      {"f64", DataType::kFloat64},
      {"bfloat16", DataType::kBFloat16}, {"bf16", DataType::kBFloat16},
      {"FP16", DataType::kFloat16},      {"Float32", DataType::kFloat32},
      {"BF16", DataType::kBFloat16}};
  for (const auto& [name, t] : kAliases) EXPECT_EQ(parse_data_type(name), t) << name;
  for (const char* bad : {"", "float128", "int16", "bool", "float 32", " float", "fp8"}) {
    EXPECT_EQ(parse_data_type(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(ApiValuesTest, ReduceOps) {
  const std::pair<ReduceOp, const char*> kOps[] = {{ReduceOp::kSum, "sum"},
                                                   {ReduceOp::kProd, "prod"},
                                                   {ReduceOp::kMax, "max"},
                                                   {ReduceOp::kMin, "min"},
                                                   {ReduceOp::kAvg, "avg"}};
  for (const auto& [op, name] : kOps) {
    EXPECT_STREQ(reduce_op_name(op), name);
    EXPECT_TRUE(is_valid(op));
    EXPECT_EQ(parse_reduce_op(name), op);
  }
  EXPECT_EQ(parse_reduce_op("SUM"), ReduceOp::kSum);
  EXPECT_EQ(parse_reduce_op("Max"), ReduceOp::kMax);
  for (const char* bad : {"", "mean", "add", "sum ", "product"}) {
    EXPECT_EQ(parse_reduce_op(bad), std::nullopt) << "'" << bad << "'";
  }
  EXPECT_FALSE(is_valid(static_cast<ReduceOp>(kNumReduceOps)));
  EXPECT_FALSE(is_valid(kBadOp));
  EXPECT_STREQ(reduce_op_name(kBadOp), "invalid");
}

TEST(ApiValuesTest, Version) {
  EXPECT_STREQ(version_string(), "0.1.0");
  EXPECT_EQ(std::to_string(RAILCC_VERSION_MAJOR) + "." + std::to_string(RAILCC_VERSION_MINOR) +
                "." + std::to_string(RAILCC_VERSION_PATCH),
            version_string());
}

}  // namespace
}  // namespace railcc
