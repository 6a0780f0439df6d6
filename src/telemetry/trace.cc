#include "src/telemetry/trace.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
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

void TraceRecorder::add(const Event& e) {
  std::lock_guard lock(mutex_);
  if (events_.size() >= max_events_) {
    ++dropped_;
    return;
  }
  events_.push_back(e);
}

void TraceRecorder::op(const char* name, const char* algo, uint64_t seq, std::size_t bytes,
                       uint64_t start_ns, uint64_t end_ns, bool ok) {
  add({Kind::kOp, name, algo ? algo : "none", seq, bytes, start_ns, end_ns, -1, -1, ok});
}

void TraceRecorder::wait(int peer, uint64_t start_ns, uint64_t end_ns) {
  add({Kind::kWait, "wait", nullptr, 0, 0, start_ns, end_ns, peer, -1, true});
}

void TraceRecorder::step(bool send, int peer, std::size_t bytes, uint64_t start_ns,
                         uint64_t end_ns) {
  add({send ? Kind::kSend : Kind::kRecv, send ? "send" : "recv", nullptr, 0, bytes, start_ns,
       end_ns, peer, -1, true});
}

void TraceRecorder::rail(const char* rail_name, int rail, int peer, std::size_t bytes,
                         uint64_t start_ns, uint64_t end_ns) {
  add({Kind::kRail, rail_name, nullptr, 0, bytes, start_ns, end_ns, peer, rail, true});
}

void TraceRecorder::kernel(const char* name, std::size_t bytes, uint64_t start_ns,
                           uint64_t end_ns) {
  add({Kind::kKernel, name, nullptr, 0, bytes, start_ns, end_ns, -1, -1, true});
}

namespace {
// Rows (Chrome "threads") of a rank's process.
constexpr int kOpsTid = 1, kWaitsTid = 2, kKernelsTid = 3;
int peer_tid(int peer) { return 100 + peer; }
int rail_tid(int rail) { return 1'000'000 + rail; }
}  // namespace

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
  // pid = rank, so a merged trace shows one process row per rank.
  fmt::print(f,
             "{{\"displayTimeUnit\":\"ns\",\"otherData\":{{\"railcc_rank\":{},\"railcc_size\":{},"
             "\"railcc_comm\":\"{:x}\",\"wall_offset_us\":{:.3f},\"dropped_events\":{}}},"
             "\"traceEvents\":[\n",
             rank_, size_, comm_id_, wall_offset_us(), dropped_);
  auto thread_name = [&](int tid, const std::string& name, bool first = false) {
    fmt::print(f,
               "{}{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":{},\"tid\":{},"
               "\"args\":{{\"name\":\"{}\"}}}},\n{{\"ph\":\"M\",\"name\":\"thread_sort_index\","
               "\"pid\":{},\"tid\":{},\"args\":{{\"sort_index\":{}}}}}",
               first ? "" : ",\n", rank_, tid, name, rank_, tid, tid);
  };
  fmt::print(f,
             "{{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":{0},\"tid\":1,"
             "\"args\":{{\"name\":\"rank {0}\"}}}},\n",
             rank_);
  thread_name(kOpsTid, "collectives", true);
  thread_name(kWaitsTid, "waiting on peers");
  thread_name(kKernelsTid, "reduce kernels");
  std::vector<int> peers, rails;
  for (const Event& e : events_) {
    if ((e.kind == Kind::kSend || e.kind == Kind::kRecv) &&
        std::find(peers.begin(), peers.end(), e.peer) == peers.end()) {
      peers.push_back(e.peer);
      thread_name(peer_tid(e.peer), fmt::format("steps with rank {}", e.peer));
    }
    if (e.kind == Kind::kRail && std::find(rails.begin(), rails.end(), e.rail) == rails.end()) {
      rails.push_back(e.rail);
      thread_name(rail_tid(e.rail), fmt::format("rail {}", e.name));
    }
  }
  for (const Event& e : events_) {
    const double ts = e.start_ns / 1000.0, dur = (e.end_ns - e.start_ns) / 1000.0;
    switch (e.kind) {
      case Kind::kOp:
        fmt::print(f,
                   ",\n{{\"ph\":\"X\",\"cat\":\"op\",\"name\":\"{}\",\"pid\":{},\"tid\":{},"
                   "\"ts\":{:.3f},\"dur\":{:.3f},\"args\":{{\"seq\":{},\"bytes\":{},"
                   "\"algo\":\"{}\",\"ok\":{}}}}}",
                   e.name, rank_, kOpsTid, ts, dur, e.seq, e.bytes, e.algo, e.ok);
        break;
      case Kind::kWait:
        fmt::print(f,
                   ",\n{{\"ph\":\"X\",\"cat\":\"wait\",\"name\":\"wait rank {}\",\"pid\":{},"
                   "\"tid\":{},\"ts\":{:.3f},\"dur\":{:.3f},\"args\":{{\"peer\":{}}}}}",
                   e.peer, rank_, kWaitsTid, ts, dur, e.peer);
        break;
      case Kind::kSend:
      case Kind::kRecv:
        fmt::print(f,
                   ",\n{{\"ph\":\"X\",\"cat\":\"step\",\"name\":\"{} {} rank {}\",\"pid\":{},"
                   "\"tid\":{},\"ts\":{:.3f},\"dur\":{:.3f},\"args\":{{\"peer\":{},"
                   "\"bytes\":{},\"direction\":\"{}\"}}}}",
                   e.name, e.kind == Kind::kSend ? "to" : "from", e.peer, rank_, peer_tid(e.peer),
                   ts, dur, e.peer, e.bytes, e.name);
        break;
      case Kind::kRail:
        fmt::print(f,
                   ",\n{{\"ph\":\"X\",\"cat\":\"rail\",\"name\":\"chunk to rank {}\","
                   "\"pid\":{},\"tid\":{},\"ts\":{:.3f},\"dur\":{:.3f},\"args\":{{\"rail\":\"{}\","
                   "\"rail_index\":{},\"peer\":{},\"bytes\":{}}}}}",
                   e.peer, rank_, rail_tid(e.rail), ts, dur, e.name, e.rail, e.peer, e.bytes);
        break;
      case Kind::kKernel:
        fmt::print(f,
                   ",\n{{\"ph\":\"X\",\"cat\":\"kernel\",\"name\":\"{}\",\"pid\":{},"
                   "\"tid\":{},\"ts\":{:.3f},\"dur\":{:.3f},\"args\":{{\"bytes\":{}}}}}",
                   e.name, rank_, kKernelsTid, ts, dur, e.bytes);
        break;
    }
  }
  fmt::print(f, "\n]}}\n");
  std::fclose(f);
  return path;
}

}  // namespace railcc::telemetry
