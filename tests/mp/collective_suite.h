// Every collective, in place and out of place, with counts 0, 1, primes, count < ranks and
// multi-chunk sizes, every data type and reduce op; results checked element by element against
// an independent reference. Runs inside one rank of a multi-process test (see harness.h) and
// throws CheckFailure on the first wrong result.
#pragma once

#include "railcc/railcc.hpp"

namespace railcc::test {

void exercise_every_collective(Communicator& c);

}  // namespace railcc::test
