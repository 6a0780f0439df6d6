// The production VerbsApi: libibverbs.so.1 loaded with dlopen() on first use, so the library has
// no link-time dependency on rdma-core and runs (over tcp) where it is not installed.
//
// The data-path calls (post_send, post_recv, poll_cq, req_notify_cq) are inline in verbs.h: they
// jump through the provider's ops table in the context and need no symbol from the library.
#include <dlfcn.h>
#include <fmt/format.h>

#include <cerrno>
#include <fstream>
#include <mutex>

#include "src/topology/sysfs_pci.h"
#include "transport/verbs/verbs_api.h"

namespace railcc::transport::verbs {
namespace {

struct Symbols {
  ibv_device** (*get_device_list)(int*) = nullptr;
  void (*free_device_list)(ibv_device**) = nullptr;
  const char* (*get_device_name)(ibv_device*) = nullptr;
  ibv_context* (*open_device)(ibv_device*) = nullptr;
  int (*close_device)(ibv_context*) = nullptr;
  // The exported ibv_query_port takes the older, shorter attribute struct (a prefix of
  // ibv_port_attr); the fields railcc reads are all in that prefix.
  int (*query_port)(ibv_context*, uint8_t, ibv_port_attr*) = nullptr;
  int (*query_gid)(ibv_context*, uint8_t, int, ibv_gid*) = nullptr;
  int (*get_async_event)(ibv_context*, ibv_async_event*) = nullptr;
  void (*ack_async_event)(ibv_async_event*) = nullptr;
  ibv_pd* (*alloc_pd)(ibv_context*) = nullptr;
  int (*dealloc_pd)(ibv_pd*) = nullptr;
  ibv_mr* (*reg_mr)(ibv_pd*, void*, std::size_t, int) = nullptr;
  ibv_mr* (*reg_dmabuf_mr)(ibv_pd*, uint64_t, std::size_t, uint64_t, int, int) = nullptr;
  int (*dereg_mr)(ibv_mr*) = nullptr;
  ibv_comp_channel* (*create_comp_channel)(ibv_context*) = nullptr;
  int (*destroy_comp_channel)(ibv_comp_channel*) = nullptr;
  ibv_cq* (*create_cq)(ibv_context*, int, void*, ibv_comp_channel*, int) = nullptr;
  int (*destroy_cq)(ibv_cq*) = nullptr;
  int (*get_cq_event)(ibv_comp_channel*, ibv_cq**, void**) = nullptr;
  void (*ack_cq_events)(ibv_cq*, unsigned int) = nullptr;
  ibv_qp* (*create_qp)(ibv_pd*, ibv_qp_init_attr*) = nullptr;
  int (*modify_qp)(ibv_qp*, ibv_qp_attr*, int) = nullptr;
  int (*destroy_qp)(ibv_qp*) = nullptr;
};

class LibVerbs final : public VerbsApi {
 public:
  std::string unavailable_reason() override {
    std::call_once(loaded_, [this] { load(); });
    return reason_;
  }

  ibv_device** get_device_list(int* count) override {
    if (!unavailable_reason().empty()) {
      errno = ENOENT;
      return nullptr;
    }
    return s_.get_device_list(count);
  }
  void free_device_list(ibv_device** list) override { s_.free_device_list(list); }
  const char* get_device_name(ibv_device* d) override { return s_.get_device_name(d); }
  ibv_context* open_device(ibv_device* d) override { return s_.open_device(d); }
  int close_device(ibv_context* c) override { return s_.close_device(c); }
  int query_port(ibv_context* c, uint8_t port, ibv_port_attr* attr) override {
    *attr = ibv_port_attr{};
    return s_.query_port(c, port, attr);
  }
  int query_gid(ibv_context* c, uint8_t port, int index, ibv_gid* gid) override {
    return s_.query_gid(c, port, index, gid);
  }
  std::string gid_type(ibv_context* c, uint8_t port, int index) override {
    // Read from sysfs like rdma-core's own tools do; present on every kernel with RoCE.
    std::ifstream in(fmt::format("/sys/class/infiniband/{}/ports/{}/gid_attrs/types/{}",
                                 c->device->name, port, index));
    std::string type;
    std::getline(in, type);
    return type;
  }
  std::string device_pci(ibv_device* d) override {
    const auto pci = topology::pci_of_sysfs_device(std::string(d->ibdev_path) + "/device");
    return pci ? pci->to_string() : std::string();
  }
  int get_async_event(ibv_context* c, ibv_async_event* event) override {
    return s_.get_async_event(c, event);
  }
  void ack_async_event(ibv_async_event* event) override { s_.ack_async_event(event); }
  ibv_pd* alloc_pd(ibv_context* c) override { return s_.alloc_pd(c); }
  int dealloc_pd(ibv_pd* pd) override { return s_.dealloc_pd(pd); }
  ibv_mr* reg_mr(ibv_pd* pd, void* addr, std::size_t length, int access) override {
    return s_.reg_mr(pd, addr, length, access);
  }
  ibv_mr* reg_dmabuf_mr(ibv_pd* pd, uint64_t offset, std::size_t length, uint64_t iova, int fd,
                        int access) override {
    if (!s_.reg_dmabuf_mr) {  // rdma-core older than v34
      errno = EOPNOTSUPP;
      return nullptr;
    }
    return s_.reg_dmabuf_mr(pd, offset, length, iova, fd, access);
  }
  int dereg_mr(ibv_mr* mr) override { return s_.dereg_mr(mr); }
  ibv_comp_channel* create_comp_channel(ibv_context* c) override {
    return s_.create_comp_channel(c);
  }
  int destroy_comp_channel(ibv_comp_channel* ch) override { return s_.destroy_comp_channel(ch); }
  ibv_cq* create_cq(ibv_context* c, int cqe, void* ctx, ibv_comp_channel* ch, int vec) override {
    return s_.create_cq(c, cqe, ctx, ch, vec);
  }
  int destroy_cq(ibv_cq* cq) override { return s_.destroy_cq(cq); }
  int req_notify_cq(ibv_cq* cq, int solicited_only) override {
    return ibv_req_notify_cq(cq, solicited_only);
  }
  int get_cq_event(ibv_comp_channel* ch, ibv_cq** cq, void** ctx) override {
    return s_.get_cq_event(ch, cq, ctx);
  }
  void ack_cq_events(ibv_cq* cq, unsigned int n) override { s_.ack_cq_events(cq, n); }
  int poll_cq(ibv_cq* cq, int n, ibv_wc* wc) override { return ibv_poll_cq(cq, n, wc); }
  ibv_qp* create_qp(ibv_pd* pd, ibv_qp_init_attr* attr) override { return s_.create_qp(pd, attr); }
  int modify_qp(ibv_qp* qp, ibv_qp_attr* attr, int mask) override {
    return s_.modify_qp(qp, attr, mask);
  }
  int destroy_qp(ibv_qp* qp) override { return s_.destroy_qp(qp); }
  int post_send(ibv_qp* qp, ibv_send_wr* wr, ibv_send_wr** bad) override {
    return ibv_post_send(qp, wr, bad);
  }
  int post_recv(ibv_qp* qp, ibv_recv_wr* wr, ibv_recv_wr** bad) override {
    return ibv_post_recv(qp, wr, bad);
  }

 private:
  template <typename F>
  bool bind(F& fn, const char* name, bool required = true) {
    fn = reinterpret_cast<F>(dlsym(handle_, name));
    if (!fn && required && reason_.empty()) {
      reason_ = fmt::format("libibverbs.so.1 lacks {} (rdma-core too old?)", name);
    }
    return fn != nullptr;
  }

  void load() {
    handle_ = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      const char* err = dlerror();
      reason_ = fmt::format(
          "libibverbs.so.1 could not be loaded ({}); install rdma-core's libibverbs1 and "
          "ibverbs-providers",
          err ? err : "not found");
      return;
    }
    bind(s_.get_device_list, "ibv_get_device_list");
    bind(s_.free_device_list, "ibv_free_device_list");
    bind(s_.get_device_name, "ibv_get_device_name");
    bind(s_.open_device, "ibv_open_device");
    bind(s_.close_device, "ibv_close_device");
    bind(s_.query_port, "ibv_query_port");
    bind(s_.query_gid, "ibv_query_gid");
    bind(s_.get_async_event, "ibv_get_async_event");
    bind(s_.ack_async_event, "ibv_ack_async_event");
    bind(s_.alloc_pd, "ibv_alloc_pd");
    bind(s_.dealloc_pd, "ibv_dealloc_pd");
    bind(s_.reg_mr, "ibv_reg_mr");
    bind(s_.reg_dmabuf_mr, "ibv_reg_dmabuf_mr", /*required=*/false);
    bind(s_.dereg_mr, "ibv_dereg_mr");
    bind(s_.create_comp_channel, "ibv_create_comp_channel");
    bind(s_.destroy_comp_channel, "ibv_destroy_comp_channel");
    bind(s_.create_cq, "ibv_create_cq");
    bind(s_.destroy_cq, "ibv_destroy_cq");
    bind(s_.get_cq_event, "ibv_get_cq_event");
    bind(s_.ack_cq_events, "ibv_ack_cq_events");
    bind(s_.create_qp, "ibv_create_qp");
    bind(s_.modify_qp, "ibv_modify_qp");
    bind(s_.destroy_qp, "ibv_destroy_qp");
  }

  std::once_flag loaded_;
  void* handle_ = nullptr;
  std::string reason_;
  Symbols s_;
};

VerbsApi* g_test_api = nullptr;

}  // namespace

VerbsApi& verbs_api() {
  if (g_test_api) return *g_test_api;
  static LibVerbs* lib = new LibVerbs;  // never destroyed: providers may still hold contexts
  return *lib;
}

void set_verbs_api_for_testing(VerbsApi* api) { g_test_api = api; }

}  // namespace railcc::transport::verbs
