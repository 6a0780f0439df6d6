// Re-creating a broken RDMA rail (transport/multirail/rail_redial.h): a queue pair in the error
// state never carries traffic again, so the rail gets a new VerbsStream (queue pair and rings) on
// the same port, connected to the peer's new one. The connection data is QpInfo's text.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "transport/multirail/rail_redial.h"
#include "transport/verbs/verbs_stream.h"

namespace railcc::transport::verbs {

class VerbsRedial final : public RailRedial {
 public:
  // The same arguments the rail's first stream was made with (VerbsStream's constructor).
  VerbsRedial(std::shared_ptr<VerbsPort> port, int peer, std::size_t ring_bytes, std::string who,
              std::size_t zcopy_bytes)
      : port_(std::move(port)),
        peer_(peer),
        ring_bytes_(ring_bytes),
        who_(std::move(who)),
        zcopy_bytes_(zcopy_bytes) {}

  std::string open() override;
  std::unique_ptr<Stream> connect(const std::string& data) override;

 private:
  std::shared_ptr<VerbsPort> port_;
  int peer_;
  std::size_t ring_bytes_;
  std::string who_;
  std::size_t zcopy_bytes_;
  std::unique_ptr<VerbsStream> opened_;  // open()'s stream, until connect() hands it over
};

}  // namespace railcc::transport::verbs
