// A local peer's process, watched for its exit: through a pidfd where the kernel has them (no
// pid reuse race), else kill(pid, 0).
#pragma once

#include "src/common/socket.h"

namespace railcc::transport {

class PeerProcess {
 public:
  explicit PeerProcess(int pid);
  int pid() const { return pid_; }
  // True once the process has exited.
  bool exited() const;

 private:
  int pid_;
  net::Fd pidfd_;  // readable once the process exits
};

}  // namespace railcc::transport
