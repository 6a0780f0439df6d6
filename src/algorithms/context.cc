#include "src/algorithms/context.h"

namespace railcc::algo {

Context::Context(int rank, int size, const Config& config, core::Engine& engine, const OpArgs& args,
                 uint64_t seq, Deadline deadline, Scratch& scratch)
    : rank_(rank),
      size_(size),
      config_(config),
      engine_(engine),
      args_(args),
      deadline_(deadline),
      elem_(data_type_size(args.dtype)),
      scratch_(scratch) {
  expect_.op = args.op;
  expect_.dtype = args.dtype;
  expect_.redop = args.redop;
  expect_.count = args.count;
  expect_.root = args.root;
  expect_.seq = seq;
  expect_.tag = args.tag;
  expect_.check_count = args.op != wire::OpKind::kAllToAllv && args.op != wire::OpKind::kBarrier;
}

SendRequest* Context::send(int peer, const void* data, std::size_t bytes) {
  SendRequest& r = sends_.emplace_back();
  r.data = static_cast<const std::byte*>(data);
  r.length = bytes;
  r.what = expect_;
  engine_.send(peer, &r);
  return &r;
}

RecvRequest* Context::recv(int peer, void* dst, std::size_t bytes) {
  return recv_reduce(peer, dst, nullptr, bytes);
}

RecvRequest* Context::recv_reduce(int peer, void* dst, const void* local, std::size_t bytes) {
  RecvRequest& r = recvs_.emplace_back();
  r.dst = static_cast<std::byte*>(dst);
  r.length = bytes;
  r.reduce_with = static_cast<const std::byte*>(local);
  r.expect = expect_;
  // The kernels treat avg as sum; the algorithm divides once at the end.
  engine_.recv(peer, &r);
  return &r;
}

void Context::wait(const RecvRequest* r) {
  if (r->done) return;
  engine_.wait([r] { return r->done; }, deadline_);
}

void Context::progress_until(const std::function<bool()>& done) {
  if (!done()) engine_.wait(done, deadline_);
}

void Context::wait_all() {
  std::size_t sends_done = 0, recvs_done = 0;  // prefixes known complete
  engine_.wait(
      [&] {
        // Requests complete roughly in posting order, so advancing two cursors is cheap.
        while (sends_done < sends_.size() && sends_[sends_done].done) ++sends_done;
        while (recvs_done < recvs_.size() && recvs_[recvs_done].done) ++recvs_done;
        return sends_done == sends_.size() && recvs_done == recvs_.size();
      },
      deadline_);
  sends_.clear();
  recvs_.clear();
}

std::byte* Context::scratch(std::size_t bytes) { return scratch_.get(bytes); }

}  // namespace railcc::algo
