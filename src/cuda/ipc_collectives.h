// Collectives between ranks of one host whose buffers are all GPU memory, reading peer memory
// directly (CUDA IPC; ranks sharing one GPU included): no host copies, no network transport.
//
// Every rank owns a device scratch of two regions (input, output) that every other rank has
// mapped. Per chunk of at most one region:
//   1. each rank copies its input chunk into its input region;           barrier B1
//   2. each rank reduces / copies what it needs straight from the peers' input regions (the
//      reduce kernel reads all n inputs in one pass);                    barrier B2
//   3. all_reduce only: each rank gathers the reduced blocks from the peers' output regions.
// Input regions are written before B1 and read only between B1 and B2; output regions are
// written after B1 and read after B2 until the rank's next B1, which no rank passes before every
// rank finished reading: so consecutive chunks and ops need no other barrier. Barriers are
// zero-byte messages over the communicator's connections (algo::barrier).
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "src/algorithms/context.h"
#include "src/cuda/device_api.h"

namespace railcc::cuda {

struct IpcScratch {
  std::size_t region_bytes = 0;     // of each input and each output region
  std::vector<std::byte*> in, out;  // every rank's regions, as mapped in this process
};

// The op kinds run_ipc() implements.
bool ipc_supports(wire::OpKind op);

// Runs op `a` (device buffers, count in elements as in communicator.hpp) on stream `s`.
// `scratch` may be null for a single rank. `sync` blocks until everything enqueued on `s` has
// finished (progressing the connections meanwhile).
void run_ipc(algo::Context& ctx, const algo::OpArgs& a, const IpcScratch* scratch, DeviceApi& api,
             StreamHandle s, const std::function<void()>& sync);

}  // namespace railcc::cuda
