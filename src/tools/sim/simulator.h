// Runs the library's schedules (src/algorithms) for every rank of a modelled job: a
// discrete-event simulation over α-β links (shared memory inside a host, network between hosts)
// that also verifies them symbolically. Each element of each input is a random 64-bit
// fingerprint of (rank, element); reductions add fingerprints, so an output element equals the
// sum over ranks exactly when it got every rank's contribution once (up to a 2^-64 chance).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "src/algorithms/cost_model.h"
#include "src/algorithms/schedule.h"

namespace railcc::sim {

struct Params {
  std::vector<int> host_of;  // host of each rank
  algo::CostModel cost;
  bool verify = false;    // carry fingerprints (needs elem_size 8) and check the result
  bool in_place = false;  // the send buffer is the receive buffer
  std::size_t count = 0;  // elements of the all_reduce
  std::size_t elem_size = 8;
  // CPUs each host's ranks share. Over shared memory a message is copied by CPUs (into the
  // ring by its sender, out by its receiver), so the copies and reductions of all of a host's
  // ranks queue for them (with more ranks than CPUs, as on an oversubscribed machine). 0: no CPU
  // model; a rank's sends and receives overlap like a full-duplex link's.
  int cores_per_host = 0;
};

struct Result {
  bool ok = true;
  std::string error;   // deadlock, mismatched send/recv, or a wrong element
  double seconds = 0;  // when the last rank finished
  std::size_t steps = 0;
};

// schedules[r] is rank r's schedule.
Result simulate(const std::vector<algo::Schedule>& schedules, const Params& params);

}  // namespace railcc::sim
