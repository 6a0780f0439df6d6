// Small collectives through the shared-memory mailbox (transport/shm/shm_mailbox.h): when every
// rank shares one host, each rank posts its input in its own mailbox, waits for every peer's
// post, and computes its result from the posts. One round, no messages: the latency-optimal path
// for small ops on one host. Every rank posts to every mailbox op, even one that has nothing to
// send (a broadcast's non-roots, a barrier), since the mailbox's slot reuse relies on it.
#pragma once

#include <cstddef>

#include "src/algorithms/context.h"

namespace railcc::algo {

// True when an op that posts `bytes` per rank fits every rank's mailbox and no algorithm is
// forced (RAILCC_ALGO). Zero bytes fit only where `empty_ok` (a barrier).
bool mailbox_applies(const Context& ctx, std::size_t bytes, bool empty_ok = false);
// Whether the op's algorithm will take the mailbox (the choice each entry point makes with
// mailbox_applies), decided before the op runs: such an op can start at submission, since its
// wait can be cut short and resumed (Context::set_defer_after).
bool mailbox_carries(const OpArgs& a, int size, const transport::ShmMailbox* mb,
                     const Config& config);

// all_reduce ops of at least this many bytes take two exchanges (reduce-scatter, then all-gather,
// through the posts): each rank then reads 2(n-1)/n of the buffer from its peers instead of n-1
// times all of it, and reduces 1/n of it instead of all. Below this, one exchange's latency wins.
inline constexpr std::size_t kMailboxTwoPhaseBytes = 128 * 1024;
bool mailbox_two_phases(std::size_t bytes, int size);

// Each reduces all posts in rank order, so all ranks get bit-identical results.
void mailbox_all_reduce(Context& ctx);
void mailbox_reduce(Context& ctx);
void mailbox_reduce_scatter(Context& ctx);
void mailbox_all_gather(Context& ctx);
void mailbox_broadcast(Context& ctx);
void mailbox_barrier(Context& ctx);

}  // namespace railcc::algo
