// Runs a Schedule on a Context: posts each step as soon as its dependencies completed, keeping
// the per-peer posting order that message matching relies on (see schedule.h).
#pragma once

#include "src/algorithms/context.h"
#include "src/algorithms/prepared_schedule.h"
#include "src/algorithms/schedule.h"

namespace railcc::algo {

struct Buffers {
  const std::byte* send = nullptr;
  std::byte* recv = nullptr;
  std::byte* scratch = nullptr;  // at least Schedule::scratch_bytes
};

// Returns once every step completed. Throws what the Context throws (timeouts, peer failures).
// Its per-step state lives in the communicator's Scratch (no allocation once warm).
void execute(Context& ctx, const PreparedSchedule& prepared, const Buffers& buffers);
// The same for a schedule run once.
void execute(Context& ctx, Schedule schedule, const Buffers& buffers);

}  // namespace railcc::algo
