// The body of one soak rank (tests/soak/soak_test.cc): joins the job, runs a warm-up of every op
// at the largest size, records RSS and open fds, runs `ops` random collectives checking each
// result, and fails (CHECK) if RSS or the fd count grew.
#pragma once

namespace railcc::test {

void soak(int ops);

}  // namespace railcc::test
