// What the always-on telemetry costs per op, in CPU time on the thread that runs the op (Google
// Benchmark): the clock reads, the metrics histogram update and the flight recorder's ring
// writes that CommunicatorImpl::run and enqueue add to every collective. Unlike
// bench/telemetry_overhead.sh (a whole job, on vs off), this is immune to the noise of a shared
// machine; the two together bound the overhead.
#include <benchmark/benchmark.h>

#include "src/telemetry/flight_recorder.h"
#include "src/telemetry/metrics.h"

namespace railcc::telemetry {
namespace {

void BM_ClockRead(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(steady_now_ns());
}
BENCHMARK(BM_ClockRead);

// What an op reads instead (telemetry/clock.h): the tick counter for durations...
void BM_TickRead(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(ticks());
}
BENCHMARK(BM_TickRead);

// ...and the coarse clock for the flight recorder's absolute times.
void BM_CoarseClockRead(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(coarse_now_ns());
}
BENCHMARK(BM_CoarseClockRead);

// Metrics per op as CommunicatorImpl::run does it: two tick reads (start, end) and record_op.
void BM_MetricsPerOp(benchmark::State& state) {
  Metrics& m = Metrics::global();
  for (auto _ : state) {
    const uint64_t start = ticks();
    m.record_op(wire::OpKind::kAllReduce, "direct", ticks_between_ns(start, ticks()), 8, true);
  }
}
BENCHMARK(BM_MetricsPerOp);

// The same through a communicator's shard, as ops record it (one writer: no locked adds).
void BM_MetricsPerOpShard(benchmark::State& state) {
  Metrics::OpShard shard(Metrics::global());
  for (auto _ : state) {
    const uint64_t start = ticks();
    shard.record(wire::OpKind::kAllReduce, "direct", ticks_between_ns(start, ticks()), 8, true);
  }
}
BENCHMARK(BM_MetricsPerOpShard);

// The same with the kernel's clock, as before: what the tick counter saves.
void BM_MetricsPerOpKernelClock(benchmark::State& state) {
  Metrics& m = Metrics::global();
  for (auto _ : state) {
    const uint64_t start = steady_now_ns();
    m.record_op(wire::OpKind::kAllReduce, "direct", steady_now_ns() - start, 8, true);
  }
}
BENCHMARK(BM_MetricsPerOpKernelClock);

// Flight recorder per op: enqueued, started, finished (the times come from the metrics' reads).
void BM_FlightRecorderPerOp(benchmark::State& state) {
  FlightInfo info;
  info.dir = "/tmp";
  FlightRecorder r(256, info);
  uint64_t seq = 0, now = 1;
  for (auto _ : state) {
    const uint64_t id = r.enqueued(wire::OpKind::kAllReduce, ++seq, 2, DataType::kFloat32, -1);
    r.started(id, ++now);
    r.finished(id, true, "direct", ++now);
  }
}
BENCHMARK(BM_FlightRecorderPerOp);

}  // namespace
}  // namespace railcc::telemetry

BENCHMARK_MAIN();
