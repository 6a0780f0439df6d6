// Gloo all_reduce (float32 sum) benchmark printing the nccl-tests table; a peer of railcc's
// all_reduce_perf for bench/compare.sh. Flags: see peer_perf_common.h, plus
//   -A ring (default: gloo::allreduce, the call torch.distributed's gloo backend makes, ring
//            algorithm) | bcube (gloo::allreduce, BCube) | hd (AllreduceHalvingDoubling) |
//            ringchunked (AllreduceRingChunked) | oldring (AllreduceRing).
// The legacy algorithms (hd, ringchunked, oldring) work in place; out of place they first copy
// the input to the output (inside the timed call). Their instances are built once per size,
// before timing.
//
// One process per rank, started by the caller with
//   GLOO_RANK=r GLOO_SIZE=n GLOO_STORE_DIR=<empty shared dir> [GLOO_IFACE=lo]
// Rendezvous goes through gloo::rendezvous::FileStore in GLOO_STORE_DIR; the TCP transport is
// bound to the loopback interface (GLOO_IFACE, default "lo"), so nothing leaves the host.
//
//   g++ -O3 -std=c++17 -pthread -o build/peers/gloo_allreduce_perf
//       bench/peers/gloo_allreduce_perf.cc -lgloo
#include <gloo/allreduce.h>
#include <gloo/allreduce_halving_doubling.h>
#include <gloo/allreduce_ring.h>
#include <gloo/allreduce_ring_chunked.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "peer_perf_common.h"

namespace {

int EnvInt(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    std::fprintf(stderr, "gloo_allreduce_perf: set %s (and GLOO_RANK, GLOO_SIZE, GLOO_STORE_DIR)\n",
                 name);
    std::exit(2);
  }
  return std::atoi(v);
}

template <typename T>
void ReduceFn(void* c, const void* a, const void* b, size_t n, int op) {
  T* out = static_cast<T*>(c);
  const T* x = static_cast<const T*>(a);
  const T* y = static_cast<const T*>(b);
  for (size_t i = 0; i < n; ++i)
    out[i] = op == 0 ? x[i] + y[i] : op == 1 ? std::min(x[i], y[i]) : std::max(x[i], y[i]);
}

struct GlooBackend {
  std::shared_ptr<gloo::Context> ctx;
  std::string algo;
  // Legacy algorithm instances, one per (buffer, count).
  std::map<std::pair<const float*, std::size_t>, std::unique_ptr<gloo::Algorithm>> legacy;

  int rank() const { return ctx->rank; }
  int size() const { return ctx->size; }

  void AllReduce(const float* send, float* recv, std::size_t count) {
    if (algo.empty() || algo == "ring" || algo == "bcube") {
      gloo::AllreduceOptions opts(ctx);
      if (send != recv) opts.setInput(const_cast<float*>(send), count);
      opts.setOutput(recv, count);
      opts.setReduceFunction(
          static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
      opts.setAlgorithm(algo == "bcube" ? gloo::AllreduceOptions::Algorithm::BCUBE
                                        : gloo::AllreduceOptions::Algorithm::RING);
      gloo::allreduce(opts);
      return;
    }
    if (send != recv) std::memcpy(recv, send, count * sizeof(float));
    auto& inst = legacy[{recv, count}];
    if (!inst) {
      std::vector<float*> ptrs{recv};
      const int n = static_cast<int>(count);
      if (algo == "hd")
        inst = std::make_unique<gloo::AllreduceHalvingDoubling<float>>(ctx, ptrs, n);
      else if (algo == "ringchunked")
        inst = std::make_unique<gloo::AllreduceRingChunked<float>>(ctx, ptrs, n);
      else if (algo == "oldring")
        inst = std::make_unique<gloo::AllreduceRing<float>>(ctx, ptrs, n);
      else
        throw std::invalid_argument("unknown -A algorithm '" + algo + "'");
    }
    inst->run();
  }

  void Barrier() {
    gloo::BarrierOptions opts(ctx);
    gloo::barrier(opts);
  }

  template <typename T>
  T Reduce(T v, int op) {  // op: 0 sum, 1 min, 2 max
    T out = v;
    gloo::AllreduceOptions opts(ctx);
    opts.setOutput(&out, 1);
    opts.setReduceFunction(
        [op](void* c, const void* a, const void* b, size_t n) { ReduceFn<T>(c, a, b, n, op); });
    opts.setTag(7);
    gloo::allreduce(opts);
    return out;
  }

  double CombineTime(double s, int average) {
    switch (average) {
      case 0: {
        double out = s;
        gloo::BroadcastOptions opts(ctx);
        opts.setOutput(&out, 1);
        opts.setRoot(0);
        opts.setTag(8);
        gloo::broadcast(opts);
        return out;
      }
      case 1:
        return Reduce<double>(s, 0) / size();
      case 2:
        return Reduce<double>(s, 1);
      default:
        return Reduce<double>(s, 2);
    }
  }

  long long SumOverRanks(long long v) { return Reduce<long long>(v, 0); }
};

}  // namespace

int main(int argc, char** argv) {
  const peer::Args args = peer::ParseArgs(argc, argv);
  const int rank = EnvInt("GLOO_RANK");
  const int size = EnvInt("GLOO_SIZE");
  const char* dir = std::getenv("GLOO_STORE_DIR");
  if (!dir || !*dir) {
    std::fprintf(
        stderr,
        "gloo_allreduce_perf: set GLOO_STORE_DIR to an empty directory shared by all ranks\n");
    return 2;
  }
  const char* iface = std::getenv("GLOO_IFACE");
  try {
    gloo::transport::tcp::attr attr;
    attr.iface = iface && *iface ? iface : "lo";
    attr.ai_family = AF_INET;
    auto dev = gloo::transport::tcp::CreateDevice(attr);
    gloo::rendezvous::FileStore file_store(dir);
    gloo::rendezvous::PrefixStore store("gloo_allreduce_perf", file_store);
    auto ctx = std::make_shared<gloo::rendezvous::Context>(rank, size);
    ctx->setTimeout(std::chrono::seconds(600));
    ctx->connectFullMesh(store, dev);

    GlooBackend be;
    be.ctx = ctx;
    be.algo = args.algo;
    const std::string title = "Gloo gloo_allreduce_perf (tcp on " + attr.iface + ", " +
                              (args.algo.empty() ? std::string("ring") : args.algo) + ")";
    return peer::RunBenchmark(title.c_str(), args, be);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gloo_allreduce_perf rank %d: %s\n", rank, e.what());
    return 1;
  }
}
