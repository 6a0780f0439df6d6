#include "src/telemetry/trace.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>

#include "src/common/log.h"
#include "src/telemetry/metrics.h"

namespace railcc::telemetry {
namespace {

// Wall clock minus steady clock, in microseconds: added to a steady timestamp it gives the
// wall-clock time, which is what ranks (and hosts, through NTP) share.
double wall_offset_us() {
  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  const uint64_t steady = steady_now_ns();
  return std::chrono::duration<double, std::micro>(wall).count() - steady / 1000.0;
}

}  // namespace

TraceRecorder::TraceRecorder(std::string dir, int rank, int size, uint64_t comm_id,
                             std::size_t max_events)
    : dir_(std::move(dir)), rank_(rank), size_(size), comm_id_(comm_id), max_events_(max_events) {
  events_.reserve(std::min<std::size_t>(max_events_, 4096));
}

TraceRecorder::~TraceRecorder() {
  if (!written_) write();
}

void TraceRecorder::op(const char* name, const char* algo, uint64_t seq, std::size_t bytes,
                       uint64_t start_ns, uint64_t end_ns, bool ok) {
  std::lock_guard lock(mutex_);
  if (events_.size() >= max_events_) {
    ++dropped_;
    return;
  }
  events_.push_back({name, algo ? algo : "none", seq, bytes, start_ns, end_ns, -1, ok});
}

void TraceRecorder::wait(int peer, uint64_t start_ns, uint64_t end_ns) {
  std::lock_guard lock(mutex_);
  if (events_.size() >= max_events_) {
    ++dropped_;
    return;
  }
  events_.push_back({"wait", nullptr, 0, 0, start_ns, end_ns, peer, true});
}

std::string TraceRecorder::write() {
  std::lock_guard lock(mutex_);
  written_ = true;
  ::mkdir(dir_.c_str(), 0755);  // one level; an existing directory is fine
  const std::string path =
      fmt::format("{}/railcc-trace-rank{}-comm{:x}.json", dir_, rank_, comm_id_);
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    RAILCC_WARN("config", "RAILCC_TRACE: cannot write {}", path);
    return path;
  }
  // pid = rank, so a merged trace shows one process row per rank; tid 1 = ops, 2 = waits.
  fmt::print(f,
             "{{\"displayTimeUnit\":\"ns\",\"otherData\":{{\"railcc_rank\":{},\"railcc_size\":{},"
             "\"railcc_comm\":\"{:x}\",\"wall_offset_us\":{:.3f},\"dropped_events\":{}}},"
             "\"traceEvents\":[\n",
             rank_, size_, comm_id_, wall_offset_us(), dropped_);
  fmt::print(f,
             "{{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":{0},\"tid\":1,"
             "\"args\":{{\"name\":\"rank {0}\"}}}},\n"
             "{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":{0},\"tid\":1,"
             "\"args\":{{\"name\":\"collectives\"}}}},\n"
             "{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":{0},\"tid\":2,"
             "\"args\":{{\"name\":\"waiting on peers\"}}}}",
             rank_);
  for (const Event& e : events_) {
    const double ts = e.start_ns / 1000.0, dur = (e.end_ns - e.start_ns) / 1000.0;
    if (e.peer < 0) {
      fmt::print(f,
                 ",\n{{\"ph\":\"X\",\"cat\":\"op\",\"name\":\"{}\",\"pid\":{},\"tid\":1,"
                 "\"ts\":{:.3f},\"dur\":{:.3f},\"args\":{{\"seq\":{},\"bytes\":{},"
                 "\"algo\":\"{}\",\"ok\":{}}}}}",
                 e.name, rank_, ts, dur, e.seq, e.bytes, e.algo, e.ok);
    } else {
      fmt::print(f,
                 ",\n{{\"ph\":\"X\",\"cat\":\"wait\",\"name\":\"wait rank {}\",\"pid\":{},"
                 "\"tid\":2,\"ts\":{:.3f},\"dur\":{:.3f},\"args\":{{\"peer\":{}}}}}",
                 e.peer, rank_, ts, dur, e.peer);
    }
  }
  fmt::print(f, "\n]}}\n");
  std::fclose(f);
  return path;
}

}  // namespace railcc::telemetry
