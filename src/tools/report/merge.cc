// railcc-report merge: every rank's RAILCC_TRACE file as one timeline, aligned on the wall clock.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/tools/report/report.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace railcc::report {

int merge(const std::string& dir, std::string out) {
  if (out.empty()) out = (fs::path(dir) / "railcc-trace-merged.json").string();
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("railcc-trace-rank", 0) == 0 && e.path().extension() == ".json") {
      files.push_back(e.path());
    }
  }
  if (ec) {
    std::cerr << fmt::format("railcc-report: cannot read {}: {}\n", dir, ec.message());
    return 2;
  }
  if (files.empty()) {
    std::cerr << fmt::format(
        "railcc-report: no railcc-trace-rank*.json in {} (run with RAILCC_TRACE={})\n", dir, dir);
    return 2;
  }
  std::sort(files.begin(), files.end());
  json events = json::array();
  double earliest = std::numeric_limits<double>::max();
  std::vector<int> ranks;
  for (const auto& path : files) {
    json trace;
    try {
      std::ifstream in(path);
      trace = json::parse(in);
    } catch (const std::exception& e) {
      std::cerr << fmt::format("railcc-report: {} is not a railcc trace: {}\n", path.string(),
                               e.what());
      return 2;
    }
    const json& other = trace.value("otherData", json::object());
    // Steady-clock timestamps plus this rank's offset give wall-clock time, shared by all ranks.
    const double offset = other.value("wall_offset_us", 0.0);
    ranks.push_back(other.value("railcc_rank", -1));
    for (json& ev : trace.value("traceEvents", json::array())) {
      if (ev.contains("ts")) {
        ev["ts"] = ev["ts"].get<double>() + offset;
        earliest = std::min(earliest, ev["ts"].get<double>());
      }
      events.push_back(std::move(ev));
    }
  }
  for (json& ev : events) {
    if (ev.contains("ts")) ev["ts"] = ev["ts"].get<double>() - earliest;
  }
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  json merged = {{"displayTimeUnit", "ns"},
                 {"otherData",
                  {{"railcc_ranks", ranks},
                   {"files", files.size()},
                   {"clock", "wall clock (each rank's steady clock + its recorded offset)"},
                   {"start_wall_us", earliest}}},
                 {"traceEvents", std::move(events)}};
  std::ofstream(out) << merged.dump() << "\n";
  std::cout << fmt::format("merged {} trace file(s) of {} rank(s) into {}\n", files.size(),
                           ranks.size(), out);
  return 0;
}

}  // namespace railcc::report
