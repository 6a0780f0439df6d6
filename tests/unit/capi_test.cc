// Tests for the C ABI (include/railcc.h) in one process: a communicator of one rank, which the
// library builds when no launcher variables are set. Multi-rank behaviour of the C API is covered
// by capi_smoke under railcc-run (tests/capi.cmake); here every entry point is checked for
// results at size 1, status codes on bad arguments and the error text C callers get.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <cstring>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "railcc.h"
#include "railcc/railcc.hpp"

extern char** environ;

namespace {

// Removes every variable that could make init() join a job (or reject the configuration), and
// puts them back afterwards so other tests in the same process see the original environment.
class CleanLaunchEnv {
 public:
  CleanLaunchEnv() {
    static const char* const kNames[] = {"RANK",
                                         "WORLD_SIZE",
                                         "LOCAL_RANK",
                                         "LOCAL_WORLD_SIZE",
                                         "MASTER_ADDR",
                                         "MASTER_PORT",
                                         "OMPI_COMM_WORLD_RANK",
                                         "OMPI_COMM_WORLD_SIZE",
                                         "OMPI_COMM_WORLD_LOCAL_RANK",
                                         "OMPI_COMM_WORLD_LOCAL_SIZE",
                                         "PMI_RANK",
                                         "PMI_SIZE",
                                         "MPI_LOCALRANKID",
                                         "MPI_LOCALNRANKS",
                                         "SLURM_PROCID",
                                         "SLURM_NTASKS",
                                         "SLURM_LOCALID",
                                         "SLURM_NTASKS_PER_NODE"};
    std::vector<std::string> names(std::begin(kNames), std::end(kNames));
    // Every RAILCC_* too: a stray RAILCC_TIMEOUT=abc would fail init with a config error.
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

class CapiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(railcc_comm_init(&comm_), RAILCC_OK) << railcc_last_error();
    ASSERT_NE(comm_, nullptr);
  }
  void TearDown() override {
    if (comm_ != nullptr) {
      EXPECT_EQ(railcc_comm_destroy(comm_), RAILCC_OK);
    }
  }

  // Expects `status` to be RAILCC_ERR_INVALID_ARGUMENT with a message containing `needle`.
  static void ExpectInvalid(railcc_status status, const std::string& needle) {
    EXPECT_EQ(status, RAILCC_ERR_INVALID_ARGUMENT) << railcc_error_string(status);
    EXPECT_NE(std::string(railcc_last_error()).find(needle), std::string::npos)
        << "last error \"" << railcc_last_error() << "\" does not mention \"" << needle << "\"";
  }

  CleanLaunchEnv env_;
  railcc_comm_t comm_ = nullptr;
};

std::vector<float> Iota(std::size_t n, float start = 1.0f) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

TEST_F(CapiTest, RankSizeAndVersion) {
  int rank = -1, size = -1;
  ASSERT_EQ(railcc_comm_rank(comm_, &rank), RAILCC_OK);
  ASSERT_EQ(railcc_comm_size(comm_, &size), RAILCC_OK);
  EXPECT_EQ(rank, 0);
  EXPECT_EQ(size, 1);
  EXPECT_STREQ(railcc_version(), railcc::version_string());
  const std::string macro_version = std::to_string(RAILCC_VERSION_MAJOR) + "." +
                                    std::to_string(RAILCC_VERSION_MINOR) + "." +
                                    std::to_string(RAILCC_VERSION_PATCH);
  EXPECT_EQ(macro_version, railcc_version());
}

TEST_F(CapiTest, EnumValuesMatchCpp) {
  // Also static_asserted in railcc_c.cc; repeated here so the test documents the contract.
  EXPECT_EQ(RAILCC_ERR_TIMEOUT, static_cast<int>(railcc::ErrorCode::kTimeout));
  EXPECT_EQ(RAILCC_ERR_INTERNAL, static_cast<int>(railcc::ErrorCode::kInternal));
  EXPECT_EQ(RAILCC_BFLOAT16, static_cast<int>(railcc::DataType::kBFloat16));
  EXPECT_EQ(RAILCC_NUM_DATATYPES, railcc::kNumDataTypes);
  EXPECT_EQ(RAILCC_AVG, static_cast<int>(railcc::ReduceOp::kAvg));
  EXPECT_EQ(RAILCC_NUM_REDOPS, railcc::kNumReduceOps);
  EXPECT_EQ(sizeof(railcc_status), sizeof(int));
  EXPECT_EQ(sizeof(railcc_datatype_t), sizeof(int));
  EXPECT_EQ(sizeof(railcc_redop_t), sizeof(int));
}

TEST_F(CapiTest, AllReduceEveryOpIsIdentityAtSizeOne) {
  const std::vector<float> send = Iota(1000, -3.5f);
  for (int op = 0; op < RAILCC_NUM_REDOPS; ++op) {
    std::vector<float> recv(send.size(), 0.0f);
    ASSERT_EQ(railcc_all_reduce(comm_, send.data(), recv.data(), send.size(), RAILCC_FLOAT32,
                                static_cast<railcc_redop_t>(op), nullptr),
              RAILCC_OK)
        << railcc_last_error();
    EXPECT_EQ(recv, send) << "op " << op;
  }
  // Every data type, blocking and in place; int32 data covers all widths without NaN concerns.
  for (int t = 0; t < RAILCC_NUM_DATATYPES; ++t) {
    std::vector<uint8_t> buf(64 * 8);
    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i % 7 == 0 ? 0 : 1);
    const std::vector<uint8_t> before = buf;
    const auto dtype = static_cast<railcc_datatype_t>(t);
    const std::size_t elem = railcc::data_type_size(static_cast<railcc::DataType>(t));
    ASSERT_EQ(railcc_all_reduce(comm_, buf.data(), buf.data(), buf.size() / elem, dtype, RAILCC_SUM,
                                nullptr),
              RAILCC_OK)
        << "dtype " << t << ": " << railcc_last_error();
    EXPECT_EQ(buf, before) << "dtype " << t;
  }
}

TEST_F(CapiTest, AsyncWorkWaitTestFree) {
  const std::vector<double> send = {1.0, 2.0, 3.0};
  std::vector<double> recv(3, 0.0);
  railcc_work_t work = nullptr;
  ASSERT_EQ(
      railcc_all_reduce(comm_, send.data(), recv.data(), 3, RAILCC_FLOAT64, RAILCC_MAX, &work),
      RAILCC_OK);
  ASSERT_NE(work, nullptr);
  EXPECT_EQ(railcc_work_wait(work, -1), RAILCC_OK);
  EXPECT_EQ(recv, send);
  int done = -1;
  EXPECT_EQ(railcc_work_test(work, &done), RAILCC_OK);
  EXPECT_EQ(done, 1);
  EXPECT_EQ(railcc_work_wait(work, 0), RAILCC_OK);  // a finished op: no wait needed
  EXPECT_EQ(railcc_work_free(work), RAILCC_OK);

  // Poll with work_test until done, as a C event loop would.
  ASSERT_EQ(railcc_barrier(comm_, &work), RAILCC_OK);
  done = 0;
  for (int i = 0; i < 100000 && done == 0; ++i) {
    ASSERT_EQ(railcc_work_test(work, &done), RAILCC_OK);
    if (done == 0) std::this_thread::yield();
  }
  EXPECT_EQ(done, 1);
  EXPECT_EQ(railcc_work_wait(work, 1000), RAILCC_OK);
  EXPECT_EQ(railcc_work_free(work), RAILCC_OK);
}

TEST_F(CapiTest, EveryCollectiveAtSizeOne) {
  const std::vector<float> send = Iota(37);
  const std::size_t n = send.size();
  auto fresh = [&] { return std::vector<float>(n, -1.0f); };

  std::vector<float> recv = fresh();
  ASSERT_EQ(railcc_reduce_scatter(comm_, send.data(), recv.data(), n, RAILCC_FLOAT32, RAILCC_SUM,
                                  nullptr),
            RAILCC_OK)
      << railcc_last_error();
  EXPECT_EQ(recv, send);

  recv = fresh();
  ASSERT_EQ(railcc_all_gather(comm_, send.data(), recv.data(), n, RAILCC_FLOAT32, nullptr),
            RAILCC_OK)
      << railcc_last_error();
  EXPECT_EQ(recv, send);

  recv = fresh();
  ASSERT_EQ(railcc_broadcast(comm_, send.data(), recv.data(), n, RAILCC_FLOAT32, 0, nullptr),
            RAILCC_OK)
      << railcc_last_error();
  EXPECT_EQ(recv, send);

  recv = fresh();
  ASSERT_EQ(
      railcc_reduce(comm_, send.data(), recv.data(), n, RAILCC_FLOAT32, RAILCC_PROD, 0, nullptr),
      RAILCC_OK)
      << railcc_last_error();
  EXPECT_EQ(recv, send);

  recv = fresh();
  ASSERT_EQ(railcc_gather(comm_, send.data(), recv.data(), n, RAILCC_FLOAT32, 0, nullptr),
            RAILCC_OK)
      << railcc_last_error();
  EXPECT_EQ(recv, send);

  recv = fresh();
  ASSERT_EQ(railcc_scatter(comm_, send.data(), recv.data(), n, RAILCC_FLOAT32, 0, nullptr),
            RAILCC_OK)
      << railcc_last_error();
  EXPECT_EQ(recv, send);

  recv = fresh();
  ASSERT_EQ(railcc_all_to_all(comm_, send.data(), recv.data(), n, RAILCC_FLOAT32, nullptr),
            RAILCC_OK)
      << railcc_last_error();
  EXPECT_EQ(recv, send);

  // all_to_allv with a displacement on both sides, to check the arrays are read as elements.
  const size_t send_counts[] = {30}, send_displs[] = {5}, recv_counts[] = {30}, recv_displs[] = {2};
  recv = fresh();
  railcc_work_t work = nullptr;
  ASSERT_EQ(railcc_all_to_allv(comm_, send.data(), send_counts, send_displs, recv.data(),
                               recv_counts, recv_displs, RAILCC_FLOAT32, &work),
            RAILCC_OK)
      << railcc_last_error();
  ASSERT_EQ(railcc_work_wait(work, -1), RAILCC_OK) << railcc_last_error();
  EXPECT_EQ(railcc_work_free(work), RAILCC_OK);
  for (std::size_t i = 0; i < n; ++i) {
    const float expected = (i >= 2 && i < 32) ? send[i - 2 + 5] : -1.0f;
    EXPECT_EQ(recv[i], expected) << "element " << i;
  }

  ASSERT_EQ(railcc_barrier(comm_, nullptr), RAILCC_OK) << railcc_last_error();
}

TEST_F(CapiTest, InPlaceAllGatherAndBroadcast) {
  std::vector<int32_t> buf = {4, 5, 6};
  ASSERT_EQ(railcc_all_gather(comm_, buf.data(), buf.data(), 3, RAILCC_INT32, nullptr), RAILCC_OK)
      << railcc_last_error();
  EXPECT_EQ(buf, (std::vector<int32_t>{4, 5, 6}));
  ASSERT_EQ(railcc_broadcast(comm_, buf.data(), buf.data(), 3, RAILCC_INT32, 0, nullptr), RAILCC_OK)
      << railcc_last_error();
  EXPECT_EQ(buf, (std::vector<int32_t>{4, 5, 6}));
}

TEST_F(CapiTest, ZeroCountAcceptsNullBuffers) {
  EXPECT_EQ(railcc_all_reduce(comm_, nullptr, nullptr, 0, RAILCC_INT8, RAILCC_SUM, nullptr),
            RAILCC_OK)
      << railcc_last_error();
  EXPECT_EQ(railcc_broadcast(comm_, nullptr, nullptr, 0, RAILCC_UINT64, 0, nullptr), RAILCC_OK)
      << railcc_last_error();
}

TEST_F(CapiTest, PointToPointWithSelfAndBadPeers) {
  // At size 1 the only peer is the rank itself: a receive posted first matches the send.
  const float x[3] = {1.5f, -2.0f, 3.25f};
  float y[3] = {0.0f, 0.0f, 0.0f};
  railcc_work_t recv_work = nullptr, send_work = nullptr;
  ASSERT_EQ(railcc_recv(comm_, y, 3, RAILCC_FLOAT32, 0, 7, &recv_work), RAILCC_OK)
      << railcc_last_error();
  ASSERT_EQ(railcc_send(comm_, x, 3, RAILCC_FLOAT32, 0, 7, &send_work), RAILCC_OK)
      << railcc_last_error();
  EXPECT_EQ(railcc_work_wait(send_work, 10000), RAILCC_OK) << railcc_last_error();
  EXPECT_EQ(railcc_work_wait(recv_work, 10000), RAILCC_OK) << railcc_last_error();
  EXPECT_EQ(railcc_work_free(send_work), RAILCC_OK);
  EXPECT_EQ(railcc_work_free(recv_work), RAILCC_OK);
  EXPECT_EQ(std::memcmp(x, y, sizeof(x)), 0);

  // Peers outside the communicator are argument errors, and leave no work behind.
  float z = 1.0f;
  railcc_work_t work = reinterpret_cast<railcc_work_t>(0x1);
  ExpectInvalid(railcc_send(comm_, &z, 1, RAILCC_FLOAT32, 1, 0, &work), "out of range");
  EXPECT_EQ(work, nullptr) << "a failed call must clear the work handle";
  ExpectInvalid(railcc_recv(comm_, &z, 1, RAILCC_FLOAT32, -1, 0, nullptr), "out of range");
  ExpectInvalid(railcc_send(comm_, nullptr, 1, RAILCC_FLOAT32, 0, 0, nullptr), "null");
}

TEST_F(CapiTest, SplitAndNewGroup) {
  railcc_comm_t sub = nullptr;
  ASSERT_EQ(railcc_comm_split(comm_, 3, 0, &sub), RAILCC_OK) << railcc_last_error();
  ASSERT_NE(sub, nullptr);
  int size = 0;
  EXPECT_EQ(railcc_comm_size(sub, &size), RAILCC_OK);
  EXPECT_EQ(size, 1);
  float v = 2.5f, out = 0.0f;
  EXPECT_EQ(railcc_all_reduce(sub, &v, &out, 1, RAILCC_FLOAT32, RAILCC_SUM, nullptr), RAILCC_OK);
  EXPECT_EQ(out, 2.5f);
  EXPECT_EQ(railcc_comm_destroy(sub), RAILCC_OK);

  sub = reinterpret_cast<railcc_comm_t>(0x1);
  ASSERT_EQ(railcc_comm_split(comm_, -1, 0, &sub), RAILCC_OK) << railcc_last_error();
  EXPECT_EQ(sub, nullptr);

  const int ranks[] = {0};
  ASSERT_EQ(railcc_comm_new_group(comm_, ranks, 1, &sub), RAILCC_OK) << railcc_last_error();
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(railcc_comm_destroy(sub), RAILCC_OK);
  ExpectInvalid(railcc_comm_new_group(comm_, nullptr, 1, &sub), "ranks is NULL");
}

TEST_F(CapiTest, SetTimeout) {
  EXPECT_EQ(railcc_comm_set_timeout_ms(comm_, 5000), RAILCC_OK);
  ExpectInvalid(railcc_comm_set_timeout_ms(comm_, 0), "positive");
  ExpectInvalid(railcc_comm_set_timeout_ms(comm_, -1), "positive");
  EXPECT_EQ(railcc_barrier(comm_, nullptr), RAILCC_OK);
}

// Without RDMA peers registration only hands out handles; collectives from the buffer still
// work, and bad arguments are invalid-argument errors.
TEST_F(CapiTest, RegisterAndDeregisterBuffer) {
  std::vector<float> buf = Iota(1000);
  uint64_t h1 = 0, h2 = 0;
  ASSERT_EQ(railcc_comm_register_buffer(comm_, buf.data(), buf.size() * sizeof(float), &h1),
            RAILCC_OK)
      << railcc_last_error();
  ASSERT_EQ(railcc_comm_register_buffer(comm_, buf.data(), 16, &h2), RAILCC_OK);
  EXPECT_NE(h1, 0u);
  EXPECT_NE(h1, h2);
  ASSERT_EQ(railcc_all_reduce(comm_, buf.data(), buf.data(), buf.size(), RAILCC_FLOAT32, RAILCC_SUM,
                              nullptr),
            RAILCC_OK);
  EXPECT_EQ(buf[999], 1000.0f);
  EXPECT_EQ(railcc_comm_deregister_buffer(comm_, h1), RAILCC_OK);
  EXPECT_EQ(railcc_comm_deregister_buffer(comm_, h2), RAILCC_OK);
  EXPECT_EQ(railcc_comm_deregister_buffer(comm_, h2), RAILCC_OK);  // unknown: ignored
  ExpectInvalid(railcc_comm_register_buffer(comm_, buf.data(), 16, nullptr), "handle is NULL");
  ExpectInvalid(railcc_comm_register_buffer(comm_, nullptr, 16, &h1), "register_buffer");
  ExpectInvalid(railcc_comm_register_buffer(comm_, buf.data(), 0, &h1), "register_buffer");
  ExpectInvalid(railcc_comm_deregister_buffer(nullptr, 1), "comm is NULL");
}

// Windows need memory from railcc_mem_alloc; with one rank they only validate and hand out
// handles, and collectives on them still work.
TEST_F(CapiTest, MemAllocAndWindows) {
  void* mem = nullptr;
  ASSERT_EQ(railcc_mem_alloc(4000, &mem), RAILCC_OK) << railcc_last_error();
  auto* f = static_cast<float*>(mem);
  EXPECT_EQ(f[999], 0.0f);  // zeroed
  for (int i = 0; i < 1000; ++i) f[i] = static_cast<float>(i);
  uint64_t h = 0;
  ASSERT_EQ(railcc_comm_register_window(comm_, mem, 4000, &h), RAILCC_OK) << railcc_last_error();
  EXPECT_NE(h, 0u);
  ASSERT_EQ(railcc_all_reduce(comm_, f, f, 1000, RAILCC_FLOAT32, RAILCC_SUM, nullptr), RAILCC_OK);
  EXPECT_EQ(f[999], 999.0f);
  EXPECT_EQ(railcc_comm_deregister_window(comm_, h), RAILCC_OK);
  ExpectInvalid(railcc_comm_deregister_window(comm_, h), "no window has handle");
  std::vector<float> plain(10);
  ExpectInvalid(railcc_comm_register_window(comm_, plain.data(), 40, &h), "railcc::mem_alloc");
  ExpectInvalid(railcc_comm_register_window(comm_, mem, 4000, nullptr), "handle is NULL");
  ExpectInvalid(railcc_mem_alloc(16, nullptr), "ptr is NULL");
  EXPECT_EQ(railcc_mem_free(mem), RAILCC_OK);
  EXPECT_EQ(railcc_mem_free(nullptr), RAILCC_OK);
}

TEST_F(CapiTest, AbortFailsLaterOps) {
  ASSERT_EQ(railcc_comm_abort(comm_), RAILCC_OK);
  float x = 1.0f;
  railcc_work_t work = nullptr;
  // Validation still passes; the op itself then fails, reported by wait and test alike.
  ASSERT_EQ(railcc_all_reduce(comm_, &x, &x, 1, RAILCC_FLOAT32, RAILCC_SUM, &work), RAILCC_OK);
  EXPECT_EQ(railcc_work_wait(work, -1), RAILCC_ERR_ABORTED);
  EXPECT_NE(std::string(railcc_last_error()).find("abort"), std::string::npos)
      << railcc_last_error();
  int done = 0;
  EXPECT_EQ(railcc_work_test(work, &done), RAILCC_ERR_ABORTED);
  EXPECT_EQ(done, 1);
  EXPECT_EQ(railcc_work_free(work), RAILCC_OK);
  // Blocking form returns the op's status directly.
  EXPECT_EQ(railcc_barrier(comm_, nullptr), RAILCC_ERR_ABORTED);
}

TEST_F(CapiTest, NullPointersAreInvalidArguments) {
  float x = 0.0f;
  size_t counts[] = {1}, displs[] = {0};
  railcc_work_t work = nullptr;
  int value = 0;
  ExpectInvalid(railcc_comm_init(nullptr), "out is NULL");
  ExpectInvalid(railcc_comm_destroy(nullptr), "comm is NULL");
  ExpectInvalid(railcc_comm_rank(nullptr, &value), "comm is NULL");
  ExpectInvalid(railcc_comm_rank(comm_, nullptr), "rank is NULL");
  ExpectInvalid(railcc_comm_size(nullptr, &value), "comm is NULL");
  ExpectInvalid(railcc_comm_size(comm_, nullptr), "size is NULL");
  ExpectInvalid(railcc_comm_set_timeout_ms(nullptr, 10), "comm is NULL");
  ExpectInvalid(railcc_comm_abort(nullptr), "comm is NULL");
  ExpectInvalid(railcc_comm_split(nullptr, 0, 0, nullptr), "comm is NULL");
  ExpectInvalid(railcc_comm_split(comm_, 0, 0, nullptr), "out is NULL");
  ExpectInvalid(railcc_comm_new_group(nullptr, nullptr, 0, nullptr), "comm is NULL");

  ExpectInvalid(railcc_all_reduce(nullptr, &x, &x, 1, RAILCC_FLOAT32, RAILCC_SUM, &work),
                "railcc_all_reduce: comm is NULL");
  EXPECT_EQ(work, nullptr);
  ExpectInvalid(railcc_reduce_scatter(nullptr, &x, &x, 1, RAILCC_FLOAT32, RAILCC_SUM, &work),
                "comm is NULL");
  ExpectInvalid(railcc_all_gather(nullptr, &x, &x, 1, RAILCC_FLOAT32, &work), "comm is NULL");
  ExpectInvalid(railcc_broadcast(nullptr, &x, &x, 1, RAILCC_FLOAT32, 0, &work), "comm is NULL");
  ExpectInvalid(railcc_reduce(nullptr, &x, &x, 1, RAILCC_FLOAT32, RAILCC_SUM, 0, &work),
                "comm is NULL");
  ExpectInvalid(railcc_gather(nullptr, &x, &x, 1, RAILCC_FLOAT32, 0, &work), "comm is NULL");
  ExpectInvalid(railcc_scatter(nullptr, &x, &x, 1, RAILCC_FLOAT32, 0, &work), "comm is NULL");
  ExpectInvalid(railcc_all_to_all(nullptr, &x, &x, 1, RAILCC_FLOAT32, &work), "comm is NULL");
  ExpectInvalid(
      railcc_all_to_allv(nullptr, &x, counts, displs, &x, counts, displs, RAILCC_FLOAT32, &work),
      "comm is NULL");
  ExpectInvalid(railcc_send(nullptr, &x, 1, RAILCC_FLOAT32, 0, 0, &work), "comm is NULL");
  ExpectInvalid(railcc_recv(nullptr, &x, 1, RAILCC_FLOAT32, 0, 0, &work), "comm is NULL");
  ExpectInvalid(railcc_barrier(nullptr, &work), "comm is NULL");

  // Each count/displacement array of all_to_allv.
  float y = 0.0f;
  ExpectInvalid(
      railcc_all_to_allv(comm_, &x, nullptr, displs, &y, counts, displs, RAILCC_FLOAT32, nullptr),
      "send_counts is NULL");
  ExpectInvalid(
      railcc_all_to_allv(comm_, &x, counts, nullptr, &y, counts, displs, RAILCC_FLOAT32, nullptr),
      "send_displs is NULL");
  ExpectInvalid(
      railcc_all_to_allv(comm_, &x, counts, displs, &y, nullptr, displs, RAILCC_FLOAT32, nullptr),
      "recv_counts is NULL");
  ExpectInvalid(
      railcc_all_to_allv(comm_, &x, counts, displs, &y, counts, nullptr, RAILCC_FLOAT32, nullptr),
      "recv_displs is NULL");

  // Buffers: NULL with a non-zero count is caught by the C++ validation, reported the same way.
  ExpectInvalid(railcc_all_reduce(comm_, nullptr, &x, 1, RAILCC_FLOAT32, RAILCC_SUM, nullptr),
                "send buffer is null");
  ExpectInvalid(railcc_all_reduce(comm_, &x, nullptr, 1, RAILCC_FLOAT32, RAILCC_SUM, nullptr),
                "receive buffer is null");
  ExpectInvalid(railcc_broadcast(comm_, &x, nullptr, 1, RAILCC_FLOAT32, 0, nullptr),
                "receive buffer is null");

  ExpectInvalid(railcc_work_wait(nullptr, -1), "work is NULL");
  ExpectInvalid(railcc_work_test(nullptr, &value), "work is NULL");
  ExpectInvalid(railcc_work_free(nullptr), "work is NULL");
  ASSERT_EQ(railcc_barrier(comm_, &work), RAILCC_OK);
  ExpectInvalid(railcc_work_test(work, nullptr), "done is NULL");
  EXPECT_EQ(railcc_work_free(work), RAILCC_OK);
}

TEST_F(CapiTest, OutOfRangeDataTypesAndOps) {
  float x = 1.0f, y = 0.0f;
  // 263 = 256 + 7 would wrap into RAILCC_FLOAT32 if truncated to the C++ enum's uint8_t.
  const int kBadTypes[] = {-1, RAILCC_NUM_DATATYPES, 99, 263, 0x7ffffffe};
  for (int bad : kBadTypes) {
    const auto t = static_cast<railcc_datatype_t>(bad);
    SCOPED_TRACE(bad);
    ExpectInvalid(railcc_all_reduce(comm_, &x, &y, 1, t, RAILCC_SUM, nullptr), "unknown data type");
    ExpectInvalid(railcc_broadcast(comm_, &x, &y, 1, t, 0, nullptr), "unknown data type");
    ExpectInvalid(railcc_all_gather(comm_, &x, &y, 1, t, nullptr), "unknown data type");
    ExpectInvalid(railcc_send(comm_, &x, 1, t, 0, 0, nullptr), "unknown data type");
  }
  const int kBadOps[] = {-1, RAILCC_NUM_REDOPS, 256, 0x7ffffffe};
  for (int bad : kBadOps) {
    const auto op = static_cast<railcc_redop_t>(bad);
    SCOPED_TRACE(bad);
    ExpectInvalid(railcc_all_reduce(comm_, &x, &y, 1, RAILCC_FLOAT32, op, nullptr),
                  "unknown reduce op");
    ExpectInvalid(railcc_reduce_scatter(comm_, &x, &y, 1, RAILCC_FLOAT32, op, nullptr),
                  "unknown reduce op");
    ExpectInvalid(railcc_reduce(comm_, &x, &y, 1, RAILCC_FLOAT32, op, 0, nullptr),
                  "unknown reduce op");
  }
  EXPECT_EQ(y, 0.0f) << "a rejected call must not touch the buffers";
}

TEST_F(CapiTest, FailedCallsClearHandleOutputs) {
  // Whatever check fails first, the handle a C caller passed in must not be left stale.
  float x = 1.0f;
  const auto stale_work = reinterpret_cast<railcc_work_t>(0x1);
  const auto stale_comm = reinterpret_cast<railcc_comm_t>(0x1);
  railcc_work_t work = stale_work;
  EXPECT_EQ(railcc_all_reduce(nullptr, &x, &x, 1, RAILCC_FLOAT32, RAILCC_SUM, &work),
            RAILCC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(work, nullptr);
  work = stale_work;
  EXPECT_EQ(
      railcc_all_reduce(comm_, &x, &x, 1, static_cast<railcc_datatype_t>(-1), RAILCC_SUM, &work),
      RAILCC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(work, nullptr);
  work = stale_work;
  EXPECT_EQ(railcc_barrier(nullptr, &work), RAILCC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(work, nullptr);
  railcc_comm_t sub = stale_comm;
  EXPECT_EQ(railcc_comm_split(nullptr, 0, 0, &sub), RAILCC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(sub, nullptr);
  sub = stale_comm;
  EXPECT_EQ(railcc_comm_new_group(nullptr, nullptr, 0, &sub), RAILCC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(sub, nullptr);
}

TEST_F(CapiTest, RootOutOfRange) {
  float x = 1.0f, y = 0.0f;
  railcc_work_t work = nullptr;
  for (int root : {-1, 1, 1000}) {
    SCOPED_TRACE(root);
    ExpectInvalid(railcc_broadcast(comm_, &x, &y, 1, RAILCC_FLOAT32, root, &work), "root");
    EXPECT_EQ(work, nullptr);
    ExpectInvalid(railcc_reduce(comm_, &x, &y, 1, RAILCC_FLOAT32, RAILCC_SUM, root, nullptr),
                  "out of range");
    ExpectInvalid(railcc_gather(comm_, &x, &y, 1, RAILCC_FLOAT32, root, nullptr), "root");
    ExpectInvalid(railcc_scatter(comm_, &x, &y, 1, RAILCC_FLOAT32, root, nullptr), "root");
  }
  // The C++ message names the rank, which is what C users need in a multi-rank job.
  ExpectInvalid(railcc_broadcast(comm_, &x, &y, 1, RAILCC_FLOAT32, 5, nullptr), "rank 0");
}

// Not a CapiTest: init itself failing must leave *out NULL and say which variable is wrong.
TEST(CapiInitTest, BadLaunchEnvironmentIsAConfigError) {
  CleanLaunchEnv env;
  setenv("RAILCC_RANK", "0", 1);  // without RAILCC_WORLD_SIZE
  railcc_comm_t comm = reinterpret_cast<railcc_comm_t>(0x1);
  const railcc_status status = railcc_comm_init(&comm);
  unsetenv("RAILCC_RANK");
  EXPECT_EQ(status, RAILCC_ERR_CONFIG) << railcc_error_string(status);
  EXPECT_EQ(comm, nullptr);
  EXPECT_NE(std::string(railcc_last_error()).find("RAILCC_WORLD_SIZE"), std::string::npos)
      << railcc_last_error();
}

TEST(CapiErrorTest, ErrorStringForEveryCode) {
  std::set<std::string> seen;
  for (int code = RAILCC_OK; code <= RAILCC_ERR_INTERNAL; ++code) {
    const char* text = railcc_error_string(static_cast<railcc_status>(code));
    ASSERT_NE(text, nullptr) << code;
    EXPECT_GT(std::strlen(text), 0u) << code;
    EXPECT_TRUE(seen.insert(text).second) << "code " << code << " shares its text: " << text;
  }
  EXPECT_STREQ(railcc_error_string(static_cast<railcc_status>(42)), "unknown status code");
  EXPECT_STREQ(railcc_error_string(static_cast<railcc_status>(-3)), "unknown status code");
}

TEST(CapiErrorTest, LastErrorIsPerThreadAndKeptUntilTheNextFailure) {
  CleanLaunchEnv env;
  ASSERT_EQ(railcc_comm_rank(nullptr, nullptr), RAILCC_ERR_INVALID_ARGUMENT);
  const std::string message = railcc_last_error();
  EXPECT_NE(message.find("railcc_comm_rank"), std::string::npos) << message;

  // A success does not clear it (like errno), so a C caller may check it after cleanup calls.
  EXPECT_STREQ(railcc_version(), railcc::version_string());
  EXPECT_EQ(message, railcc_last_error());

  // Another thread has its own, empty until it fails.
  std::string other_before, other_after;
  std::thread([&] {
    other_before = railcc_last_error();
    railcc_work_free(nullptr);
    other_after = railcc_last_error();
  }).join();
  EXPECT_EQ(other_before, "");
  EXPECT_NE(other_after.find("railcc_work_free"), std::string::npos) << other_after;
  EXPECT_EQ(message, railcc_last_error());
}

}  // namespace

namespace {

// Without a GPU a CUDA stream cannot be honored: the collective says so (UNSUPPORTED) instead of
// running unordered; clearing the stream gives plain host collectives again.
TEST_F(CapiTest, CudaStreamWithoutAGpu) {
  EXPECT_EQ(railcc_comm_set_cuda_stream(nullptr, nullptr), RAILCC_ERR_INVALID_ARGUMENT);
  std::vector<float> v = Iota(8);
  railcc_work_t work = nullptr;
  ASSERT_EQ(
      railcc_all_reduce(comm_, v.data(), v.data(), v.size(), RAILCC_FLOAT32, RAILCC_SUM, &work),
      RAILCC_OK);
  EXPECT_EQ(railcc_work_wait_stream(work, nullptr), RAILCC_OK);  // a host op: no effect
  EXPECT_EQ(railcc_work_synchronize(work, -1), RAILCC_OK);
  EXPECT_EQ(railcc_work_free(work), RAILCC_OK);
  EXPECT_EQ(railcc_work_synchronize(nullptr, -1), RAILCC_ERR_INVALID_ARGUMENT);
  if (railcc::cuda_available()) GTEST_SKIP() << "this machine has a GPU";
  int dummy = 0;
  ASSERT_EQ(railcc_comm_set_cuda_stream(comm_, &dummy), RAILCC_OK);
  EXPECT_EQ(
      railcc_all_reduce(comm_, v.data(), v.data(), v.size(), RAILCC_FLOAT32, RAILCC_SUM, nullptr),
      RAILCC_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(railcc_last_error()).find("CUDA stream"), std::string::npos)
      << railcc_last_error();
  ASSERT_EQ(railcc_comm_set_cuda_stream(comm_, nullptr), RAILCC_OK);
  EXPECT_EQ(
      railcc_all_reduce(comm_, v.data(), v.data(), v.size(), RAILCC_FLOAT32, RAILCC_SUM, nullptr),
      RAILCC_OK);
}

}  // namespace
