#include "transport/verbs/verbs_redial.h"

#include <fmt/format.h>

#include "railcc/status.hpp"

namespace railcc::transport::verbs {

std::string VerbsRedial::open() {
  opened_.reset();  // an attempt the peer never answered
  opened_ = std::make_unique<VerbsStream>(port_, peer_, ring_bytes_, who_, zcopy_bytes_);
  return opened_->local_info().to_string();
}

std::unique_ptr<Stream> VerbsRedial::connect(const std::string& data) {
  if (!opened_) {
    throw ProtocolError(
        fmt::format("{}: new queue-pair data arrived before a queue pair was made for it", who_));
  }
  opened_->connect(QpInfo::parse(data, who_));
  return std::move(opened_);
}

}  // namespace railcc::transport::verbs
