// Writer: the broker's single writer thread, sequencer of every mutation.
//
// Submit() queues a mutation; the thread takes the queue, decides each
// mutation in order with the Sequencer (so log order = state order), writes
// the batch's records with ONE write(), makes them durable per the fsync
// policy, applies them to the Store, and only then answers every mutation of
// the batch. Nobody is told "done" before their record is durable, and
// readers never see a record before that either (see store.h).
//
//   kAlways  one mutation per batch: one record, one fdatasync, serialized.
//   kBatch   group commit: everything queued is one batch with one fdatasync.
//   kNever   group commit, write() only (the page cache survives a process
//            crash, not a power loss).
//
// A failed write or sync (ENOSPC/EFBIG -> NoSpace, other errno -> IOError)
// cuts the file back to its size before the batch and drops the batch's
// overlay: file and Store are exactly as before. Mutations whose outcome came
// from the batch get that error; the others (e.g. a duplicate of an old
// message, a commit of an unknown gid) keep their answer. Later batches are
// tried normally (the disk may have been freed).
//
// Crash faults (faults.h) fire here, after the durable point and before any
// answer. Done callbacks run on the writer thread: they must only hand the
// outcome over (e.g. post to a connection's strand), never block.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "broker/faults.h"
#include "broker/metrics.h"
#include "broker/sequencer.h"
#include "broker/store.h"
#include "common/record_file.h"

namespace dw::broker {

enum class FsyncPolicy { kAlways, kBatch, kNever };
const char* FsyncPolicyName(FsyncPolicy p);
bool ParseFsyncPolicy(const std::string& s, FsyncPolicy* out);

class Writer {
 public:
  using Done = std::function<void(Outcome)>;

  // None of the pointers is owned; all must outlive the Writer.
  Writer(Store* store, RecordFile* log, FsyncPolicy policy, Faults* faults, Metrics* metrics);
  ~Writer();  // Stop()s
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void Start();
  // Thread-safe. After Stop() began, `done` is called at once with Unavailable.
  void Submit(Mutation m, Done done);
  // Several mutations queued at once, so that they share a batch (one write,
  // one sync; with kAlways each is still a batch of its own). `done` is
  // called once, with their outcomes in order, when the last is decided.
  using DoneMany = std::function<void(std::vector<Outcome>)>;
  void SubmitMany(std::vector<Mutation> ms, DoneMany done);
  // Finishes everything already queued (answers it), then joins the thread.
  void Stop();

 private:
  struct Item {
    Mutation m;
    Done done;
  };
  void Loop();
  void WriteBatch(std::deque<Item>* batch);

  Store* store_;
  RecordFile* log_;
  FsyncPolicy policy_;
  Faults* faults_;
  Metrics* metrics_;
  Sequencer seq_;  // writer thread only

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dw::broker
