#include "src/cuda/stream_ops.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "railcc/status.hpp"
#include "src/common/log.h"
#include "src/cuda/driver_shim.h"

namespace railcc::cuda {

DeviceOp::~DeviceOp() {
  // Whatever happened to the op, the user's stream must go on.
  if (gate_.valid() && owner_) owner_->flags_->release(gate_);
  if (ready_ && api_) api_->destroy_event(ready_);
}

StreamOps::StreamOps(const Config& config, int rank, int size, std::shared_ptr<Store> store,
                     bool one_host)
    : config_(config), rank_(rank), size_(size), store_(std::move(store)), one_host_(one_host) {}

StreamOps::~StreamOps() {
  if (!api_) return;
  try {
    if (device_.load() >= 0) api_->set_device(device_.load());
    teardown_ipc();
    if (synced_) api_->destroy_event(synced_);
    if (stream_) api_->destroy_stream(stream_);
  } catch (const std::exception& e) {
    RAILCC_DEBUG("cuda", "rank {}: releasing CUDA resources: {}", rank_, e.what());
  }
}

namespace {

// Restores the calling thread's current device after prepare() switched it.
class DeviceGuard {
 public:
  DeviceGuard(DeviceApi& api, int device) : api_(api) {
    if (device < 0) return;
    previous_ = api.current_device();
    if (previous_ != device) {
      api.set_device(device);
    } else {
      previous_ = -1;
    }
  }
  ~DeviceGuard() {
    if (previous_ < 0) return;
    try {
      api_.set_device(previous_);
    } catch (const std::exception&) {
      // Nothing better to do: the op itself is enqueued.
    }
  }

 private:
  DeviceApi& api_;
  int previous_ = -1;
};

bool overlaps(const std::byte* a, std::size_t an, const std::byte* b, std::size_t bn) {
  return a < b + bn && b < a + an;
}

}  // namespace

std::unique_ptr<DeviceOp> StreamOps::prepare(const algo::OpArgs& a,
                                             const std::optional<CudaStream>& stream,
                                             const char* what) {
  if (!config_.cuda) {
    if (stream) {
      throw UnsupportedError(fmt::format(
          "{} on rank {}: a CUDA stream was passed but RAILCC_CUDA=0 turned CUDA support off", what,
          rank_));
    }
    return nullptr;
  }
  // No CUDA here at all (no driver, no device API): no buffer can be device memory. Checked
  // first, as it runs for every op.
  if (!stream && !device_api() && !driver::available()) return nullptr;
  BufferUse use = buffer_use(a, rank_, size_);
  const PointerInfo si = use.send_bytes ? classify_pointer(a.send) : PointerInfo{};
  const PointerInfo ri = use.recv_bytes ? classify_pointer(a.recv) : PointerInfo{};
  if (!si.device && !ri.device && !stream) return nullptr;

  DeviceApi* api = device_api();
  if (!api) {
    throw UnsupportedError(fmt::format(
        "{} on rank {}: {}, but {}", what, rank_,
        si.device || ri.device ? "a buffer is CUDA device memory" : "a CUDA stream was passed",
        no_device_reason()));
  }
  if (si.device && ri.device && si.ordinal != ri.ordinal) {
    throw InvalidArgumentError(
        fmt::format("{} on rank {}: the send buffer is on GPU {} and the receive buffer on GPU {}",
                    what, rank_, si.ordinal, ri.ordinal));
  }
  const int dev = si.device ? si.ordinal : (ri.device ? ri.ordinal : -1);
  {
    std::lock_guard lock(mutex_);
    if (!api_) api_ = api;
    if (!flags_) flags_ = std::make_unique<FlagPool>(*api_);
    if (dev >= 0) {
      const int fixed = device_.load();
      if (fixed < 0) {
        device_.store(dev);
      } else if (fixed != dev) {
        throw InvalidArgumentError(fmt::format(
            "{} on rank {}: the buffers are on GPU {} but this communicator's earlier CUDA "
            "buffers are on GPU {} (one communicator uses one GPU)",
            what, rank_, dev, fixed));
      }
    }
  }

  std::unique_ptr<DeviceOp> d(new DeviceOp);
  d->owner_ = this;
  d->api_ = api_;
  d->user_stream_ = stream ? stream->handle : nullptr;
  d->device_ = dev;
  d->send_device_ = si.device;
  d->recv_device_ = ri.device;
  d->use_ = std::move(use);
  DeviceGuard guard(*api_, dev);
  d->ready_ = api_->create_event();
  api_->record(d->ready_, d->user_stream_);
  d->gate_ = flags_->acquire();
  api_->wait_flag(d->user_stream_, d->gate_.word, d->gate_.value);
  d->done_ = std::make_shared<GpuCompletion>(*api_, api_->create_event());
  api_->record(d->done_->event(), d->user_stream_);
  return d;
}

void StreamOps::enter_device(int device) {
  if (device < 0) return;
  api_->set_device(device);
  if (!stream_) {
    stream_ = api_->create_stream();
    synced_ = api_->create_event();
  }
  if (!staging_) staging_ = StagingPool::create(*api_);
}

void StreamOps::wait_event(EventHandle e, Deadline deadline, const Hooks& hooks, const char* what) {
  int polls = 0;
  while (!api_->query(e)) {
    if (hooks.idle) hooks.idle();
    if (hooks.abort && hooks.abort->load(std::memory_order_relaxed)) {
      throw AbortedError(fmt::format("communicator aborted while waiting for {}", what));
    }
    if (deadline.expired()) {
      throw TimeoutError(fmt::format("{} did not finish on the GPU", what));
    }
    // Yield first (a copy of a few KiB takes microseconds), then sleep a little.
    if (++polls < 64) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(polls < 2000 ? 20 : 200));
    }
  }
}

void StreamOps::sync_internal(Deadline deadline, const Hooks& hooks) {
  api_->record(synced_, stream_);
  wait_event(synced_, deadline, hooks, "railcc's copies and kernels");
}

void StreamOps::stage_in(DeviceOp& d, algo::OpArgs& args) {
  const BufferUse& u = d.use_;
  d.user_send_ = args.send;
  d.user_recv_ = args.recv;
  const bool sdev = d.send_device_ && u.send_bytes > 0;
  const bool rdev = d.recv_device_ && u.recv_bytes > 0;
  if (sdev && rdev && overlaps(args.send, u.send_bytes, args.recv, u.recv_bytes)) {
    // In place: one staging buffer keeps the layout the algorithms expect.
    const std::byte* base = std::min<const std::byte*>(args.send, args.recv);
    const std::byte* end =
        std::max<const std::byte*>(args.send + u.send_bytes, args.recv + u.recv_bytes);
    d.recv_lease_ = staging_->acquire(static_cast<std::size_t>(end - base));
    args.send = d.recv_lease_.data() + (d.user_send_ - base);
    args.recv = d.recv_lease_.data() + (d.user_recv_ - base);
  } else {
    if (sdev) {
      d.send_lease_ = staging_->acquire(u.send_bytes);
      args.send = d.send_lease_.data();
    }
    if (rdev) {
      d.recv_lease_ = staging_->acquire(u.recv_bytes);
      args.recv = d.recv_lease_.data();
    }
  }
  if (sdev)
    api_->copy_async(const_cast<std::byte*>(args.send), d.user_send_, u.send_bytes, stream_);
  d.staged_recv_ = rdev ? args.recv : nullptr;
}

void StreamOps::stage_out(DeviceOp& d) {
  if (!d.staged_recv_) return;
  for (const Span& s : d.use_.recv_written) {
    api_->copy_async(d.user_recv_ + s.offset, d.staged_recv_ + s.offset, s.bytes, stream_);
  }
}

bool StreamOps::use_ipc(const DeviceOp& d, const algo::OpArgs& args) {
  if (!ipc_supports(args.op)) return false;
  // Every buffer this rank uses must be GPU memory (and so on every rank: see README).
  if ((d.use_.send_bytes && !d.send_device_) || (d.use_.recv_bytes && !d.recv_device_)) {
    return false;
  }
  if (!d.send_device_ && !d.recv_device_) return false;  // nothing on the GPU (count 0)
  if (size_ == 1) return true;
  if (!config_.cuda_ipc || !one_host_ || !store_) return false;
  if (ipc_state_ == IpcState::kUnknown) setup_ipc(d.device_);
  return ipc_state_ == IpcState::kOn;
}

void StreamOps::run_collective(DeviceOp& d, algo::OpArgs& args, algo::Context& ctx,
                               Deadline deadline, const Hooks& hooks,
                               const std::function<void()>& run_host) {
  enter_device(d.device_);
  wait_event(d.ready_, deadline, hooks, "the work queued before it on its CUDA stream");
  if (d.device_ >= 0 && use_ipc(d, args)) {
    ctx.set_algorithm(size_ == 1 ? "cuda_local" : "cuda_ipc");
    run_ipc(ctx, args, size_ > 1 ? &scratch_ : nullptr, *api_, stream_,
            [&] { sync_internal(deadline, hooks); });
  } else if (d.device_ >= 0) {
    stage_in(d, args);
    sync_internal(deadline, hooks);
    run_host();
    stage_out(d);
    sync_internal(deadline, hooks);
    args.send = d.user_send_;
    args.recv = d.user_recv_;
  } else {
    run_host();  // host buffers ordered on a stream
  }
  flags_->release(d.gate_);
}

void StreamOps::start_p2p(DeviceOp& d, algo::OpArgs& args, Deadline deadline, const Hooks& hooks) {
  enter_device(d.device_);
  wait_event(d.ready_, deadline, hooks, "the work queued before it on its CUDA stream");
  if (d.device_ < 0) return;
  stage_in(d, args);
  sync_internal(deadline, hooks);
}

void StreamOps::finish_p2p(DeviceOp& d, Deadline deadline, const Hooks& hooks) {
  if (d.device_ >= 0 && d.staged_recv_) {
    enter_device(d.device_);
    stage_out(d);
    sync_internal(deadline, hooks);
  }
  flags_->release(d.gate_);
}

namespace {

// What each rank publishes about its scratch.
struct IpcCard {
  uint64_t pid = 0;
  uint64_t region_bytes = 0;
  uint64_t base = 0;  // its address in the owner's process (ranks in one process share it)
  char uuid[64] = {};
  IpcHandle handle;
};

std::vector<uint8_t> to_bytes(const IpcCard& c) {
  std::vector<uint8_t> out(sizeof(c));
  std::memcpy(out.data(), &c, sizeof(c));
  return out;
}

}  // namespace

void StreamOps::setup_ipc(int device) {
  ipc_state_ = IpcState::kOff;  // until proven otherwise
  const auto timeout = config_.timeout;
  std::size_t region = std::max<std::size_t>(config_.cuda_ipc_chunk_bytes, 4096);
  region = (region + 255) / 256 * 256;
  scratch_base_ = api_->alloc_device(2 * region);
  IpcCard mine;
  mine.pid = static_cast<uint64_t>(::getpid());
  mine.region_bytes = region;
  mine.base = reinterpret_cast<uintptr_t>(scratch_base_);
  const std::string uuid = api_->device_uuid(device);
  std::strncpy(mine.uuid, uuid.c_str(), sizeof(mine.uuid) - 1);
  mine.handle = api_->ipc_export(scratch_base_);
  store_->set(fmt::format("cuda/ipc/{}", rank_), to_bytes(mine));

  scratch_.in.assign(static_cast<std::size_t>(size_), nullptr);
  scratch_.out.assign(static_cast<std::size_t>(size_), nullptr);
  std::size_t agreed = region;
  bool ok = true;
  std::string why;
  int same_gpu = 0;
  for (int q = 0; q < size_; ++q) {
    IpcCard card;
    if (q == rank_) {
      card = mine;
    } else {
      const auto raw = store_->get(fmt::format("cuda/ipc/{}", q), timeout);
      if (raw.size() != sizeof(card)) throw ProtocolError("malformed CUDA IPC record in the store");
      std::memcpy(&card, raw.data(), sizeof(card));
    }
    agreed = std::min<std::size_t>(agreed, card.region_bytes);
    std::byte* base = nullptr;
    if (q == rank_) {
      base = static_cast<std::byte*>(scratch_base_);
    } else if (card.pid == mine.pid) {
      base = reinterpret_cast<std::byte*>(static_cast<uintptr_t>(card.base));
    } else if (ok) {
      base = static_cast<std::byte*>(api_->ipc_open(card.handle));
      if (base) {
        opened_.push_back(base);
      } else {
        ok = false;
        why = fmt::format("this rank cannot map rank {}'s GPU memory (GPU {})", q, card.uuid);
      }
    }
    if (std::strncmp(card.uuid, mine.uuid, sizeof(card.uuid)) == 0) ++same_gpu;
    scratch_.in[q] = base;
    scratch_.out[q] = base ? base + card.region_bytes : nullptr;
  }
  scratch_.region_bytes = agreed;
  // Everyone must agree, or nobody uses the path.
  store_->set(fmt::format("cuda/ipc_ok/{}", rank_), {static_cast<uint8_t>(ok ? 1 : 0)});
  bool all_ok = ok;
  for (int q = 0; q < size_; ++q) {
    if (q == rank_) continue;
    const auto raw = store_->get(fmt::format("cuda/ipc_ok/{}", q), timeout);
    if (raw.size() != 1 || raw[0] != 1) {
      if (all_ok && ok) why = fmt::format("rank {} cannot map a peer's GPU memory", q);
      all_ok = false;
    }
  }
  if (all_ok) {
    ipc_state_ = IpcState::kOn;
    RAILCC_INFO("cuda",
                "rank {}: CUDA IPC between the {} ranks of this host ({} on this rank's GPU), "
                "scratch 2 x {} bytes",
                rank_, size_, same_gpu, agreed);
  } else {
    RAILCC_WARN("cuda", "rank {}: CUDA buffers go through host staging instead of CUDA IPC: {}",
                rank_, why);
    teardown_ipc();
    ipc_state_ = IpcState::kOff;
  }
}

void StreamOps::teardown_ipc() {
  if (ipc_state_ == IpcState::kOn && store_) {
    // A peer may still be reading this rank's scratch (the end of its last all_reduce): wait,
    // briefly, until every rank got here before freeing it.
    try {
      store_->set(fmt::format("cuda/ipc_bye/{}", rank_), {1});
      std::vector<std::string> keys;
      for (int q = 0; q < size_; ++q) keys.push_back(fmt::format("cuda/ipc_bye/{}", q));
      store_->wait(keys,
                   std::min<std::chrono::milliseconds>(config_.timeout, std::chrono::seconds(10)));
    } catch (const std::exception& e) {
      RAILCC_DEBUG("cuda", "rank {}: not every rank confirmed the end of CUDA IPC: {}", rank_,
                   e.what());
    }
  }
  for (void* p : opened_) api_->ipc_close(p);
  opened_.clear();
  if (scratch_base_) api_->free_device(scratch_base_);
  scratch_base_ = nullptr;
  scratch_ = {};
  ipc_state_ = IpcState::kOff;
}

}  // namespace railcc::cuda
