// Collectives on windows (transport/shm/shm_windows.h): when every rank's buffers of an op lie in
// registered windows, ranks read each other's inputs and results straight from the shared pages.
// The mailbox's exchanges (mailbox.h) and each rank's published progress synchronise them:
//   1. every rank posts where its buffers lie (a WindowRef); once all have, every input is ready;
//   2. all_reduce and reduce_scatter: each rank reduces its block of every rank's input into its
//      own output; all_gather: each rank copies every peer's input into its output; broadcast:
//      each rank copies the root's input; reduce: each rank reduces its block of every rank's
//      input into the root's output;
//   3. all_reduce only: each rank publishes how many tiles of its block it has reduced, and
//      copies its peers' finished tiles from their outputs between its own tiles, while they are
//      still in cache;
//   4. a last exchange says every rank is done reading its peers' buffers, so none returns (and
//      lets its caller reuse them) while a peer still reads them.
// Every input byte is read once and every output byte written once per rank that needs it: no
// copy into a mailbox or ring, no kernel copy (cross-memory attach).
#pragma once

#include <cstddef>

#include "src/algorithms/context.h"

namespace railcc::algo {

// True when this op starts by exchanging WindowRefs: windows were registered, the op moves at
// least the agreed RAILCC_SHM_WINDOW_BYTES, no algorithm is forced, and the op is not one that
// starts at submission (mailbox_carries: its waits may be cut short, which these cannot resume).
// Every rank decides alike.
bool window_exchange_applies(const Context& ctx, std::size_t bytes);

// Each runs the op on windows and returns true, or returns false when some rank's buffers are
// not all in windows: the refs were exchanged, and every rank runs the op another way.
bool window_all_reduce(Context& ctx);
bool window_reduce_scatter(Context& ctx);  // count = elements per rank
bool window_all_gather(Context& ctx);      // count = elements per rank
// Only the root's input needs to be in a window: every other rank copies it straight from there.
bool window_broadcast(Context& ctx);
// Every rank's input and the root's output in windows: each rank reduces its block of all inputs
// straight into the root's output.
bool window_reduce(Context& ctx);

}  // namespace railcc::algo
