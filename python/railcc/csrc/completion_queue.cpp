#include "completion_queue.h"

#include <vector>

namespace railcc_torch {

namespace {
// How long the thread waits on the oldest work before it looks whether a later one (behind an
// unmatched recv, say) finished. Bounds the extra latency of such out-of-order completions.
constexpr std::chrono::milliseconds kSweepInterval{5};
}  // namespace

CompletionQueue::CompletionQueue() : thread_([this] { run(); }) {}

CompletionQueue::~CompletionQueue() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CompletionQueue::push(c10::intrusive_ptr<RailccWork> work) {
  {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(work));
  }
  cv_.notify_one();
}

void CompletionQueue::run() {
  std::vector<c10::intrusive_ptr<RailccWork>> done;
  for (;;) {
    c10::intrusive_ptr<RailccWork> oldest;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stop_ and drained
      oldest = pending_.front();
    }
    const bool oldest_done = oldest->wait_ops_for(kSweepInterval);
    {
      std::lock_guard lock(mutex_);
      if (oldest_done) {
        // The usual case: works finish in call order; take the finished ones off the front.
        while (!pending_.empty() && (pending_.front() == oldest || pending_.front()->ops_finished())) {
          done.push_back(std::move(pending_.front()));
          pending_.pop_front();
        }
      } else {
        for (auto it = pending_.begin(); it != pending_.end();) {
          if ((*it)->ops_finished()) {
            done.push_back(std::move(*it));
            it = pending_.erase(it);
          } else {
            ++it;
          }
        }
      }
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
