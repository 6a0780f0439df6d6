#include "railcc/status.hpp"
#include "railcc/version.hpp"

namespace railcc {

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kMismatch:
      return "mismatch between ranks";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kPeerFailure:
      return "peer failure";
    case ErrorCode::kSystem:
      return "system error";
    case ErrorCode::kAborted:
      return "aborted";
    case ErrorCode::kConfig:
      return "configuration error";
    case ErrorCode::kProtocol:
      return "protocol error";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kInternal:
      return "internal error";
  }
  return "unknown error";
}

Error::Error(ErrorCode code, const std::string& message)
    : std::runtime_error(message), code_(code) {}

void throw_error(ErrorCode code, const std::string& message) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      throw InvalidArgumentError(message);
    case ErrorCode::kMismatch:
      throw MismatchError(message);
    case ErrorCode::kTimeout:
      throw TimeoutError(message);
    case ErrorCode::kPeerFailure:
      throw PeerFailureError(message);
    case ErrorCode::kSystem:
      throw SystemError(message);
    case ErrorCode::kAborted:
      throw AbortedError(message);
    case ErrorCode::kConfig:
      throw ConfigError(message);
    case ErrorCode::kProtocol:
      throw ProtocolError(message);
    case ErrorCode::kUnsupported:
      throw UnsupportedError(message);
    case ErrorCode::kOk:
    case ErrorCode::kInternal:
      break;
  }
  throw InternalError(message);
}

const char* version_string() noexcept { return "0.1.0"; }

}  // namespace railcc
