#include "src/algorithms/direct.h"

#include <cstring>

#include "kernels/cpu/reduce.h"
#include "src/algorithms/mailbox.h"

namespace railcc::algo {

void direct_reduce(Context& ctx, int to_root) {
  const OpArgs& a = ctx.args();
  const int p = ctx.size(), r = ctx.rank();
  const std::size_t bytes = a.count * ctx.elem_size();
  const bool receiving = to_root < 0 || to_root == r;
  std::byte* slots = receiving ? ctx.scratch(bytes * p) : nullptr;
  for (int q = 0; q < p; ++q) {
    if (q == r) continue;
    if (receiving) ctx.recv(q, slots + bytes * q, bytes);
    if (to_root < 0 || to_root == q) ctx.send(q, a.send, bytes);
  }
  // Our own contribution goes through the scratch too: recv may alias send (in place).
  if (receiving && bytes) std::memcpy(slots + bytes * r, a.send, bytes);
  ctx.wait_all();
  if (!receiving) return;
  if (p == 1) {
    if (bytes) std::memcpy(a.recv, slots, bytes);
  } else {
    const uint64_t t0 = ctx.trace_start();
    kernels::reduce(a.recv, slots, slots + bytes, a.count, a.dtype, a.redop);
    for (int q = 2; q < p; ++q) {
      kernels::reduce(a.recv, a.recv, slots + bytes * q, a.count, a.dtype, a.redop);
    }
    ctx.trace_kernel("reduce", bytes * p, t0);
  }
  if (a.redop == ReduceOp::kAvg) kernels::divide(a.recv, a.recv, a.count, a.dtype, p);
}

void gather(Context& ctx) {
  const OpArgs& a = ctx.args();
  const std::size_t bytes = a.count * ctx.elem_size();
  if (ctx.rank() != a.root) {
    ctx.send(a.root, a.send, bytes);
  } else {
    for (int q = 0; q < ctx.size(); ++q) {
      if (q != a.root) ctx.recv(q, a.recv + bytes * q, bytes);
    }
    std::byte* mine = a.recv + bytes * a.root;
    if (bytes && mine != a.send) std::memmove(mine, a.send, bytes);
  }
  ctx.wait_all();
}

void scatter(Context& ctx) {
  const OpArgs& a = ctx.args();
  const std::size_t bytes = a.count * ctx.elem_size();
  if (ctx.rank() != a.root) {
    ctx.recv(a.root, a.recv, bytes);
  } else {
    for (int q = 0; q < ctx.size(); ++q) {
      if (q != a.root) ctx.send(q, a.send + bytes * q, bytes);
    }
    const std::byte* mine = a.send + bytes * a.root;
    if (bytes && mine != a.recv) std::memmove(a.recv, mine, bytes);
  }
  ctx.wait_all();
}

namespace {
// Exchanges block q of send with peer q. In place (send == recv) the input is copied aside
// first, because receives overwrite blocks that are still to be sent.
void exchange(Context& ctx, const std::vector<std::size_t>& scounts,
              const std::vector<std::size_t>& sdispls, const std::vector<std::size_t>& rcounts,
              const std::vector<std::size_t>& rdispls, std::size_t send_extent) {
  const OpArgs& a = ctx.args();
  const std::size_t es = ctx.elem_size();
  const std::byte* send = a.send;
  if (send == a.recv && send_extent > 0) {
    std::byte* copy = ctx.scratch(send_extent * es);
    std::memcpy(copy, send, send_extent * es);
    send = copy;
  }
  const int p = ctx.size(), r = ctx.rank();
  for (int k = 1; k < p; ++k) {  // staggered so not every rank hits rank 0 first
    const int from = (r - k + p) % p;
    ctx.recv(from, a.recv + rdispls[from] * es, rcounts[from] * es);
  }
  for (int k = 1; k < p; ++k) {
    const int to = (r + k) % p;
    ctx.send(to, send + sdispls[to] * es, scounts[to] * es);
  }
  if (rcounts[r] != scounts[r]) {
    throw MismatchError("all_to_allv: rank " + std::to_string(r) + " sends itself " +
                        std::to_string(scounts[r]) + " elements but expects " +
                        std::to_string(rcounts[r]));
  }
  if (rcounts[r]) std::memmove(a.recv + rdispls[r] * es, send + sdispls[r] * es, rcounts[r] * es);
  ctx.wait_all();
}
}  // namespace

void all_to_all(Context& ctx) {
  const OpArgs& a = ctx.args();
  const int p = ctx.size();
  std::vector<std::size_t> counts(p, a.count), displs(p);
  for (int q = 0; q < p; ++q) displs[q] = a.count * q;
  exchange(ctx, counts, displs, counts, displs, a.count * p);
}

void all_to_allv(Context& ctx) {
  const OpArgs& a = ctx.args();
  std::size_t extent = 0;
  for (std::size_t q = 0; q < a.send_counts.size(); ++q) {
    extent = std::max(extent, a.send_displs[q] + a.send_counts[q]);
  }
  exchange(ctx, a.send_counts, a.send_displs, a.recv_counts, a.recv_displs, extent);
}

void send_recv(Context& ctx) {
  const OpArgs& a = ctx.args();
  const std::size_t bytes = a.count * ctx.elem_size();
  if (a.is_send) {
    ctx.send(a.peer, a.send, bytes);
  } else {
    ctx.recv(a.peer, a.recv, bytes);
  }
  ctx.wait_all();
}

void barrier(Context& ctx) {
  if (ctx.size() > 1 && mailbox_applies(ctx, 0, true)) {
    ctx.set_algorithm("mailbox");
    return mailbox_barrier(ctx);
  }
  // Dissemination barrier: ceil(log2 P) rounds of zero-byte messages.
  const int p = ctx.size(), r = ctx.rank();
  for (int dist = 1; dist < p; dist *= 2) {
    ctx.recv((r - dist + p) % p, nullptr, 0);
    ctx.send((r + dist) % p, nullptr, 0);
    ctx.wait_all();
  }
}

}  // namespace railcc::algo
