// One thread per backend that finalizes works nobody waits for, so futures complete and
// then()-callbacks run (DDP's gradient hooks rely on that) without a call to wait().
#pragma once

#include <c10/util/intrusive_ptr.h>

#include <condition_variable>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "work.h"

namespace railcc_torch {

class CompletionQueue {
 public:
  // `keep_alive` (the communicator) lives as long as queued works may still need it.
  explicit CompletionQueue(std::shared_ptr<void> keep_alive);
  // With nothing in flight, stops and joins the thread. Otherwise the thread is left to finish
  // the queued works (each bounded by its op's deadline) on its own: joining could deadlock
  // when a Python callback of a future needs the GIL this destructor's caller holds.
  ~CompletionQueue();
  CompletionQueue(const CompletionQueue&) = delete;
  CompletionQueue& operator=(const CompletionQueue&) = delete;

  void push(c10::intrusive_ptr<RailccWork> work) { push(state_, std::move(work)); }
  // For works that join the queue later (see RailccWork::defer_completion): queues the work, or
  // finalizes it on the calling thread once the queue's thread has exited.
  std::function<void(c10::intrusive_ptr<RailccWork>)> pusher() const;

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    // Oldest first. Ops of one communicator finish in call order, except point-to-point ones,
    // which may finish after later ops: the thread waits on the oldest and sweeps the rest.
    std::list<c10::intrusive_ptr<RailccWork>> pending;
    bool busy = false;  // finalizing works taken off `pending`
    bool stop = false;
    bool exited = false;  // the thread returned: nothing queued now would be finalized
    std::shared_ptr<void> keep_alive;
  };
  static void push(const std::shared_ptr<State>& state, c10::intrusive_ptr<RailccWork> work);
  static void run(const std::shared_ptr<State>& state);

  std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace railcc_torch
