// A non-blocking tcp socket as a Stream.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/common/socket.h"
#include "transport/stream.h"

namespace railcc::transport {

class TcpStream final : public Stream {
 public:
  // `who` names the peer in errors, e.g. "rank 3 (10.0.0.2:41000, socket 1/2)".
  TcpStream(net::Fd fd, std::string who);
  std::size_t write_some(const void* data, std::size_t n) override;
  std::size_t write_some2(const void* a, std::size_t na, const void* b, std::size_t nb) override;
  std::span<const std::byte> peek() override;
  void consume(std::size_t n) override;
  std::size_t read_some(void* dst, std::size_t n) override;
  int poll_fd() const override { return fd_.get(); }
  std::string describe() const override { return who_; }
  bool peer_gone() override { return closed_ && begin_ == end_; }
  void inject_drop() override;

 private:
  // Returns bytes received, 0 if none now; throws when the peer is gone.
  std::size_t recv_into(void* dst, std::size_t n);
  [[noreturn]] void broken(const char* what, int err);
  bool peer_closed(int err);

  net::Fd fd_;
  std::string who_;
  std::vector<std::byte> buffer_;  // bytes peeked but not consumed
  std::size_t begin_ = 0, end_ = 0;
  bool closed_ = false;  // the peer shut the socket down; an error only if we still need it
};

}  // namespace railcc::transport
