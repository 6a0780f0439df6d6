// Tests for the telemetry building blocks: histogram buckets, the Prometheus exposition text,
// the trace file and the configuration variables that turn them on.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "railcc/config.hpp"
#include "railcc/status.hpp"
#include "src/telemetry/clock.h"
#include "src/telemetry/histogram.h"
#include "src/telemetry/metrics.h"
#include "src/telemetry/trace.h"

namespace railcc::telemetry {
namespace {

TEST(TelemetryTest, HistogramBucketsAreUpperBoundsInclusive) {
  LatencyHistogram h;
  h.observe(500);              // 0.5 us -> le 1e-6
  h.observe(1000);             // exactly 1 us -> le 1e-6
  h.observe(1001);             // -> le 2e-6
  h.observe(3'000'000'000);    // 3 s -> le 10
  h.observe(500'000'000'000);  // 500 s -> overflow
  EXPECT_EQ(h.bucket(0), 2u);
  EXPECT_EQ(h.bucket(1), 1u);
  EXPECT_EQ(h.bucket(14), 1u);
  EXPECT_EQ(h.bucket(LatencyHistogram::kBoundsNs.size()), 1u);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_NEAR(h.sum_seconds(), 503.0000025, 1e-6);
}

// The tick clock measures durations on the kernel's scale, and a duration going backwards reads 0.
TEST(TelemetryTest, TickClockDurationsAreNanoseconds) {
  (void)ticks();  // calibrates (1 ms) outside the measured span
  // The tick span encloses the kernel's span, so it can only read longer (by the reads between).
  const uint64_t t0 = ticks();
  const uint64_t ns0 = steady_now_ns();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  const uint64_t kernel_ns = steady_now_ns() - ns0;
  const uint64_t tick_ns = ticks_between_ns(t0, ticks());
  EXPECT_GE(kernel_ns, 30'000'000u);
  // Calibration is good to ~1e-4; 1e-3 leaves room, and a loaded machine only adds to tick_ns.
  EXPECT_GE(tick_ns, kernel_ns - kernel_ns / 1000) << "TSC: " << TickClock::get().uses_tsc();
  EXPECT_LT(tick_ns, kernel_ns + 1'000'000'000u);
  EXPECT_EQ(ticks_between_ns(t0 + 1, t0), 0u);
  EXPECT_LE(coarse_now_ns(), steady_now_ns());
}

// Every line is a comment or `name{labels} value`, and each histogram's buckets are cumulative
// and end with +Inf == _count.
TEST(TelemetryTest, ExpositionIsWellFormed) {
  Metrics& m = Metrics::global();
  m.record_op(wire::OpKind::kAllReduce, "unit_test_algo", 2'000, 64, true);
  m.record_op(wire::OpKind::kAllReduce, "unit_test_algo", 20'000'000, 64, false);
  m.add_peer_wait(3, 1'500'000'000);
  m.channel("unit\"rail")->sent += 1000;
  const std::string text = m.exposition();
  std::istringstream in(text);
  std::string line;
  std::map<std::string, double> values;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    values[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  const std::string base = "rank=\"0\",op=\"all_reduce\",algo=\"unit_test_algo\"";
  EXPECT_EQ(values["railcc_collective_duration_seconds_count{" + base + "}"], 2);
  EXPECT_EQ(values["railcc_collective_duration_seconds_bucket{" + base + ",le=\"2e-06\"}"], 1);
  EXPECT_EQ(values["railcc_collective_duration_seconds_bucket{" + base + ",le=\"0.05\"}"], 2);
  EXPECT_EQ(values["railcc_collective_duration_seconds_bucket{" + base + ",le=\"+Inf\"}"], 2);
  EXPECT_GE(values["railcc_peer_wait_seconds_total{rank=\"0\",peer=\"3\"}"], 1.5);
  EXPECT_GE(values["railcc_collective_errors_total{rank=\"0\",op=\"all_reduce\"}"], 1);
  // Label values are escaped.
  EXPECT_NE(text.find("rail=\"unit\\\"rail\""), std::string::npos);
  EXPECT_NE(text.find("# TYPE railcc_collective_duration_seconds histogram"), std::string::npos);
}

// A communicator's shard (single writer, plain adds) counts in the exposition while it lives and
// after it is gone: counters never go backwards when a communicator is destroyed.
TEST(TelemetryTest, OpShardsAddUpAndOutliveTheirCommunicator) {
  Metrics& m = Metrics::global();
  auto count = [&](const char* algo) {
    const std::string key = std::string("railcc_collective_duration_seconds_count{rank=\"0\",op=") +
                            "\"broadcast\",algo=\"" + algo + "\"} ";
    const std::string text = m.exposition();
    const auto at = text.find(key);
    return at == std::string::npos ? 0.0 : std::stod(text.substr(at + key.size()));
  };
  {
    Metrics::OpShard a(m), b(m);
    for (int i = 0; i < 5; ++i) a.record(wire::OpKind::kBroadcast, "unit_shard", 1'000, 8, true);
    b.record(wire::OpKind::kBroadcast, "unit_shard", 3'000, 8, true);
    b.record(wire::OpKind::kBroadcast, "unit_shard_other", 3'000, 8, false);
    EXPECT_EQ(count("unit_shard"), 6);
    EXPECT_EQ(count("unit_shard_other"), 1);
  }
  EXPECT_EQ(count("unit_shard"), 6);
  m.record_op(wire::OpKind::kBroadcast, "unit_shard", 1'000, 8, true);
  EXPECT_EQ(count("unit_shard"), 7);
}

TEST(TelemetryTest, TraceFileIsJsonWithSpansAndClockOffset) {
  char tmpl[] = "/tmp/railcc-trace-unit-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path;
  {
    TraceRecorder t(tmpl, 3, 4, 0xabc, /*max_events=*/2);
    t.op("all_reduce", "ring", 7, 4096, 1'000'000, 3'500'000, true);
    t.wait(2, 1'100'000, 3'000'000);
    t.op("barrier", "direct", 8, 0, 4'000'000, 4'100'000, true);  // over the cap: dropped
    path = t.write();
  }
  std::ifstream in(path);
  const auto trace = nlohmann::json::parse(in);
  EXPECT_EQ(trace["otherData"]["railcc_rank"], 3);
  EXPECT_EQ(trace["otherData"]["dropped_events"], 1);
  EXPECT_TRUE(trace["otherData"].contains("wall_offset_us"));
  int ops = 0, waits = 0;
  for (const auto& e : trace["traceEvents"]) {
    if (e.value("cat", "") == "op") {
      ++ops;
      EXPECT_EQ(e["pid"], 3);
      EXPECT_DOUBLE_EQ(e["ts"].get<double>(), 1000.0);
      EXPECT_DOUBLE_EQ(e["dur"].get<double>(), 2500.0);
      EXPECT_EQ(e["args"]["algo"], "ring");
      EXPECT_EQ(e["args"]["bytes"], 4096);
    }
    if (e.value("cat", "") == "wait") {
      ++waits;
      EXPECT_EQ(e["args"]["peer"], 2);
    }
  }
  EXPECT_EQ(ops, 1);
  EXPECT_EQ(waits, 1);
  std::remove(path.c_str());
  rmdir(tmpl);
}

TEST(TelemetryTest, ConfigVariables) {
  auto parse = [](std::map<std::string, std::string> env) { return Config::from_map(env); };
  EXPECT_TRUE(parse({}).telemetry);
  EXPECT_FALSE(parse({{"RAILCC_TELEMETRY", "0"}}).telemetry);
  EXPECT_THROW(parse({{"RAILCC_TELEMETRY", "yes"}}), ConfigError);
  EXPECT_EQ(parse({{"RAILCC_TRACE", "/tmp/t"}}).trace_dir, "/tmp/t");
  EXPECT_EQ(parse({{"RAILCC_METRICS", "9400"}}).metrics, "9400");
  EXPECT_EQ(parse({{"RAILCC_INLINE_BYTES", "0"}}).inline_bytes, 0u);
  EXPECT_EQ(parse({{"RAILCC_SHM_SINGLE_COPY_BYTES", "1M"}}).shm_single_copy_bytes, 1u << 20);
  EXPECT_THROW(parse({{"RAILCC_SHM_SINGLE_COPY_BYTES", "lots"}}), ConfigError);
}

}  // namespace
}  // namespace railcc::telemetry
