// Collectives on CUDA buffers, ordered on the caller's CUDA stream like NCCL's.
//
// At the call (prepare(), on the calling thread) railcc enqueues on the user's stream:
//   ready  an event: everything the stream did before the op (e.g. the kernel computing `send`);
//   gate   a wait for a host flag (DeviceApi::wait_flag): the stream stops here until railcc
//          has written the op's results;
//   done   an event: the op's end on the stream (Work::synchronize / wait_stream / is_completed).
// and returns at once. The communicator's worker runs the op in call order: it waits (polling,
// with RAILCC_TIMEOUT) until `ready` completes, moves the data on an internal stream, then opens
// the gate, so the user's later stream work sees the results and nothing before `ready` can be
// overwritten early. Two data paths:
//   - CUDA IPC (ipc_collectives.h): every rank on one host, GPU buffers on every rank,
//     all_reduce / reduce_scatter / all_gather / broadcast / reduce: reduced straight from the
//     peers' GPU memory by the CUDA kernels; one rank works on its own GPU the same way;
//   - staging (everything else, e.g. ranks on other hosts): device -> pinned host buffer, the
//     host algorithms over the network transports, pinned host buffer -> device.
// A gate is always opened, also when the op fails (the Work then carries the error), so a
// failing op never hangs the GPU.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "railcc/config.hpp"
#include "railcc/cuda_stream.hpp"
#include "railcc/store.hpp"
#include "src/algorithms/context.h"
#include "src/common/deadline.h"
#include "src/cuda/buffer_use.h"
#include "src/cuda/device_api.h"
#include "src/cuda/flag_pool.h"
#include "src/cuda/gpu_completion.h"
#include "src/cuda/ipc_collectives.h"
#include "src/cuda/staging_pool.h"

namespace railcc::cuda {

class StreamOps;

// One op on CUDA buffers and/or a CUDA stream, from the call until the worker is done with it.
class DeviceOp {
 public:
  ~DeviceOp();
  DeviceOp(const DeviceOp&) = delete;
  DeviceOp& operator=(const DeviceOp&) = delete;
  // Shared with the op's Work.
  const std::shared_ptr<GpuCompletion>& completion() const { return done_; }
  bool any_device_buffer() const { return send_device_ || recv_device_; }

 private:
  friend class StreamOps;
  DeviceOp() = default;

  StreamOps* owner_ = nullptr;
  DeviceApi* api_ = nullptr;
  StreamHandle user_stream_ = nullptr;
  EventHandle ready_ = nullptr;
  FlagPool::Gate gate_;
  std::shared_ptr<GpuCompletion> done_;
  int device_ = -1;  // the buffers' GPU; -1: host buffers on a stream
  bool send_device_ = false, recv_device_ = false;
  BufferUse use_;
  // The user's buffers, while the op runs on staged copies.
  const std::byte* user_send_ = nullptr;
  std::byte* user_recv_ = nullptr;
  std::byte* staged_recv_ = nullptr;
  StagingPool::Lease send_lease_, recv_lease_;
};

class StreamOps {
 public:
  // What the waits of the worker need from the communicator.
  struct Hooks {
    std::function<void()> idle;  // progress the connections and finish point-to-point ops
    const std::atomic<bool>* abort = nullptr;
  };

  // `store`: the communicator's (prefixed) store, null for one rank; `one_host`: every rank runs
  // on this host.
  StreamOps(const Config& config, int rank, int size, std::shared_ptr<Store> store, bool one_host);
  ~StreamOps();
  StreamOps(const StreamOps&) = delete;
  StreamOps& operator=(const StreamOps&) = delete;

  // At the call, on the calling thread: nullptr for a plain host op (host buffers, no stream).
  // Otherwise enqueues ready / gate / done on the stream (see above). Throws
  // InvalidArgumentError or UnsupportedError (e.g. GPU buffers in a build without CUDA).
  std::unique_ptr<DeviceOp> prepare(const algo::OpArgs& args, const std::optional<CudaStream>& s,
                                    const char* what);

  // Worker: runs a collective. `args` is the op's own copy: its buffer pointers are redirected to
  // staging buffers while run_host() runs the host algorithm on `ctx` (which refers to `args`).
  void run_collective(DeviceOp& d, algo::OpArgs& args, algo::Context& ctx, Deadline deadline,
                      const Hooks& hooks, const std::function<void()>& run_host);
  // Worker, point-to-point: before the op is posted (waits for `ready`, stages a send) and after
  // it completed (stages a receive back; opens the gate).
  void start_p2p(DeviceOp& d, algo::OpArgs& args, Deadline deadline, const Hooks& hooks);
  void finish_p2p(DeviceOp& d, Deadline deadline, const Hooks& hooks);

  // The CUDA IPC path's state: unknown until the first op that could use it.
  enum class IpcState { kUnknown, kOn, kOff };
  IpcState ipc_state() const { return ipc_state_; }

 private:
  friend class DeviceOp;
  void wait_event(EventHandle e, Deadline deadline, const Hooks& hooks, const char* what);
  void enter_device(int device);
  void sync_internal(Deadline deadline, const Hooks& hooks);
  void stage_in(DeviceOp& d, algo::OpArgs& args);
  void stage_out(DeviceOp& d);
  bool use_ipc(const DeviceOp& d, const algo::OpArgs& args);
  void setup_ipc(int device);
  void teardown_ipc();

  Config config_;
  int rank_, size_;
  std::shared_ptr<Store> store_;
  bool one_host_;
  DeviceApi* api_ = nullptr;  // the process's device layer at creation (may be null)

  std::mutex mutex_;             // guards device_ and flags_ creation (calling threads)
  std::atomic<int> device_{-1};  // GPU of this communicator's CUDA buffers (fixed by the first)
  std::unique_ptr<FlagPool> flags_;

  // Worker only.
  std::shared_ptr<StagingPool> staging_;
  StreamHandle stream_ = nullptr;  // internal stream on device_
  EventHandle synced_ = nullptr;   // recorded on stream_ to wait for it
  IpcState ipc_state_ = IpcState::kUnknown;
  void* scratch_base_ = nullptr;
  IpcScratch scratch_;
  std::vector<void*> opened_;  // peers' mappings to close
};

}  // namespace railcc::cuda
