// Sequencer: decides the outcome of every mutation, in the order the writer
// thread hands them over, and produces the log records that carry those
// decisions (offsets, timestamps, dedupe, transaction state changes).
//
// It decides against the durable Store plus an overlay of the records of the
// batch being built, which the Store does not hold yet (it applies records
// only once they are durable, see store.h). So two publishes of the same id in
// one batch get one offset, and a prepare and a commit of one gid may share a
// batch. Deterministic and free of I/O: the writer owns the file, the clock
// value and any randomness (Mutation::inject_abort) come in from outside.
//
// Not thread-safe: it belongs to the writer thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "broker/log_format.h"
#include "broker/store.h"
#include "common/status.h"

namespace dw::broker {

// A request to change state, already validated for shape (names, types) by
// the router; what depends on state is the sequencer's job.
struct Mutation {
  enum class Kind { kPublish, kPublishBatch, kPrepare, kCommit, kAbort, kPrecommit };
  Kind kind = Kind::kPublish;
  std::string topic;                  // kPublish, kPublishBatch
  std::vector<MessageData> messages;  // kPublish (exactly one), kPublishBatch
  std::string gid;                    // kPrepare, kCommit, kAbort, kPrecommit
  std::vector<StagedMessage> staged;  // kPrepare
  bool inject_abort = false;          // kPrepare: the abort-probability fault fired
};

// What the requester is told once the batch is durable.
//   OK                  publish/batch/commit (offsets), prepare voted commit, abort done,
//                       precommit done (also again, and for a gid already committed)
//   Aborted             prepare voted abort (message = reason)
//   NotFound            commit or precommit of a gid that was never prepared
//   FailedPrecondition  commit or precommit of an aborted gid, abort of a committed gid
//   NoSpace / IOError   the batch's write or sync failed (set by the writer)
//   Unavailable         the broker is shutting down (set by the writer)
struct Outcome {
  Status status;
  std::vector<uint64_t> offsets;
  bool created = false;     // kPublish: a new message was stored (not a duplicate)
  uint32_t duplicates = 0;  // messages whose id was already stored (deduplicated)
};

class Sequencer {
 public:
  explicit Sequencer(const Store* store) : store_(store) {}

  // Decides `m` at time `now_ms`, appending any record it needs to records().
  // *depends_on_batch is set when the outcome was decided using a record of
  // the current batch (its own, or one of an earlier mutation in the batch):
  // if the batch's write fails, such outcomes are void and must be failed too.
  // `m` is taken by value: the messages it publishes move into the records.
  void Plan(Mutation m, int64_t now_ms, Outcome* out, bool* depends_on_batch);

  // The records of the current batch, in order.
  const std::vector<Record>& records() const { return records_; }
  // Hands the current batch's records over (to Store::ApplyAll), leaving none.
  std::vector<Record> TakeRecords() { return std::move(records_); }

  // Forgets the current batch (after it was applied to the store, or failed).
  void Reset();

 private:
  struct GidOverlay {
    TxnState state = TxnState::kUnknown;
    std::vector<StagedMessage> staged;  // kPrepared, kPrecommitted
    std::vector<uint64_t> offsets;      // kCommitted
  };

  using IdIndex = Store::IdIndex;  // id -> offset

  // One topic's part of the overlay and of the store, looked up once for
  // all the messages a mutation publishes to it: a batch of a thousand
  // messages then costs a thousand id lookups, not also a thousand lookups
  // of its topic in three maps and a thousand (topic, id) key copies.
  struct TopicCursor {
    const std::string* topic;
    IdIndex* batch_ids;         // this batch's ids of the topic
    const IdIndex* stored_ids;  // the store's (null: none stored yet)
    uint64_t* end = nullptr;    // ends_'s entry, once a message was new
  };
  TopicCursor Cursor(const std::string& topic);

  // Lookups through the overlay; they set used_overlay_ when the overlay answered.
  TxnState State(const std::string& gid);

  // Assigns an offset to one message of the cursor's topic (new or duplicate).
  uint64_t Assign(TopicCursor& c, const MessageData& m, bool* created);

  void PlanPublish(Mutation& m, int64_t now_ms, Outcome* out);
  void PlanPrepare(const Mutation& m, int64_t now_ms, Outcome* out);
  void PlanCommit(const Mutation& m, int64_t now_ms, Outcome* out);
  void PlanAbort(const Mutation& m, Outcome* out);
  void PlanPrecommit(const Mutation& m, Outcome* out);

  const Store* store_;
  std::vector<Record> records_;
  std::unordered_map<std::string, uint64_t> ends_;  // topic -> end offset incl. this batch
  // topic -> (id -> offset) of this batch. Node-based outer map: cursors
  // keep pointers to its values while other topics are added.
  std::unordered_map<std::string, IdIndex> ids_;
  std::unordered_map<std::string, GidOverlay> gids_;
  bool used_overlay_ = false;
};

}  // namespace dw::broker
