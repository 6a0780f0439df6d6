// Every setting railcc reads from the environment, in one typed struct read once.
// Each field names its variable; README.md has the same table. A bad value throws ConfigError
// naming the variable and the accepted values.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace railcc {

enum class TransportKind { kAuto, kShm, kTcp, kVerbs, kUcx };
enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3, kTrace = 4 };

// Where rank, world size and the rendezvous address came from.
struct LaunchInfo {
  int rank = -1;        // RAILCC_RANK | RANK | OMPI_COMM_WORLD_RANK | PMI_RANK | SLURM_PROCID
  int world_size = -1;  // RAILCC_WORLD_SIZE | WORLD_SIZE | OMPI_COMM_WORLD_SIZE | SLURM_NTASKS
  int local_rank =
      -1;  // RAILCC_LOCAL_RANK | LOCAL_RANK | OMPI_COMM_WORLD_LOCAL_RANK | SLURM_LOCALID
  int local_world_size =
      -1;                  // LOCAL_WORLD_SIZE | OMPI_COMM_WORLD_LOCAL_SIZE | SLURM_NTASKS_PER_NODE
  std::string store_addr;  // RAILCC_STORE_ADDR host:port, else MASTER_ADDR:MASTER_PORT
  bool store_is_server = false;  // true on rank 0 when the address came from MASTER_ADDR/PORT
  std::string source;            // "railcc", "torchrun", "openmpi", "slurm" or "" (not launched)
  // RAILCC_JOB_KEY: the job's shared secret (any string of 16+ characters; railcc-run makes a
  // random one). Set: store and peer connections prove they know it (HMAC challenge-response).
  // Unset: peers authenticate with a random key rank 0 publishes in the store, which is then the
  // trust anchor (torch's store; railcc's own store is then open). Never printed.
  std::string job_key;
};

// Cost of one message on a link: latency (alpha) and bandwidth (1/beta).
struct LinkCost {
  double alpha_us = 0;
  double gbps = 1;  // GB/s (1e9 bytes per second)
};

// One entry of RAILCC_IB_HCA: an RDMA device and one of its ports.
struct IbPort {
  std::string device;  // e.g. "mlx5_0"
  int port = 1;
};

// RAILCC_FAULT (testing only): one fault injected on purpose, to prove that every fault ends in
// the right result or a clear error on every rank. Grammar "kind:rank:op[:ms]", op being the
// collective sequence number on the world communicator (1 = its first collective):
//   drop     rank closes its connection(s) to the next rank when op starts
//   delay    rank sleeps ms before op             slow  rank sleeps ms before op and every later op
//   kill     rank dies (SIGKILL) ms after op starts
//   corrupt  one byte of the first message rank sends in op is flipped on the wire
//   rail     rank takes its first rail down when op starts (multi-rail connections)
//   stall    rank stops moving bytes on its first rail (both ways) when op starts, the link
//            staying up: a hung rail, which failover only notices after RAILCC_RAIL_TIMEOUT
struct FaultSpec {
  enum class Kind { kNone, kDrop, kDelay, kSlow, kKill, kCorrupt, kRail, kStall };
  Kind kind = Kind::kNone;
  int rank = -1;
  uint64_t op = 0;
  int ms = 0;
  bool enabled() const { return kind != Kind::kNone; }
};

struct Config {
  // RAILCC_TIMEOUT: seconds (fractions allowed) any blocking wait may take. Default 300.
  std::chrono::milliseconds timeout{300'000};
  // RAILCC_TRANSPORT: auto | shm | tcp | verbs | ucx. auto uses shm between ranks on one host
  // and, between hosts, RDMA verbs where a device exists, tcp otherwise; verbs uses RDMA between
  // every pair of ranks and fails init when there is no device; ucx reaches every peer through
  // UCX (transport/ucx), which picks its own wires as UCX_TLS allows.
  TransportKind transport = TransportKind::kAuto;
  // RAILCC_LOG_LEVEL: error | warn | info | debug | trace. Default warn.
  LogLevel log_level = LogLevel::kWarn;
  // RAILCC_DEBUG: comma list of subsystems to log at debug level:
  // config,init,coll,net,store,shm,algo,all.
  std::string debug_subsystems;
  // RAILCC_CHUNK_BYTES: pipeline chunk of the ring algorithms. Default 512 KiB.
  std::size_t chunk_bytes = 512 * 1024;
  // RAILCC_SMALL_MSG_BYTES: all_reduce/reduce below this use the one-round direct algorithm.
  std::size_t small_message_bytes = 16 * 1024;
  // RAILCC_ALGO: all_reduce algorithm: auto (cost model) | ring | tree | hd | rd | hier | direct.
  std::string algo = "auto";
  // RAILCC_COST_INTRA / RAILCC_COST_INTER: "alpha_us,GB/s" of one message between ranks on one
  // host (shared memory) and on different hosts (tcp; also used within a host under
  // RAILCC_TRANSPORT=tcp). They feed the algorithm cost model. Defaults: measured on a 2-core
  // VM with 4 ranks (shared memory) and over loopback tcp; set them for real clusters.
  LinkCost cost_intra{10.0, 1.2};
  LinkCost cost_inter{40.0, 0.5};
  // RAILCC_COST_REDUCE_GBPS: bytes per second (in GB/s) one rank reduces. Default 4.
  double cost_reduce_gbps = 4.0;
  // RAILCC_RANKS_PER_HOST: treat every N consecutive ranks as one host when choosing and
  // building algorithms (to exercise the hierarchical algorithm on one machine). 0 (default):
  // hosts come from the hostname each rank reports at init.
  int ranks_per_host = 0;
  // RAILCC_SHM_RING_BYTES: shared-memory ring per ordered pair of local ranks. Default 4 MiB.
  std::size_t shm_ring_bytes = 4 * 1024 * 1024;
  // RAILCC_SHM_SINGLE_COPY_BYTES: between ranks on one host, messages and all_reduce /
  // reduce_scatter / all_gather ops of at least this many bytes are read straight from the
  // sender's memory (cross-memory attach: one copy instead of two through a ring) when the kernel
  // allows it (collectives of 3+ ranks: from a quarter of it). 0 = never. Default 4 MiB.
  std::size_t shm_single_copy_bytes = 4 * 1024 * 1024;
  // RAILCC_SHM_MAILBOX_BYTES: when every rank of a communicator shares one host, all_reduce ops
  // of at most this many bytes go through per-rank shared-memory mailboxes (each rank posts its
  // data, reads its peers' and reduces) instead of messages (src/algorithms/mailbox.h). The
  // smallest value among the ranks applies. 0 = never. Default 2 MiB; at most 64 MiB. Each rank's
  // segment holds two mailboxes of this size (pages are only used as far as ops fill them).
  std::size_t shm_mailbox_bytes = 2 * 1024 * 1024;
  // RAILCC_SHM_WINDOW_BYTES: when every rank of a communicator shares one host and buffers from
  // railcc::mem_alloc were registered (Communicator::register_window), all_reduce,
  // reduce_scatter, all_gather, broadcast and reduce ops of at least this many bytes whose
  // buffers lie in windows read and write their peers' buffers in place
  // (src/algorithms/window.h). The largest
  // value among the ranks at registration applies. 0 = never. Default 128 KiB.
  std::size_t shm_window_bytes = 128 * 1024;
  // RAILCC_TCP_SOCKETS: sockets per peer for tcp; messages are spread over them. Default 2.
  int tcp_sockets_per_peer = 2;
  // RAILCC_SOCKET_ADDR: IP address to listen on for peers. Default: the local address that
  // reaches the rendezvous store.
  std::string socket_addr;
  // RAILCC_INLINE_BYTES: collectives of at most this many bytes per rank run on the thread that
  // waits for them instead of the worker thread (saves a thread hand-off); one nobody waits for
  // starts on the worker within about 1 ms. 0 = always on the worker. Default 256 KiB.
  std::size_t inline_bytes = 256 * 1024;
  // RAILCC_RAILS: comma list of rails (interface names or local IP addresses), e.g.
  // "rail0,rail1". Set: every tcp peer is reached over all of them (transport/multirail), the
  // same rail index on both sides; empty: plain tcp as above.
  std::vector<std::string> rails;
  // RAILCC_RAILS=auto: `rails` is filled at communicator init from the topology rail plan
  // (RAILCC_TOPO_FILE, else hwloc): the interfaces of the NICs nearest this rank's GPU.
  bool rails_auto = false;
  // RAILCC_RAIL_CHUNK_BYTES: messages are cut into pieces of this size and the pieces spread
  // over the rails; smaller messages travel whole on one rail. Default 128 KiB.
  std::size_t rail_chunk_bytes = 128 * 1024;
  // RAILCC_RAIL_TIMEOUT: seconds a rail may move nothing while it owes data and the peer answers
  // on other rails before it is taken out of service (a rail whose link is down goes at once).
  // Default 0.5.
  std::chrono::milliseconds rail_timeout{500};
  // RAILCC_IB_HCA: comma list of RDMA ports "device[:port]" (port 1 if omitted), e.g.
  // "mlx5_0:1,mlx5_1:1"; with two or more, each is a rail (transport/multirail). Default: the
  // HCAs the topology rail plan puts nearest this rank's GPU (RAILCC_TOPO_FILE, else hwloc; see
  // transport/verbs/verbs_port_plan.h), else port 1 of every device whose port is ACTIVE.
  std::vector<IbPort> ib_hca;
  // RAILCC_IB_GID_INDEX: GID table index for RoCE. -1 (default): the first RoCE v2 GID holding an
  // IPv4 address, else any RoCE v2 GID, else any.
  int ib_gid_index = -1;
  // RAILCC_IB_QPS: queue pairs per peer on a single RDMA port; messages alternate between them.
  // Default 2.
  int ib_qps_per_peer = 2;
  // RAILCC_IB_RING_BYTES: receive ring per queue pair, which the sender writes into with RDMA
  // (power of two). Default 1 MiB.
  std::size_t ib_ring_bytes = 1024 * 1024;
  // RAILCC_IB_ZCOPY_BYTES: messages of at least this many bytes that lie inside a buffer
  // registered with Communicator::register_buffer are RDMA-written straight from it instead of
  // being copied to the staging ring first. 0 = always copy. Default 64 KiB.
  std::size_t ib_zcopy_bytes = 64 * 1024;
  // UCX_TLS and UCX_NET_DEVICES as set (UCX reads them itself; railcc only quotes them in
  // messages about RAILCC_TRANSPORT=ucx). Empty when unset.
  std::string ucx_tls;
  std::string ucx_net_devices;
  // RAILCC_SPIN_US: microseconds a waiting thread polls before it sleeps. Default 20.
  int spin_us = 20;
  // RAILCC_TELEMETRY: 0 turns off the always-on counters and histograms (for measuring their
  // cost; RAILCC_METRICS then reports zeros). Default 1.
  bool telemetry = true;
  // RAILCC_TRACE: directory for one Chrome/Perfetto trace per rank and communicator. Default off.
  std::string trace_dir;
  // RAILCC_FLIGHT_RECORDER: how many recent ops each communicator remembers (op, size, state,
  // the peer and rail it waits on) for a dump on timeout, fatal error or SIGUSR1. 0 = off.
  // Default 256.
  std::size_t flight_recorder = 256;
  // RAILCC_FLIGHT_DIR: where dumps go (railcc-flight-rank<R>-comm<id>.json). Default: the
  // RAILCC_TRACE directory if set, else /tmp/railcc-flight-<job id>.
  std::string flight_dir;
  // RAILCC_METRICS: a port (serve Prometheus metrics over HTTP at /metrics on port + local rank)
  // or a file path prefix (write <prefix>.rank<R>.prom every second). Default off.
  std::string metrics;
  // RAILCC_TOPO_FILE: hwloc XML (v1/v2) or NCCL topology file describing this host, used instead
  // of discovering it with hwloc. Default: discover.
  std::string topo_file;
  // CUDA_VISIBLE_DEVICES as this process sees it (CUDA's variable, read here so the rail plan
  // can map local ranks to GPUs). nullopt = unset (every GPU); "" = no GPU.
  std::optional<std::string> cuda_visible_devices;
  // RAILCC_CHECKSUM: 1 = every message carries a CRC32C of its payload, checked on arrival, so
  // corruption in flight fails the op with a clear error instead of going unnoticed. Default 0.
  bool checksum = false;
  // RAILCC_MAX_UNEXPECTED_BYTES: payload bytes each peer connection may buffer for messages that
  // arrive before their receive is posted; beyond it the peer is held back (flow control) instead
  // of memory growing with how far ahead it runs. Default 64M.
  std::size_t max_unexpected_bytes = std::size_t{64} << 20;
  // RAILCC_CUDA: 0 = never look for CUDA buffers (every pointer is host memory; a CUDA stream
  // argument is an error). Default 1: a pointer the CUDA driver knows as device memory runs the op
  // on the GPU path (see communicator.hpp), in builds with CUDA (RAILCC_CUDA=auto|ON at build).
  bool cuda = true;
  // RAILCC_CUDA_IPC: 0 = CUDA buffers of ranks on one host go through pinned host staging and the
  // host transports instead of being reduced straight from peer GPU memory. Default 1.
  bool cuda_ipc = true;
  // RAILCC_CUDA_IPC_CHUNK_BYTES: per-rank GPU scratch of the CUDA IPC path: two regions of this
  // size; larger ops run in chunks of it. Default 32 MiB.
  std::size_t cuda_ipc_chunk_bytes = 32 * 1024 * 1024;
  // RAILCC_CUDA_WAIT: how a CUDA stream waits for railcc: auto (cuStreamWaitValue32 where the
  // driver supports it, else a one-thread kernel) | memop | kernel. Default auto.
  std::string cuda_wait = "auto";
  // RAILCC_FAULT: a fault to inject (testing only, see FaultSpec). Default none.
  FaultSpec fault;
  // Launch environment (torchrun, Open MPI, Slurm, railcc-run or explicit RAILCC_*).
  LaunchInfo launch;

  // Reads the process environment. Throws ConfigError naming the offending variable.
  static Config from_env();
  // Same, from an explicit map (tests).
  static Config from_map(const std::map<std::string, std::string>& env);
  // Human-readable table of every setting and where it came from.
  std::string to_string() const;
  bool debug_enabled(const char* subsystem) const;
};

const char* transport_kind_name(TransportKind kind) noexcept;

}  // namespace railcc
