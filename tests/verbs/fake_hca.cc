#include "tests/verbs/fake_hca.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

namespace railcc::test::fake {
namespace {

std::mutex g_init_mu;
State* g_state = nullptr;
pid_t g_state_pid = 0;

}  // namespace

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

static void ack(State& s, int fd, const Msg& op, ibv_wc_status status) {
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
  // A success goes back on this QP's own connection when it has one, the one its own requests
  // travel on: on a fabric the ACK leaves before any request the responder's CPU posts after
  // seeing this one's completion, and arrives first. On the connection the request came in on
  // (another socket) a later request could overtake it, and the requester would take its buffer
  // back only after the peer had answered it (a false "source changed in flight"). Errors keep
  // that connection: the responder's QP fails with them, and its own connection may go first.
  ack(s, q.conn >= 0 ? q.conn : reply_fd, m, IBV_WC_SUCCESS);
  return true;
}

static void on_op(State& s, const Msg& m, std::string payload, int reply_fd) {
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

static void on_ack(State& s, const Msg& m) {
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
  // Only while the source's MR still covers it: memory deregistered and freed after a failed op
  // may be gone, and the check must not read it.
  const Mr* src_mr = o.src_copy.empty() ? nullptr : find_mr(s, o.src_lkey);
  if (src_mr && covers(*src_mr, o.src_addr, o.src_copy.size()) &&
      std::memcmp(reinterpret_cast<const void*>(o.src_addr), o.src_copy.data(),
                  o.src_copy.size())) {
    ++s.changed_in_flight;  // on hardware the peer could have received the new bytes
  }
  if (o.signaled) complete(s, q.qp.send_cq, make_wc(q, o.wr_id, IBV_WC_SUCCESS, o.opcode));
  if (!q.outstanding.empty() && q.outstanding.front().fault != IBV_WC_SUCCESS) {
    to_error(s, q, q.outstanding.front().fault);
  }
}

// The peer's end of a QP's socket closed: it is gone, like a host that stopped answering.
static void on_closed(State& s, int fd) {
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

static void emulation_thread(State* sp) {
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

}  // namespace railcc::test::fake
