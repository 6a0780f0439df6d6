// One-round algorithms: every rank talks to its peers directly. Latency-optimal for small
// messages; also the natural shape of gather, scatter and all-to-all.
#pragma once

#include "src/algorithms/context.h"

namespace railcc::algo {

// Every rank exchanges its whole input with every other rank and reduces locally, in rank order,
// so all ranks compute bit-identical results. to_root >= 0 makes it a rooted reduce.
void direct_reduce(Context& ctx, int to_root);

}  // namespace railcc::algo
