// The boundary between railcc and libibverbs: exactly the verbs calls the transport makes, behind
// one interface.
//
// Why an interface: ibv_post_send, ibv_poll_cq and friends are static inline functions in
// <infiniband/verbs.h>, so they cannot be intercepted at link time; and railcc must still load
// and run (over tcp) where rdma-core is not installed. The production implementation
// (verbs_loader.cc) dlopen()s libibverbs.so.1 on first use. Tests install an emulation of these
// calls (tests/verbs/fake_verbs.h) with set_verbs_api_for_testing(), so the same transport code
// runs end to end on machines without an RDMA device. The emulation never ships in the library.
#pragma once

#include <infiniband/verbs.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace railcc::transport::verbs {

class VerbsApi {
 public:
  virtual ~VerbsApi() = default;

  // Empty when the calls below can be made; otherwise why not (e.g. "libibverbs.so.1 not found").
  virtual std::string unavailable_reason() = 0;

  // Devices and ports. get_device_list returns null and sets errno when there is none (rdma-core
  // answers ENOSYS when the kernel has no RDMA subsystem).
  virtual ibv_device** get_device_list(int* count) = 0;
  virtual void free_device_list(ibv_device** list) = 0;
  virtual const char* get_device_name(ibv_device* device) = 0;
  virtual ibv_context* open_device(ibv_device* device) = 0;
  virtual int close_device(ibv_context* context) = 0;
  virtual int query_port(ibv_context* context, uint8_t port, ibv_port_attr* attr) = 0;
  virtual int query_gid(ibv_context* context, uint8_t port, int index, ibv_gid* gid) = 0;
  // "RoCE v2", "IB/RoCE v1", or "" when unknown (sysfs gid_attrs/types).
  virtual std::string gid_type(ibv_context* context, uint8_t port, int index) = 0;
  // The device's PCI function ("0000:05:00.0", from sysfs), "" when unknown (soft-RoCE): how
  // rail plan NICs named by bus id (NCCL topology files) are matched to devices.
  virtual std::string device_pci(ibv_device* device) = 0;

  // Asynchronous events of a device (port state changes, fatal errors). railcc makes
  // context->async_fd non-blocking, so get_async_event returns -1 with errno EAGAIN when none is
  // pending instead of waiting for one. Every event got must be acknowledged.
  virtual int get_async_event(ibv_context* context, ibv_async_event* event) = 0;
  virtual void ack_async_event(ibv_async_event* event) = 0;

  // Protection domain and memory registration.
  virtual ibv_pd* alloc_pd(ibv_context* context) = 0;
  virtual int dealloc_pd(ibv_pd* pd) = 0;
  virtual ibv_mr* reg_mr(ibv_pd* pd, void* addr, std::size_t length, int access) = 0;
  // Registers device memory exported as a dma-buf (CUDA memory); null with errno EOPNOTSUPP where
  // the library or provider lacks it.
  virtual ibv_mr* reg_dmabuf_mr(ibv_pd* pd, uint64_t offset, std::size_t length, uint64_t iova,
                                int fd, int access) = 0;
  virtual int dereg_mr(ibv_mr* mr) = 0;

  // Completion queues and their wake-up channel.
  virtual ibv_comp_channel* create_comp_channel(ibv_context* context) = 0;
  virtual int destroy_comp_channel(ibv_comp_channel* channel) = 0;
  virtual ibv_cq* create_cq(ibv_context* context, int cqe, void* cq_context,
                            ibv_comp_channel* channel, int comp_vector) = 0;
  virtual int destroy_cq(ibv_cq* cq) = 0;
  virtual int req_notify_cq(ibv_cq* cq, int solicited_only) = 0;
  virtual int get_cq_event(ibv_comp_channel* channel, ibv_cq** cq, void** cq_context) = 0;
  virtual void ack_cq_events(ibv_cq* cq, unsigned int count) = 0;
  virtual int poll_cq(ibv_cq* cq, int count, ibv_wc* wc) = 0;

  // Queue pairs.
  virtual ibv_qp* create_qp(ibv_pd* pd, ibv_qp_init_attr* attr) = 0;
  virtual int modify_qp(ibv_qp* qp, ibv_qp_attr* attr, int mask) = 0;
  virtual int destroy_qp(ibv_qp* qp) = 0;
  virtual int post_send(ibv_qp* qp, ibv_send_wr* wr, ibv_send_wr** bad) = 0;
  virtual int post_recv(ibv_qp* qp, ibv_recv_wr* wr, ibv_recv_wr** bad) = 0;
};

// The implementation in use: the one installed for testing, else libibverbs (loaded lazily).
VerbsApi& verbs_api();

// Test-only (declared here, in an internal header, never in include/): makes every later
// verbs_api() call return `api` (null restores libibverbs). Not thread-safe: call it before any
// communicator exists. `api` must outlive every communicator created while it is installed.
void set_verbs_api_for_testing(VerbsApi* api);

}  // namespace railcc::transport::verbs
