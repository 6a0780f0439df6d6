// Re-creates a rail's stream after it broke for good. A tcp rail whose link comes back still has
// its socket, but an RDMA queue pair that went to the error state (retries exhausted while its
// port was down, a QP fatal event) never carries traffic again: both ends must create a new one
// and connect it to the other's. MultiRailConnection swaps the connection data over a rail still
// in service (kRedial frames, multirail_redial.cc); this only makes and connects the new end.
#pragma once

#include <memory>
#include <string>

#include "transport/stream.h"

namespace railcc::transport {

class RailRedial {
 public:
  virtual ~RailRedial() = default;
  // Opens a new stream end, not yet connected (replacing one opened before), and returns what
  // the peer needs to connect to it (text, at most wire::kMaxErrorPayload bytes).
  virtual std::string open() = 0;
  // Connects the end open() made to the peer's `data` and hands it over; it can receive on
  // return. Throws (SystemError, ProtocolError) naming the device and peer when it cannot.
  virtual std::unique_ptr<Stream> connect(const std::string& data) = 0;
};

}  // namespace railcc::transport
