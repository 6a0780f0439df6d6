// The flight recorder (RAILCC_FLIGHT_RECORDER=N): each communicator remembers its last N ops
// (sequence number, op, size, algorithm, state, timestamps, and while it waits the peers and
// rails it waits on) in a fixed ring, and writes them as JSON when an op times out, when the
// communicator fails, and when the process gets SIGUSR1. `railcc-report DIR` reads the dumps of
// every rank and names the culprit of a hang.
//
// Recording is a handful of relaxed atomic stores into a preallocated slot: no allocation and no
// lock per op. A dump may run on another thread (SIGUSR1) while ops are recorded; it may then see
// an entry half updated, which a diagnostic can live with, but never a torn field.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "railcc/data_type.hpp"
#include "transport/wire_format.h"

namespace railcc::telemetry {

enum class OpState : uint8_t { kEmpty, kEnqueued, kStarted, kWaiting, kDone, kFailed };
const char* op_state_name(OpState s);

// What a dump says about the communicator besides its ops.
struct FlightInfo {
  int rank = 0;  // in this communicator
  int size = 1;
  int world_rank = 0;  // of this process in the job
  uint64_t comm_id = 1;
  uint64_t job = 0;                // the job's id (same on every rank; 0 = single process)
  std::string dir;                 // where dumps go
  std::vector<std::string> links;  // per peer: how this rank reaches it ("" for itself)
};

class FlightRecorder {
 public:
  // Peers and rails named per waiting entry; further ones are counted only.
  static constexpr int kMaxWaits = 4;

  FlightRecorder(std::size_t capacity, FlightInfo info);
  ~FlightRecorder();  // stops SIGUSR1 dumps of this recorder (waits for one in progress)
  FlightRecorder(const FlightRecorder&) = delete;
  FlightRecorder& operator=(const FlightRecorder&) = delete;

  // Hot path, one caller at a time (the communicator's queue lock). Returns the op's record id
  // (never 0), which the calls below take. The enqueue time
  // comes from the coarse monotonic clock (a few ns instead of a few tens; it may read up to a
  // tick, ~4 ms, earlier than the precise clock the other times come from).
  // `now_ns`: coarse_now_ns() if the caller has just read it (0: read it here).
  uint64_t enqueued(wire::OpKind op, uint64_t seq, uint64_t count, DataType dtype, int peer,
                    uint64_t now_ns = 0);
  // Times are steady_now_ns() readings the caller already has (the metrics take the same ones).
  void started(uint64_t id, uint64_t now_ns);
  // `algo`: a string literal, or null when none ran.
  void finished(uint64_t id, bool ok, const char* algo, uint64_t now_ns);
  // Slow path (a wait that sleeps): the op waits on `peers` (with the rail holding each up,
  // -1 = none in particular) since `since_ns`. n may exceed kMaxWaits.
  void waiting(uint64_t id, int n, const int* peers, const int* rails, const char* const* names,
               uint64_t since_ns);
  // The wait ended; the op runs on.
  void wait_over(uint64_t id);

  // Notes how (`kind`: timeout, error, abort) and why the communicator failed; the first failure
  // is kept for every later dump (a SIGUSR1 dump after it still says what broke first).
  void set_failure(const std::string& kind, const std::string& message);
  // Writes the dump file (atomically: written aside, then renamed) and returns its path, or ""
  // when it could not be written (logged). `reason`: timeout, error, signal or request.
  std::string dump(const std::string& reason);
  // The dump as JSON text (tests).
  std::string to_json(const std::string& reason) const;
  const FlightInfo& info() const { return info_; }

 private:
  // What every op writes fits one cache line (the first); what a wait that sleeps writes comes
  // after it.
  struct alignas(64) Entry {
    std::atomic<uint64_t> id{0};  // 0 = never used
    std::atomic<uint64_t> seq{0};
    std::atomic<uint64_t> count{0};
    std::atomic<const char*> algo{nullptr};
    std::atomic<uint64_t> enqueued_ns{0}, started_ns{0}, ended_ns{0};
    std::atomic<uint8_t> op{0}, dtype{0}, state{0};
    std::atomic<uint8_t> waits{0};  // peers waited on, up to 255 (may exceed kMaxWaits)
    std::atomic<int32_t> peer{-1};  // point-to-point peer
    std::atomic<int32_t> wait_peer[kMaxWaits] = {};
    std::atomic<int32_t> wait_rail[kMaxWaits] = {};
    std::atomic<const char*> wait_rail_name[kMaxWaits] = {};
    std::atomic<uint64_t> wait_since_ns{0};
  };
  Entry* slot(uint64_t id) {
    Entry& e = ring_[(id - 1) & (capacity_ - 1)];  // a mask, not a division, on every call
    return e.id.load(std::memory_order_relaxed) == id ? &e : nullptr;  // overwritten: skip
  }

  std::size_t capacity_;  // a power of two (the N asked for, rounded up)
  FlightInfo info_;
  std::unique_ptr<Entry[]> ring_;
  std::atomic<uint64_t> next_id_{1};
  mutable std::mutex failure_mutex_;
  std::string failure_kind_, failure_;
  std::mutex dump_mutex_;  // one dump at a time per recorder
};

// SIGUSR1 dumps every live recorder of the process. The handler only writes a byte to a pipe;
// a background thread, started with the first recorder, does the dumping. Installed once per
// process, and not over a handler the program installed itself.
void install_dump_signal();

}  // namespace railcc::telemetry
