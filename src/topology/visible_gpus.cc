#include "src/topology/visible_gpus.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <string_view>

#include "railcc/status.hpp"

namespace railcc::topology {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Index of the GPU the entry names, or -1 when it names none (which ends the list for CUDA).
int resolve(const RailPlan& plan, std::string_view entry, const std::string& whole) {
  if (entry.starts_with("MIG-")) {
    throw ConfigError(
        fmt::format("CUDA_VISIBLE_DEVICES='{}': MIG instances are not supported; "
                    "list whole GPUs by ordinal or UUID",
                    whole));
  }
  if (entry.starts_with("GPU-")) {
    const bool any_uuid = std::any_of(plan.gpus.begin(), plan.gpus.end(),
                                      [](const GpuRail& g) { return !g.gpu.uuid.empty(); });
    if (!any_uuid) {
      throw ConfigError(
          fmt::format("CUDA_VISIBLE_DEVICES='{}' names GPUs by UUID, but the "
                      "topology has no GPU UUIDs (they come from hwloc's NVML "
                      "support); use ordinals",
                      whole));
    }
    int found = -1;
    for (std::size_t i = 0; i < plan.gpus.size(); ++i) {
      if (!std::string_view(plan.gpus[i].gpu.uuid).starts_with(entry)) continue;
      if (found >= 0) return -1;  // ambiguous prefix: CUDA treats it as invalid
      found = static_cast<int>(i);
    }
    return found;
  }
  int ordinal = -1;
  auto [ptr, ec] = std::from_chars(entry.data(), entry.data() + entry.size(), ordinal);
  if (ec != std::errc() || ptr != entry.data() + entry.size()) return -1;
  return ordinal >= 0 && ordinal < static_cast<int>(plan.gpus.size()) ? ordinal : -1;
}

}  // namespace

std::vector<int> visible_gpus(const RailPlan& plan,
                              const std::optional<std::string>& cuda_visible_devices) {
  std::vector<int> out;
  if (!cuda_visible_devices) {
    for (std::size_t i = 0; i < plan.gpus.size(); ++i) out.push_back(static_cast<int>(i));
    return out;
  }
  std::string_view rest = *cuda_visible_devices;
  while (!trim(rest).empty()) {
    const auto comma = rest.find(',');
    const int gpu = resolve(plan, trim(rest.substr(0, comma)), *cuda_visible_devices);
    if (gpu < 0 || std::find(out.begin(), out.end(), gpu) != out.end()) break;
    out.push_back(gpu);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace railcc::topology
