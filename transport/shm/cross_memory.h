// Cross-memory attach (Linux process_vm_readv): a rank on the same host reads a message straight
// out of the sender's buffer, so a large transfer costs one copy instead of two through a ring.
// The kernel allows it only between processes it would let ptrace each other (same user; Yama
// ptrace_scope 0; no seccomp filter against it), so every pair is probed at init first.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace railcc::transport {

// Address and expected contents of a word in this process that peers read to probe access.
uintptr_t cross_memory_probe_address();
uint64_t cross_memory_probe_value(pid_t owner);

// True when this process may read `pid`'s memory: reads the peer's probe word at `address` and
// compares it with what the peer must have stored there.
bool cross_memory_probe(pid_t pid, uintptr_t address);

// Reads `n` bytes at `remote` in process `pid` into `dst`. Throws PeerFailureError when the
// process is gone and SystemError (naming `who` and RAILCC_SHM_SINGLE_COPY_BYTES) otherwise.
void cross_memory_read(pid_t pid, uintptr_t remote, void* dst, std::size_t n,
                       const std::string& who);

}  // namespace railcc::transport
