// A group of ranks that run collectives together.
//
// Every collective is asynchronous: it validates its arguments (throwing InvalidArgumentError
// before anything is sent), enqueues, and returns a Work. Buffers must stay valid until the Work
// completes. Passing the same pointer as send and receive buffer runs the op in place.
//
// CUDA buffers (builds with CUDA, see README "CUDA"): any buffer may be GPU memory. Such an op is
// ordered on a CUDA stream like NCCL's: the last argument names it (CudaStream{s}; omitted: the
// legacy default stream). The call enqueues the op on the stream and returns; the op starts once
// the stream's earlier work is done and the stream's later work sees its results (see work.hpp
// for wait / synchronize / wait_stream). Host buffers with a stream given are ordered on the
// stream the same way. Rules as in NCCL: all CUDA buffers of a communicator are on one GPU (several
// ranks may share a GPU), and on one host either every rank passes GPU buffers to a collective or
// none does. Ranks of one host reduce straight from each other's GPU memory (CUDA IPC); ranks on
// other hosts exchange through pinned host buffers over the network transports.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "railcc/config.hpp"
#include "railcc/cuda_stream.hpp"
#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"
#include "railcc/store.hpp"
#include "railcc/work.hpp"

namespace railcc {

namespace detail {
class CommunicatorImpl;
}

class Communicator {
 public:
  // Joins the job described by the environment (railcc-run, torchrun, Open MPI, Slurm or
  // RAILCC_RANK/RAILCC_WORLD_SIZE/RAILCC_STORE_ADDR). Throws ConfigError when none is found.
  static std::shared_ptr<Communicator> init();
  static std::shared_ptr<Communicator> init(const Config& config);
  // Joins through an existing store (e.g. torch's c10d store); all ranks call it.
  static std::shared_ptr<Communicator> init(std::shared_ptr<Store> store, int rank, int size,
                                            const Config& config = Config::from_env());
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const noexcept;
  int size() const noexcept;
  const Config& config() const noexcept;
  // Deadline of every later wait of this communicator (RAILCC_TIMEOUT by default).
  void set_timeout(std::chrono::milliseconds timeout);

  // recv[i] = op over ranks of send[i], on every rank.
  Work all_reduce(const void* send, void* recv, std::size_t count, DataType type, ReduceOp op,
                  std::optional<CudaStream> stream = std::nullopt);
  // send holds size()*recv_count elements; rank r gets the reduction of block r.
  Work reduce_scatter(const void* send, void* recv, std::size_t recv_count, DataType type,
                      ReduceOp op, std::optional<CudaStream> stream = std::nullopt);
  // recv holds size()*send_count elements, block r from rank r. In place when
  // send == recv + rank()*send_count elements.
  Work all_gather(const void* send, void* recv, std::size_t send_count, DataType type,
                  std::optional<CudaStream> stream = std::nullopt);
  // root's send is copied into every rank's recv (root may pass send == recv).
  Work broadcast(const void* send, void* recv, std::size_t count, DataType type, int root,
                 std::optional<CudaStream> stream = std::nullopt);
  // recv (significant on root only) = op over ranks of send.
  Work reduce(const void* send, void* recv, std::size_t count, DataType type, ReduceOp op, int root,
              std::optional<CudaStream> stream = std::nullopt);
  // root's recv holds size()*send_count elements, block r from rank r.
  Work gather(const void* send, void* recv, std::size_t send_count, DataType type, int root,
              std::optional<CudaStream> stream = std::nullopt);
  // root's send holds size()*recv_count elements; rank r gets block r.
  Work scatter(const void* send, void* recv, std::size_t recv_count, DataType type, int root,
               std::optional<CudaStream> stream = std::nullopt);
  // Block j of send (count elements) goes to rank j; block i of recv comes from rank i.
  Work all_to_all(const void* send, void* recv, std::size_t count, DataType type,
                  std::optional<CudaStream> stream = std::nullopt);
  // Counts and displacements in elements, one per rank.
  Work all_to_allv(const void* send, std::span<const std::size_t> send_counts,
                   std::span<const std::size_t> send_displs, void* recv,
                   std::span<const std::size_t> recv_counts,
                   std::span<const std::size_t> recv_displs, DataType type,
                   std::optional<CudaStream> stream = std::nullopt);
  // Point to point, ordered per pair of ranks; the tag must match the peer's.
  Work send(const void* buf, std::size_t count, DataType type, int peer, uint32_t tag = 0,
            std::optional<CudaStream> stream = std::nullopt);
  Work recv(void* buf, std::size_t count, DataType type, int peer, uint32_t tag = 0,
            std::optional<CudaStream> stream = std::nullopt);
  Work barrier(std::optional<CudaStream> stream = std::nullopt);

  // Collective over this communicator: ranks with the same color form a new communicator,
  // ordered by (key, rank). color < 0 returns nullptr for that rank.
  std::shared_ptr<Communicator> split(int color, int key);
  // Collective over this communicator: every rank passes the same sorted list; members get the
  // new communicator, the others nullptr.
  std::shared_ptr<Communicator> new_group(std::span<const int> ranks);

  // Zero-copy sends (like NCCL's ncclCommRegister): registers [ptr, ptr + bytes) with this
  // communicator's RDMA devices, so that messages of at least RAILCC_IB_ZCOPY_BYTES sent from
  // inside it are RDMA-written straight from it instead of being copied first. Ops complete only
  // once the devices have read it, so buffers may be reused as before. Call deregister_buffer
  // before freeing the memory: a new allocation at the same address must not inherit the old
  // registration. Without RDMA peers (or for CUDA memory, which travels through host staging)
  // the handle is valid and does nothing. Throws SystemError when a device cannot register it.
  uint64_t register_buffer(const void* ptr, std::size_t bytes);
  // No op of this communicator that uses the buffer may be pending. Unknown handles are ignored.
  void deregister_buffer(uint64_t handle);

  // Collective over this communicator (every rank calls it, in the same order as its ops):
  // registers [ptr, ptr + bytes), which must lie inside memory from railcc::mem_alloc, as a
  // window (like NCCL's ncclCommWindowRegister). Every rank of a host maps the windows of the
  // others, so all_reduce, reduce_scatter, all_gather, broadcast and reduce ops of at least
  // RAILCC_SHM_WINDOW_BYTES whose buffers lie in windows on every rank (broadcast: the root's
  // input; reduce: every input and the root's output) read and write their peers' buffers in place
  // (when every rank shares one host; elsewhere the window does nothing). An op with a buffer
  // outside the windows on any rank runs as usual. Ops queued before it finish first. Throws
  // InvalidArgumentError on every rank when a rank passed memory not from mem_alloc, and
  // SystemError when a rank cannot map a peer's window.
  uint64_t register_window(const void* ptr, std::size_t bytes);
  // Collective: every rank passes the handle its register_window returned. Ops queued before it
  // finish first; free the memory only after it.
  void deregister_window(uint64_t handle);

  // Fails every pending and future op of this communicator with AbortedError. Any thread.
  void abort() noexcept;

  explicit Communicator(std::unique_ptr<detail::CommunicatorImpl> impl);

 private:
  std::unique_ptr<detail::CommunicatorImpl> impl_;
};

}  // namespace railcc
