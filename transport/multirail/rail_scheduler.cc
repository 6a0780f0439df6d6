#include "transport/multirail/rail_scheduler.h"

#include <algorithm>

namespace railcc::transport {
namespace {
// Before the first measurement every rail is assumed to be a 1 Gbit/s link: equal shares.
constexpr double kInitialRate = 125e6;
// A rail never drops below this (bytes/s), so a throttled rail still gets probed with work and
// its rate can recover when the throttle goes away.
constexpr double kMinRate = 1e6;
// Weight of a new sample: high, so a throttled rail loses its share in ~2 periods (50 ms).
constexpr double kAlpha = 0.5;
constexpr std::size_t kMinWindowChunks = 4;
}  // namespace

RailScheduler::RailScheduler(int rails, std::size_t chunk_bytes, std::chrono::milliseconds window)
    : rails_(static_cast<std::size_t>(rails)),
      chunk_bytes_(chunk_bytes),
      window_seconds_(std::chrono::duration<double>(window).count()),
      period_start_(Clock::now()) {
  for (auto& r : rails_) r.rate = kInitialRate;
}

std::size_t RailScheduler::window(int rail) const {
  const auto by_rate = static_cast<std::size_t>(rails_[rail].rate * window_seconds_);
  return std::max(by_rate, kMinWindowChunks * chunk_bytes_);
}

int RailScheduler::pick(std::size_t bytes) const {
  int best = -1;
  double best_finish = 0;
  for (int i = 0; i < static_cast<int>(rails_.size()); ++i) {
    const Rail& r = rails_[i];
    if (!r.in_service) continue;
    if (r.outstanding > 0 && r.outstanding + bytes > window(i)) continue;
    const double finish = static_cast<double>(r.outstanding + bytes) / r.rate;
    if (best < 0 || finish < best_finish) {
      best = i;
      best_finish = finish;
    }
  }
  return best;
}

void RailScheduler::on_assigned(int rail, std::size_t bytes) { rails_[rail].outstanding += bytes; }

void RailScheduler::on_acked(int rail, std::size_t bytes) {
  Rail& r = rails_[rail];
  r.outstanding -= std::min(r.outstanding, bytes);
  r.acked_in_period += bytes;
  if (r.outstanding == 0) r.busy_whole_period = false;
}

void RailScheduler::on_refused(int rail, std::size_t bytes) {
  Rail& r = rails_[rail];
  r.outstanding -= std::min(r.outstanding, bytes);
  if (r.outstanding == 0) r.busy_whole_period = false;
}

void RailScheduler::set_in_service(int rail, bool in_service) {
  Rail& r = rails_[rail];
  r.in_service = in_service;
  r.outstanding = 0;
  r.busy_whole_period = false;
  r.acked_in_period = 0;
}

int RailScheduler::rails_in_service() const {
  return static_cast<int>(
      std::count_if(rails_.begin(), rails_.end(), [](const Rail& r) { return r.in_service; }));
}

void RailScheduler::measure(Clock::time_point now) {
  const auto elapsed = now - period_start_;
  if (elapsed < kPeriod) return;
  const double seconds = std::chrono::duration<double>(elapsed).count();
  for (Rail& r : rails_) {
    // Only a rail that had work the whole period shows its capacity; an idle rail keeps its
    // previous estimate.
    if (r.in_service && r.busy_whole_period) {
      const double sample = static_cast<double>(r.acked_in_period) / seconds;
      r.rate = std::max(kMinRate, (1 - kAlpha) * r.rate + kAlpha * sample);
    }
    r.acked_in_period = 0;
    r.busy_whole_period = r.outstanding > 0;
  }
  period_start_ = now;
}

std::vector<double> RailScheduler::weights() const {
  double total = 0;
  for (const Rail& r : rails_) total += r.in_service ? r.rate : 0;
  std::vector<double> out;
  for (const Rail& r : rails_) out.push_back(r.in_service && total > 0 ? r.rate / total : 0);
  return out;
}

}  // namespace railcc::transport
