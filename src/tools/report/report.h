// railcc-report's commands, one file each: merge (traces), flight (the culprit of a hang, from
// flight recorder dumps) and plot (a picture of rail throughput and op latency).
#pragma once

#include <string>

namespace railcc::report {

// Every rank's trace in `dir` as one timeline in `out` (default DIR/railcc-trace-merged.json).
int merge(const std::string& dir, std::string out);
// Reads every railcc-flight-rank*.json in `dir`, prints the culprit and a per-rank summary.
int flight(const std::string& dir);
// Draws per-rail throughput over time and the op latency histogram from the traces in `dir`.
int plot(const std::string& dir, const std::string& png, const std::string& script);

}  // namespace railcc::report
