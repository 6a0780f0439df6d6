#include "src/cuda/buffer_use.h"

#include <algorithm>

namespace railcc::cuda {

using wire::OpKind;

BufferUse buffer_use(const algo::OpArgs& a, int rank, int size) {
  const std::size_t es = data_type_size(a.dtype);
  const std::size_t one = a.count * es, all = one * static_cast<std::size_t>(size);
  const bool root = a.root == rank;
  BufferUse u;
  auto writes = [&u](std::size_t bytes) {
    u.recv_bytes = bytes;
    if (bytes) u.recv_written.push_back({0, bytes});
  };
  switch (a.op) {
    case OpKind::kAllReduce:
      u.send_bytes = one;
      writes(one);
      break;
    case OpKind::kReduceScatter:
      u.send_bytes = all;
      writes(one);
      break;
    case OpKind::kAllGather:
    case OpKind::kSplit:
      u.send_bytes = one;
      writes(all);
      break;
    case OpKind::kBroadcast:
      u.send_bytes = root ? one : 0;
      writes(one);
      break;
    case OpKind::kReduce:
      u.send_bytes = one;
      if (root) writes(one);
      break;
    case OpKind::kGather:
      u.send_bytes = one;
      if (root) writes(all);
      break;
    case OpKind::kScatter:
      u.send_bytes = root ? all : 0;
      writes(one);
      break;
    case OpKind::kAllToAll:
      u.send_bytes = all;
      writes(all);
      break;
    case OpKind::kAllToAllv:
      for (std::size_t q = 0; q < a.send_counts.size(); ++q) {
        u.send_bytes = std::max(u.send_bytes, (a.send_displs[q] + a.send_counts[q]) * es);
      }
      for (std::size_t q = 0; q < a.recv_counts.size(); ++q) {
        if (a.recv_counts[q] == 0) continue;
        u.recv_written.push_back({a.recv_displs[q] * es, a.recv_counts[q] * es});
        u.recv_bytes = std::max(u.recv_bytes, (a.recv_displs[q] + a.recv_counts[q]) * es);
      }
      break;
    case OpKind::kSendRecv:
      if (a.is_send) {
        u.send_bytes = one;
      } else {
        writes(one);
      }
      break;
    case OpKind::kBarrier:
    case OpKind::kNone:
    case OpKind::kCount_:
      break;
  }
  return u;
}

}  // namespace railcc::cuda
