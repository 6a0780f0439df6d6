// Collectives on real GPU buffers: 1, 2 and 4 ranks on one GPU (several ranks per GPU: CUDA IPC
// within the device), through CUDA IPC and through host staging, plus stream ordering. The same
// checks as fake_cuda_test.cc, on the CUDA runtime. Label cuda; skipped without a GPU.
#include <gtest/gtest.h>

#include "railcc/railcc.hpp"
#include "src/cuda/device_api.h"
#include "tests/cuda/device_suite.h"
#include "tests/cuda/gpu_probe.h"
#include "tests/mp/harness.h"

namespace railcc::test {
namespace {

class CudaRanks : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    std::string why;
    gpus_ = probe_gpus(&why);
    if (gpus_ == 0) GTEST_SKIP() << "no CUDA device: " << why;
  }
  int gpus_ = 0;
};

JobOptions job(std::map<std::string, std::string> env) {
  JobOptions o;
  o.env = std::move(env);
  o.env.emplace("RAILCC_TIMEOUT", "120");
  o.limit = std::chrono::seconds(280);
  return o;
}

void on_gpu(int world, int gpus, const JobOptions& options,
            const std::function<void(Communicator&, cuda::DeviceApi&, cuda::StreamHandle)>& fn) {
  const auto out = run_job(
      world,
      [&](int rank) {
        cuda::DeviceApi* api = cuda::device_api();
        CHECK(api != nullptr, "no device layer: {}", cuda::no_device_reason());
        api->set_device(rank % gpus);  // ranks beyond the GPU count share GPUs
        auto comm = Communicator::init();
        cuda::StreamHandle s = api->create_stream();
        fn(*comm, *api, s);
        api->synchronize(s);
        comm.reset();
        api->destroy_stream(s);
      },
      options);
  for (const auto& o : out) ASSERT_TRUE(o.ok()) << summary(out);
}

TEST_P(CudaRanks, OneGpuThroughIpc) {
  // Every rank on GPU 0, chunks small enough to take several per op.
  on_gpu(GetParam(), 1, job({{"RAILCC_CUDA_IPC_CHUNK_BYTES", "65536"}}),
         [](Communicator& c, cuda::DeviceApi& a, cuda::StreamHandle s) {
           exercise_device_collectives(c, a, s, /*full=*/true);
           check_stream_ordering(c, a, s);
           check_host_buffers_on_stream(c, a, s);
         });
}

TEST_P(CudaRanks, OneGpuThroughStaging) {
  on_gpu(GetParam(), 1, job({{"RAILCC_CUDA_IPC", "0"}}),
         [](Communicator& c, cuda::DeviceApi& a, cuda::StreamHandle s) {
           exercise_device_collectives(c, a, s, /*full=*/false);
           check_stream_ordering(c, a, s);
         });
}

TEST_P(CudaRanks, OneGpuWaitKernelInsteadOfMemops) {
  on_gpu(GetParam(), 1, job({{"RAILCC_CUDA_WAIT", "kernel"}}),
         [](Communicator& c, cuda::DeviceApi& a, cuda::StreamHandle s) {
           check_stream_ordering(c, a, s);
         });
}

TEST_P(CudaRanks, EveryGpu) {
  on_gpu(GetParam(), gpus_, job({}), [](Communicator& c, cuda::DeviceApi& a, cuda::StreamHandle s) {
    exercise_device_collectives(c, a, s, /*full=*/false);
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, CudaRanks, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "ranks"; });

}  // namespace
}  // namespace railcc::test
