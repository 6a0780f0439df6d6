// RAILCC_TRACE=dir: a Chrome / Perfetto trace per rank and communicator (op spans, and within
// them the waits on each peer), written as JSON when the communicator is destroyed. Timestamps
// are steady-clock microseconds; the file records the offset to the wall clock so that
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
  // Writes the file now (also done by the destructor). Returns its path.
  std::string write();

 private:
  struct Event {
    const char* name;
    const char* algo;  // null for waits
    uint64_t seq;
    std::size_t bytes;
    uint64_t start_ns, end_ns;
    int peer;  // -1 for op spans
    bool ok;
  };
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
