#include "coordinator/group_commit.h"

#include <iterator>

namespace dw::coord {

GroupCommit::GroupCommit(FlushFn fn, Options opts) : fn_(std::move(fn)), opts_(opts) {}

void GroupCommit::AddExpected(int delta) {
  std::lock_guard<std::mutex> l(mu_);
  expected_ += delta;
  if (expected_ < 0) expected_ = 0;
  if (leader_waiting_ && expected_ == 0) leader_cv_.notify_one();  // everyone it waits for is here
}

uint64_t GroupCommit::batches() const {
  std::lock_guard<std::mutex> l(mu_);
  return batches_;
}

void GroupCommit::Wake(Waiter* w, bool done) {
  std::lock_guard<std::mutex> wl(w->m);
  if (done) {
    w->done = true;
  } else {
    w->lead = true;
  }
  w->cv.notify_one();
}

Status GroupCommit::Submit(LogEntry e) {
  std::vector<LogEntry> one;
  one.push_back(std::move(e));
  return std::move(SubmitMany(std::move(one))[0]);
}

std::vector<Status> GroupCommit::SubmitCommits(const std::vector<std::string>& gids) {
  std::vector<LogEntry> entries(gids.size());
  for (size_t i = 0; i < gids.size(); ++i) {
    entries[i].kind = LogEntry::Kind::kCommit;
    entries[i].gid = gids[i];
  }
  return SubmitMany(std::move(entries));
}

std::vector<Status> GroupCommit::SubmitMany(std::vector<LogEntry> entries) {
  if (entries.empty()) return {};
  Waiter w;
  w.entries = std::move(entries);
  std::unique_lock<std::mutex> l(mu_);
  queue_.push_back(&w);
  // A commit is the arrival of one expected transaction: counted in the
  // same critical section as the enqueue, so a waiting leader that sees
  // expected_ drop to 0 also sees the entry.
  for (const LogEntry& e : w.entries) {
    if (e.kind == LogEntry::Kind::kCommit && expected_ > 0) --expected_;
  }
  if (leader_waiting_ && expected_ == 0) leader_cv_.notify_one();
  for (;;) {
    if (flushing_) {
      // Woken when our batch is flushed, or by the finishing leader to lead
      // the entries that queued meanwhile (ours among them).
      l.unlock();
      {
        std::unique_lock<std::mutex> wl(w.m);
        w.cv.wait(wl, [&] { return w.done || w.lead; });
        if (w.done) return std::move(w.results);
        w.lead = false;
      }
      l.lock();
      continue;
    }
    {
      // A leader that took our entry wakes us (done) before it clears
      // flushing_, so with no flush in progress `done` is final here.
      std::lock_guard<std::mutex> wl(w.m);
      if (w.done) return std::move(w.results);
    }
    flushing_ = true;
    // `expected_` counts transactions not yet queued, so wait while some of
    // them are still on their way, at most `delay`.
    if (opts_.delay.count() > 0 && expected_ >= opts_.siblings) {
      auto deadline = std::chrono::steady_clock::now() + opts_.delay;
      leader_waiting_ = true;
      leader_cv_.wait_until(l, deadline, [&] { return expected_ == 0; });
      leader_waiting_ = false;
    }
    std::vector<Waiter*> batch;
    batch.swap(queue_);
    l.unlock();
    std::vector<LogEntry> flat;
    for (Waiter* b : batch) flat.insert(flat.end(), b->entries.begin(), b->entries.end());
    std::vector<Status> results(flat.size());
    fn_(flat, &results);
    size_t at = 0;
    for (Waiter* b : batch) {
      // Read by its waiter only after Wake.
      b->results.assign(std::make_move_iterator(results.begin() + at),
                        std::make_move_iterator(results.begin() + at + b->entries.size()));
      at += b->entries.size();
      if (b != &w) Wake(b, /*done=*/true);
    }
    l.lock();
    flushing_ = false;
    ++batches_;
    if (!queue_.empty()) Wake(queue_.front(), /*done=*/false);  // the next leader
    return std::move(w.results);
  }
}

}  // namespace dw::coord
