// The emulated HCA behind FakeVerbs (fake_verbs.h): per-process state (devices, queue pairs,
// memory regions, completion queues), the messages emulated HCAs exchange over unix sockets, and
// the emulation thread that plays the remote side of every RDMA operation. Test code only.
#pragma once

#include <infiniband/verbs.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace railcc::test::fake {

// ---- Wire messages between emulated HCAs -------------------------------------------------------

enum MsgType : uint32_t { kOp = 1, kAck = 2 };
struct Msg {
  uint32_t type;
  uint32_t dst_qpn;  // kOp: the target QP; kAck: the QP that posted the op
  uint32_t src_qpn;
  uint32_t opcode;  // ibv_wr_opcode of the op
  uint64_t wr_id;
  uint64_t remote_addr;
  uint32_t rkey;
  uint32_t imm;     // network order, as posted
  uint32_t len;     // payload bytes following (kOp)
  uint32_t status;  // kAck: ibv_wc_status
};

inline std::string socket_name(uint16_t id) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "railcc-fake-verbs-%04x", id);
  return buf;
}

inline sockaddr_un abstract_address(uint16_t id, socklen_t* len) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const std::string name = socket_name(id);
  std::memcpy(a.sun_path + 1, name.data(), name.size());  // leading NUL: abstract namespace
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return a;
}

// ---- Per-process emulation state ---------------------------------------------------------------

struct Device {
  std::string name;
  ibv_device dev{};
  uint16_t id = 0;  // LID, GID suffix, socket name
  int listener = -1;
  bool port_down = false;
  int fail_countdown = 0;  // > 0: the countdown-th next send fails with fail_status
  ibv_wc_status fail_status = IBV_WC_SUCCESS;
};

struct Channel {
  ibv_comp_channel ch{};
  int write_fd = -1;
};

struct Cq {
  ibv_cq cq{};
  std::deque<ibv_wc> entries;
  bool armed = false;
  Channel* channel = nullptr;
};

struct Mr {
  ibv_mr mr{};
  int access = 0;
};

struct Outstanding {
  uint64_t wr_id;
  bool signaled;
  ibv_wc_opcode opcode;
  ibv_wc_status fault;  // not sent: completes with this status when it reaches the front
  // An RDMA write's source: the payload is gathered at post time, but a real HCA reads it until
  // the completion, so on_ack checks that the sender left it unchanged until then.
  uint64_t src_addr = 0;
  uint32_t src_lkey = 0;
  std::string src_copy;
};

struct Pending {  // an incoming op waiting for a receive (receiver not ready)
  Msg msg;
  std::string payload;
  int reply_fd;
};

struct Qp {
  ibv_qp qp{};
  Device* device = nullptr;
  int conn = -1;  // our socket to the remote device
  uint32_t remote_qpn = 0;
  bool error = false;
  bool doomed = false;            // a failing request is queued: nothing after it is sent
  std::deque<ibv_recv_wr> recvs;  // sg_list copied into recv_sges
  std::deque<ibv_sge> recv_sges;
  std::deque<Outstanding> outstanding;
  std::deque<Pending> rnr;
};

struct Conn {
  std::string in, out;
  bool orphan = false;  // its QP is gone: close once everything queued is written
};

// The async events of one opened context: a pipe whose read end is its async_fd (one byte per
// event, so poll() on it works as on hardware) and the events themselves.
struct AsyncQueue {
  int write_fd = -1;
  std::deque<ibv_async_event> events;
};

struct State {
  std::mutex mu;
  std::map<ibv_context*, AsyncQueue> async;
  std::map<std::string, std::unique_ptr<Device>> devices;
  std::map<uint32_t, std::unique_ptr<Qp>> qps;  // by qp_num
  std::map<uint32_t, std::unique_ptr<Mr>> mrs;  // by key (lkey == rkey)
  std::map<ibv_cq*, std::unique_ptr<Cq>> cqs;
  std::map<ibv_comp_channel*, std::unique_ptr<Channel>> channels;
  std::map<int, Conn> conns;  // every socket the emulation thread serves
  uint32_t next_qpn = 0x100;
  uint32_t next_key = 0x1000;
  uint64_t changed_in_flight = 0;  // writes whose source changed before their completion
  int wake[2] = {-1, -1};
  bool thread_started = false;
};

// This process's emulation state (made afresh in a forked child).
State& state();
// Wakes the emulation thread (new work to send, a socket to watch).
void wake(State& s);
// The emulated device behind a context (null if unknown). Caller holds s.mu.
Device* device_of(State& s, ibv_context* ctx);
// Creates the device of this process on first use (its id, listener) and the emulation thread.
Device& ensure_device(State& s, const std::string& name);
// Adds a completion; wakes the channel if the CQ was armed. Caller holds s.mu.
void complete(State& s, ibv_cq* cq, const ibv_wc& wc);
ibv_wc make_wc(const Qp& q, uint64_t wr_id, ibv_wc_status status, ibv_wc_opcode opcode);
// Moves a QP to the error state: the first outstanding send completes with `status` (unless
// success), everything else posted is flushed. Caller holds s.mu.
void to_error(State& s, Qp& q, ibv_wc_status status);
// Queues a message (and payload) for the emulation thread to write on socket fd.
void queue_msg(State& s, int fd, const Msg& m, const void* payload, std::size_t n);
Mr* find_mr(State& s, uint32_t key);
bool covers(const Mr& m, uint64_t addr, uint64_t len);
// Plays the responder for one incoming op; false when it must wait for a posted receive.
bool execute(State& s, Qp& q, const Msg& m, const std::string& payload, int reply_fd);
// GID `index` of the device with id `id` (0: fe80::id, 1: ::ffff:10.0.x.y, RoCE v2).
ibv_gid make_gid(uint16_t id, int index);

}  // namespace railcc::test::fake
