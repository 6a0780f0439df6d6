// Whether this machine has a usable GPU, asked in a child process: a process that initialized
// CUDA cannot fork children that use it, and the multi-process tests fork their ranks.
#pragma once

#include <string>

namespace railcc::test {

// Number of CUDA devices (0 without a driver or GPU, or in a build without CUDA); `why` says why
// there is none.
int probe_gpus(std::string* why);

}  // namespace railcc::test
