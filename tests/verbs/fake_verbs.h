// A test double for the verbs calls railcc makes (transport/verbs/verbs_api.h): an emulated RDMA
// device per name, in every process that uses it, so the real transport code runs end to end on
// machines without an RDMA device (no kernel provider can be loaded here, not even soft-RoCE).
// Linked only into test binaries; it never ships in the library.
//
// Emulation: each fake device of a process listens on an abstract unix socket named after its
// 16-bit id, which is also its LID and the last bytes of its GIDs. A queue pair moved to RTR
// connects to the socket its remote LID/GID names; an emulation thread per process carries its
// work requests (RDMA WRITE, WRITE with immediate, SEND) over it and plays the remote HCA: it
// checks the rkey and bounds of the target memory region (a bad one is a remote access error),
// consumes a posted receive for immediates and sends (waiting, like receiver-not-ready retries,
// when none is posted), writes the bytes, and answers with an acknowledgement that becomes the
// sender's completion. Completions go to the CQs and wake the completion channel (a pipe) when the
// CQ is armed. Errors move the queue pair to the error state and flush what is outstanding, as
// hardware does; a peer that is gone or a queue pair that no longer exists answers "retry
// exceeded".
//
// Faults: fail the n-th send posted on a device with a chosen status, take a port down (its
// queue pairs then fail with IBV_WC_RETRY_EXC_ERR), or deliver an async event (port down or
// ACTIVE again, device or queue pair fatal) on each context's async_fd, a pipe. All act on the
// calling process only.
#pragma once

#include <infiniband/verbs.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "transport/verbs/verbs_api.h"

namespace railcc::test {

struct FakeVerbsOptions {
  std::vector<std::string> devices = {"fake0"};  // each has one port, port 1
  bool infiniband = false;  // link layer: RoCE (GID addressing) by default, else LID addressing
  std::map<std::string, std::string> pci;  // device -> its PCI bus id (device_pci); default ""
};

class FakeVerbs final : public transport::verbs::VerbsApi {
 public:
  explicit FakeVerbs(FakeVerbsOptions options) : options_(std::move(options)) {}

  // Creates a FakeVerbs and installs it (set_verbs_api_for_testing); it stays installed, and
  // alive, until uninstall(). Installing before fork() covers the children too: the emulation
  // starts afresh in each process on first use.
  static FakeVerbs& install(FakeVerbsOptions options = {});
  static void uninstall();

  // Fault injection, for this process. The `nth` send work request posted on `device` from now
  // on (1 = the next) completes with `status` and puts its queue pair in the error state.
  void fail_nth_send(const std::string& device, int nth, ibv_wc_status status);
  // Takes port 1 of `device` down (or up): its state reads DOWN and its queue pairs fail with
  // IBV_WC_RETRY_EXC_ERR, as when a cable is pulled.
  void set_port_down(const std::string& device, bool down);
  // Delivers an async event (ibv_get_async_event) to every context of `device` open in this
  // process: IBV_EVENT_PORT_ERR / IBV_EVENT_PORT_ACTIVE for port 1, IBV_EVENT_DEVICE_FATAL. Only
  // the event: pair it with set_port_down to also fail the traffic, as a pulled cable does.
  void inject_async_event(const std::string& device, ibv_event_type type);
  // Delivers a queue-pair event (IBV_EVENT_QP_FATAL...) for every queue pair on `device`.
  void inject_qp_event(const std::string& device, ibv_event_type type);
  // Memory regions registered now in this process (registration cache tests).
  int registered_regions() const;
  // RDMA writes of this process whose source memory the sender changed before their completion
  // (a zero-copy send whose buffer was reused too early); must stay 0.
  uint64_t sources_changed_in_flight() const;

  std::string unavailable_reason() override { return {}; }
  ibv_device** get_device_list(int* count) override;
  void free_device_list(ibv_device** list) override;
  const char* get_device_name(ibv_device* device) override;
  ibv_context* open_device(ibv_device* device) override;
  int close_device(ibv_context* context) override;
  int query_port(ibv_context* context, uint8_t port, ibv_port_attr* attr) override;
  int query_gid(ibv_context* context, uint8_t port, int index, ibv_gid* gid) override;
  int get_async_event(ibv_context* context, ibv_async_event* event) override;
  void ack_async_event(ibv_async_event* event) override;
  std::string gid_type(ibv_context* context, uint8_t port, int index) override;
  std::string device_pci(ibv_device* device) override;
  ibv_pd* alloc_pd(ibv_context* context) override;
  int dealloc_pd(ibv_pd* pd) override;
  ibv_mr* reg_mr(ibv_pd* pd, void* addr, std::size_t length, int access) override;
  ibv_mr* reg_dmabuf_mr(ibv_pd* pd, uint64_t offset, std::size_t length, uint64_t iova, int fd,
                        int access) override;
  int dereg_mr(ibv_mr* mr) override;
  ibv_comp_channel* create_comp_channel(ibv_context* context) override;
  int destroy_comp_channel(ibv_comp_channel* channel) override;
  ibv_cq* create_cq(ibv_context* context, int cqe, void* cq_context, ibv_comp_channel* channel,
                    int comp_vector) override;
  int destroy_cq(ibv_cq* cq) override;
  int req_notify_cq(ibv_cq* cq, int solicited_only) override;
  int get_cq_event(ibv_comp_channel* channel, ibv_cq** cq, void** cq_context) override;
  void ack_cq_events(ibv_cq* cq, unsigned int count) override;
  int poll_cq(ibv_cq* cq, int count, ibv_wc* wc) override;
  ibv_qp* create_qp(ibv_pd* pd, ibv_qp_init_attr* attr) override;
  int modify_qp(ibv_qp* qp, ibv_qp_attr* attr, int mask) override;
  int destroy_qp(ibv_qp* qp) override;
  int post_send(ibv_qp* qp, ibv_send_wr* wr, ibv_send_wr** bad) override;
  int post_recv(ibv_qp* qp, ibv_recv_wr* wr, ibv_recv_wr** bad) override;

  const FakeVerbsOptions& options() const { return options_; }

 private:
  FakeVerbsOptions options_;
};

}  // namespace railcc::test
