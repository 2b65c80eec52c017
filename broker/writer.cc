#include "broker/writer.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace dw::broker {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void Crash(const char* point) {
  // The point of the fault is to die without any orderly shutdown: no
  // destructors, no flushing, exactly like a SIGKILL at that instant.
  std::string line = std::string("dualwrite broker: crash_at ") + point + ": exiting\n";
  ssize_t r = ::write(2, line.data(), line.size());
  (void)r;
  _exit(3);
}

}  // namespace

const char* FsyncPolicyName(FsyncPolicy p) {
  switch (p) {
    case FsyncPolicy::kAlways:
      return "always";
    case FsyncPolicy::kBatch:
      return "batch";
    case FsyncPolicy::kNever:
      return "never";
  }
  return "?";
}

bool ParseFsyncPolicy(const std::string& s, FsyncPolicy* out) {
  for (FsyncPolicy p : {FsyncPolicy::kAlways, FsyncPolicy::kBatch, FsyncPolicy::kNever}) {
    if (s == FsyncPolicyName(p)) {
      *out = p;
      return true;
    }
  }
  return false;
}

Writer::Writer(Store* store, RecordFile* log, FsyncPolicy policy, Faults* faults, Metrics* metrics)
    : store_(store), log_(log), policy_(policy), faults_(faults), metrics_(metrics), seq_(store) {}

Writer::~Writer() { Stop(); }

void Writer::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Writer::Submit(Mutation m, Done done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(Item{std::move(m), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  Outcome o;
  o.status = Status::Unavailable("broker is shutting down");
  done(std::move(o));
}

void Writer::SubmitMany(std::vector<Mutation> ms, DoneMany done) {
  // The outcomes gathered: each item's Done fills its place, and the last
  // one answers. Done runs on the writer thread, or on this one after Stop
  // began, hence the atomic count.
  struct Gather {
    std::vector<Outcome> outcomes;
    std::atomic<size_t> left;
    DoneMany done;
  };
  const size_t n = ms.size();
  if (n == 0) return done({});
  auto g = std::make_shared<Gather>();
  g->outcomes.resize(n);
  g->left = n;
  g->done = std::move(done);
  auto item_done = [g](size_t i) {
    return [g, i](Outcome o) {
      g->outcomes[i] = std::move(o);
      if (g->left.fetch_sub(1, std::memory_order_acq_rel) == 1) g->done(std::move(g->outcomes));
    };
  };
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      for (size_t i = 0; i < n; ++i) queue_.push_back(Item{std::move(ms[i]), item_done(i)});
      cv_.notify_one();
      return;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    Outcome o;
    o.status = Status::Unavailable("broker is shutting down");
    item_done(i)(std::move(o));
  }
}

void Writer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void Writer::Loop() {
  for (;;) {
    std::deque<Item> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is answered
      if (policy_ == FsyncPolicy::kAlways) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } else {
        batch.swap(queue_);
      }
    }
    WriteBatch(&batch);
  }
}

void Writer::WriteBatch(std::deque<Item>* batch) {
  const int64_t now = NowMs();
  std::vector<Outcome> outcomes(batch->size());
  std::vector<bool> dependent(batch->size());
  bool staged_prepare = false, committed = false;
  for (size_t i = 0; i < batch->size(); ++i) {
    bool dep;
    size_t before = seq_.records().size();
    seq_.Plan(std::move((*batch)[i].m), now, &outcomes[i], &dep);
    dependent[i] = dep;
    for (size_t r = before; r < seq_.records().size(); ++r) {
      if (seq_.records()[r].type == Record::Type::kPrepare) staged_prepare = true;
      if (seq_.records()[r].type == Record::Type::kCommit) committed = true;
    }
  }

  const auto& records = seq_.records();
  if (!records.empty()) {
    std::string framed, payload;
    for (const auto& r : records) {
      payload.clear();
      EncodeRecord(r, &payload);
      RecordFile::Frame(payload, &framed);
    }
    const uint64_t size_before = log_->size();
    Status s = log_->AppendFramed(framed);
    if (s.ok() && policy_ != FsyncPolicy::kNever) {
      s = log_->Sync();
      if (s.ok()) {
        metrics_->fsyncs.fetch_add(1, std::memory_order_relaxed);
      } else {
        // The bytes may or may not be on disk; they were never acknowledged,
        // so take them back rather than let a restart resurrect them.
        Status t = log_->Truncate(size_before);
        if (!t.ok()) {
          std::fprintf(stderr,
                       "dualwrite broker: cannot take back an unacknowledged batch (%s): a "
                       "restart may replay it\n",
                       t.ToString().c_str());
        }
      }
    }
    if (s.ok()) {
      metrics_->bytes_written.fetch_add(framed.size(), std::memory_order_relaxed);
      metrics_->records_written.fetch_add(records.size(), std::memory_order_relaxed);
      metrics_->write_batches.fetch_add(1, std::memory_order_relaxed);
      metrics_->log_bytes.store(log_->size(), std::memory_order_relaxed);
      Status a = store_->ApplyAll(seq_.TakeRecords());
      if (!a.ok()) {
        // The sequencer and the store disagree: a bug. The log holds the
        // records; a restart replays them through the same checks and refuses
        // loudly instead of serving a state that differs from the log.
        std::fprintf(stderr, "dualwrite broker: BUG: durable batch does not apply: %s\n",
                     a.ToString().c_str());
        std::abort();
      }
      CrashPoint crash = faults_->crash_at();
      if (crash == CrashPoint::kAfterStageBeforeVote && staged_prepare) {
        Crash(CrashPointName(crash));
      }
      if (crash == CrashPoint::kAfterCommitBeforeReply && committed) {
        Crash(CrashPointName(crash));
      }
    } else {
      metrics_->write_errors.fetch_add(1, std::memory_order_relaxed);
      std::fprintf(stderr, "dualwrite broker: log write failed, batch of %zu refused: %s\n",
                   batch->size(), s.ToString().c_str());
      for (size_t i = 0; i < batch->size(); ++i) {
        if (dependent[i]) {
          outcomes[i] = Outcome();
          outcomes[i].status = s;
        }
      }
    }
  }
  seq_.Reset();
  uint64_t dups = 0;
  for (const auto& o : outcomes) {
    if (o.status.ok()) dups += o.duplicates;
  }
  if (dups > 0) metrics_->duplicates.fetch_add(dups, std::memory_order_relaxed);
  for (size_t i = 0; i < batch->size(); ++i) (*batch)[i].done(std::move(outcomes[i]));
}

}  // namespace dw::broker
