// Serves or writes railcc's metrics (RAILCC_METRICS), from one background thread per process:
// a port number serves the Prometheus text format over HTTP at /metrics (port + local rank, so
// ranks sharing a host do not collide); anything else is a file path prefix, rewritten every
// second as <prefix>.rank<R>.prom (atomically, for node_exporter's textfile collector). The
// same thread samples the per-rail throughput gauges.
#pragma once

#include <string>

namespace railcc::telemetry {

// Starts the exporter on first call with a non-empty spec; later calls do nothing. Throws
// ConfigError for a bad spec or a port that cannot be bound.
void start_metrics_exporter(const std::string& spec, int rank, int local_rank);
// Writes the file now (file mode), e.g. when a communicator is destroyed.
void flush_metrics();
// The HTTP port actually served (0 when not serving).
int metrics_port();

}  // namespace railcc::telemetry
