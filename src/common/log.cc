#include "src/common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>

namespace railcc::log {
namespace {

struct State {
  std::atomic<int> level{static_cast<int>(LogLevel::kWarn)};
  std::atomic<int> rank{-1};
  std::mutex mutex;
  std::string subsystems;  // comma list, guarded by mutex
  bool all_subsystems = false;
  // Any RAILCC_DEBUG subsystem at all: lets the common case (none) skip the mutex, as debug
  // checks run on every op.
  std::atomic<bool> any_subsystem{false};
};

State& state() {
  static State s;
  return s;
}

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "ERROR";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kTrace:
      return "TRACE";
  }
  return "?";
}

}  // namespace

void configure(const Config& config) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.level = static_cast<int>(config.log_level);
  s.subsystems = fmt::format(",{},", config.debug_subsystems);
  s.all_subsystems = s.subsystems.find(",all,") != std::string::npos;
  s.any_subsystem.store(!config.debug_subsystems.empty(), std::memory_order_relaxed);
}

void set_rank(int rank) { state().rank = rank; }

bool enabled(LogLevel level, std::string_view subsystem) {
  State& s = state();
  if (static_cast<int>(level) <= s.level.load(std::memory_order_relaxed)) return true;
  if (level > LogLevel::kDebug || !s.any_subsystem.load(std::memory_order_relaxed)) return false;
  std::lock_guard lock(s.mutex);
  if (s.all_subsystems) return true;
  std::string needle = ",";
  needle.append(subsystem).append(",");
  return s.subsystems.find(needle) != std::string::npos;
}

void write(LogLevel level, std::string_view subsystem, std::string_view message) {
  static const std::string host = [] {
    char buf[256] = {};
    gethostname(buf, sizeof(buf) - 1);
    return std::string(buf);
  }();
  const int rank = state().rank.load();
  std::string line = rank >= 0 ? fmt::format("[railcc {}:{} rank {}] {} {}: {}\n", host, getpid(),
                                             rank, level_name(level), subsystem, message)
                               : fmt::format("[railcc {}:{}] {} {}: {}\n", host, getpid(),
                                             level_name(level), subsystem, message);
  // One write() per line so lines of concurrent threads and processes do not interleave.
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

}  // namespace railcc::log
