// Decides which rail carries the next chunk, from each rail's measured throughput.
//
// Every rail keeps at most a window of unacknowledged bytes (`window` of its measured rate, at
// least 4 chunks), and a chunk goes to the rail that would finish it first:
// (outstanding + chunk) / rate. A fast rail therefore drains and asks for more sooner, so the
// bytes split in proportion to the rates, and a rail that slows down (congestion, a tc throttle)
// loses share within a few measurement periods. Small messages go to the least loaded rail,
// which is the one with the lowest latency.
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

#include "src/common/deadline.h"

namespace railcc::transport {

class RailScheduler {
 public:
  // `window`: unacknowledged bytes a rail may hold, in time at its measured rate. It must cover
  // the acknowledgement round trip with room to spare: a rail whose window is below rate x
  // round trip can only show window / round trip, a lower rate, which shrinks its window again
  // (MultiRailConnection::Options::window holds the default and the figures behind it).
  RailScheduler(int rails, std::size_t chunk_bytes, std::chrono::milliseconds window);

  // Rail for a chunk of `bytes`, or -1 when every rail in service is at its window.
  int pick(std::size_t bytes) const;
  void on_assigned(int rail, std::size_t bytes);
  void on_acked(int rail, std::size_t bytes);
  // A chunk assigned to `rail` came back unread (the peer refused it): no longer outstanding, and
  // not counted as throughput.
  void on_refused(int rail, std::size_t bytes);
  // Taken out of service (its outstanding bytes are being resent elsewhere) or back.
  void set_in_service(int rail, bool in_service);
  bool in_service(int rail) const { return rails_[rail].in_service; }
  int rails_in_service() const;
  // Folds the bytes acknowledged since the last call into each busy rail's rate. Call often;
  // it measures only every kPeriod.
  void measure(Clock::time_point now);

  double rate(int rail) const { return rails_[rail].rate; }  // bytes per second
  std::size_t outstanding(int rail) const { return rails_[rail].outstanding; }
  std::size_t window(int rail) const;
  // Share of new bytes each rail would get now, e.g. "0.25 0.25 0.40 0.10" (for logs).
  std::vector<double> weights() const;

  static constexpr auto kPeriod = std::chrono::milliseconds(25);

 private:
  struct Rail {
    bool in_service = true;
    std::size_t outstanding = 0;  // assigned and not yet acknowledged
    double rate = 0;
    std::size_t acked_in_period = 0;
    bool busy_whole_period = true;  // had outstanding bytes ever since the period began
  };
  std::vector<Rail> rails_;
  std::size_t chunk_bytes_;
  double window_seconds_;
  Clock::time_point period_start_;
};

}  // namespace railcc::transport
