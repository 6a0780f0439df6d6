#include "transport/connection.h"

#include <fmt/format.h>

#include <cstring>

#include "kernels/cpu/reduce.h"
#include "src/telemetry/metrics.h"
#include "src/telemetry/trace.h"

namespace railcc::transport {

using wire::FrameHeader;

void check_expectation(const FrameHeader& h, const RecvRequest& r, int my_rank, int peer,
                       uint64_t comm_id) {
  const auto& e = r.expect;
  const auto op = static_cast<wire::OpKind>(h.op);
  auto describe = [](wire::OpKind op, uint64_t seq, uint64_t count, uint8_t dtype, uint8_t redop,
                     int32_t root) {
    std::string s = fmt::format("{} #{} (count {}, {}", wire::op_kind_name(op), seq, count,
                                data_type_name(static_cast<DataType>(dtype)));
    if (op == wire::OpKind::kAllReduce || op == wire::OpKind::kReduce ||
        op == wire::OpKind::kReduceScatter) {
      s += fmt::format(", {}", reduce_op_name(static_cast<ReduceOp>(redop)));
    }
    if (root >= 0) s += fmt::format(", root {}", root);
    return s + ")";
  };
  const bool p2p = e.op == wire::OpKind::kSendRecv;
  std::string problem;
  if (h.comm_id != comm_id) {
    throw ProtocolError(fmt::format("{} sent a frame of communicator {:x} on communicator {:x}",
                                    fmt::format("rank {}", peer), h.comm_id, comm_id));
  }
  if (op != e.op) {
    problem = "called a different operation";
  } else if (p2p && h.tag != e.tag) {
    problem = fmt::format("sent tag {} but this rank receives tag {}", h.tag, e.tag);
  } else if (!p2p && h.seq != e.seq) {
    problem = "is at a different collective: ranks called collectives in a different order";
  } else if (h.dtype != static_cast<uint8_t>(e.dtype)) {
    problem = "used a different data type";
  } else if (h.redop != static_cast<uint8_t>(e.redop)) {
    problem = "used a different reduce op";
  } else if (h.root != e.root) {
    problem = "used a different root";
  } else if (e.check_count && h.count != e.count) {
    problem = "used a different count";
  } else if (h.length != r.length) {
    problem = fmt::format("sent {} bytes where this rank expects {}", h.length, r.length);
  } else {
    return;
  }
  throw MismatchError(fmt::format(
      "mismatch between rank {} and rank {}: rank {} called {} but rank {} called {}; {} {}",
      my_rank, peer, peer, describe(op, p2p ? 0 : h.seq, h.count, h.dtype, h.redop, h.root),
      my_rank,
      describe(e.op, p2p ? 0 : e.seq, e.count, static_cast<uint8_t>(e.dtype),
               static_cast<uint8_t>(e.redop), e.root),
      fmt::format("rank {}", peer), problem));
}

void deliver(RecvRequest* r, std::size_t offset, const std::byte* src, std::size_t n) {
  if (n == 0) return;
  if (r->reduce_with == nullptr) {
    std::memcpy(r->dst + offset, src, n);
    return;
  }
  const std::size_t esz = data_type_size(r->expect.dtype);
  const uint64_t start = r->trace ? telemetry::steady_now_ns() : 0;
  kernels::reduce(r->dst + offset, r->reduce_with + offset, src, n / esz, r->expect.dtype,
                  r->expect.redop);
  if (r->trace) r->trace->kernel("reduce", n, start, telemetry::steady_now_ns());
}

}  // namespace railcc::transport
