// Minimal leveled logger: one line per message on stderr, prefixed with host, pid and rank so the
// lines of many ranks can be told apart. Levels and subsystems come from Config.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "railcc/config.hpp"

namespace railcc::log {

void configure(const Config& config);
void set_rank(int rank);
bool enabled(LogLevel level, std::string_view subsystem);
void write(LogLevel level, std::string_view subsystem, std::string_view message);

}  // namespace railcc::log

#define RAILCC_LOG(level, subsystem, ...)                                                   \
  do {                                                                                      \
    if (::railcc::log::enabled(::railcc::LogLevel::level, subsystem))                       \
      ::railcc::log::write(::railcc::LogLevel::level, subsystem, fmt::format(__VA_ARGS__)); \
  } while (0)
#define RAILCC_WARN(subsystem, ...) RAILCC_LOG(kWarn, subsystem, __VA_ARGS__)
#define RAILCC_INFO(subsystem, ...) RAILCC_LOG(kInfo, subsystem, __VA_ARGS__)
#define RAILCC_DEBUG(subsystem, ...) RAILCC_LOG(kDebug, subsystem, __VA_ARGS__)
