#include "backend.h"

#include <numeric>

#include "railcc/status.hpp"
#include "store_adapter.h"
#include "types.h"

namespace railcc_torch {

namespace {

using c10d::OpType;
using std::chrono::milliseconds;

// Per-op timeout from the options (kUnsetTimeout: none of its own) and whether the caller
// waits at once (asyncOp false: torch.distributed's blocking calls).
template <typename Options>
CallMode mode_of(const Options& o) {
  return {o.timeout.count() > 0 ? o.timeout : milliseconds(0), o.asyncOp};
}
constexpr CallMode kPointToPoint{milliseconds(0), true};

// A contiguous tensor railcc may read for `t`.
at::Tensor readable(RailccWork& w, const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  w.keep_alive(c);
  return c;
}

// A contiguous tensor railcc may write for `t`: `t` itself, or a staging copy written back into
// `t` once the op succeeded (`copy_in`: the op also reads it).
at::Tensor writable(RailccWork& w, const at::Tensor& t, bool copy_in) {
  if (t.is_contiguous()) {
    w.keep_alive(t);
    return t;
  }
  at::Tensor tmp = copy_in ? t.contiguous() : at::empty(t.sizes(), t.options());
  w.keep_alive(tmp);
  w.on_success([t, tmp]() mutable { t.copy_(tmp); });
  return tmp;
}

// A new contiguous 1-D tensor holding `parts` one after the other.
at::Tensor pack(RailccWork& w, const std::vector<at::Tensor>& parts, const at::Tensor& like) {
  int64_t total = 0;
  for (const auto& p : parts) total += p.numel();
  at::Tensor flat = at::empty({total}, like.options());
  int64_t at = 0;
  for (const auto& p : parts) {
    flat.narrow(0, at, p.numel()).copy_(p.reshape({-1}));
    at += p.numel();
  }
  w.keep_alive(flat);
  return flat;
}

// A staging 1-D tensor of as many elements as `parts` together, copied into them on success.
at::Tensor unpack_on_success(RailccWork& w, const std::vector<at::Tensor>& parts,
                             const at::Tensor& like) {
  int64_t total = 0;
  for (const auto& p : parts) total += p.numel();
  at::Tensor flat = at::empty({total}, like.options());
  w.keep_alive(flat);
  w.on_success([flat, parts]() mutable {
    int64_t at = 0;
    for (auto& p : parts) {
      p.copy_(flat.narrow(0, at, p.numel()).view(p.sizes()));
      at += p.numel();
    }
  });
  return flat;
}

// Multiplies by PREMUL_SUM's factor (into a new tensor unless `in_place`); other ops: `t`.
at::Tensor premultiply(const c10d::ReduceOp& op, at::Tensor t, bool in_place) {
  if (op.op_ != c10d::ReduceOp::PREMUL_SUM) return t;
  const auto* s = dynamic_cast<const c10d::PreMulSumSupplement*>(op.supplement_.get());
  TORCH_CHECK_VALUE(s != nullptr, "railcc: PREMUL_SUM without a factor");
  if (s->tensor_factor.defined()) {
    return in_place ? t.mul_(s->tensor_factor) : t.mul(s->tensor_factor);
  }
  return in_place ? t.mul_(s->double_factor) : t.mul(s->double_factor);
}

int64_t check_root(int64_t root, int size, const char* op) {
  TORCH_CHECK_VALUE(root >= 0 && root < size, "railcc ", op, ": root rank ", root,
                    " is out of range [0, ", size, ")");
  return root;
}

void check_one(const std::vector<at::Tensor>& ts, const char* op) {
  TORCH_CHECK_VALUE(ts.size() == 1, "railcc ", op, ": expects one tensor per rank, got ",
                    ts.size());
  check_cpu_dense(ts[0], op);
}

void check_list(const std::vector<at::Tensor>& ts, int size, const char* op, const char* what) {
  TORCH_CHECK_VALUE(static_cast<int>(ts.size()) == size, "railcc ", op, ": the ", what,
                    " list has ", ts.size(), " tensors; the group has ", size, " ranks");
}

// Elements per rank along dim 0 for all_to_all_single: from the split sizes, or an even split.
std::vector<std::size_t> split_counts(const at::Tensor& t, const std::vector<int64_t>& splits,
                                      int size, std::size_t per_element, const char* what) {
  const int64_t rows = t.dim() == 0 ? 1 : t.size(0);
  const int64_t row_elems = rows == 0 ? 0 : t.numel() / rows;
  std::vector<std::size_t> counts(size);
  if (splits.empty()) {
    TORCH_CHECK_VALUE(rows % size == 0, "railcc all_to_all_single: the ", what,
                      " tensor's first dimension (", rows, ") does not divide evenly over ", size,
                      " ranks; pass split sizes");
    std::fill(counts.begin(), counts.end(), rows / size * row_elems * per_element);
    return counts;
  }
  TORCH_CHECK_VALUE(static_cast<int>(splits.size()) == size, "railcc all_to_all_single: ", what,
                    " split sizes have ", splits.size(), " entries; the group has ", size,
                    " ranks");
  int64_t sum = 0;
  for (int i = 0; i < size; ++i) {
    TORCH_CHECK_VALUE(splits[i] >= 0, "railcc all_to_all_single: negative ", what, " split size ",
                      splits[i]);
    sum += splits[i];
    counts[i] = static_cast<std::size_t>(splits[i] * row_elems) * per_element;
  }
  TORCH_CHECK_VALUE(sum == rows, "railcc all_to_all_single: ", what, " split sizes add up to ", sum,
                    " but the tensor's first dimension is ", rows);
  return counts;
}

std::vector<std::size_t> displacements(const std::vector<std::size_t>& counts) {
  std::vector<std::size_t> d(counts.size(), 0);
  for (std::size_t i = 1; i < counts.size(); ++i) d[i] = d[i - 1] + counts[i - 1];
  return d;
}

railcc::Config make_config(const c10::intrusive_ptr<c10d::Store>& store, milliseconds timeout) {
  railcc::Config config = railcc::Config::from_env();
  config.timeout = timeout;
  // Peers on other hosts reach us at the local address that routes to torch's TCPStore, unless
  // the launcher (MASTER_ADDR) or RAILCC_SOCKET_ADDR already says.
  if (config.launch.store_addr.empty()) config.launch.store_addr = tcp_store_address(store);
  return config;
}

}  // namespace

RailccBackend::RailccBackend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                             milliseconds timeout)
    : c10d::Backend(rank, size), timeout_(timeout) {
  TORCH_CHECK_VALUE(timeout.count() > 0, "railcc: the process group timeout must be positive");
  try {
    comm_ = railcc::Communicator::init(std::make_shared<C10dStore>(store), rank, size,
                                       make_config(store, timeout));
  } catch (const railcc::Error& e) {
    throw_torch_error(e);
  }
  queue_ = std::make_unique<CompletionQueue>(comm_);
  init();
}

RailccBackend::~RailccBackend() {
  queue_.reset();  // the queue keeps the communicator while works it still finalizes use it
  comm_.reset();
}

c10::intrusive_ptr<c10d::Backend::Options> RailccBackend::getBackendOptions() {
  return c10::make_intrusive<Options>("railcc", timeout_);
}

void RailccBackend::setTimeout(milliseconds timeout) {
  TORCH_CHECK_VALUE(timeout.count() > 0, "railcc: the timeout must be positive");
  timeout_ = timeout;
  comm().set_timeout(timeout);
}

void RailccBackend::abort() {
  if (comm_) comm_->abort();
}

void RailccBackend::shutdown() {
  // What is in flight still finishes (or fails at its deadline); later ops are refused.
  queue_.reset();
  comm_.reset();
}

railcc::Communicator& RailccBackend::comm() {
  TORCH_CHECK(comm_ != nullptr, "railcc: the process group was shut down");
  return *comm_;
}

template <typename Issue>
c10::intrusive_ptr<c10d::Work> RailccBackend::launch(OpType type, const char* title,
                                                     std::vector<at::Tensor> outputs, CallMode mode,
                                                     Issue&& issue) {
  railcc::Communicator& c = comm();
  auto work = c10::make_intrusive<RailccWork>(rank_, type, title, std::move(outputs), mode.timeout);
  try {
    issue(*work, c);
  } catch (const railcc::Error& e) {
    if (work->ops_finished()) throw_torch_error(e);
    queue_->push(work);  // keeps the buffers of ops already issued alive until they end
    throw_torch_error(e);
  }
  if (mode.async_op) {
    queue_->push(work);
  } else {
    work->defer_completion(queue_->pusher());
  }
  return work;
}

c10::intrusive_ptr<c10d::Work> RailccBackend::allreduce(std::vector<at::Tensor>& tensors,
                                                        const c10d::AllreduceOptions& opts) {
  TORCH_CHECK_VALUE(!tensors.empty(), "railcc all_reduce: no tensors");
  std::vector<std::pair<railcc::DataType, railcc::ReduceOp>> types;
  for (const auto& t : tensors) {
    check_cpu_dense(t, "all_reduce");
    types.emplace_back(reduction_type(t, "all_reduce"),
                       reduction_op(opts.reduceOp, t.scalar_type(), "all_reduce"));
  }
  return launch(OpType::ALLREDUCE, "railcc:all_reduce", tensors, mode_of(opts),
                [&](RailccWork& w, railcc::Communicator& c) {
                  for (std::size_t i = 0; i < tensors.size(); ++i) {
                    at::Tensor buf = writable(w, tensors[i], true);
                    premultiply(opts.reduceOp, buf, true);
                    w.add_op(c.all_reduce(buf.data_ptr(), buf.data_ptr(), buf.numel(),
                                          types[i].first, types[i].second));
                  }
                });
}

c10::intrusive_ptr<c10d::Work> RailccBackend::allreduce_coalesced(
    std::vector<at::Tensor>& tensors, const c10d::AllreduceCoalescedOptions& opts) {
  // One railcc op per tensor: they pipeline on the communicator, and tensors of different
  // types need no packing.
  return allreduce(tensors, opts);
}

c10::intrusive_ptr<c10d::Work> RailccBackend::broadcast(std::vector<at::Tensor>& tensors,
                                                        const c10d::BroadcastOptions& opts) {
  TORCH_CHECK_VALUE(!tensors.empty(), "railcc broadcast: no tensors");
  TORCH_CHECK_VALUE(opts.rootTensor == 0, "railcc broadcast: rootTensor must be 0");
  const int root = static_cast<int>(check_root(opts.rootRank, size_, "broadcast"));
  for (const auto& t : tensors) check_cpu_dense(t, "broadcast");
  return launch(
      OpType::BROADCAST, "railcc:broadcast", tensors, mode_of(opts),
      [&](RailccWork& w, railcc::Communicator& c) {
        for (const auto& t : tensors) {
          at::Tensor buf = writable(w, t, rank_ == root);
          const Wire wire = wire_of(t.scalar_type());
          w.add_op(c.broadcast(buf.data_ptr(), buf.data_ptr(), wire.count(buf), wire.type, root));
        }
      });
}

c10::intrusive_ptr<c10d::Work> RailccBackend::reduce(std::vector<at::Tensor>& tensors,
                                                     const c10d::ReduceOptions& opts) {
  check_one(tensors, "reduce");
  TORCH_CHECK_VALUE(opts.rootTensor == 0, "railcc reduce: rootTensor must be 0");
  const int root = static_cast<int>(check_root(opts.rootRank, size_, "reduce"));
  const at::Tensor& t = tensors[0];
  const auto type = reduction_type(t, "reduce");
  const auto op = reduction_op(opts.reduceOp, t.scalar_type(), "reduce");
  return launch(OpType::REDUCE, "railcc:reduce", tensors, mode_of(opts),
                [&](RailccWork& w, railcc::Communicator& c) {
                  at::Tensor buf = writable(w, t, true);
                  premultiply(opts.reduceOp, buf, true);
                  w.add_op(c.reduce(buf.data_ptr(), buf.data_ptr(), buf.numel(), type, op, root));
                });
}

c10::intrusive_ptr<c10d::Work> RailccBackend::allgather(
    std::vector<std::vector<at::Tensor>>& outputs, std::vector<at::Tensor>& inputs,
    const c10d::AllgatherOptions& opts) {
  check_one(inputs, "all_gather");
  TORCH_CHECK_VALUE(outputs.size() == 1, "railcc all_gather: expects one output list, got ",
                    outputs.size());
  const at::Tensor& in = inputs[0];
  std::vector<at::Tensor>& outs = outputs[0];
  check_list(outs, size_, "all_gather", "output");
  check_same_type_and_numel(in, outs, "all_gather", "output tensor");
  return launch(
      OpType::ALLGATHER, "railcc:all_gather", outs, mode_of(opts),
      [&](RailccWork& w, railcc::Communicator& c) {
        at::Tensor src = readable(w, in);
        at::Tensor flat = unpack_on_success(w, outs, in);
        const Wire wire = wire_of(in.scalar_type());
        w.add_op(c.all_gather(src.data_ptr(), flat.data_ptr(), wire.count(src), wire.type));
      });
}

c10::intrusive_ptr<c10d::Work> RailccBackend::_allgather_base(at::Tensor& output, at::Tensor& input,
                                                              const c10d::AllgatherOptions& opts) {
  std::vector<at::Tensor> outputs{output}, inputs{input};
  return allgather_into_tensor_coalesced(outputs, inputs, opts);
}

c10::intrusive_ptr<c10d::Work> RailccBackend::allgather_into_tensor_coalesced(
    std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
    const c10d::AllgatherOptions& opts) {
  TORCH_CHECK_VALUE(outputs.size() == inputs.size() && !inputs.empty(),
                    "railcc all_gather_into_tensor: ", inputs.size(), " inputs but ",
                    outputs.size(), " outputs");
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    check_cpu_dense(inputs[i], "all_gather_into_tensor");
    check_cpu_dense(outputs[i], "all_gather_into_tensor");
    TORCH_CHECK_VALUE(outputs[i].scalar_type() == inputs[i].scalar_type() &&
                          outputs[i].numel() == inputs[i].numel() * size_,
                      "railcc all_gather_into_tensor: the output must hold ", size_,
                      " times the input's elements, of its type; got output ", describe(outputs[i]),
                      " for input ", describe(inputs[i]));
  }
  return launch(
      OpType::_ALLGATHER_BASE, "railcc:all_gather_into_tensor", outputs, mode_of(opts),
      [&](RailccWork& w, railcc::Communicator& c) {
        for (std::size_t i = 0; i < inputs.size(); ++i) {
          at::Tensor src = readable(w, inputs[i]);
          at::Tensor dst = writable(w, outputs[i], false);
          const Wire wire = wire_of(src.scalar_type());
          w.add_op(c.all_gather(src.data_ptr(), dst.data_ptr(), wire.count(src), wire.type));
        }
      });
}

c10::intrusive_ptr<c10d::Work> RailccBackend::gather(std::vector<std::vector<at::Tensor>>& outputs,
                                                     std::vector<at::Tensor>& inputs,
                                                     const c10d::GatherOptions& opts) {
  check_one(inputs, "gather");
  const int root = static_cast<int>(check_root(opts.rootRank, size_, "gather"));
  const at::Tensor& in = inputs[0];
  std::vector<at::Tensor> outs;
  if (rank_ == root) {
    TORCH_CHECK_VALUE(outputs.size() == 1, "railcc gather: the root expects one output list");
    outs = outputs[0];
    check_list(outs, size_, "gather", "output");
    check_same_type_and_numel(in, outs, "gather", "output tensor");
  } else {
    TORCH_CHECK_VALUE(outputs.empty() || (outputs.size() == 1 && outputs[0].empty()),
                      "railcc gather: only the root (rank ", root, ") passes output tensors");
  }
  return launch(OpType::GATHER, "railcc:gather", outs, mode_of(opts),
                [&](RailccWork& w, railcc::Communicator& c) {
                  at::Tensor src = readable(w, in);
                  void* dst = nullptr;
                  if (rank_ == root) dst = unpack_on_success(w, outs, in).data_ptr();
                  const Wire wire = wire_of(in.scalar_type());
                  w.add_op(c.gather(src.data_ptr(), dst, wire.count(src), wire.type, root));
                });
}

c10::intrusive_ptr<c10d::Work> RailccBackend::scatter(std::vector<at::Tensor>& outputs,
                                                      std::vector<std::vector<at::Tensor>>& inputs,
                                                      const c10d::ScatterOptions& opts) {
  check_one(outputs, "scatter");
  const int root = static_cast<int>(check_root(opts.rootRank, size_, "scatter"));
  const at::Tensor& out = outputs[0];
  if (rank_ == root) {
    TORCH_CHECK_VALUE(inputs.size() == 1, "railcc scatter: the root expects one input list");
    check_list(inputs[0], size_, "scatter", "input");
    check_same_type_and_numel(out, inputs[0], "scatter", "input tensor");
  } else {
    TORCH_CHECK_VALUE(inputs.empty() || (inputs.size() == 1 && inputs[0].empty()),
                      "railcc scatter: only the root (rank ", root, ") passes input tensors");
  }
  return launch(OpType::SCATTER, "railcc:scatter", outputs, mode_of(opts),
                [&](RailccWork& w, railcc::Communicator& c) {
                  const void* src = nullptr;
                  if (rank_ == root) src = pack(w, inputs[0], out).data_ptr();
                  at::Tensor dst = writable(w, out, false);
                  const Wire wire = wire_of(out.scalar_type());
                  w.add_op(c.scatter(src, dst.data_ptr(), wire.count(dst), wire.type, root));
                });
}

c10::intrusive_ptr<c10d::Work> RailccBackend::reduce_scatter(
    std::vector<at::Tensor>& outputs, std::vector<std::vector<at::Tensor>>& inputs,
    const c10d::ReduceScatterOptions& opts) {
  check_one(outputs, "reduce_scatter");
  TORCH_CHECK_VALUE(inputs.size() == 1, "railcc reduce_scatter: expects one input list, got ",
                    inputs.size());
  const at::Tensor& out = outputs[0];
  check_list(inputs[0], size_, "reduce_scatter", "input");
  check_same_type_and_numel(out, inputs[0], "reduce_scatter", "input tensor");
  const auto type = reduction_type(out, "reduce_scatter");
  const auto op = reduction_op(opts.reduceOp, out.scalar_type(), "reduce_scatter");
  return launch(OpType::REDUCE_SCATTER, "railcc:reduce_scatter", outputs, mode_of(opts),
                [&](RailccWork& w, railcc::Communicator& c) {
                  at::Tensor src = premultiply(opts.reduceOp, pack(w, inputs[0], out), true);
                  at::Tensor dst = writable(w, out, false);
                  w.add_op(c.reduce_scatter(src.data_ptr(), dst.data_ptr(), dst.numel(), type, op));
                });
}

c10::intrusive_ptr<c10d::Work> RailccBackend::_reduce_scatter_base(
    at::Tensor& output, at::Tensor& input, const c10d::ReduceScatterOptions& opts) {
  std::vector<at::Tensor> outputs{output}, inputs{input};
  return reduce_scatter_tensor_coalesced(outputs, inputs, opts);
}

c10::intrusive_ptr<c10d::Work> RailccBackend::reduce_scatter_tensor_coalesced(
    std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
    const c10d::ReduceScatterOptions& opts) {
  TORCH_CHECK_VALUE(outputs.size() == inputs.size() && !inputs.empty(),
                    "railcc reduce_scatter_tensor: ", inputs.size(), " inputs but ", outputs.size(),
                    " outputs");
  std::vector<std::pair<railcc::DataType, railcc::ReduceOp>> types;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    check_cpu_dense(inputs[i], "reduce_scatter_tensor");
    check_cpu_dense(outputs[i], "reduce_scatter_tensor");
    TORCH_CHECK_VALUE(inputs[i].scalar_type() == outputs[i].scalar_type() &&
                          inputs[i].numel() == outputs[i].numel() * size_,
                      "railcc reduce_scatter_tensor: the input must hold ", size_,
                      " times the output's elements, of its type; got input ", describe(inputs[i]),
                      " for output ", describe(outputs[i]));
    types.emplace_back(
        reduction_type(inputs[i], "reduce_scatter_tensor"),
        reduction_op(opts.reduceOp, inputs[i].scalar_type(), "reduce_scatter_tensor"));
  }
  return launch(OpType::_REDUCE_SCATTER_BASE, "railcc:reduce_scatter_tensor", outputs,
                mode_of(opts), [&](RailccWork& w, railcc::Communicator& c) {
                  for (std::size_t i = 0; i < inputs.size(); ++i) {
                    at::Tensor src = premultiply(opts.reduceOp, readable(w, inputs[i]), false);
                    w.keep_alive(src);
                    at::Tensor dst = writable(w, outputs[i], false);
                    w.add_op(c.reduce_scatter(src.data_ptr(), dst.data_ptr(), dst.numel(),
                                              types[i].first, types[i].second));
                  }
                });
}

c10::intrusive_ptr<c10d::Work> RailccBackend::alltoall_base(at::Tensor& output, at::Tensor& input,
                                                            std::vector<int64_t>& output_splits,
                                                            std::vector<int64_t>& input_splits,
                                                            const c10d::AllToAllOptions& opts) {
  check_cpu_dense(input, "all_to_all_single");
  check_cpu_dense(output, "all_to_all_single");
  TORCH_CHECK_VALUE(input.scalar_type() == output.scalar_type(),
                    "railcc all_to_all_single: input is ", describe(input), " but output is ",
                    describe(output));
  const Wire wire = wire_of(input.scalar_type());
  const auto send_counts = split_counts(input, input_splits, size_, wire.per_element, "input");
  const auto recv_counts = split_counts(output, output_splits, size_, wire.per_element, "output");
  return launch(
      OpType::ALLTOALL_BASE, "railcc:all_to_all_single", {output}, mode_of(opts),
      [&](RailccWork& w, railcc::Communicator& c) {
        at::Tensor src = readable(w, input);
        at::Tensor dst = writable(w, output, false);
        w.add_op(c.all_to_allv(src.data_ptr(), send_counts, displacements(send_counts),
                               dst.data_ptr(), recv_counts, displacements(recv_counts), wire.type));
      });
}

c10::intrusive_ptr<c10d::Work> RailccBackend::alltoall(std::vector<at::Tensor>& outputs,
                                                       std::vector<at::Tensor>& inputs,
                                                       const c10d::AllToAllOptions& opts) {
  check_list(inputs, size_, "all_to_all", "input");
  check_list(outputs, size_, "all_to_all", "output");
  const at::Tensor& like = inputs[0];
  for (const auto& ts : {inputs, outputs}) {
    for (const auto& t : ts) {
      check_cpu_dense(t, "all_to_all");
      TORCH_CHECK_VALUE(t.scalar_type() == like.scalar_type(), "railcc all_to_all: tensors of ",
                        t.scalar_type(), " and ", like.scalar_type(), " in one call");
    }
  }
  const Wire wire = wire_of(like.scalar_type());
  std::vector<std::size_t> send_counts, recv_counts;
  for (int i = 0; i < size_; ++i) {
    send_counts.push_back(wire.count(inputs[i]));
    recv_counts.push_back(wire.count(outputs[i]));
  }
  return launch(
      OpType::ALLTOALL, "railcc:all_to_all", outputs, mode_of(opts),
      [&](RailccWork& w, railcc::Communicator& c) {
        at::Tensor src = pack(w, inputs, like);
        at::Tensor dst = unpack_on_success(w, outputs, like);
        w.add_op(c.all_to_allv(src.data_ptr(), send_counts, displacements(send_counts),
                               dst.data_ptr(), recv_counts, displacements(recv_counts), wire.type));
      });
}

c10::intrusive_ptr<c10d::Work> RailccBackend::send(std::vector<at::Tensor>& tensors, int dst_rank,
                                                   int tag) {
  check_one(tensors, "send");
  check_root(dst_rank, size_, "send");
  TORCH_CHECK_VALUE(tag >= 0, "railcc send: tag ", tag, " is negative");
  return launch(OpType::SEND, "railcc:send", tensors, kPointToPoint,
                [&](RailccWork& w, railcc::Communicator& c) {
                  at::Tensor src = readable(w, tensors[0]);
                  const Wire wire = wire_of(src.scalar_type());
                  w.add_op(c.send(src.data_ptr(), wire.count(src), wire.type, dst_rank,
                                  static_cast<uint32_t>(tag)));
                });
}

c10::intrusive_ptr<c10d::Work> RailccBackend::recv(std::vector<at::Tensor>& tensors, int src_rank,
                                                   int tag) {
  check_one(tensors, "recv");
  check_root(src_rank, size_, "recv");
  TORCH_CHECK_VALUE(tag >= 0, "railcc recv: tag ", tag, " is negative");
  return launch(OpType::RECV, "railcc:recv", tensors, kPointToPoint,
                [&](RailccWork& w, railcc::Communicator& c) {
                  at::Tensor dst = writable(w, tensors[0], false);
                  const Wire wire = wire_of(dst.scalar_type());
                  w.add_op(c.recv(dst.data_ptr(), wire.count(dst), wire.type, src_rank,
                                  static_cast<uint32_t>(tag)));
                  w.set_source_rank(src_rank);
                });
}

c10::intrusive_ptr<c10d::Work> RailccBackend::barrier(const c10d::BarrierOptions& opts) {
  return launch(OpType::BARRIER, "railcc:barrier", {}, mode_of(opts),
                [&](RailccWork& w, railcc::Communicator& c) { w.add_op(c.barrier()); });
}

}  // namespace railcc_torch
