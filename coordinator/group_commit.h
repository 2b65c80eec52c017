// GroupCommit: leader/follower batching of forced log writes.
//
// Concurrent callers queue their entry; the first one to find no flush in
// progress becomes the leader, takes every queued entry and flushes them
// with ONE forced write (fdatasync / one COMMIT), then wakes the others with
// their results. Entries that arrive during a flush form the next batch, so
// under load batches grow by themselves.
//
// That natural batching is not enough when a flush is much shorter than the
// gap between arrivals (a 50 µs fdatasync, decisions every few hundred µs),
// so, as Postgres' commit_delay/commit_siblings do, a leader that knows of
// at least `siblings` other transactions on their way to a decision waits
// up to `delay` for them to queue before flushing. With fewer in flight (C=1)
// it never waits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace dw::coord {

struct LogEntry {
  enum class Kind { kCommit, kSequence };
  Kind kind = Kind::kCommit;
  std::string gid;     // kCommit
  uint64_t value = 0;  // kSequence: the new high-water mark
};

class GroupCommit {
 public:
  // Flushes `batch` durably and sets (*results)[i] for each entry (the
  // vector comes sized). Runs in one leader at a time, without the lock.
  using FlushFn = std::function<void(const std::vector<LogEntry>& batch, std::vector<Status>*)>;

  struct Options {
    std::chrono::microseconds delay{0};
    int siblings = 1 << 30;  // effectively never wait unless configured
  };

  GroupCommit(FlushFn fn, Options opts);

  // Blocks until e's batch was flushed; returns e's result.
  Status Submit(LogEntry e);
  // The same for several entries of one caller (a thread that drives a batch
  // of transactions): they join one flush together, and the results come
  // back in the entries' order.
  std::vector<Status> SubmitMany(std::vector<LogEntry> entries);
  // SubmitMany of a kCommit entry per gid.
  std::vector<Status> SubmitCommits(const std::vector<std::string>& gids);

  // Transactions that will call Submit soon (in phase 1): the leader's
  // reason to wait. The coordinator raises it at a transaction's start; a
  // kCommit Submit lowers it by one (the arrival), and a transaction that
  // aborts instead lowers it with AddExpected(-1).
  void AddExpected(int delta);

  uint64_t batches() const;

 private:
  // Each waiter sleeps on its own condition variable and is woken only when
  // its batch is flushed or it is handed the leadership: one shared
  // notify_all woke every follower at every arrival and every flush (the
  // coordinator's largest source of futex calls at 16 workers). It sleeps
  // under its own mutex `m`, not `mu_`: a follower woken with its result
  // returns without taking `mu_`, which the leader still holds while it
  // wakes the rest of the batch, so it does not wake only to sleep again
  // on the lock. `done` and `lead` are guarded by `m`; the leader sets them
  // and notifies under `m`, so a waiter cannot see them, return and destroy
  // `m` and `cv` before the notify is over.
  struct Waiter {
    std::vector<LogEntry> entries;  // one caller's, flushed together
    std::vector<Status> results;
    std::mutex m;
    std::condition_variable cv;
    bool done = false;  // the batch was flushed: `results` are set
    bool lead = false;  // handed the leadership: take `mu_` and look
  };
  static void Wake(Waiter* w, bool done);
  FlushFn fn_;
  const Options opts_;
  mutable std::mutex mu_;
  std::condition_variable leader_cv_;  // a leader waiting for `expected_` to reach 0
  std::vector<Waiter*> queue_;         // guarded by mu_
  bool flushing_ = false;              // guarded by mu_
  bool leader_waiting_ = false;        // guarded by mu_
  int expected_ = 0;                   // guarded by mu_
  uint64_t batches_ = 0;               // guarded by mu_
};

}  // namespace dw::coord
