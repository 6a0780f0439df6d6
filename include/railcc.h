/* railcc C API: a plain C99 interface to the railcc collective-communication library, for C
 * programs and for foreign-function interfaces (Python ctypes/cffi, Rust, Go, Julia, ...).
 *
 * Conventions, the same for every function:
 *  - Every function returns a railcc_status (RAILCC_OK on success); results come back through
 *    pointer arguments. Handle outputs (railcc_comm_t*, railcc_work_t*) are set to NULL when the
 *    call fails; other outputs are written only on success.
 *  - A NULL pointer argument returns RAILCC_ERR_INVALID_ARGUMENT (buffers excepted: a NULL buffer
 *    is accepted when it is not used, e.g. a count of 0 or the receive buffer of reduce on a
 *    non-root rank). No function crashes on bad arguments or lets a C++ exception escape.
 *  - On failure, railcc_last_error() returns the full message (which rank, which peer, which
 *    environment variable) of the last failing call on the calling thread.
 *  - Collectives are asynchronous: they validate their arguments (nothing is sent for a bad call),
 *    enqueue and hand back a railcc_work_t. Buffers must stay valid until that work completes.
 *    Pass NULL as the work pointer to block until the op finished instead (for an op on a CUDA
 *    stream: until the stream passed it); the call then returns
 *    the op's own status. Passing the same pointer as send and receive buffer runs the op in place
 *    (see railcc/communicator.hpp for the in-place layouts of the gathering/scattering ops).
 *  - Ops of one communicator run and complete in the order they were called, and every rank must
 *    call the same collectives in the same order.
 *
 * Minimal use:
 *     railcc_comm_t comm;
 *     if (railcc_comm_init(&comm) != RAILCC_OK) { puts(railcc_last_error()); return 1; }
 *     railcc_all_reduce(comm, buf, buf, n, RAILCC_FLOAT32, RAILCC_SUM, NULL);
 *     railcc_comm_destroy(comm);
 * and start it with `railcc-run -n 4 ./prog` (or torchrun, mpirun, srun).
 */
#ifndef RAILCC_H_
#define RAILCC_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define RAILCC_API
#else
/* Exported even if the library is one day built with -fvisibility=hidden. */
#define RAILCC_API __attribute__((visibility("default")))
#endif

/* The same values as railcc/version.hpp (identical redefinitions are legal if both are
 * included). */
#define RAILCC_VERSION_MAJOR 0
#define RAILCC_VERSION_MINOR 1
#define RAILCC_VERSION_PATCH 0

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: the same numbers as railcc::ErrorCode (railcc/status.hpp). */
typedef enum railcc_status {
  RAILCC_OK = 0,
  RAILCC_ERR_INVALID_ARGUMENT = 1, /* bad pointer, count, dtype, op, root or rank; nothing sent */
  RAILCC_ERR_MISMATCH = 2,     /* ranks called different collectives, counts, dtypes, ops, roots */
  RAILCC_ERR_TIMEOUT = 3,      /* a wait passed its deadline; the message names the late rank(s) */
  RAILCC_ERR_PEER_FAILURE = 4, /* a peer died, closed its connection or reported an error */
  RAILCC_ERR_SYSTEM = 5,       /* an OS call failed (socket, mmap, ...) or memory ran out */
  RAILCC_ERR_ABORTED = 6,      /* railcc_comm_abort() was called */
  RAILCC_ERR_CONFIG = 7,       /* a RAILCC_* (or launcher) environment variable has a bad value */
  RAILCC_ERR_PROTOCOL = 8,     /* garbage or a wrong job on the wire */
  RAILCC_ERR_UNSUPPORTED = 9,  /* valid request this build cannot serve */
  RAILCC_ERR_INTERNAL = 10,    /* a bug in railcc: please report it */
  /* Not codes. They make the enum int-sized and every int a valid value of it (in C++ too, where
   * an out-of-range enum value is undefined), so FFI callers can pass and receive plain ints and
   * the library can reject bad values instead of misbehaving on them. Same in the enums below. */
  RAILCC_STATUS_MIN_ENUM_ = -0x7fffffff - 1,
  RAILCC_STATUS_MAX_ENUM_ = 0x7fffffff
} railcc_status;
typedef railcc_status railcc_status_t;

/* Element types: the same numbers as railcc::DataType. */
typedef enum railcc_datatype {
  RAILCC_INT8 = 0,
  RAILCC_UINT8 = 1,
  RAILCC_INT32 = 2,
  RAILCC_UINT32 = 3,
  RAILCC_INT64 = 4,
  RAILCC_UINT64 = 5,
  RAILCC_FLOAT16 = 6, /* IEEE 754 binary16 */
  RAILCC_FLOAT32 = 7,
  RAILCC_FLOAT64 = 8,
  RAILCC_BFLOAT16 = 9,
  RAILCC_NUM_DATATYPES = 10,
  RAILCC_DATATYPE_MIN_ENUM_ = -0x7fffffff - 1,
  RAILCC_DATATYPE_MAX_ENUM_ = 0x7fffffff
} railcc_datatype_t;

/* Reduction operators: the same numbers as railcc::ReduceOp. */
typedef enum railcc_redop {
  RAILCC_SUM = 0,
  RAILCC_PROD = 1,
  RAILCC_MAX = 2,
  RAILCC_MIN = 3,
  RAILCC_AVG = 4, /* sum divided by the number of ranks (integer types truncate toward zero) */
  RAILCC_NUM_REDOPS = 5,
  RAILCC_REDOP_MIN_ENUM_ = -0x7fffffff - 1,
  RAILCC_REDOP_MAX_ENUM_ = 0x7fffffff
} railcc_redop_t;

/* Opaque handles. */
typedef struct railcc_comm* railcc_comm_t;
typedef struct railcc_work* railcc_work_t;

/* ---- Library ---------------------------------------------------------------------------- */

/* "0.1.0". Never NULL. */
RAILCC_API const char* railcc_version(void);
/* Static one-line description of a status code ("unknown status code" for other values). */
RAILCC_API const char* railcc_error_string(railcc_status status);
/* Full message of the last failing railcc call on this thread, "" if none failed yet. Valid until
 * the next failing railcc call on this thread. */
RAILCC_API const char* railcc_last_error(void);

/* ---- Communicators ---------------------------------------------------------------------- */

/* Joins the job described by the environment (railcc-run, torchrun, Open MPI, PMI, Slurm or
 * RAILCC_RANK/RAILCC_WORLD_SIZE/RAILCC_STORE_ADDR); a process started without a launcher gets a
 * communicator of one rank. Collective over the job. */
RAILCC_API railcc_status railcc_comm_init(railcc_comm_t* out);
/* Runs the ops still queued, then frees the communicator; to fail them instead of waiting for
 * them (e.g. after a peer died), call railcc_comm_abort first. Works already handed out stay
 * valid (free them with railcc_work_free). */
RAILCC_API railcc_status railcc_comm_destroy(railcc_comm_t comm);
RAILCC_API railcc_status railcc_comm_rank(railcc_comm_t comm, int* rank);
RAILCC_API railcc_status railcc_comm_size(railcc_comm_t comm, int* size);
/* Deadline of every later wait of this communicator (RAILCC_TIMEOUT by default); > 0. */
RAILCC_API railcc_status railcc_comm_set_timeout_ms(railcc_comm_t comm, int64_t timeout_ms);
/* Fails every pending and future op of this communicator with RAILCC_ERR_ABORTED. Any thread. */
RAILCC_API railcc_status railcc_comm_abort(railcc_comm_t comm);
/* Zero-copy sends (like ncclCommRegister): registers [ptr, ptr + bytes) with the communicator's
 * RDMA devices, so messages of at least RAILCC_IB_ZCOPY_BYTES sent from inside it are written
 * straight from it instead of being copied first; *handle identifies it. Deregister before
 * freeing the memory. Without RDMA peers (or for CUDA memory) it does nothing but hand out the
 * handle. */
RAILCC_API railcc_status railcc_comm_register_buffer(railcc_comm_t comm, const void* ptr,
                                                     size_t bytes, uint64_t* handle);
/* No op using the buffer may be pending. Unknown handles are ignored. */
RAILCC_API railcc_status railcc_comm_deregister_buffer(railcc_comm_t comm, uint64_t handle);
/* Host memory the ranks of one host can share (like ncclMemAlloc): *ptr gets `bytes` of zeroed,
 * page-aligned memory. Free it with railcc_mem_free. */
RAILCC_API railcc_status railcc_mem_alloc(size_t bytes, void** ptr);
/* NULL and unknown pointers are ignored. Deregister windows inside the memory first. */
RAILCC_API railcc_status railcc_mem_free(void* ptr);
/* Collective, in the same order as the ops on every rank: registers [ptr, ptr + bytes), inside
 * memory from railcc_mem_alloc, as a window. When every rank shares one host, all_reduce,
 * reduce_scatter, all_gather, broadcast and reduce ops of at least RAILCC_SHM_WINDOW_BYTES whose
 * buffers lie in windows on every rank read and write their peers' buffers in place. */
RAILCC_API railcc_status railcc_comm_register_window(railcc_comm_t comm, const void* ptr,
                                                     size_t bytes, uint64_t* handle);
/* Collective: every rank passes the handle railcc_comm_register_window gave it. */
RAILCC_API railcc_status railcc_comm_deregister_window(railcc_comm_t comm, uint64_t handle);
/* Collective: ranks passing the same color form a new communicator ordered by (key, rank).
 * A rank passing color < 0 takes part but gets *out = NULL. */
RAILCC_API railcc_status railcc_comm_split(railcc_comm_t comm, int color, int key,
                                           railcc_comm_t* out);
/* Collective: every rank passes the same sorted list of n ranks; members get the new
 * communicator, the others *out = NULL. */
RAILCC_API railcc_status railcc_comm_new_group(railcc_comm_t comm, const int* ranks, size_t n,
                                               railcc_comm_t* out);

/* ---- Collectives (counts in elements) --------------------------------------------------- */

/* recv[i] = op over ranks of send[i], on every rank. */
RAILCC_API railcc_status railcc_all_reduce(railcc_comm_t comm, const void* send, void* recv,
                                           size_t count, railcc_datatype_t dtype, railcc_redop_t op,
                                           railcc_work_t* work);
/* send holds size*recv_count elements; rank r gets the reduction of block r. */
RAILCC_API railcc_status railcc_reduce_scatter(railcc_comm_t comm, const void* send, void* recv,
                                               size_t recv_count, railcc_datatype_t dtype,
                                               railcc_redop_t op, railcc_work_t* work);
/* recv holds size*send_count elements, block r from rank r. */
RAILCC_API railcc_status railcc_all_gather(railcc_comm_t comm, const void* send, void* recv,
                                           size_t send_count, railcc_datatype_t dtype,
                                           railcc_work_t* work);
/* root's send is copied into every rank's recv (root may pass send == recv). */
RAILCC_API railcc_status railcc_broadcast(railcc_comm_t comm, const void* send, void* recv,
                                          size_t count, railcc_datatype_t dtype, int root,
                                          railcc_work_t* work);
/* recv (used on root only) = op over ranks of send. */
RAILCC_API railcc_status railcc_reduce(railcc_comm_t comm, const void* send, void* recv,
                                       size_t count, railcc_datatype_t dtype, railcc_redop_t op,
                                       int root, railcc_work_t* work);
/* root's recv holds size*send_count elements, block r from rank r. */
RAILCC_API railcc_status railcc_gather(railcc_comm_t comm, const void* send, void* recv,
                                       size_t send_count, railcc_datatype_t dtype, int root,
                                       railcc_work_t* work);
/* root's send holds size*recv_count elements; rank r gets block r. */
RAILCC_API railcc_status railcc_scatter(railcc_comm_t comm, const void* send, void* recv,
                                        size_t recv_count, railcc_datatype_t dtype, int root,
                                        railcc_work_t* work);
/* Block j of send (count elements) goes to rank j; block i of recv comes from rank i. */
RAILCC_API railcc_status railcc_all_to_all(railcc_comm_t comm, const void* send, void* recv,
                                           size_t count, railcc_datatype_t dtype,
                                           railcc_work_t* work);
/* Counts and displacements in elements, one per rank (arrays of comm size entries). The four
 * arrays are copied: they need not outlive the call, unlike the buffers. */
RAILCC_API railcc_status railcc_all_to_allv(railcc_comm_t comm, const void* send,
                                            const size_t* send_counts, const size_t* send_displs,
                                            void* recv, const size_t* recv_counts,
                                            const size_t* recv_displs, railcc_datatype_t dtype,
                                            railcc_work_t* work);
/* Point to point, ordered per pair of ranks; the tag must match the peer's. */
RAILCC_API railcc_status railcc_send(railcc_comm_t comm, const void* buf, size_t count,
                                     railcc_datatype_t dtype, int peer, uint32_t tag,
                                     railcc_work_t* work);
RAILCC_API railcc_status railcc_recv(railcc_comm_t comm, void* buf, size_t count,
                                     railcc_datatype_t dtype, int peer, uint32_t tag,
                                     railcc_work_t* work);
RAILCC_API railcc_status railcc_barrier(railcc_comm_t comm, railcc_work_t* work);

/* ---- CUDA ------------------------------------------------------------------------------- */

/* In builds with CUDA (see README "CUDA") any buffer may be GPU memory; such ops are ordered on a
 * CUDA stream like NCCL's (the call enqueues on the stream and returns; see
 * railcc/communicator.hpp). Later collectives of comm, from any thread, are ordered on `stream`
 * (a cudaStream_t). NULL (the initial setting): GPU buffers use the legacy default stream and host
 * buffers are not ordered on any stream. */
RAILCC_API railcc_status railcc_comm_set_cuda_stream(railcc_comm_t comm, void* stream);
/* Blocks until the op finished and, for an op on a CUDA stream, until the stream passed it (the
 * results are in the receive buffer); at most timeout_ms (< 0: forever). railcc_work_wait returns
 * once railcc's own part of a CUDA op is done, as torch's NCCL Work.wait() does. */
RAILCC_API railcc_status railcc_work_synchronize(railcc_work_t work, int64_t timeout_ms);
/* Makes `stream` (a cudaStream_t) wait for a CUDA op without blocking; no effect for host ops. */
RAILCC_API railcc_status railcc_work_wait_stream(railcc_work_t work, void* stream);

/* ---- Works ------------------------------------------------------------------------------ */

/* Blocks until the op finished, at most timeout_ms (< 0: forever), and returns the op's status.
 * RAILCC_ERR_TIMEOUT when timeout_ms passes first: the op keeps running and the work stays
 * valid (the op itself still fails after the communicator's timeout). */
RAILCC_API railcc_status railcc_work_wait(railcc_work_t work, int64_t timeout_ms);
/* Non-blocking: *done = 1 once the op finished (then returns the op's status), else 0. */
RAILCC_API railcc_status railcc_work_test(railcc_work_t work, int* done);
/* Frees the handle; the op itself, if still running, completes regardless (its buffers must stay
 * valid until then). */
RAILCC_API railcc_status railcc_work_free(railcc_work_t work);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RAILCC_H_ */
