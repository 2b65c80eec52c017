// CallPool: runs participant calls in parallel, each with a deadline.
//
// The participants bound their own calls (HTTP deadlines, statement_timeout),
// but a call can still hang where no timer reaches (a TCP connect to a
// black-holed host, a stuck libpq read). The coordinator must not hang with
// it: Fanout waits until the deadline and reports the calls that have not
// answered as Timeout. Such a call keeps its thread until it returns; its
// late result is dropped (the state is shared, so that is safe), and
// whatever it did is cleaned up by recovery (a late PREPARE of an aborted
// gid is aborted by the next recovery pass, presumed abort).
//
// Threads are created on demand up to `max_threads` and kept; a call finds
// an idle thread or queues.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/status.h"

namespace dw::coord {

class CallPool {
 public:
  explicit CallPool(int max_threads);
  ~CallPool();  // waits for running calls (they are bounded by the participants)
  CallPool(const CallPool&) = delete;
  CallPool& operator=(const CallPool&) = delete;

  // Runs calls[i] in parallel. `on_result(i, status)` is invoked on the
  // calling thread, in completion order, for each call that finished before
  // `deadline`; the others get Timeout. Returns every result by index.
  //
  // `run_here`: that call runs on the calling thread, beside the pool's, so
  // a two-participant phase costs one thread hand-off instead of two. Only
  // for a call that bounds itself by `deadline` (Participant::CallsBounded):
  // the caller cannot abandon a call it is running.
  std::vector<Status> Fanout(const std::vector<std::function<Status()>>& calls,
                             std::chrono::steady_clock::time_point deadline,
                             const std::function<void(size_t, const Status&)>& on_result = {},
                             std::optional<size_t> run_here = std::nullopt);

  void Submit(std::function<void()> task);

  // Threads started so far (they are kept): 0 while every call ran on its
  // caller's thread.
  int threads() const;

 private:
  void Loop();
  const int max_threads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  std::vector<std::thread> threads_;         // guarded by mu_
  int idle_ = 0;                             // guarded by mu_
  bool stop_ = false;                        // guarded by mu_
};

}  // namespace dw::coord
