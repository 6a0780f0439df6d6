#include "transport/shm/peer_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace railcc::transport {

PeerProcess::PeerProcess(int pid) : pid_(pid) {
#ifdef SYS_pidfd_open
  pidfd_.reset(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
#endif
}

bool PeerProcess::exited() const {
  if (pidfd_) {
    pollfd p{pidfd_.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }
  return ::kill(pid_, 0) != 0 && errno == ESRCH;
}

}  // namespace railcc::transport
