// RAILCC_TRACE=dir: a Chrome / Perfetto trace per rank and communicator, written as JSON when the
// communicator is destroyed. Rows (threads) per rank: the op spans; the waits on each peer; the
// reduce kernels; one row per peer with every send and receive step (post to completion); one
// row per rail with every chunk written on it (multi-rail connections).
// Spans below the op are recorded only while tracing: otherwise their cost is one null check.
// Timestamps are steady-clock microseconds; the file records the offset to the wall clock so that
// `railcc-report merge dir` can line up the ranks of a job on one timeline.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace railcc::telemetry {

class TraceRecorder {
 public:
  // Keeps at most `max_events` (the oldest are kept; a counter notes how many were dropped).
  TraceRecorder(std::string dir, int rank, int size, uint64_t comm_id,
                std::size_t max_events = 1 << 20);
  ~TraceRecorder();

  // An op span: `name` e.g. "all_reduce", `algo` the algorithm that ran.
  void op(const char* name, const char* algo, uint64_t seq, std::size_t bytes, uint64_t start_ns,
          uint64_t end_ns, bool ok);
  // Time spent waiting on `peer` inside an op.
  void wait(int peer, uint64_t start_ns, uint64_t end_ns);
  // A send or receive of an algorithm step with `peer`, from posting to completion.
  void step(bool send, int peer, std::size_t bytes, uint64_t start_ns, uint64_t end_ns);
  // A chunk written on rail `rail` (named `rail_name`, which must outlive the recorder) to `peer`.
  void rail(const char* rail_name, int rail, int peer, std::size_t bytes, uint64_t start_ns,
            uint64_t end_ns);
  // A reduction kernel over `bytes` of input (`name`: a string literal).
  void kernel(const char* name, std::size_t bytes, uint64_t start_ns, uint64_t end_ns);
  // Writes the file now (also done by the destructor). Returns its path.
  std::string write();

 private:
  enum class Kind : uint8_t { kOp, kWait, kSend, kRecv, kRail, kKernel };
  struct Event {
    Kind kind;
    const char* name;  // op or kernel name, or the rail's name
    const char* algo;  // op spans
    uint64_t seq;
    std::size_t bytes;
    uint64_t start_ns, end_ns;
    int peer;  // -1 for op spans and kernels
    int rail;  // rail spans
    bool ok;
  };
  void add(const Event& e);
  std::string dir_;
  int rank_, size_;
  uint64_t comm_id_;
  std::size_t max_events_;
  std::mutex mutex_;
  std::vector<Event> events_;
  uint64_t dropped_ = 0;
  bool written_ = false;
};

}  // namespace railcc::telemetry
