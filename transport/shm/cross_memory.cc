#include "transport/shm/cross_memory.h"

#include <fmt/format.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "railcc/status.hpp"

namespace railcc::transport {
namespace {

// Written once at first use; peers know its address from the store and its value from our pid.
volatile uint64_t g_probe_word = 0;

constexpr uint64_t kProbeSalt = 0x7261696c63636d61ull;  // "railccma"

}  // namespace

uint64_t cross_memory_probe_value(pid_t owner) {
  return kProbeSalt ^ (static_cast<uint64_t>(owner) * 0x9e3779b97f4a7c15ull);
}

uintptr_t cross_memory_probe_address() {
  g_probe_word = cross_memory_probe_value(getpid());
  return reinterpret_cast<uintptr_t>(&g_probe_word);
}

bool cross_memory_probe(pid_t pid, uintptr_t address) {
  if (pid <= 0 || address == 0) return false;
  uint64_t value = 0;
  iovec local{&value, sizeof(value)};
  iovec remote{reinterpret_cast<void*>(address), sizeof(value)};
  const ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
  return n == static_cast<ssize_t>(sizeof(value)) && value == cross_memory_probe_value(pid);
}

void cross_memory_read(pid_t pid, uintptr_t remote, void* dst, std::size_t n,
                       const std::string& who) {
  auto* out = static_cast<char*>(dst);
  std::size_t done = 0;
  while (done < n) {
    iovec local{out + done, n - done};
    iovec from{reinterpret_cast<void*>(remote + done), n - done};
    const ssize_t got = ::process_vm_readv(pid, &local, 1, &from, 1, 0);
    if (got > 0) {
      done += static_cast<std::size_t>(got);
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    const int err = got < 0 ? errno : EFAULT;
    if (err == ESRCH) {
      throw PeerFailureError(fmt::format(
          "{} is gone (its process exited) while this rank was reading its message", who));
    }
    throw SystemError(fmt::format(
        "reading a {}-byte message from {} by cross-memory attach failed at byte {}: {}; set "
        "RAILCC_SHM_SINGLE_COPY_BYTES=0 to send through the shared-memory ring instead",
        n, who, done, std::strerror(err)));
  }
}

}  // namespace railcc::transport
