#include "tests/verbs/fake_verbs.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "tests/verbs/fake_hca.h"

namespace railcc::test {
namespace {

using namespace fake;  // NOLINT: the emulation's vocabulary, test code only

FakeVerbs* g_installed = nullptr;
// Uninstalled emulations stay alive (see uninstall) and reachable, so LeakSanitizer does not
// count them as leaks.
std::vector<FakeVerbs*>* g_retired = new std::vector<FakeVerbs*>;

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
  if (g_installed) g_retired->push_back(g_installed);
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

uint64_t FakeVerbs::sources_changed_in_flight() const {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.changed_in_flight;
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
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return nullptr;
  auto* ctx = new ibv_context{};
  ctx->device = device;
  ctx->num_comp_vectors = 1;
  ctx->async_fd = p[0];
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.async[ctx].write_fd = p[1];
  return ctx;
}

int FakeVerbs::close_device(ibv_context* context) {
  State& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (auto it = s.async.find(context); it != s.async.end()) {
      close(it->second.write_fd);
      s.async.erase(it);
    }
  }
  close(context->async_fd);
  delete context;
  return 0;
}

namespace {

// Queues `event` for `ctx` and makes its async_fd readable. Caller holds s.mu.
void post_async(State& s, ibv_context* ctx, const ibv_async_event& event) {
  auto it = s.async.find(ctx);
  if (it == s.async.end()) return;
  it->second.events.push_back(event);
  const char byte = 1;
  [[maybe_unused]] const ssize_t n = write(it->second.write_fd, &byte, 1);
}

}  // namespace

void FakeVerbs::inject_async_event(const std::string& device, ibv_event_type type) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  for (auto& [ctx, queue] : s.async) {
    if (device != ctx->device->name) continue;
    ibv_async_event event{};
    event.event_type = type;
    event.element.port_num = 1;
    post_async(s, ctx, event);
  }
}

void FakeVerbs::inject_qp_event(const std::string& device, ibv_event_type type) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  for (auto& [qpn, q] : s.qps) {
    if (!q->device || q->device->name != device) continue;
    ibv_async_event event{};
    event.event_type = type;
    event.element.qp = &q->qp;
    post_async(s, q->qp.context, event);
  }
}

int FakeVerbs::get_async_event(ibv_context* context, ibv_async_event* event) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.async.find(context);
  if (it == s.async.end() || it->second.events.empty()) {
    errno = EAGAIN;  // async_fd is non-blocking: nothing pending
    return -1;
  }
  *event = it->second.events.front();
  it->second.events.pop_front();
  char byte;
  [[maybe_unused]] const ssize_t n = read(context->async_fd, &byte, 1);
  return 0;
}

void FakeVerbs::ack_async_event(ibv_async_event*) {}

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

std::string FakeVerbs::device_pci(ibv_device* device) {
  const auto it = options_.pci.find(device->name);
  return it == options_.pci.end() ? std::string() : it->second;
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
    q.outstanding.push_back(Outstanding{wr->wr_id, signaled, opcode, fault, 0, 0, {}});
    if (fault == IBV_WC_SUCCESS && opcode == IBV_WC_RDMA_WRITE && wr->num_sge == 1 &&
        !(wr->send_flags & IBV_SEND_INLINE)) {
      q.outstanding.back().src_addr = wr->sg_list[0].addr;
      q.outstanding.back().src_lkey = wr->sg_list[0].lkey;
      q.outstanding.back().src_copy = payload;
    }
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
