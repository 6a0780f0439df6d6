// One reliable, ordered byte stream to a peer: a tcp socket, a pair of shared-memory rings or an
// RDMA queue pair.
// Everything above it (framing, matching, reduction on arrival) is shared by all transports, so a
// transport only has to move bytes. All calls are non-blocking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>

namespace railcc::transport {

class Stream {
 public:
  virtual ~Stream() = default;
  // Accepts up to `n` bytes; returns how many (0 when full). Throws PeerFailureError when the
  // peer is gone.
  virtual std::size_t write_some(const void* data, std::size_t n) = 0;
  // Gather form; the default loops over write_some.
  virtual std::size_t write_some2(const void* a, std::size_t na, const void* b, std::size_t nb);
  // Zero copy (optional): like write_some2, but the stream may keep reading `b` after it returns
  // (an RDMA write straight from registered user memory) instead of copying it. The caller must
  // then leave the accepted bytes unchanged, and allocated, until released() has passed them.
  // The default copies, like write_some2.
  virtual std::size_t write_some2_in_place(const void* a, std::size_t na, const void* b,
                                           std::size_t nb) {
    return write_some2(a, na, b, nb);
  }
  // How many of the bytes accepted so far (by every write call, counted in order from 0 for the
  // life of the stream) the stream no longer reads from the caller's memory. A stream that
  // copies everything it accepts never reads later, hence the default: all of them.
  virtual uint64_t released() const { return std::numeric_limits<uint64_t>::max(); }
  // Contiguous readable bytes (possibly only part of what is buffered); empty when none.
  virtual std::span<const std::byte> peek() = 0;
  virtual void consume(std::size_t n) = 0;
  // Copies up to `n` readable bytes to dst; returns how many.
  virtual std::size_t read_some(void* dst, std::size_t n);
  // A file descriptor to poll for readability, or -1 (shared memory uses a futex doorbell).
  virtual int poll_fd() const { return -1; }
  // True once the peer is known to be gone (socket closed, process exited) and nothing it sent
  // is left to read. Called while idle, so it may cost a system call.
  virtual bool peer_gone() { return false; }
  // Why the stream broke, when it knows more than "closed" (an RDMA completion error names the
  // device, port and status); empty while healthy or when there is nothing to add.
  virtual std::string failure() const { return {}; }
  // Why the link under the stream is down now (an RDMA port event: "mlx5_1 port 1 is down
  // (IBV_EVENT_PORT_ERR)"); empty while it is up or when the stream cannot tell. Unlike
  // failure(), it may clear again: a multi-rail connection takes the rail out of service while it
  // is set and probes it once it clears, as for an interface whose link is down. Called every few
  // milliseconds, so it must be cheap.
  virtual std::string link_down() { return {}; }
  // Fault injection (RAILCC_FAULT=drop/rail): closes the stream in both directions, as a cable
  // pulled mid-job would; both ends then fail with PeerFailureError.
  virtual void inject_drop() = 0;
  virtual std::string describe() const = 0;
};

}  // namespace railcc::transport
