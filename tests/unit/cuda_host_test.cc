// The CUDA path's host-side pieces that need no GPU: which bytes each op stages, pointer
// classification without a driver, and the errors for CUDA requests that cannot be served.
#include <gtest/gtest.h>

#include <vector>

#include "railcc/railcc.hpp"
#include "src/cuda/buffer_use.h"
#include "src/cuda/device_api.h"

namespace railcc::cuda {
namespace {

using wire::OpKind;

algo::OpArgs args(OpKind op, std::size_t count, DataType t = DataType::kFloat32, int root = -1) {
  algo::OpArgs a;
  a.op = op;
  a.count = count;
  a.dtype = t;
  a.root = root;
  return a;
}

void expect_spans(const BufferUse& u, std::vector<std::pair<std::size_t, std::size_t>> want) {
  ASSERT_EQ(u.recv_written.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(u.recv_written[i].offset, want[i].first) << i;
    EXPECT_EQ(u.recv_written[i].bytes, want[i].second) << i;
  }
}

TEST(CudaBufferUse, ReductionsAndGathers) {
  // 10 float32 elements, 4 ranks, rank 1.
  BufferUse u = buffer_use(args(OpKind::kAllReduce, 10), 1, 4);
  EXPECT_EQ(u.send_bytes, 40u);
  EXPECT_EQ(u.recv_bytes, 40u);
  expect_spans(u, {{0, 40}});
  u = buffer_use(args(OpKind::kReduceScatter, 10), 1, 4);
  EXPECT_EQ(u.send_bytes, 160u);
  expect_spans(u, {{0, 40}});
  u = buffer_use(args(OpKind::kAllGather, 10), 1, 4);
  EXPECT_EQ(u.send_bytes, 40u);
  expect_spans(u, {{0, 160}});
  u = buffer_use(args(OpKind::kAllToAll, 10, DataType::kInt64), 1, 4);
  EXPECT_EQ(u.send_bytes, 320u);
  expect_spans(u, {{0, 320}});
}

TEST(CudaBufferUse, RootedOpsTouchOnlyWhatTheRankUses) {
  BufferUse u = buffer_use(args(OpKind::kBroadcast, 10, DataType::kFloat32, 0), 1, 4);
  EXPECT_EQ(u.send_bytes, 0u);  // only the root reads send
  expect_spans(u, {{0, 40}});
  u = buffer_use(args(OpKind::kReduce, 10, DataType::kFloat32, 0), 1, 4);
  EXPECT_EQ(u.send_bytes, 40u);
  EXPECT_EQ(u.recv_bytes, 0u);  // recv is significant on the root only
  expect_spans(u, {});
  u = buffer_use(args(OpKind::kGather, 10, DataType::kFloat32, 1), 1, 4);
  expect_spans(u, {{0, 160}});
  u = buffer_use(args(OpKind::kScatter, 10, DataType::kFloat32, 1), 1, 4);
  EXPECT_EQ(u.send_bytes, 160u);
  u = buffer_use(args(OpKind::kScatter, 10, DataType::kFloat32, 0), 1, 4);
  EXPECT_EQ(u.send_bytes, 0u);
}

TEST(CudaBufferUse, AllToAllvStagesOnlyTheBlocksItWrites) {
  algo::OpArgs a = args(OpKind::kAllToAllv, 0, DataType::kInt32);
  a.send_counts = {1, 2, 0};
  a.send_displs = {0, 5, 9};
  a.recv_counts = {3, 0, 2};
  a.recv_displs = {1, 4, 10};
  const BufferUse u = buffer_use(a, 0, 3);
  EXPECT_EQ(u.send_bytes, 36u);  // max(0+1, 5+2, 9+0) elements
  EXPECT_EQ(u.recv_bytes, 48u);  // 10 + 2
  expect_spans(u, {{4, 12}, {40, 8}});
}

TEST(CudaBufferUse, PointToPointAndBarrier) {
  algo::OpArgs s = args(OpKind::kSendRecv, 8, DataType::kFloat64);
  s.is_send = true;
  EXPECT_EQ(buffer_use(s, 0, 2).send_bytes, 64u);
  EXPECT_EQ(buffer_use(s, 0, 2).recv_bytes, 0u);
  s.is_send = false;
  EXPECT_EQ(buffer_use(s, 0, 2).send_bytes, 0u);
  expect_spans(buffer_use(s, 0, 2), {{0, 64}});
  const BufferUse b = buffer_use(args(OpKind::kBarrier, 0), 0, 2);
  EXPECT_EQ(b.send_bytes + b.recv_bytes, 0u);
}

TEST(CudaHost, HostPointersAreHostWithoutAGpu) {
  std::vector<float> v(16);
  EXPECT_FALSE(classify_pointer(v.data()).device);
  EXPECT_FALSE(classify_pointer(nullptr).device);
  int on_stack = 0;
  EXPECT_FALSE(classify_pointer(&on_stack).device);
}

TEST(CudaHost, StreamWithoutAGpuIsAClearError) {
  if (device_api() != nullptr) GTEST_SKIP() << "this machine has a GPU";
  auto comm = Communicator::init(nullptr, 0, 1, Config::from_map({}));
  float x = 1, y = 0;
  try {
    comm->all_reduce(&x, &y, 1, DataType::kFloat32, ReduceOp::kSum, CudaStream{});
    FAIL() << "expected UnsupportedError";
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA stream"), std::string::npos) << e.what();
    EXPECT_FALSE(no_device_reason().empty());
  }
  // Without a stream the same call is an ordinary host op.
  comm->all_reduce(&x, &y, 1, DataType::kFloat32, ReduceOp::kSum).wait();
  EXPECT_EQ(y, 1.0f);
}

TEST(CudaHost, ConfigReadsTheCudaVariables) {
  const Config d = Config::from_map({});
  EXPECT_TRUE(d.cuda);
  EXPECT_TRUE(d.cuda_ipc);
  EXPECT_EQ(d.cuda_ipc_chunk_bytes, 32u << 20);
  EXPECT_EQ(d.cuda_wait, "auto");
  const Config c = Config::from_map({{"RAILCC_CUDA", "0"},
                                     {"RAILCC_CUDA_IPC", "0"},
                                     {"RAILCC_CUDA_IPC_CHUNK_BYTES", "1M"},
                                     {"RAILCC_CUDA_WAIT", "kernel"}});
  EXPECT_FALSE(c.cuda);
  EXPECT_FALSE(c.cuda_ipc);
  EXPECT_EQ(c.cuda_ipc_chunk_bytes, 1u << 20);
  EXPECT_EQ(c.cuda_wait, "kernel");
  EXPECT_THROW(Config::from_map({{"RAILCC_CUDA_WAIT", "spin"}}), ConfigError);
  EXPECT_THROW(Config::from_map({{"RAILCC_CUDA", "2"}}), ConfigError);
  EXPECT_THROW(Config::from_map({{"RAILCC_CUDA_IPC_CHUNK_BYTES", "1"}}), ConfigError);
}

}  // namespace
}  // namespace railcc::cuda
