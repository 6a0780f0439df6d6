// One thread per backend that finalizes works nobody waits for, so futures complete and
// then()-callbacks run (DDP's gradient hooks rely on that) without a call to wait().
#pragma once

#include <c10/util/intrusive_ptr.h>

#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

#include "work.h"

namespace railcc_torch {

class CompletionQueue {
 public:
  CompletionQueue();
  // Finalizes every queued work first (each is bounded by its op's deadline), then joins.
  ~CompletionQueue();
  CompletionQueue(const CompletionQueue&) = delete;
  CompletionQueue& operator=(const CompletionQueue&) = delete;

  void push(c10::intrusive_ptr<RailccWork> work);

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable cv_;
  // Oldest first. Ops of one communicator finish in call order, except point-to-point ones,
  // which may finish after later ops: the thread waits on the oldest and sweeps the rest.
  std::list<c10::intrusive_ptr<RailccWork>> pending_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace railcc_torch
