#include "tests/verbs/fake_verbs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace railcc::test {
namespace {

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

std::string socket_name(uint16_t id) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "railcc-fake-verbs-%04x", id);
  return buf;
}

sockaddr_un abstract_address(uint16_t id, socklen_t* len) {
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

struct State {
  std::mutex mu;
  std::map<std::string, std::unique_ptr<Device>> devices;
  std::map<uint32_t, std::unique_ptr<Qp>> qps;  // by qp_num
  std::map<uint32_t, std::unique_ptr<Mr>> mrs;  // by key (lkey == rkey)
  std::map<ibv_cq*, std::unique_ptr<Cq>> cqs;
  std::map<ibv_comp_channel*, std::unique_ptr<Channel>> channels;
  std::map<int, Conn> conns;  // every socket the emulation thread serves
  uint32_t next_qpn = 0x100;
  uint32_t next_key = 0x1000;
  int wake[2] = {-1, -1};
  bool thread_started = false;
};

std::mutex g_init_mu;
State* g_state = nullptr;
pid_t g_state_pid = 0;
FakeVerbs* g_installed = nullptr;

// The state of this process. After fork() the parent's state (and its thread) do not exist
// here: start afresh, leaking the inherited copy (its mutex may be in any state).
State& state() {
  std::lock_guard<std::mutex> lock(g_init_mu);
  if (!g_state || g_state_pid != getpid()) {
    g_state = new State;
    g_state_pid = getpid();
    if (pipe2(g_state->wake, O_CLOEXEC | O_NONBLOCK) != 0) std::abort();
  }
  return *g_state;
}

void wake(State& s) {
  const char c = 1;
  [[maybe_unused]] ssize_t rc = write(s.wake[1], &c, 1);
}

Device* device_of(State& s, ibv_context* ctx) {
  auto it = s.devices.find(ctx->device->name);
  return it == s.devices.end() ? nullptr : it->second.get();
}

// Adds a completion; wakes the channel if the CQ was armed. Caller holds s.mu.
void complete(State& s, ibv_cq* cq, const ibv_wc& wc) {
  auto it = s.cqs.find(cq);
  if (it == s.cqs.end()) return;
  Cq& c = *it->second;
  c.entries.push_back(wc);
  if (c.armed && c.channel) {
    c.armed = false;
    ibv_cq* p = cq;
    [[maybe_unused]] ssize_t rc = write(c.channel->write_fd, &p, sizeof(p));
  }
}

ibv_wc make_wc(const Qp& q, uint64_t wr_id, ibv_wc_status status, ibv_wc_opcode opcode) {
  ibv_wc wc{};
  wc.wr_id = wr_id;
  wc.status = status;
  wc.opcode = opcode;
  wc.qp_num = q.qp.qp_num;
  wc.vendor_err = status == IBV_WC_SUCCESS ? 0 : 0x81;
  return wc;
}

// Moves a QP to the error state: the first outstanding send completes with `status` (if not
// success), everything else posted is flushed.
void to_error(State& s, Qp& q, ibv_wc_status status) {
  if (q.error) return;
  q.error = true;
  bool first = true;
  for (const auto& o : q.outstanding) {
    complete(s, q.qp.send_cq,
             make_wc(q, o.wr_id, first && status != IBV_WC_SUCCESS ? status : IBV_WC_WR_FLUSH_ERR,
                     o.opcode));
    first = false;
  }
  q.outstanding.clear();
  for (const auto& r : q.recvs) {
    complete(s, q.qp.recv_cq, make_wc(q, r.wr_id, IBV_WC_WR_FLUSH_ERR, IBV_WC_RECV));
  }
  q.recvs.clear();
  q.recv_sges.clear();
  q.rnr.clear();
}

void queue_msg(State& s, int fd, const Msg& m, const void* payload, std::size_t n) {
  auto it = s.conns.find(fd);
  if (it == s.conns.end()) return;
  it->second.out.append(reinterpret_cast<const char*>(&m), sizeof(m));
  if (n) it->second.out.append(static_cast<const char*>(payload), n);
}

void ack(State& s, int fd, const Msg& op, ibv_wc_status status) {
  Msg a{};
  a.type = kAck;
  a.dst_qpn = op.src_qpn;
  a.src_qpn = op.dst_qpn;
  a.wr_id = op.wr_id;
  a.status = status;
  queue_msg(s, fd, a, nullptr, 0);
}

Mr* find_mr(State& s, uint32_t key) {
  auto it = s.mrs.find(key);
  return it == s.mrs.end() ? nullptr : it->second.get();
}

bool covers(const Mr& m, uint64_t addr, uint64_t len) {
  const auto begin = reinterpret_cast<uintptr_t>(m.mr.addr);
  return addr >= begin && addr + len <= begin + m.mr.length;
}

// Plays the responder for one op. Returns false when it must wait for a receive.
bool execute(State& s, Qp& q, const Msg& m, const std::string& payload, int reply_fd) {
  const bool needs_recv = m.opcode == IBV_WR_RDMA_WRITE_WITH_IMM || m.opcode == IBV_WR_SEND;
  if (needs_recv && q.recvs.empty()) return false;
  if (m.opcode == IBV_WR_RDMA_WRITE || m.opcode == IBV_WR_RDMA_WRITE_WITH_IMM) {
    Mr* mr = find_mr(s, m.rkey);
    if (!mr || mr->mr.pd != q.qp.pd || !(mr->access & IBV_ACCESS_REMOTE_WRITE) ||
        !covers(*mr, m.remote_addr, m.len)) {
      ack(s, reply_fd, m, IBV_WC_REM_ACCESS_ERR);
      to_error(s, q, IBV_WC_SUCCESS);  // the responder's QP fails too
      return true;
    }
    if (m.len) std::memcpy(reinterpret_cast<void*>(m.remote_addr), payload.data(), m.len);
  }
  if (needs_recv) {
    const ibv_recv_wr r = q.recvs.front();
    const ibv_sge sge = q.recv_sges.front();
    q.recvs.pop_front();
    q.recv_sges.pop_front();
    ibv_wc wc = make_wc(q, r.wr_id, IBV_WC_SUCCESS, IBV_WC_RECV);
    wc.byte_len = m.len;
    if (m.opcode == IBV_WR_SEND) {
      Mr* mr = find_mr(s, sge.lkey);
      if (m.len > sge.length || !mr || !covers(*mr, sge.addr, m.len)) {
        complete(s, q.qp.recv_cq, make_wc(q, r.wr_id, IBV_WC_LOC_LEN_ERR, IBV_WC_RECV));
        ack(s, reply_fd, m, IBV_WC_REM_INV_REQ_ERR);
        to_error(s, q, IBV_WC_SUCCESS);
        return true;
      }
      if (m.len) std::memcpy(reinterpret_cast<void*>(sge.addr), payload.data(), m.len);
    } else {
      wc.opcode = IBV_WC_RECV_RDMA_WITH_IMM;
      wc.wc_flags = IBV_WC_WITH_IMM;
      wc.imm_data = m.imm;
    }
    complete(s, q.qp.recv_cq, wc);
  }
  ack(s, reply_fd, m, IBV_WC_SUCCESS);
  return true;
}

void on_op(State& s, const Msg& m, std::string payload, int reply_fd) {
  auto it = s.qps.find(m.dst_qpn);
  Qp* q = it == s.qps.end() ? nullptr : it->second.get();
  if (!q || q->error || q->device->port_down || q->qp.state < IBV_QPS_RTR) {
    ack(s, reply_fd, m, IBV_WC_RETRY_EXC_ERR);  // nobody answers: the sender's retries run out
    return;
  }
  if (!q->rnr.empty() || !execute(s, *q, m, payload, reply_fd)) {
    q->rnr.push_back(Pending{m, std::move(payload), reply_fd});
  }
}

void on_ack(State& s, const Msg& m) {
  auto it = s.qps.find(m.dst_qpn);
  if (it == s.qps.end()) return;
  Qp& q = *it->second;
  if (q.error || q.outstanding.empty()) return;
  const Outstanding o = q.outstanding.front();
  const auto status = static_cast<ibv_wc_status>(m.status);
  if (status != IBV_WC_SUCCESS) {
    to_error(s, q, status);
    return;
  }
  q.outstanding.pop_front();
  if (o.signaled) complete(s, q.qp.send_cq, make_wc(q, o.wr_id, IBV_WC_SUCCESS, o.opcode));
  if (!q.outstanding.empty() && q.outstanding.front().fault != IBV_WC_SUCCESS) {
    to_error(s, q, q.outstanding.front().fault);
  }
}

// The peer's end of a QP's socket closed: it is gone, like a host that stopped answering.
void on_closed(State& s, int fd) {
  for (auto& [qpn, q] : s.qps) {
    if (q->conn == fd) {
      // What was in flight is never acknowledged; a QP with nothing in flight notices when it
      // next sends (post_send fails it with "retry exceeded"), as on a real fabric.
      q->conn = -1;
      if (!q->outstanding.empty()) to_error(s, *q, IBV_WC_RETRY_EXC_ERR);
    }
    std::erase_if(q->rnr, [fd](const Pending& p) { return p.reply_fd == fd; });
  }
}

void emulation_thread(State* sp) {
  State& s = *sp;
  std::vector<pollfd> fds;
  std::vector<char> buf(1 << 18);
  while (true) {
    {
      std::lock_guard<std::mutex> lock(s.mu);
      fds.clear();
      fds.push_back({s.wake[0], POLLIN, 0});
      for (auto& [name, d] : s.devices) {
        if (d->listener >= 0) fds.push_back({d->listener, POLLIN, 0});
      }
      for (auto it = s.conns.begin(); it != s.conns.end();) {
        if (it->second.orphan && it->second.out.empty()) {
          close(it->first);
          it = s.conns.erase(it);
          continue;
        }
        fds.push_back(
            {it->first, static_cast<short>(POLLIN | (it->second.out.empty() ? 0 : POLLOUT)), 0});
        ++it;
      }
    }
    ::poll(fds.data(), fds.size(), 50);
    std::lock_guard<std::mutex> lock(s.mu);
    char drain[256];
    while (read(s.wake[0], drain, sizeof(drain)) > 0) {
    }
    for (const pollfd& p : fds) {
      if (p.fd == s.wake[0] || !p.revents) continue;
      bool is_listener = false;
      for (auto& [name, d] : s.devices) is_listener |= d->listener == p.fd;
      if (is_listener) {
        while (true) {
          const int fd = accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
          if (fd < 0) break;
          s.conns[fd];
        }
        continue;
      }
      auto it = s.conns.find(p.fd);
      if (it == s.conns.end()) continue;
      Conn& c = it->second;
      bool closed = false;
      if (p.revents & POLLOUT) {
        while (!c.out.empty()) {
          const ssize_t n = send(p.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          if (n <= 0) break;
          c.out.erase(0, static_cast<std::size_t>(n));
        }
      }
      if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
        while (true) {
          const ssize_t n = recv(p.fd, buf.data(), buf.size(), MSG_DONTWAIT);
          if (n > 0) {
            c.in.append(buf.data(), static_cast<std::size_t>(n));
            continue;
          }
          if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) closed = true;
          break;
        }
        std::size_t at = 0;
        while (c.in.size() - at >= sizeof(Msg)) {
          Msg m;
          std::memcpy(&m, c.in.data() + at, sizeof(m));
          const std::size_t need = sizeof(Msg) + (m.type == kOp ? m.len : 0);
          if (c.in.size() - at < need) break;
          if (m.type == kOp) {
            on_op(s, m, c.in.substr(at + sizeof(Msg), m.len), p.fd);
          } else {
            on_ack(s, m);
          }
          at += need;
        }
        c.in.erase(0, at);
      }
      if (closed) {
        on_closed(s, p.fd);
        close(p.fd);
        s.conns.erase(p.fd);
      }
    }
  }
}

// Creates the device of this process (its id, listener), and the emulation thread. Holds s.mu.
Device& ensure_device(State& s, const std::string& name) {
  auto& slot = s.devices[name];
  if (slot) return *slot;
  slot = std::make_unique<Device>();
  Device& d = *slot;
  d.name = name;
  std::snprintf(d.dev.name, sizeof(d.dev.name), "%s", name.c_str());
  std::snprintf(d.dev.dev_name, sizeof(d.dev.dev_name), "uverbs-%s", name.c_str());
  d.dev.transport_type = IBV_TRANSPORT_IB;
  // An id (LID) no other process holds: the abstract socket name is the lock.
  d.listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  uint16_t id = static_cast<uint16_t>(1 + (getpid() * 7 + s.devices.size() * 131) % 0xbffe);
  for (int tries = 0; tries < 0xbffe; ++tries, id = static_cast<uint16_t>(id % 0xbffe + 1)) {
    socklen_t len = 0;
    const sockaddr_un a = abstract_address(id, &len);
    if (bind(d.listener, reinterpret_cast<const sockaddr*>(&a), len) == 0) break;
  }
  listen(d.listener, 64);
  d.id = id;
  if (!s.thread_started) {
    s.thread_started = true;
    std::thread(emulation_thread, &s).detach();
  }
  wake(s);
  return d;
}

ibv_gid make_gid(uint16_t id, int index) {
  ibv_gid g{};
  if (index == 0) {  // fe80::<id>, a RoCE v1 / InfiniBand style GID
    g.raw[0] = 0xfe;
    g.raw[1] = 0x80;
  } else {  // ::ffff:10.0.<id>: a RoCE v2 GID holding an IPv4 address
    g.raw[10] = 0xff;
    g.raw[11] = 0xff;
    g.raw[12] = 10;
  }
  g.raw[14] = static_cast<uint8_t>(id >> 8);
  g.raw[15] = static_cast<uint8_t>(id & 0xff);
  return g;
}

}  // namespace

FakeVerbs& FakeVerbs::install(FakeVerbsOptions options) {
  uninstall();
  g_installed = new FakeVerbs(std::move(options));
  transport::verbs::set_verbs_api_for_testing(g_installed);
  return *g_installed;
}

void FakeVerbs::uninstall() {
  transport::verbs::set_verbs_api_for_testing(nullptr);
  // Not deleted: a communicator of a finished test may still be tearing down in this process.
  g_installed = nullptr;
}

void FakeVerbs::fail_nth_send(const std::string& device, int nth, ibv_wc_status status) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  Device& d = ensure_device(s, device);
  d.fail_countdown = nth;
  d.fail_status = status;
}

void FakeVerbs::set_port_down(const std::string& device, bool down) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  Device& d = ensure_device(s, device);
  d.port_down = down;
  if (!down) return;
  // What is in flight cannot be acknowledged any more; queue pairs with nothing in flight notice
  // when they next send (post_send) or, on the peer, when their packets go unanswered (on_op).
  for (auto& [qpn, q] : s.qps) {
    if (q->device == &d && !q->outstanding.empty()) to_error(s, *q, IBV_WC_RETRY_EXC_ERR);
  }
}

int FakeVerbs::registered_regions() const {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return static_cast<int>(s.mrs.size());
}

ibv_device** FakeVerbs::get_device_list(int* count) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto** list = new ibv_device*[options_.devices.size() + 1];
  int n = 0;
  for (const auto& name : options_.devices) list[n++] = &ensure_device(s, name).dev;
  list[n] = nullptr;
  if (count) *count = n;
  return list;
}

void FakeVerbs::free_device_list(ibv_device** list) { delete[] list; }

const char* FakeVerbs::get_device_name(ibv_device* device) { return device->name; }

ibv_context* FakeVerbs::open_device(ibv_device* device) {
  auto* ctx = new ibv_context{};
  ctx->device = device;
  ctx->num_comp_vectors = 1;
  return ctx;
}

int FakeVerbs::close_device(ibv_context* context) {
  delete context;
  return 0;
}

int FakeVerbs::query_port(ibv_context* context, uint8_t port, ibv_port_attr* attr) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  Device* d = device_of(s, context);
  if (!d || port != 1) return EINVAL;
  *attr = ibv_port_attr{};
  attr->state = d->port_down ? IBV_PORT_DOWN : IBV_PORT_ACTIVE;
  attr->max_mtu = IBV_MTU_4096;
  attr->active_mtu = options_.infiniband ? IBV_MTU_4096 : IBV_MTU_1024;
  attr->gid_tbl_len = options_.infiniband ? 1 : 2;
  attr->lid = options_.infiniband ? d->id : 0;
  attr->link_layer = options_.infiniband ? IBV_LINK_LAYER_INFINIBAND : IBV_LINK_LAYER_ETHERNET;
  return 0;
}

int FakeVerbs::query_gid(ibv_context* context, uint8_t port, int index, ibv_gid* gid) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  Device* d = device_of(s, context);
  if (!d || port != 1 || index < 0 || index >= (options_.infiniband ? 1 : 2)) return EINVAL;
  *gid = make_gid(d->id, index);
  return 0;
}

std::string FakeVerbs::gid_type(ibv_context*, uint8_t, int index) {
  return index == 0 || options_.infiniband ? "IB/RoCE v1" : "RoCE v2";
}

ibv_pd* FakeVerbs::alloc_pd(ibv_context* context) {
  auto* pd = new ibv_pd{};
  pd->context = context;
  return pd;
}

int FakeVerbs::dealloc_pd(ibv_pd* pd) {
  delete pd;
  return 0;
}

ibv_mr* FakeVerbs::reg_mr(ibv_pd* pd, void* addr, std::size_t length, int access) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto m = std::make_unique<Mr>();
  m->mr.context = pd->context;
  m->mr.pd = pd;
  m->mr.addr = addr;
  m->mr.length = length;
  m->mr.lkey = m->mr.rkey = s.next_key++;
  m->access = access;
  ibv_mr* out = &m->mr;
  s.mrs[out->lkey] = std::move(m);
  return out;
}

ibv_mr* FakeVerbs::reg_dmabuf_mr(ibv_pd*, uint64_t, std::size_t, uint64_t, int, int) {
  errno = EOPNOTSUPP;  // like a provider without dma-buf support (no GPU here anyway)
  return nullptr;
}

int FakeVerbs::dereg_mr(ibv_mr* mr) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.mrs.erase(mr->lkey) ? 0 : EINVAL;
}

ibv_comp_channel* FakeVerbs::create_comp_channel(ibv_context* context) {
  State& s = state();
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return nullptr;
  fcntl(p[1], F_SETFL, O_NONBLOCK);
  auto c = std::make_unique<Channel>();
  c->ch.context = context;
  c->ch.fd = p[0];
  c->write_fd = p[1];
  ibv_comp_channel* out = &c->ch;
  std::lock_guard<std::mutex> lock(s.mu);
  s.channels[out] = std::move(c);
  return out;
}

int FakeVerbs::destroy_comp_channel(ibv_comp_channel* channel) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.channels.find(channel);
  if (it == s.channels.end()) return EINVAL;
  close(it->second->ch.fd);
  close(it->second->write_fd);
  s.channels.erase(it);
  return 0;
}

ibv_cq* FakeVerbs::create_cq(ibv_context* context, int cqe, void* cq_context,
                             ibv_comp_channel* channel, int) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto c = std::make_unique<Cq>();
  c->cq.context = context;
  c->cq.channel = channel;
  c->cq.cq_context = cq_context;
  c->cq.cqe = cqe;
  if (channel) c->channel = s.channels.at(channel).get();
  ibv_cq* out = &c->cq;
  s.cqs[out] = std::move(c);
  return out;
}

int FakeVerbs::destroy_cq(ibv_cq* cq) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.cqs.erase(cq) ? 0 : EINVAL;
}

int FakeVerbs::req_notify_cq(ibv_cq* cq, int) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  Cq& c = *s.cqs.at(cq);
  if (!c.entries.empty() && c.channel) {  // an event for what is already there, as hardware does
    ibv_cq* p = cq;
    [[maybe_unused]] ssize_t rc = write(c.channel->write_fd, &p, sizeof(p));
    return 0;
  }
  c.armed = true;
  return 0;
}

int FakeVerbs::get_cq_event(ibv_comp_channel* channel, ibv_cq** cq, void** cq_context) {
  ibv_cq* p = nullptr;
  if (read(channel->fd, &p, sizeof(p)) != static_cast<ssize_t>(sizeof(p))) return -1;
  *cq = p;
  *cq_context = p->cq_context;
  return 0;
}

void FakeVerbs::ack_cq_events(ibv_cq*, unsigned int) {}

int FakeVerbs::poll_cq(ibv_cq* cq, int count, ibv_wc* wc) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  Cq& c = *s.cqs.at(cq);
  int n = 0;
  while (n < count && !c.entries.empty()) {
    wc[n++] = c.entries.front();
    c.entries.pop_front();
  }
  return n;
}

ibv_qp* FakeVerbs::create_qp(ibv_pd* pd, ibv_qp_init_attr* attr) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (attr->qp_type != IBV_QPT_RC) {
    errno = EINVAL;
    return nullptr;
  }
  auto q = std::make_unique<Qp>();
  q->qp.context = pd->context;
  q->qp.pd = pd;
  q->qp.send_cq = attr->send_cq;
  q->qp.recv_cq = attr->recv_cq;
  q->qp.qp_type = IBV_QPT_RC;
  q->qp.state = IBV_QPS_RESET;
  q->qp.qp_num = s.next_qpn++;
  q->device = device_of(s, pd->context);
  ibv_qp* out = &q->qp;
  s.qps[out->qp_num] = std::move(q);
  return out;
}

int FakeVerbs::modify_qp(ibv_qp* qp, ibv_qp_attr* attr, int mask) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  Qp& q = *s.qps.at(qp->qp_num);
  if (!(mask & IBV_QP_STATE)) return 0;
  if (attr->qp_state == IBV_QPS_RTR) {
    constexpr int kNeeded = IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN;
    if ((mask & kNeeded) != kNeeded || q.qp.state != IBV_QPS_INIT) return EINVAL;
    // Address: the GID on RoCE (a GRH is mandatory there), the LID on InfiniBand.
    uint16_t id = 0;
    if (options_.infiniband) {
      id = attr->ah_attr.dlid;
    } else {
      if (!attr->ah_attr.is_global) return EINVAL;
      id = static_cast<uint16_t>(attr->ah_attr.grh.dgid.raw[14] << 8 |
                                 attr->ah_attr.grh.dgid.raw[15]);
    }
    q.remote_qpn = attr->dest_qp_num;
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t len = 0;
    const sockaddr_un a = abstract_address(id, &len);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&a), len) == 0) {
      fcntl(fd, F_SETFL, O_NONBLOCK);
      q.conn = fd;
      s.conns[fd];
      wake(s);
    } else {
      close(fd);  // nobody there: sends will fail with "retry exceeded", as on a real fabric
    }
  } else if (attr->qp_state == IBV_QPS_RTS) {
    if (q.qp.state != IBV_QPS_RTR) return EINVAL;
  } else if (attr->qp_state == IBV_QPS_ERR) {
    to_error(s, q, IBV_WC_SUCCESS);
  }
  q.qp.state = attr->qp_state;
  return 0;
}

int FakeVerbs::destroy_qp(ibv_qp* qp) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.qps.find(qp->qp_num);
  if (it == s.qps.end()) return EINVAL;
  if (it->second->conn >= 0) {
    s.conns[it->second->conn].orphan = true;
    wake(s);
  }
  s.qps.erase(it);
  return 0;
}

int FakeVerbs::post_send(ibv_qp* qp, ibv_send_wr* wr, ibv_send_wr** bad) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  Qp& q = *s.qps.at(qp->qp_num);
  for (; wr; wr = wr->next) {
    if (q.qp.state != IBV_QPS_RTS && !q.error) {
      *bad = wr;
      return EINVAL;
    }
    const bool signaled = (wr->send_flags & IBV_SEND_SIGNALED) != 0;
    const ibv_wc_opcode opcode = wr->opcode == IBV_WR_SEND ? IBV_WC_SEND : IBV_WC_RDMA_WRITE;
    if (q.error) {  // posting to a QP in error: flushed at once
      complete(s, q.qp.send_cq, make_wc(q, wr->wr_id, IBV_WC_WR_FLUSH_ERR, opcode));
      continue;
    }
    Device& d = *q.device;
    ibv_wc_status fault = IBV_WC_SUCCESS;
    if (d.port_down || q.conn < 0) fault = IBV_WC_RETRY_EXC_ERR;
    if (d.fail_countdown > 0 && --d.fail_countdown == 0) fault = d.fail_status;
    // Gather the payload now (the HCA would read it later; the sender may not touch it before
    // the completion either way), checking each lkey like the HCA.
    std::string payload;
    for (int i = 0; i < wr->num_sge && fault == IBV_WC_SUCCESS; ++i) {
      const ibv_sge& sge = wr->sg_list[i];
      if (!(wr->send_flags & IBV_SEND_INLINE)) {
        Mr* mr = find_mr(s, sge.lkey);
        if (!mr || mr->mr.pd != q.qp.pd || !covers(*mr, sge.addr, sge.length)) {
          fault = IBV_WC_LOC_PROT_ERR;
          break;
        }
      }
      payload.append(reinterpret_cast<const char*>(sge.addr), sge.length);
    }
    // A failing request completes with its error once those ahead of it are done (their
    // acknowledgements come back in order); later ones are never sent, and get flushed.
    if (q.doomed) fault = IBV_WC_WR_FLUSH_ERR;
    q.outstanding.push_back(Outstanding{wr->wr_id, signaled, opcode, fault});
    if (fault != IBV_WC_SUCCESS) {
      q.doomed = true;
      if (q.outstanding.size() == 1) to_error(s, q, fault);
      continue;
    }
    Msg m{};
    m.type = kOp;
    m.dst_qpn = q.remote_qpn;
    m.src_qpn = q.qp.qp_num;
    m.opcode = wr->opcode;
    m.wr_id = wr->wr_id;
    m.remote_addr = wr->wr.rdma.remote_addr;
    m.rkey = wr->wr.rdma.rkey;
    m.imm = wr->imm_data;
    m.len = static_cast<uint32_t>(payload.size());
    queue_msg(s, q.conn, m, payload.data(), payload.size());
  }
  wake(s);
  return 0;
}

int FakeVerbs::post_recv(ibv_qp* qp, ibv_recv_wr* wr, ibv_recv_wr** bad) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  Qp& q = *s.qps.at(qp->qp_num);
  for (; wr; wr = wr->next) {
    if (wr->num_sge > 1) {
      *bad = wr;
      return EINVAL;
    }
    if (q.error) {
      complete(s, q.qp.recv_cq, make_wc(q, wr->wr_id, IBV_WC_WR_FLUSH_ERR, IBV_WC_RECV));
      continue;
    }
    q.recvs.push_back(*wr);
    q.recv_sges.push_back(wr->num_sge ? wr->sg_list[0] : ibv_sge{});
  }
  // Ops that waited for a receive (receiver not ready) go on, in order.
  while (!q.rnr.empty() && !q.error) {
    Pending& p = q.rnr.front();
    if (!execute(s, q, p.msg, p.payload, p.reply_fd)) break;
    q.rnr.pop_front();
  }
  wake(s);
  return 0;
}

}  // namespace railcc::test
