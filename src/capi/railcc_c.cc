// C ABI of railcc (include/railcc.h): thin wrappers over the C++ API that turn exceptions into
// status codes. Nothing may unwind through these functions, because the caller is C (or an FFI
// runtime) and unwinding through its frames is undefined behaviour; every entry point is therefore
// noexcept and funnels its body through Guard().
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "railcc.h"
#include "railcc/communicator.hpp"
#include "railcc/data_type.hpp"
#include "railcc/memory.hpp"
#include "railcc/reduce_op.hpp"
#include "railcc/status.hpp"
#include "railcc/version.hpp"
#include "railcc/work.hpp"

// Every int must be a valid value of the C enums (see railcc.h), and they must be int-sized.
static_assert(std::is_same_v<std::underlying_type_t<railcc_status>, int>);
static_assert(std::is_same_v<std::underlying_type_t<railcc_datatype_t>, int>);
static_assert(std::is_same_v<std::underlying_type_t<railcc_redop_t>, int>);

// The C enums are a second spelling of the C++ ones; a drift would silently turn e.g. a float
// all_reduce into a double one, so pin every value at compile time.
#define RAILCC_SAME_VALUE(c_value, cpp_value) \
  static_assert(static_cast<int>(c_value) == static_cast<int>(cpp_value), #c_value)
RAILCC_SAME_VALUE(RAILCC_OK, railcc::ErrorCode::kOk);
RAILCC_SAME_VALUE(RAILCC_ERR_INVALID_ARGUMENT, railcc::ErrorCode::kInvalidArgument);
RAILCC_SAME_VALUE(RAILCC_ERR_MISMATCH, railcc::ErrorCode::kMismatch);
RAILCC_SAME_VALUE(RAILCC_ERR_TIMEOUT, railcc::ErrorCode::kTimeout);
RAILCC_SAME_VALUE(RAILCC_ERR_PEER_FAILURE, railcc::ErrorCode::kPeerFailure);
RAILCC_SAME_VALUE(RAILCC_ERR_SYSTEM, railcc::ErrorCode::kSystem);
RAILCC_SAME_VALUE(RAILCC_ERR_ABORTED, railcc::ErrorCode::kAborted);
RAILCC_SAME_VALUE(RAILCC_ERR_CONFIG, railcc::ErrorCode::kConfig);
RAILCC_SAME_VALUE(RAILCC_ERR_PROTOCOL, railcc::ErrorCode::kProtocol);
RAILCC_SAME_VALUE(RAILCC_ERR_UNSUPPORTED, railcc::ErrorCode::kUnsupported);
RAILCC_SAME_VALUE(RAILCC_ERR_INTERNAL, railcc::ErrorCode::kInternal);
RAILCC_SAME_VALUE(RAILCC_INT8, railcc::DataType::kInt8);
RAILCC_SAME_VALUE(RAILCC_UINT8, railcc::DataType::kUint8);
RAILCC_SAME_VALUE(RAILCC_INT32, railcc::DataType::kInt32);
RAILCC_SAME_VALUE(RAILCC_UINT32, railcc::DataType::kUint32);
RAILCC_SAME_VALUE(RAILCC_INT64, railcc::DataType::kInt64);
RAILCC_SAME_VALUE(RAILCC_UINT64, railcc::DataType::kUint64);
RAILCC_SAME_VALUE(RAILCC_FLOAT16, railcc::DataType::kFloat16);
RAILCC_SAME_VALUE(RAILCC_FLOAT32, railcc::DataType::kFloat32);
RAILCC_SAME_VALUE(RAILCC_FLOAT64, railcc::DataType::kFloat64);
RAILCC_SAME_VALUE(RAILCC_BFLOAT16, railcc::DataType::kBFloat16);
RAILCC_SAME_VALUE(RAILCC_NUM_DATATYPES, railcc::kNumDataTypes);
RAILCC_SAME_VALUE(RAILCC_SUM, railcc::ReduceOp::kSum);
RAILCC_SAME_VALUE(RAILCC_PROD, railcc::ReduceOp::kProd);
RAILCC_SAME_VALUE(RAILCC_MAX, railcc::ReduceOp::kMax);
RAILCC_SAME_VALUE(RAILCC_MIN, railcc::ReduceOp::kMin);
RAILCC_SAME_VALUE(RAILCC_AVG, railcc::ReduceOp::kAvg);
RAILCC_SAME_VALUE(RAILCC_NUM_REDOPS, railcc::kNumReduceOps);
#undef RAILCC_SAME_VALUE

// The handles own C++ objects; C only ever sees pointers to these.
struct railcc_comm {
  std::shared_ptr<railcc::Communicator> comm;
  // railcc_comm_set_cuda_stream: the stream later collectives are ordered on (none: nullptr).
  std::atomic<void*> cuda_stream{nullptr};
};
struct railcc_work {
  railcc::Work work;
};

namespace {

// Per thread, like errno, so concurrent callers on different threads never see each other's
// messages.
thread_local std::string t_last_error;

// Records the concatenated parts as the message. It is built here, under the try, because the
// handlers that call this may be handling an out-of-memory error themselves.
railcc_status Fail(railcc_status code, std::initializer_list<const char*> parts) noexcept {
  try {
    t_last_error.clear();
    for (const char* part : parts) t_last_error += part;
  } catch (...) {
    // Out of memory while reporting: the code still reaches the caller, the text cannot.
    t_last_error.clear();
  }
  return code;
}

// Thrown by the argument checks of this file; carries the C status without going through the
// C++ hierarchy, whose messages are phrased for C++ callers.
struct CApiError {
  railcc_status code;
  std::string message;
};

[[noreturn]] void Invalid(const char* fn, const std::string& what) {
  throw CApiError{RAILCC_ERR_INVALID_ARGUMENT, fmt::format("{}: {}", fn, what)};
}

// Runs `body` and maps every exception to a status; the one place that stops unwinding.
template <typename Body>
railcc_status Guard(const char* fn, Body&& body) noexcept {
  try {
    return body();
  } catch (const CApiError& e) {
    return Fail(e.code, {e.message.c_str()});
  } catch (const railcc::Error& e) {
    const int code = static_cast<int>(e.code());
    // An Error carrying kOk or a code the C side does not know would read as success or as
    // garbage; report it as the bug it is.
    if (code <= RAILCC_OK || code > RAILCC_ERR_INTERNAL) {
      return Fail(RAILCC_ERR_INTERNAL, {e.what()});
    }
    return Fail(static_cast<railcc_status>(code), {e.what()});
  } catch (const std::bad_alloc&) {
    return Fail(RAILCC_ERR_SYSTEM, {fn, ": out of memory"});
  } catch (const std::exception& e) {
    return Fail(RAILCC_ERR_INTERNAL, {fn, ": unexpected exception: ", e.what()});
  } catch (...) {
    return Fail(RAILCC_ERR_INTERNAL, {fn, ": unexpected non-standard exception"});
  }
}

template <typename T>
void NotNull(const char* fn, const T* p, const char* name) {
  if (p == nullptr) Invalid(fn, fmt::format("{} is NULL", name));
}

railcc::Communicator& Comm(const char* fn, railcc_comm_t comm) {
  if (comm == nullptr || !comm->comm) Invalid(fn, "comm is NULL");
  return *comm->comm;
}

// Range-checked here rather than by the C++ API: DataType and ReduceOp are uint8_t, so a C int
// of e.g. 263 would wrap into a valid value if it were cast first. (Any int is a valid value of
// the C enums, thanks to their MIN/MAX sentinels, so reading one is well-defined.)
railcc::DataType ToDataType(const char* fn, railcc_datatype_t dtype) {
  const int v = static_cast<int>(dtype);
  if (v < 0 || v >= railcc::kNumDataTypes) {
    Invalid(fn, fmt::format("unknown data type {} (valid: 0..{}, see railcc_datatype_t)", v,
                            railcc::kNumDataTypes - 1));
  }
  return static_cast<railcc::DataType>(v);
}

railcc::ReduceOp ToReduceOp(const char* fn, railcc_redop_t op) {
  const int v = static_cast<int>(op);
  if (v < 0 || v >= railcc::kNumReduceOps) {
    Invalid(fn, fmt::format("unknown reduce op {} (valid: 0..{}, see railcc_redop_t)", v,
                            railcc::kNumReduceOps - 1));
  }
  return static_cast<railcc::ReduceOp>(v);
}

// Handle outputs are cleared before anything can fail, so a caller that frees or tests them after
// an error never sees a stale or uninitialized handle.
template <typename Handle>
void ClearHandle(Handle* out) {
  if (out != nullptr) *out = nullptr;
}

// Common tail of every collective. `start` enqueues the op and returns its Work. The handle is
// allocated before the op is enqueued: an allocation failure afterwards would leave an op running
// on the caller's buffers with no way to wait for it.
template <typename Start>
railcc_status Launch(railcc_work_t* out, Start&& start) {
  if (out == nullptr) {
    // Blocking form: the op's own status (e.g. a peer failure) is the call's status; an op on
    // a CUDA stream has also finished on the GPU.
    start().synchronize();
    return RAILCC_OK;
  }
  auto handle = std::make_unique<railcc_work>();
  handle->work = start();
  *out = handle.release();
  return RAILCC_OK;
}

// The stream set with railcc_comm_set_cuda_stream, if any.
std::optional<railcc::CudaStream> Stream(railcc_comm_t comm) {
  void* s = comm->cuda_stream.load(std::memory_order_acquire);
  if (s == nullptr) return std::nullopt;
  return railcc::CudaStream{s};
}

std::span<const std::size_t> Counts(const size_t* p, std::size_t n) {
  return std::span<const std::size_t>(p, n);
}

}  // namespace

extern "C" {

const char* railcc_version(void) { return railcc::version_string(); }

const char* railcc_error_string(railcc_status status) {
  switch (static_cast<int>(status)) {
    case RAILCC_OK:
      return "success";
    case RAILCC_ERR_INVALID_ARGUMENT:
      return "invalid argument (bad pointer, count, data type, reduce op, root or rank); nothing "
             "was sent";
    case RAILCC_ERR_MISMATCH:
      return "ranks called different collectives, counts, data types, ops or roots";
    case RAILCC_ERR_TIMEOUT:
      return "timed out waiting for other ranks";
    case RAILCC_ERR_PEER_FAILURE:
      return "a peer rank failed, exited or closed its connection";
    case RAILCC_ERR_SYSTEM:
      return "an operating-system call failed or memory ran out";
    case RAILCC_ERR_ABORTED:
      return "the communicator was aborted";
    case RAILCC_ERR_CONFIG:
      return "bad configuration (a RAILCC_* or launcher variable)";
    case RAILCC_ERR_PROTOCOL:
      return "protocol error: unexpected data on the wire";
    case RAILCC_ERR_UNSUPPORTED:
      return "valid request that this build does not support";
    case RAILCC_ERR_INTERNAL:
      return "internal railcc error (a bug: please report it)";
    default:
      break;
  }
  return "unknown status code";
}

const char* railcc_last_error(void) { return t_last_error.c_str(); }

railcc_status railcc_comm_init(railcc_comm_t* out) {
  static constexpr const char* kFn = "railcc_comm_init";
  return Guard(kFn, [&] {
    NotNull(kFn, out, "out");
    *out = nullptr;
    auto handle = std::make_unique<railcc_comm>();
    handle->comm = railcc::Communicator::init();
    *out = handle.release();
    return RAILCC_OK;
  });
}

railcc_status railcc_comm_destroy(railcc_comm_t comm) {
  static constexpr const char* kFn = "railcc_comm_destroy";
  return Guard(kFn, [&] {
    NotNull(kFn, comm, "comm");
    // The C++ destructor drains the queue and joins the worker; it must not throw, but guard it
    // like everything else.
    delete comm;
    return RAILCC_OK;
  });
}

railcc_status railcc_comm_rank(railcc_comm_t comm, int* rank) {
  static constexpr const char* kFn = "railcc_comm_rank";
  return Guard(kFn, [&] {
    railcc::Communicator& c = Comm(kFn, comm);
    NotNull(kFn, rank, "rank");
    *rank = c.rank();
    return RAILCC_OK;
  });
}

railcc_status railcc_comm_size(railcc_comm_t comm, int* size) {
  static constexpr const char* kFn = "railcc_comm_size";
  return Guard(kFn, [&] {
    railcc::Communicator& c = Comm(kFn, comm);
    NotNull(kFn, size, "size");
    *size = c.size();
    return RAILCC_OK;
  });
}

railcc_status railcc_comm_set_timeout_ms(railcc_comm_t comm, int64_t timeout_ms) {
  static constexpr const char* kFn = "railcc_comm_set_timeout_ms";
  return Guard(kFn, [&] {
    railcc::Communicator& c = Comm(kFn, comm);
    if (timeout_ms <= 0) {
      Invalid(kFn, fmt::format("timeout_ms {} must be positive", timeout_ms));
    }
    c.set_timeout(std::chrono::milliseconds(timeout_ms));
    return RAILCC_OK;
  });
}

railcc_status railcc_comm_abort(railcc_comm_t comm) {
  static constexpr const char* kFn = "railcc_comm_abort";
  return Guard(kFn, [&] {
    Comm(kFn, comm).abort();
    return RAILCC_OK;
  });
}

railcc_status railcc_comm_register_buffer(railcc_comm_t comm, const void* ptr, size_t bytes,
                                          uint64_t* handle) {
  static constexpr const char* kFn = "railcc_comm_register_buffer";
  return Guard(kFn, [&] {
    railcc::Communicator& c = Comm(kFn, comm);
    NotNull(kFn, handle, "handle");
    *handle = c.register_buffer(ptr, bytes);
    return RAILCC_OK;
  });
}

railcc_status railcc_comm_deregister_buffer(railcc_comm_t comm, uint64_t handle) {
  static constexpr const char* kFn = "railcc_comm_deregister_buffer";
  return Guard(kFn, [&] {
    Comm(kFn, comm).deregister_buffer(handle);
    return RAILCC_OK;
  });
}

railcc_status railcc_mem_alloc(size_t bytes, void** ptr) {
  static constexpr const char* kFn = "railcc_mem_alloc";
  return Guard(kFn, [&] {
    NotNull(kFn, ptr, "ptr");
    *ptr = railcc::mem_alloc(bytes);
    return RAILCC_OK;
  });
}

railcc_status railcc_mem_free(void* ptr) {
  static constexpr const char* kFn = "railcc_mem_free";
  return Guard(kFn, [&] {
    railcc::mem_free(ptr);
    return RAILCC_OK;
  });
}

railcc_status railcc_comm_register_window(railcc_comm_t comm, const void* ptr, size_t bytes,
                                          uint64_t* handle) {
  static constexpr const char* kFn = "railcc_comm_register_window";
  return Guard(kFn, [&] {
    railcc::Communicator& c = Comm(kFn, comm);
    NotNull(kFn, handle, "handle");
    *handle = c.register_window(ptr, bytes);
    return RAILCC_OK;
  });
}

railcc_status railcc_comm_deregister_window(railcc_comm_t comm, uint64_t handle) {
  static constexpr const char* kFn = "railcc_comm_deregister_window";
  return Guard(kFn, [&] {
    Comm(kFn, comm).deregister_window(handle);
    return RAILCC_OK;
  });
}

railcc_status railcc_comm_split(railcc_comm_t comm, int color, int key, railcc_comm_t* out) {
  static constexpr const char* kFn = "railcc_comm_split";
  return Guard(kFn, [&] {
    ClearHandle(out);
    railcc::Communicator& c = Comm(kFn, comm);
    NotNull(kFn, out, "out");
    auto handle = std::make_unique<railcc_comm>();
    handle->comm = c.split(color, key);
    // color < 0: this rank took part but is in no new communicator.
    if (handle->comm) *out = handle.release();
    return RAILCC_OK;
  });
}

railcc_status railcc_comm_new_group(railcc_comm_t comm, const int* ranks, size_t n,
                                    railcc_comm_t* out) {
  static constexpr const char* kFn = "railcc_comm_new_group";
  return Guard(kFn, [&] {
    ClearHandle(out);
    railcc::Communicator& c = Comm(kFn, comm);
    NotNull(kFn, out, "out");
    if (n > 0) NotNull(kFn, ranks, "ranks");
    auto handle = std::make_unique<railcc_comm>();
    handle->comm = c.new_group(std::span<const int>(ranks, n));
    if (handle->comm) *out = handle.release();
    return RAILCC_OK;
  });
}

railcc_status railcc_all_reduce(railcc_comm_t comm, const void* send, void* recv, size_t count,
                                railcc_datatype_t dtype, railcc_redop_t op, railcc_work_t* work) {
  static constexpr const char* kFn = "railcc_all_reduce";
  return Guard(kFn, [&] {
    ClearHandle(work);
    railcc::Communicator& c = Comm(kFn, comm);
    const railcc::DataType t = ToDataType(kFn, dtype);
    const railcc::ReduceOp o = ToReduceOp(kFn, op);
    return Launch(work, [&] { return c.all_reduce(send, recv, count, t, o, Stream(comm)); });
  });
}

railcc_status railcc_reduce_scatter(railcc_comm_t comm, const void* send, void* recv,
                                    size_t recv_count, railcc_datatype_t dtype, railcc_redop_t op,
                                    railcc_work_t* work) {
  static constexpr const char* kFn = "railcc_reduce_scatter";
  return Guard(kFn, [&] {
    ClearHandle(work);
    railcc::Communicator& c = Comm(kFn, comm);
    const railcc::DataType t = ToDataType(kFn, dtype);
    const railcc::ReduceOp o = ToReduceOp(kFn, op);
    return Launch(work,
                  [&] { return c.reduce_scatter(send, recv, recv_count, t, o, Stream(comm)); });
  });
}

railcc_status railcc_all_gather(railcc_comm_t comm, const void* send, void* recv, size_t send_count,
                                railcc_datatype_t dtype, railcc_work_t* work) {
  static constexpr const char* kFn = "railcc_all_gather";
  return Guard(kFn, [&] {
    ClearHandle(work);
    railcc::Communicator& c = Comm(kFn, comm);
    const railcc::DataType t = ToDataType(kFn, dtype);
    return Launch(work, [&] { return c.all_gather(send, recv, send_count, t, Stream(comm)); });
  });
}

railcc_status railcc_broadcast(railcc_comm_t comm, const void* send, void* recv, size_t count,
                               railcc_datatype_t dtype, int root, railcc_work_t* work) {
  static constexpr const char* kFn = "railcc_broadcast";
  return Guard(kFn, [&] {
    ClearHandle(work);
    railcc::Communicator& c = Comm(kFn, comm);
    const railcc::DataType t = ToDataType(kFn, dtype);
    return Launch(work, [&] { return c.broadcast(send, recv, count, t, root, Stream(comm)); });
  });
}

railcc_status railcc_reduce(railcc_comm_t comm, const void* send, void* recv, size_t count,
                            railcc_datatype_t dtype, railcc_redop_t op, int root,
                            railcc_work_t* work) {
  static constexpr const char* kFn = "railcc_reduce";
  return Guard(kFn, [&] {
    ClearHandle(work);
    railcc::Communicator& c = Comm(kFn, comm);
    const railcc::DataType t = ToDataType(kFn, dtype);
    const railcc::ReduceOp o = ToReduceOp(kFn, op);
    return Launch(work, [&] { return c.reduce(send, recv, count, t, o, root, Stream(comm)); });
  });
}

railcc_status railcc_gather(railcc_comm_t comm, const void* send, void* recv, size_t send_count,
                            railcc_datatype_t dtype, int root, railcc_work_t* work) {
  static constexpr const char* kFn = "railcc_gather";
  return Guard(kFn, [&] {
    ClearHandle(work);
    railcc::Communicator& c = Comm(kFn, comm);
    const railcc::DataType t = ToDataType(kFn, dtype);
    return Launch(work, [&] { return c.gather(send, recv, send_count, t, root, Stream(comm)); });
  });
}

railcc_status railcc_scatter(railcc_comm_t comm, const void* send, void* recv, size_t recv_count,
                             railcc_datatype_t dtype, int root, railcc_work_t* work) {
  static constexpr const char* kFn = "railcc_scatter";
  return Guard(kFn, [&] {
    ClearHandle(work);
    railcc::Communicator& c = Comm(kFn, comm);
    const railcc::DataType t = ToDataType(kFn, dtype);
    return Launch(work, [&] { return c.scatter(send, recv, recv_count, t, root, Stream(comm)); });
  });
}

railcc_status railcc_all_to_all(railcc_comm_t comm, const void* send, void* recv, size_t count,
                                railcc_datatype_t dtype, railcc_work_t* work) {
  static constexpr const char* kFn = "railcc_all_to_all";
  return Guard(kFn, [&] {
    ClearHandle(work);
    railcc::Communicator& c = Comm(kFn, comm);
    const railcc::DataType t = ToDataType(kFn, dtype);
    return Launch(work, [&] { return c.all_to_all(send, recv, count, t, Stream(comm)); });
  });
}

railcc_status railcc_all_to_allv(railcc_comm_t comm, const void* send, const size_t* send_counts,
                                 const size_t* send_displs, void* recv, const size_t* recv_counts,
                                 const size_t* recv_displs, railcc_datatype_t dtype,
                                 railcc_work_t* work) {
  static constexpr const char* kFn = "railcc_all_to_allv";
  return Guard(kFn, [&] {
    ClearHandle(work);
    railcc::Communicator& c = Comm(kFn, comm);
    NotNull(kFn, send_counts, "send_counts");
    NotNull(kFn, send_displs, "send_displs");
    NotNull(kFn, recv_counts, "recv_counts");
    NotNull(kFn, recv_displs, "recv_displs");
    const railcc::DataType t = ToDataType(kFn, dtype);
    // C arrays carry no length: by contract they hold one entry per rank. The C++ call copies
    // them, so they need not outlive this call.
    const std::size_t n = static_cast<std::size_t>(c.size());
    return Launch(work, [&] {
      return c.all_to_allv(send, Counts(send_counts, n), Counts(send_displs, n), recv,
                           Counts(recv_counts, n), Counts(recv_displs, n), t, Stream(comm));
    });
  });
}

railcc_status railcc_send(railcc_comm_t comm, const void* buf, size_t count,
                          railcc_datatype_t dtype, int peer, uint32_t tag, railcc_work_t* work) {
  static constexpr const char* kFn = "railcc_send";
  return Guard(kFn, [&] {
    ClearHandle(work);
    railcc::Communicator& c = Comm(kFn, comm);
    const railcc::DataType t = ToDataType(kFn, dtype);
    return Launch(work, [&] { return c.send(buf, count, t, peer, tag, Stream(comm)); });
  });
}

railcc_status railcc_recv(railcc_comm_t comm, void* buf, size_t count, railcc_datatype_t dtype,
                          int peer, uint32_t tag, railcc_work_t* work) {
  static constexpr const char* kFn = "railcc_recv";
  return Guard(kFn, [&] {
    ClearHandle(work);
    railcc::Communicator& c = Comm(kFn, comm);
    const railcc::DataType t = ToDataType(kFn, dtype);
    return Launch(work, [&] { return c.recv(buf, count, t, peer, tag, Stream(comm)); });
  });
}

railcc_status railcc_barrier(railcc_comm_t comm, railcc_work_t* work) {
  static constexpr const char* kFn = "railcc_barrier";
  return Guard(kFn, [&] {
    ClearHandle(work);
    railcc::Communicator& c = Comm(kFn, comm);
    return Launch(work, [&] { return c.barrier(Stream(comm)); });
  });
}

railcc_status railcc_work_wait(railcc_work_t work, int64_t timeout_ms) {
  static constexpr const char* kFn = "railcc_work_wait";
  return Guard(kFn, [&] {
    NotNull(kFn, work, "work");
    // Work::wait treats anything of a year or more as forever.
    work->work.wait(timeout_ms < 0 ? std::chrono::milliseconds::max()
                                   : std::chrono::milliseconds(timeout_ms));
    return RAILCC_OK;
  });
}

railcc_status railcc_work_test(railcc_work_t work, int* done) {
  static constexpr const char* kFn = "railcc_work_test";
  return Guard(kFn, [&] {
    NotNull(kFn, work, "work");
    NotNull(kFn, done, "done");
    // Not Work::test(): a failed op must still report done = 1, so the caller stops polling.
    if (!work->work.is_completed()) {
      *done = 0;
      return RAILCC_OK;
    }
    *done = 1;
    if (std::exception_ptr e = work->work.exception()) std::rethrow_exception(e);
    return RAILCC_OK;
  });
}

railcc_status railcc_work_synchronize(railcc_work_t work, int64_t timeout_ms) {
  static constexpr const char* kFn = "railcc_work_synchronize";
  return Guard(kFn, [&] {
    NotNull(kFn, work, "work");
    work->work.synchronize(timeout_ms < 0 ? std::chrono::milliseconds::max()
                                          : std::chrono::milliseconds(timeout_ms));
    return RAILCC_OK;
  });
}

railcc_status railcc_work_wait_stream(railcc_work_t work, void* stream) {
  static constexpr const char* kFn = "railcc_work_wait_stream";
  return Guard(kFn, [&] {
    NotNull(kFn, work, "work");
    work->work.wait_stream(stream);
    return RAILCC_OK;
  });
}

railcc_status railcc_comm_set_cuda_stream(railcc_comm_t comm, void* stream) {
  static constexpr const char* kFn = "railcc_comm_set_cuda_stream";
  return Guard(kFn, [&] {
    Comm(kFn, comm);
    comm->cuda_stream.store(stream, std::memory_order_release);
    return RAILCC_OK;
  });
}

railcc_status railcc_work_free(railcc_work_t work) {
  static constexpr const char* kFn = "railcc_work_free";
  return Guard(kFn, [&] {
    NotNull(kFn, work, "work");
    delete work;
    return RAILCC_OK;
  });
}

}  // extern "C"
