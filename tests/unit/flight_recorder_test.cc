// The flight recorder's ring and dump (src/telemetry/flight_recorder.h).
#include "src/telemetry/flight_recorder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "src/telemetry/metrics.h"

namespace railcc::telemetry {
namespace {

using nlohmann::json;
using wire::OpKind;

FlightInfo Info(const std::string& dir = "") {
  FlightInfo info;
  info.rank = 1;
  info.size = 3;
  info.world_rank = 1;
  info.comm_id = 0xabc;
  info.job = 0x1234;
  info.dir = dir;
  info.links = {"shm to rank 0", "", "shm to rank 2"};
  return info;
}

TEST(FlightRecorderTest, KeepsTheLastOpsInOrder) {
  FlightRecorder r(3, Info());  // rounded up to 4 (a mask instead of a division per call)
  for (uint64_t seq = 1; seq <= 6; ++seq) {
    const uint64_t id = r.enqueued(OpKind::kAllReduce, seq, 10 * seq, DataType::kFloat32, -1);
    EXPECT_EQ(id, seq);
    r.started(id, steady_now_ns());
    r.finished(id, true, "ring", steady_now_ns());
  }
  const json j = json::parse(r.to_json("request"));
  EXPECT_EQ(j["reason"], "request");
  EXPECT_EQ(j["recorded"], 6);
  EXPECT_EQ(j["capacity"], 4);
  EXPECT_EQ(j["rank"], 1);
  EXPECT_EQ(j["comm"], "abc");
  EXPECT_EQ(j["job"], "1234");
  ASSERT_EQ(j["ops"].size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const json& o = j["ops"][i];
    EXPECT_EQ(o["seq"], 3 + i);
    EXPECT_EQ(o["op"], "all_reduce");
    EXPECT_EQ(o["state"], "done");
    EXPECT_EQ(o["algo"], "ring");
    EXPECT_EQ(o["bytes"], 4 * 10 * (3 + i));
    EXPECT_GT(o["enqueued_ns"].get<uint64_t>(), 0u);
    EXPECT_LE(o["started_ns"].get<uint64_t>(), o["ended_ns"].get<uint64_t>());
  }
  ASSERT_EQ(j["links"].size(), 2u);
  EXPECT_EQ(j["links"][1]["peer"], 2);
}

TEST(FlightRecorderTest, RecordsWhatAWaitIsOnAndKeepsItWhenTheOpFails) {
  FlightRecorder r(8, Info());
  const uint64_t done = r.enqueued(OpKind::kBarrier, 1, 0, DataType::kUint8, -1);
  r.started(done, 1);
  r.finished(done, true, "direct", 2);
  const uint64_t id = r.enqueued(OpKind::kAllReduce, 2, 4, DataType::kInt32, -1);
  const uint64_t queued = r.enqueued(OpKind::kBroadcast, 3, 4, DataType::kInt32, -1);
  const uint64_t p2p = r.enqueued(OpKind::kSendRecv, 0, 8, DataType::kUint8, 2);
  r.started(id, 3);
  const int peers[] = {0, 2, 5, 6};
  const int rails[] = {-1, 1, -1, -1};
  const char* names[] = {nullptr, "rail1", nullptr, nullptr};
  r.waiting(id, 6, peers, rails, names, 42);
  json o = json::parse(r.to_json("signal"))["ops"][1];
  EXPECT_EQ(o["state"], "waiting");
  EXPECT_EQ(o["waiting_peers"], 6);  // four named, two more counted
  ASSERT_EQ(o["waiting_on"].size(), 4u);
  EXPECT_EQ(o["waiting_on"][0]["peer"], 0);
  EXPECT_FALSE(o["waiting_on"][0].contains("rail"));
  EXPECT_EQ(o["waiting_on"][1]["peer"], 2);
  EXPECT_EQ(o["waiting_on"][1]["rail"], 1);
  EXPECT_EQ(o["waiting_on"][1]["rail_name"], "rail1");
  EXPECT_EQ(o["wait_since_ns"], 42);
  r.wait_over(id);
  EXPECT_EQ(json::parse(r.to_json("signal"))["ops"][1]["state"], "started");
  r.finished(id, false, nullptr, 50);
  EXPECT_EQ(json::parse(r.to_json("signal"))["failure_kind"], "");
  r.set_failure("timeout", "first");
  r.set_failure("error", "second");  // the first failure is the one kept
  const json j = json::parse(r.to_json("signal"));
  EXPECT_EQ(j["failure_kind"], "timeout");
  EXPECT_EQ(j["failure"], "first");
  EXPECT_EQ(j["ops"][1]["state"], "failed");
  EXPECT_EQ(j["ops"][1]["started_ns"], 3);
  EXPECT_EQ(j["ops"][1]["ended_ns"], 50);
  EXPECT_EQ(j["ops"][0]["algo"], "direct");
  EXPECT_EQ(j["ops"][1]["waiting_on"][1]["rail_name"], "rail1");
  EXPECT_EQ(j["ops"][2]["state"], "enqueued");
  EXPECT_EQ(j["ops"][2]["seq"], 3);
  EXPECT_EQ(j["ops"][3]["op"], "send/recv");
  EXPECT_EQ(j["ops"][3]["peer"], 2);
  (void)queued;
  (void)p2p;
}

TEST(FlightRecorderTest, AnOverwrittenEntryIgnoresItsOldOp) {
  FlightRecorder r(2, Info());
  const uint64_t old = r.enqueued(OpKind::kAllReduce, 1, 1, DataType::kFloat32, -1);
  r.enqueued(OpKind::kAllReduce, 2, 1, DataType::kFloat32, -1);
  const uint64_t now = r.enqueued(OpKind::kAllReduce, 3, 1, DataType::kFloat32, -1);  // old's slot
  r.finished(old, false, nullptr, 9);  // a late update of op 1 must not touch op 3
  const json ops = json::parse(r.to_json("request"))["ops"];
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[1]["id"], now);
  EXPECT_EQ(ops[1]["state"], "enqueued");
}

TEST(FlightRecorderTest, DumpWritesOneFilePerRankAndComm) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("railcc-flight-unit-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  FlightRecorder r(4, Info(dir.string()));
  r.started(r.enqueued(OpKind::kAllGather, 1, 2, DataType::kFloat64, -1), 1);
  const std::string path = r.dump("signal");
  EXPECT_EQ(path, (dir / "railcc-flight-rank1-commabc.json").string());
  std::ifstream in(path);
  const json j = json::parse(in);
  EXPECT_EQ(j["reason"], "signal");
  EXPECT_EQ(j["ops"][0]["state"], "started");
  EXPECT_EQ(j["ops"][0]["op"], "all_gather");
  EXPECT_EQ(j["ops"][0]["dtype"], data_type_name(DataType::kFloat64));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);  // no temp left
  std::filesystem::remove_all(dir);
}

TEST(FlightRecorderTest, UnwritableDirectoryGivesNoPath) {
  FlightRecorder r(4, Info("/proc/railcc-no-such-dir"));
  EXPECT_EQ(r.dump("signal"), "");
}

}  // namespace
}  // namespace railcc::telemetry
