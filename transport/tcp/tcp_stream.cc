#include "transport/tcp/tcp_stream.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "railcc/status.hpp"
#include "src/common/log.h"

namespace railcc::transport {

namespace {
// Large enough that a peek usually covers a whole pipeline chunk.
constexpr std::size_t kPeekBuffer = 256 * 1024;
}  // namespace

TcpStream::TcpStream(net::Fd fd, std::string who) : fd_(std::move(fd)), who_(std::move(who)) {
  net::set_nonblocking(fd_.get());
  net::set_nodelay(fd_.get());
}

void TcpStream::broken(const char* what, int err) {
  throw PeerFailureError(fmt::format("connection to {} broken during {}: {} (did it exit?)", who_,
                                     what, err ? std::strerror(err) : "closed by the peer"));
}

// The peer closed or reset the connection. Not an error by itself: what it sent before (maybe
// an error frame that explains why) is still to be read, and the connection reports the peer as
// gone only if it still needs it (see Connection::check_alive).
bool TcpStream::peer_closed(int err) {
  if (err != EPIPE && err != ECONNRESET) return false;
  closed_ = true;
  return true;
}

std::size_t TcpStream::write_some(const void* data, std::size_t n) {
  while (true) {
    const ssize_t rc = ::send(fd_.get(), data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (rc >= 0) return static_cast<std::size_t>(rc);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (peer_closed(errno)) return 0;
    broken("send", errno);
  }
}

std::size_t TcpStream::write_some2(const void* a, std::size_t na, const void* b, std::size_t nb) {
  iovec iov[2] = {{const_cast<void*>(a), na}, {const_cast<void*>(b), nb}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = nb ? 2 : 1;
  while (true) {
    const ssize_t rc = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (rc >= 0) return static_cast<std::size_t>(rc);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (peer_closed(errno)) return 0;
    broken("send", errno);
  }
}

std::size_t TcpStream::recv_into(void* dst, std::size_t n) {
  while (true) {
    const ssize_t rc = ::recv(fd_.get(), dst, n, MSG_DONTWAIT);
    if (rc > 0) return static_cast<std::size_t>(rc);
    if (rc == 0) {
      closed_ = true;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (peer_closed(errno)) return 0;
    broken("receive", errno);
  }
}

std::span<const std::byte> TcpStream::peek() {
  if (begin_ == end_) {
    if (buffer_.size() < kPeekBuffer) buffer_.resize(kPeekBuffer);
    begin_ = 0;
    end_ = recv_into(buffer_.data(), buffer_.size());
  }
  return {buffer_.data() + begin_, end_ - begin_};
}

void TcpStream::consume(std::size_t n) { begin_ += n; }

std::size_t TcpStream::read_some(void* dst, std::size_t n) {
  if (n == 0) return 0;
  if (begin_ < end_) {
    const std::size_t take = std::min(n, end_ - begin_);
    std::memcpy(dst, buffer_.data() + begin_, take);
    begin_ += take;
    return take;
  }
  // Nothing buffered: read straight into the caller's memory (no extra copy).
  return recv_into(dst, n);
}

void TcpStream::inject_drop() {
  RAILCC_WARN("net", "RAILCC_FAULT: dropping the connection to {}", who_);
  ::shutdown(fd_.get(), SHUT_RDWR);
}

}  // namespace railcc::transport
