#include "src/telemetry/flight_recorder.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "src/common/log.h"
#include "src/telemetry/metrics.h"

namespace railcc::telemetry {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

// Every recorder of the process, for SIGUSR1. Never destroyed: the dump thread may run at exit.
struct Registry {
  std::mutex mutex;
  std::vector<FlightRecorder*> recorders;
  int pipe[2] = {-1, -1};
  bool installed = false;
};
Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}

// Async-signal-safe: one write(2) to the pipe; errno is preserved for the interrupted code.
void on_sigusr1(int) {
  const int saved = errno;
  const char b = 1;
  (void)!::write(registry().pipe[1], &b, 1);
  errno = saved;
}

void dump_thread() {
  Registry& reg = registry();
  char buf[64];
  while (true) {
    const ssize_t n = ::read(reg.pipe[0], buf, sizeof(buf));  // several signals: one dump
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    std::lock_guard lock(reg.mutex);
    for (FlightRecorder* r : reg.recorders) r->dump("signal");
  }
}

double wall_offset_us() {
  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double, std::micro>(wall).count() - steady_now_ns() / 1000.0;
}

}  // namespace

const char* op_state_name(OpState s) {
  switch (s) {
    case OpState::kEmpty:
      return "empty";
    case OpState::kEnqueued:
      return "enqueued";
    case OpState::kStarted:
      return "started";
    case OpState::kWaiting:
      return "waiting";
    case OpState::kDone:
      return "done";
    case OpState::kFailed:
      return "failed";
  }
  return "?";
}

void install_dump_signal() {
  Registry& reg = registry();
  std::lock_guard lock(reg.mutex);
  if (reg.installed) return;
  reg.installed = true;
  struct sigaction old {};
  if (::sigaction(SIGUSR1, nullptr, &old) == 0 && old.sa_handler != SIG_DFL &&
      old.sa_handler != SIG_IGN) {
    RAILCC_INFO("init",
                "SIGUSR1 already has a handler: the flight recorder dumps only on "
                "timeouts and errors");
    return;
  }
  if (::pipe2(reg.pipe, O_CLOEXEC) != 0) {
    RAILCC_WARN("init", "flight recorder: no SIGUSR1 dumps (pipe: {})", std::strerror(errno));
    return;
  }
  // The handler must never block: with the pipe full (signals faster than dumps, or a forked
  // child without the dump thread) the byte is dropped, and one pending byte is enough.
  ::fcntl(reg.pipe[1], F_SETFL, ::fcntl(reg.pipe[1], F_GETFL) | O_NONBLOCK);
  std::thread(dump_thread).detach();
  struct sigaction sa {};
  sa.sa_handler = on_sigusr1;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGUSR1, &sa, nullptr);
}

FlightRecorder::FlightRecorder(std::size_t capacity, FlightInfo info)
    : capacity_(std::bit_ceil(std::max<std::size_t>(1, capacity))),
      info_(std::move(info)),
      ring_(std::make_unique<Entry[]>(capacity_)) {
  static_assert(offsetof(Entry, wait_peer) == 64, "what every op writes must fit one cache line");
  Registry& reg = registry();
  std::lock_guard lock(reg.mutex);
  reg.recorders.push_back(this);
}

FlightRecorder::~FlightRecorder() {
  Registry& reg = registry();
  std::lock_guard lock(reg.mutex);
  std::erase(reg.recorders, this);
}

uint64_t FlightRecorder::enqueued(wire::OpKind op, uint64_t seq, uint64_t count, DataType dtype,
                                  int peer, uint64_t now_ns) {
  // One caller at a time (see the header): a load and a store, not a locked add.
  const uint64_t id = next_id_.load(kRelaxed);
  next_id_.store(id + 1, kRelaxed);
  Entry& e = ring_[(id - 1) & (capacity_ - 1)];
  e.state.store(static_cast<uint8_t>(OpState::kEmpty), kRelaxed);
  e.id.store(id, kRelaxed);
  e.seq.store(seq, kRelaxed);
  e.count.store(count, kRelaxed);
  e.op.store(static_cast<uint8_t>(op), kRelaxed);
  e.dtype.store(static_cast<uint8_t>(dtype), kRelaxed);
  e.peer.store(peer, kRelaxed);
  e.algo.store(nullptr, kRelaxed);
  e.enqueued_ns.store(now_ns ? now_ns : coarse_now_ns(), kRelaxed);
  e.started_ns.store(0, kRelaxed);
  e.ended_ns.store(0, kRelaxed);
  e.waits.store(0, kRelaxed);
  e.state.store(static_cast<uint8_t>(OpState::kEnqueued), std::memory_order_release);
  return id;
}

void FlightRecorder::started(uint64_t id, uint64_t now_ns) {
  if (Entry* e = slot(id)) {
    e->started_ns.store(now_ns, kRelaxed);
    e->state.store(static_cast<uint8_t>(OpState::kStarted), kRelaxed);
  }
}

void FlightRecorder::finished(uint64_t id, bool ok, const char* algo, uint64_t now_ns) {
  if (Entry* e = slot(id)) {
    if (algo) e->algo.store(algo, kRelaxed);
    e->ended_ns.store(now_ns, kRelaxed);
    e->state.store(static_cast<uint8_t>(ok ? OpState::kDone : OpState::kFailed), kRelaxed);
  }
}

void FlightRecorder::waiting(uint64_t id, int n, const int* peers, const int* rails,
                             const char* const* names, uint64_t since_ns) {
  Entry* e = slot(id);
  if (!e) return;
  for (int i = 0; i < std::min(n, kMaxWaits); ++i) {
    e->wait_peer[i].store(peers[i], kRelaxed);
    e->wait_rail[i].store(rails[i], kRelaxed);
    e->wait_rail_name[i].store(names[i], kRelaxed);
  }
  e->waits.store(static_cast<uint8_t>(std::min(n, 255)), kRelaxed);
  e->wait_since_ns.store(since_ns, kRelaxed);
  e->state.store(static_cast<uint8_t>(OpState::kWaiting), kRelaxed);
}

void FlightRecorder::wait_over(uint64_t id) {
  // The peers stay recorded: if the op fails later, they say what it last waited on.
  if (Entry* e = slot(id)) e->state.store(static_cast<uint8_t>(OpState::kStarted), kRelaxed);
}

void FlightRecorder::set_failure(const std::string& kind, const std::string& message) {
  std::lock_guard lock(failure_mutex_);
  if (!failure_kind_.empty()) return;
  failure_kind_ = kind;
  failure_ = message;
}

std::string FlightRecorder::to_json(const std::string& reason) const {
  using nlohmann::json;
  const uint64_t now = steady_now_ns();
  json j;
  j["railcc_flight_recorder"] = 1;
  j["reason"] = reason;
  {
    std::lock_guard lock(failure_mutex_);
    j["failure_kind"] = failure_kind_;  // "" while the communicator works
    j["failure"] = failure_;
  }
  j["rank"] = info_.rank;
  j["size"] = info_.size;
  j["world_rank"] = info_.world_rank;
  j["comm"] = fmt::format("{:x}", info_.comm_id);
  j["job"] = fmt::format("{:x}", info_.job);
  j["pid"] = static_cast<int>(::getpid());
  j["capacity"] = capacity_;
  j["recorded"] = next_id_.load(kRelaxed) - 1;
  j["now_ns"] = now;  // steady clock, like every timestamp below
  j["wall_offset_us"] = wall_offset_us();
  json links = json::array();
  for (int p = 0; p < static_cast<int>(info_.links.size()); ++p) {
    if (!info_.links[p].empty()) links.push_back({{"peer", p}, {"link", info_.links[p]}});
  }
  j["links"] = std::move(links);
  json ops = json::array();
  const uint64_t last = next_id_.load(std::memory_order_acquire);
  const uint64_t first = last > capacity_ ? last - capacity_ : 1;
  for (uint64_t id = first; id < last; ++id) {
    const Entry& e = ring_[(id - 1) & (capacity_ - 1)];
    if (e.id.load(kRelaxed) != id) continue;
    const auto state = static_cast<OpState>(e.state.load(std::memory_order_acquire));
    if (state == OpState::kEmpty) continue;
    json o;
    o["id"] = id;
    o["seq"] = e.seq.load(kRelaxed);
    o["op"] = wire::op_kind_name(static_cast<wire::OpKind>(e.op.load(kRelaxed)));
    o["count"] = e.count.load(kRelaxed);
    const auto dtype = static_cast<DataType>(e.dtype.load(kRelaxed));
    o["dtype"] = data_type_name(dtype);
    o["bytes"] = e.count.load(kRelaxed) * data_type_size(dtype);
    if (const int peer = e.peer.load(kRelaxed); peer >= 0) o["peer"] = peer;
    const char* algo = e.algo.load(kRelaxed);
    o["algo"] = algo ? algo : "";
    o["state"] = op_state_name(state);
    o["enqueued_ns"] = e.enqueued_ns.load(kRelaxed);
    o["started_ns"] = e.started_ns.load(kRelaxed);
    o["ended_ns"] = e.ended_ns.load(kRelaxed);
    const int waits = e.waits.load(kRelaxed);
    if (waits > 0) {
      json w = json::array();
      for (int i = 0; i < std::min(waits, kMaxWaits); ++i) {
        json one = {{"peer", e.wait_peer[i].load(kRelaxed)}};
        const int rail = e.wait_rail[i].load(kRelaxed);
        const char* name = e.wait_rail_name[i].load(kRelaxed);
        if (rail >= 0) {
          one["rail"] = rail;
          one["rail_name"] = name ? name : "";
        }
        w.push_back(std::move(one));
      }
      o["waiting_on"] = std::move(w);
      o["waiting_peers"] = waits;
      o["wait_since_ns"] = e.wait_since_ns.load(kRelaxed);
    }
    ops.push_back(std::move(o));
  }
  j["ops"] = std::move(ops);
  // Bytes each channel (transport or rail) moved so far in this process: a rail whose count
  // stopped while others grew is the stalled one.
  json channels = json::array();
  for (const auto& c : Metrics::global().channel_totals()) {
    channels.push_back({{"name", c.name}, {"sent", c.sent}, {"received", c.received}});
  }
  j["channels"] = std::move(channels);
  return j.dump(1);
}

std::string FlightRecorder::dump(const std::string& reason) {
  std::lock_guard lock(dump_mutex_);
  ::mkdir(info_.dir.c_str(), 0755);  // one level; an existing directory is fine
  const std::string path =
      fmt::format("{}/railcc-flight-rank{}-comm{:x}.json", info_.dir, info_.rank, info_.comm_id);
  const std::string tmp = fmt::format("{}.tmp{}", path, ::getpid());
  std::string text;
  try {
    text = to_json(reason);
  } catch (const std::exception& e) {
    RAILCC_WARN("coll", "flight recorder: cannot build the dump: {}", e.what());
    return "";
  }
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) {
    RAILCC_WARN("coll", "flight recorder: cannot write {}: {} (set RAILCC_FLIGHT_DIR)", tmp,
                std::strerror(errno));
    return "";
  }
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    RAILCC_WARN("coll", "flight recorder: cannot write {}", path);
    std::remove(tmp.c_str());
    return "";
  }
  RAILCC_WARN("coll",
              "rank {}: flight recorder ({}) dumped the last ops to {}; `railcc-report {}` "
              "names the culprit",
              info_.rank, reason, path, info_.dir);
  return path;
}

}  // namespace railcc::telemetry
