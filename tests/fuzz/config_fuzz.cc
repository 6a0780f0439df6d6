// libFuzzer target for the environment parser: Config::from_map must turn any environment into a
// Config or a ConfigError naming the variable — nothing else may escape, nothing may crash.
// Input: lines NAME=VALUE (the dictionary config.dict holds every variable railcc reads), so a
// value may hold any byte but a newline.
// Build: see tests/fuzz.cmake.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "railcc/config.hpp"
#include "railcc/status.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::map<std::string, std::string> env;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    const auto eq = line.find('=');
    if (eq != std::string_view::npos) {
      env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    }
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }
  try {
    const railcc::Config c = railcc::Config::from_map(env);
    (void)c.to_string();  // what RAILCC_DEBUG=config prints
    (void)c.debug_enabled("net");
  } catch (const railcc::ConfigError&) {
    // Rejected, naming the variable: the expected outcome for most inputs.
  }
  return 0;
}
