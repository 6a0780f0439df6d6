// Parsing of one rendezvous-store request from the bytes a client has sent so far, and the
// arithmetic the server does on request fields. Kept apart from the socket loop in
// tcp_store_server.cc so that it can be fuzzed without sockets (tests/fuzz/store_fuzz.cc).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "src/bootstrap/store_protocol.h"

namespace railcc::store_protocol {

struct Request {
  Command command = Command::kSet;
  std::string key;
  std::vector<uint8_t> value;
  int64_t arg = 0;  // kGet: timeout in ms; kAdd: delta
};

struct ParseResult {
  enum class Status { kNeedMore, kBad, kOk };
  Status status = Status::kNeedMore;
  std::string error;         // kBad: why the client must be dropped
  Request request;           // kOk
  std::size_t consumed = 0;  // kOk: bytes of the buffer the request took
};

// Parses the request at the start of data[0, size). Never reads past `size` and checks every
// length against the protocol's limits before allocating.
ParseResult parse_request(const uint8_t* data, std::size_t size);

// kAdd: the counter's new value, from its stored bytes (null when the key is missing; anything
// that is not a decimal number counts as 0) plus `delta`.
int64_t add_to_counter(const std::vector<uint8_t>* stored, int64_t delta);

// kGet: how long the server parks the request, from its `arg` (milliseconds).
std::chrono::milliseconds get_wait(int64_t arg);

}  // namespace railcc::store_protocol
