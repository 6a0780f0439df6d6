// In-memory Stream pairs for transport unit tests: each direction is a bounded ring, writes and
// reads can be capped to force partial frames, and either end can "exit".
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "railcc/status.hpp"
#include "transport/stream.h"

namespace railcc::transport::memtest {

// One direction of a stream pair: a fixed-capacity ring of bytes.
struct Ring {
  explicit Ring(std::size_t capacity) : buf(capacity) {}
  std::vector<std::byte> buf;
  std::size_t head = 0;  // next byte to read
  std::size_t size = 0;  // bytes readable
  std::size_t total_written = 0;

  std::size_t space() const { return buf.size() - size; }
  void push(const std::byte* p, std::size_t n) {
    for (std::size_t done = 0; done < n;) {
      const std::size_t tail = (head + size) % buf.size();
      const std::size_t k = std::min(n - done, buf.size() - tail);
      std::memcpy(buf.data() + tail, p + done, k);
      size += k;
      done += k;
    }
    total_written += n;
  }
};

struct StreamOptions {
  std::size_t capacity = 1 << 20;
  std::size_t max_write = SIZE_MAX;  // bytes accepted per write_some call
  std::size_t max_read = SIZE_MAX;   // bytes returned per peek call
};

// What both ends of one stream pair share.
struct Wire {
  explicit Wire(const StreamOptions& o) : to_b(o.capacity), to_a(o.capacity), options(o) {}
  Ring to_b, to_a;
  StreamOptions options;
  bool a_gone = false, b_gone = false;  // that end's process "exited"
  bool frozen = false;  // nothing moves either way, as on a link that drops every packet
  // Frozen for good, and failure() says so, as for an RDMA queue pair in the error state.
  bool broken = false;
};

class MemStream final : public Stream {
 public:
  MemStream(std::shared_ptr<Wire> wire, bool is_a) : wire_(std::move(wire)), is_a_(is_a) {}

  std::size_t write_some(const void* data, std::size_t n) override {
    if (wire_->frozen || wire_->broken) return 0;
    if (peer_is_gone()) throw PeerFailureError("mem stream: peer gone (write)");
    Ring& out = is_a_ ? wire_->to_b : wire_->to_a;
    const std::size_t k = std::min({n, out.space(), wire_->options.max_write});
    out.push(static_cast<const std::byte*>(data), k);
    return k;
  }
  std::span<const std::byte> peek() override {
    if (wire_->frozen || wire_->broken) return {};
    Ring& in = is_a_ ? wire_->to_a : wire_->to_b;
    const std::size_t contiguous = std::min(in.size, in.buf.size() - in.head);
    const std::size_t k = std::min(contiguous, wire_->options.max_read);
    return {in.buf.data() + in.head, k};
  }
  void consume(std::size_t n) override {
    Ring& in = is_a_ ? wire_->to_a : wire_->to_b;
    ASSERT_LE(n, in.size);
    in.head = (in.head + n) % in.buf.size();
    in.size -= n;
  }
  bool peer_gone() override {
    Ring& in = is_a_ ? wire_->to_a : wire_->to_b;
    return peer_is_gone() && in.size == 0;
  }
  void inject_drop() override { wire_->a_gone = wire_->b_gone = true; }
  std::string failure() const override { return wire_->broken ? "mem stream broken" : ""; }
  std::string describe() const override {
    return is_a_ ? "memstream(rank 0 -> rank 1)" : "memstream(rank 1 -> rank 0)";
  }

 private:
  bool peer_is_gone() const { return is_a_ ? wire_->b_gone : wire_->a_gone; }
  std::shared_ptr<Wire> wire_;
  bool is_a_;
};

}  // namespace railcc::transport::memtest
