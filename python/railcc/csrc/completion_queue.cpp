#include "completion_queue.h"

#include <vector>

namespace railcc_torch {

namespace {
// How long the thread waits on the oldest work before it looks whether a later one (behind an
// unmatched recv, say) finished. Bounds the extra latency of such out-of-order completions.
constexpr std::chrono::milliseconds kSweepInterval{5};
}  // namespace

CompletionQueue::CompletionQueue(std::shared_ptr<void> keep_alive)
    : state_(std::make_shared<State>()) {
  state_->keep_alive = std::move(keep_alive);
  thread_ = std::thread([state = state_] { run(state); });
}

CompletionQueue::~CompletionQueue() {
  bool idle = false;
  {
    std::lock_guard lock(state_->mutex);
    state_->stop = true;
    idle = state_->pending.empty() && !state_->busy;
  }
  state_->cv.notify_all();
  if (idle) {
    thread_.join();
  } else {
    thread_.detach();  // it owns `state_` (and the communicator) until the queue drains
  }
}

void CompletionQueue::push(const std::shared_ptr<State>& state,
                           c10::intrusive_ptr<RailccWork> work) {
  {
    std::lock_guard lock(state->mutex);
    if (!state->exited) {
      state->pending.push_back(std::move(work));
      state->cv.notify_one();
      return;
    }
  }
  work->wait_ops_for(std::chrono::hours(24 * 365));  // each op ends by its own deadline
  work->finalize();
}

std::function<void(c10::intrusive_ptr<RailccWork>)> CompletionQueue::pusher() const {
  return [state = state_](c10::intrusive_ptr<RailccWork> work) { push(state, std::move(work)); };
}

void CompletionQueue::run(const std::shared_ptr<State>& state) {
  State& s = *state;
  std::vector<c10::intrusive_ptr<RailccWork>> done;
  for (;;) {
    c10::intrusive_ptr<RailccWork> oldest;
    {
      std::unique_lock lock(s.mutex);
      s.busy = false;
      s.cv.wait(lock, [&] { return s.stop || !s.pending.empty(); });
      if (s.pending.empty()) {  // stopped and drained
        s.exited = true;
        return;
      }
      oldest = s.pending.front();
    }
    const bool oldest_done = oldest->wait_ops_for(kSweepInterval);
    {
      std::lock_guard lock(s.mutex);
      if (oldest_done) {
        // The usual case: works finish in call order; take the finished ones off the front.
        while (!s.pending.empty() &&
               (s.pending.front() == oldest || s.pending.front()->ops_finished())) {
          done.push_back(std::move(s.pending.front()));
          s.pending.pop_front();
        }
      } else {
        for (auto it = s.pending.begin(); it != s.pending.end();) {
          if ((*it)->ops_finished()) {
            done.push_back(std::move(*it));
            it = s.pending.erase(it);
          } else {
            ++it;
          }
        }
      }
      s.busy = !done.empty();
    }
    // Finalize in call order, outside the lock: future callbacks may issue new ops.
    for (auto& w : done) {
      try {
        w->finalize();
      } catch (const std::exception& e) {
        TORCH_WARN("railcc: completing a work failed: ", e.what());
      }
    }
    done.clear();
  }
}

}  // namespace railcc_torch
