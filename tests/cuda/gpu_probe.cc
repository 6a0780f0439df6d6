#include "tests/cuda/gpu_probe.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "src/cuda/device_api.h"
#include "src/cuda/driver_shim.h"

namespace railcc::test {

int probe_gpus(std::string* why) {
  int fds[2];
  if (::pipe(fds) != 0) {
    if (why) *why = "pipe() failed";
    return 0;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    int count = 0;
    std::string reason;
#if RAILCC_HAVE_CUDA
    count = cuda::driver::device_count();
    if (count == 0) reason = cuda::driver::reason();
#else
    reason = cuda::no_device_reason();
#endif
    char msg[512] = {};
    std::memcpy(msg, &count, sizeof(count));
    std::strncpy(msg + sizeof(count), reason.c_str(), sizeof(msg) - sizeof(count) - 1);
    const ssize_t w = ::write(fds[1], msg, sizeof(msg));
    _exit(w == static_cast<ssize_t>(sizeof(msg)) ? 0 : 1);
  }
  ::close(fds[1]);
  char msg[512] = {};
  std::size_t got = 0;
  while (got < sizeof(msg)) {
    const ssize_t n = ::read(fds[0], msg + got, sizeof(msg) - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (got != sizeof(msg)) {
    if (why) *why = "the GPU probe process failed";
    return 0;
  }
  int count = 0;
  std::memcpy(&count, msg, sizeof(count));
  if (why) *why = msg + sizeof(count);
  return count;
}

}  // namespace railcc::test
