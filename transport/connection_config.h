// The settings every connection takes from the config (RAILCC_CHECKSUM,
// RAILCC_MAX_UNEXPECTED_BYTES, the rail settings), applied in one place for every transport's mesh
// (shm/tcp, ucx, verbs).
#pragma once

#include "railcc/config.hpp"
#include "transport/multirail/multirail_connection.h"
#include "transport/stream_connection.h"

namespace railcc::transport {

inline void apply_config(StreamConnection& conn, const Config& config) {
  if (config.checksum) conn.enable_checksums();
  conn.set_unexpected_limit(config.max_unexpected_bytes);
}

inline MultiRailConnection::Options multirail_options(const Config& config) {
  MultiRailConnection::Options options;
  options.chunk_bytes = config.rail_chunk_bytes;
  options.rail_timeout = config.rail_timeout;
  options.max_unexpected_bytes = config.max_unexpected_bytes;
  options.checksums = config.checksum;
  options.redial_timeout = config.timeout;
  return options;
}

}  // namespace railcc::transport
