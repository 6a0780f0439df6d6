#include "src/core/work_state.h"

#include <fmt/format.h>

namespace railcc::detail {

std::string describe_op(const OpSummary& a) {
  const uint64_t seq = a.seq;
  switch (a.op) {
    case wire::OpKind::kSendRecv:
      return fmt::format("{} rank {} ({} x {}, tag {})", a.is_send ? "send to" : "recv from",
                         a.peer, a.count, data_type_name(a.dtype), a.tag);
    case wire::OpKind::kBarrier:
      return fmt::format("barrier #{}", seq);
    case wire::OpKind::kAllReduce:
    case wire::OpKind::kReduceScatter:
      return fmt::format("{} #{} ({} x {}, {})", wire::op_kind_name(a.op), seq, a.count,
                         data_type_name(a.dtype), reduce_op_name(a.redop));
    case wire::OpKind::kReduce:
      return fmt::format("reduce #{} ({} x {}, {}, root {})", seq, a.count, data_type_name(a.dtype),
                         reduce_op_name(a.redop), a.root);
    case wire::OpKind::kBroadcast:
    case wire::OpKind::kGather:
    case wire::OpKind::kScatter:
      return fmt::format("{} #{} ({} x {}, root {})", wire::op_kind_name(a.op), seq, a.count,
                         data_type_name(a.dtype), a.root);
    default:
      return fmt::format("{} #{} ({} x {})", wire::op_kind_name(a.op), seq, a.count,
                         data_type_name(a.dtype));
  }
}

}  // namespace railcc::detail
