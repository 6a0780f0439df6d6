// A Stream between two ranks on one host: this rank writes into its slot of the peer's segment
// and reads from the peer's slot of its own segment. The reader reduces straight out of the ring
// (see Connection), so a reduction costs one copy in and one pass out.
#pragma once

#include <memory>
#include <string>

#include "src/common/socket.h"
#include "transport/shm/peer_process.h"
#include "transport/shm/shm_segment.h"
#include "transport/stream.h"

namespace railcc::transport {

class ShmStream final : public Stream {
 public:
  // mine/theirs must outlive the stream. in_slot: the peer's ring in my segment; out_slot: my
  // ring in the peer's segment.
  ShmStream(const ShmSegment* mine, int in_slot, const ShmSegment* theirs, int out_slot,
            int peer_pid, std::string who);
  std::size_t write_some(const void* data, std::size_t n) override;
  std::span<const std::byte> peek() override;
  void consume(std::size_t n) override;
  bool peer_gone() override;
  void inject_drop() override;
  std::string describe() const override { return who_; }

 private:
  // Throws once either end closed the pair (inject_drop()).
  void check_open() const;
  const ShmSegment* mine_;
  const ShmSegment* theirs_;
  RingControl* in_;
  std::byte* in_data_;
  RingControl* out_;
  std::byte* out_data_;
  std::size_t in_mask_, out_mask_;
  PeerProcess peer_;
  std::string who_;
};

}  // namespace railcc::transport
