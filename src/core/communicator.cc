// Public Communicator API: argument validation (nothing is sent for a bad call) and init.
#include "railcc/communicator.hpp"

#include <fmt/format.h>

#include <cstring>
#include <limits>
#include <mutex>
#include <random>

#include "railcc/status.hpp"
#include "src/bootstrap/auth.h"
#include "src/common/log.h"
#include "src/core/communicator_impl.h"
#include "src/core/topology_rails.h"

namespace railcc {

using algo::OpArgs;
using wire::OpKind;

namespace {

std::string where(const char* op, int rank) { return fmt::format("{} on rank {}", op, rank); }

std::size_t checked_bytes(const char* op, int rank, std::size_t count, DataType type,
                          std::size_t blocks = 1) {
  if (!is_valid(type)) {
    throw InvalidArgumentError(
        fmt::format("{}: unknown data type {}", where(op, rank), static_cast<int>(type)));
  }
  const std::size_t es = data_type_size(type);
  if (blocks == 0 || count > std::numeric_limits<std::size_t>::max() / 4 / es / blocks) {
    throw InvalidArgumentError(
        fmt::format("{}: count {} x {} ranks of {} overflows the address "
                    "space",
                    where(op, rank), count, blocks, data_type_name(type)));
  }
  return count * es * blocks;
}

void check_op(const char* op, int rank, ReduceOp r) {
  if (!is_valid(r)) {
    throw InvalidArgumentError(
        fmt::format("{}: unknown reduce op {}", where(op, rank), static_cast<int>(r)));
  }
}

void check_ptr(const char* op, int rank, const void* p, std::size_t bytes, const char* name) {
  if (p == nullptr && bytes > 0) {
    throw InvalidArgumentError(
        fmt::format("{}: {} is null but {} bytes are to be used", where(op, rank), name, bytes));
  }
}

void check_rank(const char* op, int rank, int value, int size, const char* name) {
  if (value < 0 || value >= size) {
    throw InvalidArgumentError(
        fmt::format("{}: {} {} is out of range [0, {})", where(op, rank), name, value, size));
  }
}

// Send and receive buffers may be the same (in place) or disjoint; partial overlap would read
// data the op already overwrote.
void check_overlap(const char* op, int rank, const void* a, std::size_t an, const void* b,
                   std::size_t bn, const void* in_place_a) {
  if (!a || !b || an == 0 || bn == 0 || a == in_place_a) return;
  const auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  if (x < y + bn && y < x + an) {
    throw InvalidArgumentError(fmt::format(
        "{}: send and receive buffers overlap without being in place (see communicator.hpp "
        "for the in-place layout)",
        where(op, rank)));
  }
}

OpArgs make_args(OpKind op, const void* send, void* recv, std::size_t count, DataType type,
                 ReduceOp redop = ReduceOp::kSum, int root = -1) {
  OpArgs a;
  a.op = op;
  a.send = static_cast<const std::byte*>(send);
  a.recv = static_cast<std::byte*>(recv);
  a.count = count;
  a.dtype = type;
  a.redop = redop;
  a.root = root;
  return a;
}

// Rank 0 draws a random id for the job; every rank reads it. Peers present it in their hello and
// it names shared-memory segments, so jobs sharing a key still stay apart. Not a secret: peers
// authenticate with the peer key below.
uint64_t agree_on_job_key(Store& store, int rank, std::chrono::milliseconds timeout) {
  if (rank == 0) {
    std::random_device rd;
    const uint64_t key = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    std::vector<uint8_t> bytes(8);
    std::memcpy(bytes.data(), &key, 8);
    store.set("railcc/job_key", bytes);
  }
  const auto raw = store.get("railcc/job_key", timeout);
  if (raw.size() != 8) throw ProtocolError("the store holds a malformed railcc/job_key");
  uint64_t key = 0;
  std::memcpy(&key, raw.data(), 8);
  return key;
}

// The key every peer socket is authenticated with (src/bootstrap/auth.h). RAILCC_JOB_KEY when
// set: it never goes into the store. Otherwise rank 0 draws a random one and publishes it in the
// store, which is then what vouches for the ranks (torch's store, or railcc's own store, which
// is open without a key).
auth::Key agree_on_peer_key(Store& store, int rank, const Config& config) {
  if (!config.launch.job_key.empty()) return auth::derive_key(config.launch.job_key);
  if (rank == 0) {
    const auth::Key key = auth::random_key();
    store.set("railcc/peer_key", std::vector<uint8_t>(key.begin(), key.end()));
  }
  const auto raw = store.get("railcc/peer_key", config.timeout);
  auth::Key key{};
  if (raw.size() != key.size()) throw ProtocolError("the store holds a malformed railcc/peer_key");
  std::copy(raw.begin(), raw.end(), key.begin());
  return key;
}

// RAILCC_RAILS=auto: the rails come from the topology once, here; communicators split from this
// one copy the filled-in config and so use the same rails without loading the topology again.
void resolve_auto_rails(Config& config, int rank) {
  if (!config.rails_auto || !config.rails.empty()) return;
  const int local_rank = config.launch.local_rank >= 0 ? config.launch.local_rank : rank;
  config.rails = core::rails_from_topology(config, rank, local_rank);
}

}  // namespace

Communicator::Communicator(std::unique_ptr<detail::CommunicatorImpl> impl)
    : impl_(std::move(impl)) {}
Communicator::~Communicator() = default;

int Communicator::rank() const noexcept { return impl_->rank(); }
int Communicator::size() const noexcept { return impl_->size(); }
const Config& Communicator::config() const noexcept { return impl_->config(); }

void Communicator::set_timeout(std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) throw InvalidArgumentError("set_timeout: timeout must be positive");
  impl_->set_timeout(timeout);
}

std::shared_ptr<Communicator> Communicator::init() { return init(Config::from_env()); }

std::shared_ptr<Communicator> Communicator::init(const Config& config) {
  log::configure(config);
  const LaunchInfo& l = config.launch;
  if (config.debug_enabled("config") && l.rank <= 0) {
    log::write(LogLevel::kInfo, "config", config.to_string());
  }
  detail::CommParams p;
  p.config = config;
  if (l.source.empty()) {
    if (!l.store_addr.empty()) {
      throw ConfigError(
          "RAILCC_STORE_ADDR (or MASTER_ADDR) is set but no rank: set RAILCC_RANK "
          "and RAILCC_WORLD_SIZE, or start the job with railcc-run");
    }
    // Not launched as part of a job: a communicator of one rank.
    return std::make_shared<Communicator>(detail::CommunicatorImpl::create(std::move(p)));
  }
  p.rank = l.rank;
  p.size = l.world_size;
  log::set_rank(p.rank);
  if (p.size > 1 && l.store_addr.empty()) {
    throw ConfigError(fmt::format(
        "rank {} of {} (from {}) has no rendezvous address: set RAILCC_STORE_ADDR=host:port or "
        "MASTER_ADDR and MASTER_PORT",
        p.rank, p.size, l.source));
  }
  if (p.size > 1) {
    resolve_auto_rails(p.config, p.rank);
    if (l.store_is_server) {
      const auto colon = l.store_addr.rfind(':');
      std::string host = l.store_addr.substr(0, colon);
      if (host != "127.0.0.1" && host != "localhost" && host != "::1") host = "0.0.0.0";
      p.server = start_store_server(host, std::stoi(l.store_addr.substr(colon + 1)), l.job_key);
    }
    if (l.job_key.empty()) {
      static std::once_flag once;
      std::call_once(once, [&] {
        RAILCC_INFO("store",
                    "the rendezvous store {} is unauthenticated: anyone who can reach it can "
                    "join or disturb the job; set the same RAILCC_JOB_KEY on every rank (or "
                    "start the job with railcc-run, which does)",
                    l.store_addr);
      });
    }
    p.root_store = connect_tcp_store(l.store_addr, config.timeout, l.job_key);
    p.job_key = agree_on_job_key(*p.root_store, p.rank, config.timeout);
    p.peer_key = agree_on_peer_key(*p.root_store, p.rank, config);
  }
  return std::make_shared<Communicator>(detail::CommunicatorImpl::create(std::move(p)));
}

std::shared_ptr<Communicator> Communicator::init(std::shared_ptr<Store> store, int rank, int size,
                                                 const Config& config) {
  log::configure(config);
  if (size < 1) throw InvalidArgumentError(fmt::format("init: size {} must be >= 1", size));
  if (rank < 0 || rank >= size) {
    throw InvalidArgumentError(fmt::format("init: rank {} out of range [0, {})", rank, size));
  }
  if (!store && size > 1) throw InvalidArgumentError("init: store is null");
  log::set_rank(rank);
  detail::CommParams p;
  p.config = config;
  p.rank = rank;
  p.size = size;
  p.root_store = std::move(store);
  if (size > 1) {
    resolve_auto_rails(p.config, rank);
    p.job_key = agree_on_job_key(*p.root_store, rank, config.timeout);
    p.peer_key = agree_on_peer_key(*p.root_store, rank, config);
  }
  return std::make_shared<Communicator>(detail::CommunicatorImpl::create(std::move(p)));
}

Work Communicator::all_reduce(const void* send, void* recv, std::size_t count, DataType type,
                              ReduceOp op, std::optional<CudaStream> stream) {
  const int r = rank();
  const std::size_t bytes = checked_bytes("all_reduce", r, count, type);
  check_op("all_reduce", r, op);
  check_ptr("all_reduce", r, send, bytes, "send buffer");
  check_ptr("all_reduce", r, recv, bytes, "receive buffer");
  check_overlap("all_reduce", r, send, bytes, recv, bytes, recv);
  return impl_->enqueue(make_args(OpKind::kAllReduce, send, recv, count, type, op), stream);
}

Work Communicator::reduce_scatter(const void* send, void* recv, std::size_t recv_count,
                                  DataType type, ReduceOp op, std::optional<CudaStream> stream) {
  const int r = rank();
  const std::size_t bytes = checked_bytes("reduce_scatter", r, recv_count, type);
  const std::size_t total = checked_bytes("reduce_scatter", r, recv_count, type, size());
  check_op("reduce_scatter", r, op);
  check_ptr("reduce_scatter", r, send, total, "send buffer");
  check_ptr("reduce_scatter", r, recv, bytes, "receive buffer");
  check_overlap("reduce_scatter", r, recv, bytes, send, total,
                static_cast<const std::byte*>(send) + bytes * r);
  return impl_->enqueue(make_args(OpKind::kReduceScatter, send, recv, recv_count, type, op),
                        stream);
}

Work Communicator::all_gather(const void* send, void* recv, std::size_t send_count, DataType type,
                              std::optional<CudaStream> stream) {
  const int r = rank();
  const std::size_t bytes = checked_bytes("all_gather", r, send_count, type);
  const std::size_t total = checked_bytes("all_gather", r, send_count, type, size());
  check_ptr("all_gather", r, send, bytes, "send buffer");
  check_ptr("all_gather", r, recv, total, "receive buffer");
  check_overlap("all_gather", r, send, bytes, recv, total,
                static_cast<const std::byte*>(recv) + bytes * r);
  return impl_->enqueue(make_args(OpKind::kAllGather, send, recv, send_count, type), stream);
}

Work Communicator::broadcast(const void* send, void* recv, std::size_t count, DataType type,
                             int root, std::optional<CudaStream> stream) {
  const int r = rank();
  const std::size_t bytes = checked_bytes("broadcast", r, count, type);
  check_rank("broadcast", r, root, size(), "root");
  if (r == root) check_ptr("broadcast", r, send, bytes, "send buffer");
  check_ptr("broadcast", r, recv, bytes, "receive buffer");
  if (r == root) check_overlap("broadcast", r, send, bytes, recv, bytes, recv);
  return impl_->enqueue(
      make_args(OpKind::kBroadcast, send, recv, count, type, ReduceOp::kSum, root), stream);
}

Work Communicator::reduce(const void* send, void* recv, std::size_t count, DataType type,
                          ReduceOp op, int root, std::optional<CudaStream> stream) {
  const int r = rank();
  const std::size_t bytes = checked_bytes("reduce", r, count, type);
  check_op("reduce", r, op);
  check_rank("reduce", r, root, size(), "root");
  check_ptr("reduce", r, send, bytes, "send buffer");
  if (r == root) {
    check_ptr("reduce", r, recv, bytes, "receive buffer");
    check_overlap("reduce", r, send, bytes, recv, bytes, recv);
  }
  return impl_->enqueue(make_args(OpKind::kReduce, send, recv, count, type, op, root), stream);
}

Work Communicator::gather(const void* send, void* recv, std::size_t send_count, DataType type,
                          int root, std::optional<CudaStream> stream) {
  const int r = rank();
  const std::size_t bytes = checked_bytes("gather", r, send_count, type);
  const std::size_t total = checked_bytes("gather", r, send_count, type, size());
  check_rank("gather", r, root, size(), "root");
  check_ptr("gather", r, send, bytes, "send buffer");
  if (r == root) {
    check_ptr("gather", r, recv, total, "receive buffer");
    check_overlap("gather", r, send, bytes, recv, total,
                  static_cast<const std::byte*>(recv) + bytes * r);
  }
  return impl_->enqueue(
      make_args(OpKind::kGather, send, recv, send_count, type, ReduceOp::kSum, root), stream);
}

Work Communicator::scatter(const void* send, void* recv, std::size_t recv_count, DataType type,
                           int root, std::optional<CudaStream> stream) {
  const int r = rank();
  const std::size_t bytes = checked_bytes("scatter", r, recv_count, type);
  const std::size_t total = checked_bytes("scatter", r, recv_count, type, size());
  check_rank("scatter", r, root, size(), "root");
  check_ptr("scatter", r, recv, bytes, "receive buffer");
  if (r == root) {
    check_ptr("scatter", r, send, total, "send buffer");
    check_overlap("scatter", r, recv, bytes, send, total,
                  static_cast<const std::byte*>(send) + bytes * r);
  }
  return impl_->enqueue(
      make_args(OpKind::kScatter, send, recv, recv_count, type, ReduceOp::kSum, root), stream);
}

Work Communicator::all_to_all(const void* send, void* recv, std::size_t count, DataType type,
                              std::optional<CudaStream> stream) {
  const int r = rank();
  const std::size_t total = checked_bytes("all_to_all", r, count, type, size());
  check_ptr("all_to_all", r, send, total, "send buffer");
  check_ptr("all_to_all", r, recv, total, "receive buffer");
  check_overlap("all_to_all", r, send, total, recv, total, recv);
  return impl_->enqueue(make_args(OpKind::kAllToAll, send, recv, count, type), stream);
}

Work Communicator::all_to_allv(const void* send, std::span<const std::size_t> send_counts,
                               std::span<const std::size_t> send_displs, void* recv,
                               std::span<const std::size_t> recv_counts,
                               std::span<const std::size_t> recv_displs, DataType type,
                               std::optional<CudaStream> stream) {
  const int r = rank();
  const std::size_t n = static_cast<std::size_t>(size());
  checked_bytes("all_to_allv", r, 1, type);
  if (send_counts.size() != n || send_displs.size() != n || recv_counts.size() != n ||
      recv_displs.size() != n) {
    throw InvalidArgumentError(
        fmt::format("{}: counts and displacements need one entry per rank ({}), got {}, {}, {}, {}",
                    where("all_to_allv", r), n, send_counts.size(), send_displs.size(),
                    recv_counts.size(), recv_displs.size()));
  }
  std::size_t send_extent = 0, recv_extent = 0;
  for (std::size_t q = 0; q < n; ++q) {
    for (std::size_t v : {send_counts[q], send_displs[q], recv_counts[q], recv_displs[q]}) {
      checked_bytes("all_to_allv", r, v, type);
    }
    send_extent = std::max(send_extent, send_counts[q] + send_displs[q]);
    recv_extent = std::max(recv_extent, recv_counts[q] + recv_displs[q]);
  }
  const std::size_t es = data_type_size(type);
  checked_bytes("all_to_allv", r, send_extent, type);
  checked_bytes("all_to_allv", r, recv_extent, type);
  check_ptr("all_to_allv", r, send, send_extent * es, "send buffer");
  check_ptr("all_to_allv", r, recv, recv_extent * es, "receive buffer");
  check_overlap("all_to_allv", r, send, send_extent * es, recv, recv_extent * es, recv);
  OpArgs a;
  a.op = OpKind::kAllToAllv;
  a.send = static_cast<const std::byte*>(send);
  a.recv = static_cast<std::byte*>(recv);
  a.dtype = type;
  a.send_counts.assign(send_counts.begin(), send_counts.end());
  a.send_displs.assign(send_displs.begin(), send_displs.end());
  a.recv_counts.assign(recv_counts.begin(), recv_counts.end());
  a.recv_displs.assign(recv_displs.begin(), recv_displs.end());
  return impl_->enqueue(std::move(a), stream);
}

Work Communicator::send(const void* buf, std::size_t count, DataType type, int peer, uint32_t tag,
                        std::optional<CudaStream> stream) {
  const int r = rank();
  const std::size_t bytes = checked_bytes("send", r, count, type);
  check_rank("send", r, peer, size(), "peer");
  check_ptr("send", r, buf, bytes, "buffer");
  OpArgs a;
  a.op = OpKind::kSendRecv;
  a.send = static_cast<const std::byte*>(buf);
  a.count = count;
  a.dtype = type;
  a.peer = peer;
  a.tag = tag;
  a.is_send = true;
  return impl_->enqueue(std::move(a), stream);
}

Work Communicator::recv(void* buf, std::size_t count, DataType type, int peer, uint32_t tag,
                        std::optional<CudaStream> stream) {
  const int r = rank();
  const std::size_t bytes = checked_bytes("recv", r, count, type);
  check_rank("recv", r, peer, size(), "peer");
  check_ptr("recv", r, buf, bytes, "buffer");
  OpArgs a;
  a.op = OpKind::kSendRecv;
  a.recv = static_cast<std::byte*>(buf);
  a.count = count;
  a.dtype = type;
  a.peer = peer;
  a.tag = tag;
  return impl_->enqueue(std::move(a), stream);
}

Work Communicator::barrier(std::optional<CudaStream> stream) {
  OpArgs a;
  a.op = OpKind::kBarrier;
  return impl_->enqueue(std::move(a), stream);
}

std::shared_ptr<Communicator> Communicator::split(int color, int key) {
  return impl_->split(color < 0 ? -1 : color, key, 0);
}

std::shared_ptr<Communicator> Communicator::new_group(std::span<const int> ranks) {
  const int r = rank();
  uint64_t hash = 1469598103934665603ull;
  bool member = false;
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    check_rank("new_group", r, ranks[i], size(), "rank in the list");
    if (i > 0 && ranks[i] <= ranks[i - 1]) {
      throw InvalidArgumentError(
          fmt::format("{}: the rank list must be sorted and unique", where("new_group", r)));
    }
    member |= ranks[i] == r;
    hash = (hash ^ static_cast<uint64_t>(ranks[i])) * 1099511628211ull;
  }
  if (ranks.empty()) {
    throw InvalidArgumentError(fmt::format("{}: empty rank list", where("new_group", r)));
  }
  hash &= 0x7FFFFFFFFFFFFFFFull;
  return impl_->split(member ? 0 : -1, r, hash | 1);
}

void Communicator::abort() noexcept { impl_->abort(); }

uint64_t Communicator::register_buffer(const void* ptr, std::size_t bytes) {
  return impl_->register_buffer(ptr, bytes);
}

void Communicator::deregister_buffer(uint64_t handle) { impl_->deregister_buffer(handle); }

uint64_t Communicator::register_window(const void* ptr, std::size_t bytes) {
  return impl_->register_window(ptr, bytes);
}

void Communicator::deregister_window(uint64_t handle) { impl_->deregister_window(handle); }

}  // namespace railcc
