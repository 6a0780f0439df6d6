// Which bytes of its send and receive buffers an op touches on one rank: what staging copies to
// the host before the op (the send extent) and back to the device after it (the written spans of
// the receive buffer, exactly, so bytes an op leaves alone, e.g. the gaps of all_to_allv, are
// never overwritten with stale host data).
#pragma once

#include <cstddef>
#include <vector>

#include "src/algorithms/context.h"

namespace railcc::cuda {

struct Span {
  std::size_t offset = 0;  // bytes from the buffer's start
  std::size_t bytes = 0;
};

struct BufferUse {
  std::size_t send_bytes = 0;  // send is read over [0, send_bytes); 0: unused on this rank
  std::size_t recv_bytes = 0;  // recv lies within [0, recv_bytes); 0: unused on this rank
  std::vector<Span> recv_written;
};

BufferUse buffer_use(const algo::OpArgs& a, int rank, int size);

}  // namespace railcc::cuda
