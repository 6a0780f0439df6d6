// railcc's CUDA path on the CPU: collectives on emulated GPU buffers (fake_device.h), through
// CUDA IPC and through host staging, with 1, 2, 3 and 4 ranks, stream ordering, failures and
// the pools. Runs everywhere (labels unit/mp); tests/cuda/cuda_*_test.cc run the same suite on a
// real GPU (label cuda).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "railcc/railcc.hpp"
#include "src/cuda/buffer_use.h"
#include "src/cuda/flag_pool.h"
#include "src/cuda/staging_pool.h"
#include "tests/cuda/device_suite.h"
#include "tests/cuda/fake_device.h"
#include "tests/mp/harness.h"
#include "tests/mp/values.h"

namespace railcc::test {
namespace {

using namespace std::chrono_literals;

JobOptions job(std::map<std::string, std::string> env = {}) {
  JobOptions o;
  o.env = std::move(env);
  o.env.emplace("RAILCC_TIMEOUT", "60");
  // Small IPC regions: multi-chunk paths run on small test sizes.
  o.env.emplace("RAILCC_CUDA_IPC_CHUNK_BYTES", "4096");
  o.limit = std::chrono::seconds(240);
  return o;
}

void expect_ok(const std::vector<RankOutcome>& out) {
  for (const auto& o : out) ASSERT_TRUE(o.ok()) << summary(out);
}

// Every rank: a fake GPU, a communicator, a stream, then fn.
void on_fake_gpu(int world, const JobOptions& options,
                 const std::function<void(Communicator&, FakeDevice&, cuda::StreamHandle)>& fn,
                 FakeDeviceOptions fake = {}) {
  expect_ok(run_job(
      world,
      [&](int) {
        FakeDevice& dev = FakeDevice::install(fake);
        auto comm = Communicator::init();
        cuda::StreamHandle s = dev.create_stream();
        fn(*comm, dev, s);
        dev.synchronize(s);
        comm.reset();
        dev.destroy_stream(s);
      },
      options));
}

class FakeCudaWorld : public ::testing::TestWithParam<int> {};

TEST_P(FakeCudaWorld, EveryCollectiveThroughIpc) {
  on_fake_gpu(GetParam(), job(), [](Communicator& c, FakeDevice& d, cuda::StreamHandle s) {
    exercise_device_collectives(c, d, s, /*full=*/true);
  });
}

TEST_P(FakeCudaWorld, EveryCollectiveThroughStagingOverShm) {
  on_fake_gpu(GetParam(), job({{"RAILCC_CUDA_IPC", "0"}, {"RAILCC_TRANSPORT", "shm"}}),
              [](Communicator& c, FakeDevice& d, cuda::StreamHandle s) {
                exercise_device_collectives(c, d, s, /*full=*/false);
              });
}

INSTANTIATE_TEST_SUITE_P(Ranks, FakeCudaWorld, ::testing::Values(1, 2, 3, 4),
                         [](const auto& info) { return std::to_string(info.param) + "ranks"; });

TEST(FakeCuda, StagingOverTcp) {
  on_fake_gpu(3, job({{"RAILCC_CUDA_IPC", "0"}, {"RAILCC_TRANSPORT", "tcp"}}),
              [](Communicator& c, FakeDevice& d, cuda::StreamHandle s) {
                exercise_device_collectives(c, d, s, /*full=*/false);
              });
}

TEST(FakeCuda, StreamOrderingIpc) {
  FakeDeviceOptions slow;
  slow.op_delay = 200us;  // copies and kernels take a while: a missing wait shows
  on_fake_gpu(
      3, job(),
      [](Communicator& c, FakeDevice& d, cuda::StreamHandle s) {
        check_stream_ordering(c, d, s);
        check_host_buffers_on_stream(c, d, s);
      },
      slow);
}

TEST(FakeCuda, StreamOrderingStaging) {
  FakeDeviceOptions slow;
  slow.op_delay = 200us;
  on_fake_gpu(
      2, job({{"RAILCC_CUDA_IPC", "0"}}),
      [](Communicator& c, FakeDevice& d, cuda::StreamHandle s) { check_stream_ordering(c, d, s); },
      slow);
}

TEST(FakeCuda, DefaultStreamWhenNoneIsGiven) {
  on_fake_gpu(2, job(), [](Communicator& c, FakeDevice& d, cuda::StreamHandle) {
    const std::size_t count = 333;
    DeviceBuffer buf(d, count * 4);
    buf.upload(make_input(c.rank(), count, DataType::kInt32, ReduceOp::kSum));
    Work w = c.all_reduce(buf.get(), buf.get(), count, DataType::kInt32, ReduceOp::kSum);
    CHECK(w.is_cuda(), "GPU buffers without a stream run on the default stream");
    w.synchronize();
    CHECK(first_mismatch(buf.download(),
                         expected_reduction(c.size(), count, DataType::kInt32, ReduceOp::kSum),
                         DataType::kInt32) < 0,
          "wrong result");
  });
}

TEST(FakeCuda, IpcRefusedByOneRankFallsBackOnEveryRank) {
  on_fake_gpu(3, job(), [](Communicator& c, FakeDevice& d, cuda::StreamHandle s) {
    if (c.rank() == 1) d.set_refuse_ipc(true);
    exercise_device_collectives(c, d, s, /*full=*/false);
  });
}

TEST(FakeCuda, SplitCommunicatorsOnOneGpu) {
  on_fake_gpu(4, job(), [](Communicator& c, FakeDevice& d, cuda::StreamHandle s) {
    auto sub = c.split(c.rank() % 2, c.rank());
    exercise_device_collectives(*sub, d, s, /*full=*/false);
    exercise_device_collectives(c, d, s, /*full=*/false);
  });
}

// A rank that never joins: the op times out, the Work says so, and the stream is not left
// waiting at the op's gate.
TEST(FakeCuda, FailedOpReleasesTheStream) {
  auto options = job({{"RAILCC_TIMEOUT", "2"}});
  options.env["RAILCC_TIMEOUT"] = "2";
  expect_ok(run_job(
      2,
      [](int rank) {
        FakeDevice& dev = FakeDevice::install();
        auto comm = Communicator::init();
        if (rank == 1) {
          std::this_thread::sleep_for(4s);
          return;
        }
        cuda::StreamHandle s = dev.create_stream();
        DeviceBuffer buf(dev, 4096);
        Work w = comm->all_reduce(buf.get(), buf.get(), 1024, DataType::kFloat32, ReduceOp::kSum,
                                  CudaStream{s});
        bool threw = false;
        try {
          w.synchronize();
        } catch (const TimeoutError&) {
          threw = true;
        } catch (const PeerFailureError&) {
          threw = true;
        }
        CHECK(threw, "the op should have failed");
        dev.synchronize(s);  // would hang if the gate stayed closed
        CHECK(w.is_completed(), "a failed op is completed");
        comm->abort();
        comm.reset();
        dev.destroy_stream(s);
      },
      options));
}

TEST(FakeCuda, AbortWhileTheStreamHoldsTheOp) {
  expect_ok(run_job(
      1,
      [](int) {
        FakeDevice& dev = FakeDevice::install();
        auto comm = Communicator::init();
        cuda::StreamHandle s = dev.create_stream();
        cuda::FlagPool pool(dev);
        auto gate = pool.acquire();
        dev.wait_flag(s, gate.word, gate.value);  // the stream never reaches the op by itself
        DeviceBuffer buf(dev, 64);
        Work w = comm->all_reduce(buf.get(), buf.get(), 16, DataType::kFloat32, ReduceOp::kSum,
                                  CudaStream{s});
        std::this_thread::sleep_for(100ms);
        comm->abort();
        bool aborted = false;
        try {
          w.wait(10s);
        } catch (const AbortedError&) {
          aborted = true;
        }
        CHECK(aborted, "abort must fail the op waiting for its stream");
        pool.release(gate);
        dev.synchronize(s);
        comm.reset();
        dev.destroy_stream(s);
      },
      job()));
}

// --- single process: the pieces ---------------------------------------------------------------

TEST(FakeCudaPieces, FlagPoolGatesAStream) {
  FakeDevice& dev = FakeDevice::install();
  cuda::StreamHandle s = dev.create_stream();
  cuda::FlagPool pool(dev);
  auto g1 = pool.acquire();
  auto g2 = pool.acquire();
  EXPECT_NE(g1.word, g2.word);
  std::atomic<int> ran{0};
  dev.wait_flag(s, g1.word, g1.value);
  dev.enqueue(s, [&] { ran = 1; });
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(ran.load(), 0);
  pool.release(g1);
  dev.synchronize(s);
  EXPECT_EQ(ran.load(), 1);
  // A released slot is reused with a larger value, and waits for it again.
  pool.release(g2);
  auto g3 = pool.acquire();
  dev.wait_flag(s, g3.word, g3.value);
  dev.enqueue(s, [&] { ran = 2; });
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(ran.load(), 1);
  pool.release(g3);
  dev.synchronize(s);
  EXPECT_EQ(ran.load(), 2);
  dev.destroy_stream(s);
}

TEST(FakeCudaPieces, FlagPoolGrowsPastOnePage) {
  FakeDevice& dev = FakeDevice::install();
  cuda::FlagPool pool(dev);
  std::vector<cuda::FlagPool::Gate> gates;
  for (int i = 0; i < 3000; ++i) gates.push_back(pool.acquire());
  for (auto& g : gates) pool.release(g);
  for (auto& g : gates) EXPECT_FALSE(g.valid());
}

TEST(FakeCudaPieces, StagingPoolReusesBlocks) {
  FakeDevice& dev = FakeDevice::install();
  auto pool = cuda::StagingPool::create(dev);
  std::byte* first;
  {
    auto a = pool->acquire(100000);
    ASSERT_TRUE(a);
    EXPECT_GE(a.capacity(), 100000u);
    first = a.data();
  }
  {
    auto b = pool->acquire(5000);  // a smaller request reuses the free larger block
    EXPECT_EQ(b.data(), first);
    auto c = pool->acquire(5000);  // the block is leased: a new one
    EXPECT_NE(c.data(), first);
  }
  EXPECT_GE(pool->held_bytes(), 131072u);
}

TEST(FakeCudaPieces, ClassifiesItsMemory) {
  FakeDevice& dev = FakeDevice::install();
  void* p = dev.alloc_device(1000);
  int host = 0;
  EXPECT_TRUE(cuda::classify_pointer(p).device);
  EXPECT_TRUE(cuda::classify_pointer(static_cast<char*>(p) + 999).device);
  EXPECT_FALSE(cuda::classify_pointer(&host).device);
  dev.free_device(p);
}

TEST(FakeCudaPieces, RejectsCudaStreamWhenTurnedOff) {
  FakeDevice::install();
  Config cfg = Config::from_map({{"RAILCC_CUDA", "0"}});
  auto comm = Communicator::init(nullptr, 0, 1, cfg);
  float x = 1, y = 0;
  EXPECT_THROW(comm->all_reduce(&x, &y, 1, DataType::kFloat32, ReduceOp::kSum, CudaStream{}),
               UnsupportedError);
  // Host buffers without a stream still work.
  comm->all_reduce(&x, &y, 1, DataType::kFloat32, ReduceOp::kSum).wait();
  EXPECT_EQ(y, 1.0f);
}

}  // namespace
}  // namespace railcc::test
