// Typed errors of the public C++ API. Every failing call throws a subclass of railcc::Error whose
// message says what went wrong and what to do (which rank, which peer, which env var).
#pragma once

#include <stdexcept>
#include <string>

namespace railcc {

// Stable numeric codes; the C ABI (railcc.h) returns the same values.
enum class ErrorCode : int {
  kOk = 0,
  kInvalidArgument = 1,  // bad buffer, count, dtype, op, root or rank list; nothing was sent
  kMismatch = 2,         // ranks called different collectives, counts, dtypes, ops or roots
  kTimeout = 3,          // a wait passed RAILCC_TIMEOUT; the message names the late rank(s)
  kPeerFailure = 4,      // a peer died, closed its connection or reported an error
  kSystem = 5,           // an OS call failed (socket, mmap, ...); errno text included
  kAborted = 6,          // Communicator::abort() was called
  kConfig = 7,           // a RAILCC_* variable has a bad value
  kProtocol = 8,         // garbage or a wrong job on the wire
  kUnsupported = 9,      // valid request this build cannot serve
  kInternal = 10,        // a bug in railcc: please report it
};

const char* error_code_name(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message);
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

#define RAILCC_DEFINE_ERROR(Name, Code)                                 \
  class Name : public Error {                                           \
   public:                                                              \
    explicit Name(const std::string& message) : Error(Code, message) {} \
  };
RAILCC_DEFINE_ERROR(InvalidArgumentError, ErrorCode::kInvalidArgument)
RAILCC_DEFINE_ERROR(MismatchError, ErrorCode::kMismatch)
RAILCC_DEFINE_ERROR(TimeoutError, ErrorCode::kTimeout)
RAILCC_DEFINE_ERROR(PeerFailureError, ErrorCode::kPeerFailure)
RAILCC_DEFINE_ERROR(SystemError, ErrorCode::kSystem)
RAILCC_DEFINE_ERROR(AbortedError, ErrorCode::kAborted)
RAILCC_DEFINE_ERROR(ConfigError, ErrorCode::kConfig)
RAILCC_DEFINE_ERROR(ProtocolError, ErrorCode::kProtocol)
RAILCC_DEFINE_ERROR(UnsupportedError, ErrorCode::kUnsupported)
RAILCC_DEFINE_ERROR(InternalError, ErrorCode::kInternal)
#undef RAILCC_DEFINE_ERROR

// Throws the subclass that matches `code`.
[[noreturn]] void throw_error(ErrorCode code, const std::string& message);

}  // namespace railcc
