// Store: the broker's state machine - topics (dense offsets from 0), the
// per-topic idempotency index, and the transactions it knows (prepared,
// precommitted, committed, aborted). A precommitted transaction is a
// prepared one that three-phase commit marked "every participant voted
// yes": it still holds its staged messages and is still listed with the
// prepared ones (it is undecided at this broker until a commit or an abort
// arrives). It changes only by applying log records (log_format.h), at
// replay and after the writer made a batch durable.
//
// Durability design ("apply only after durable"): the writer thread
// (writer.h) decides every change with the Sequencer (sequencer.h) against
// this store plus an in-memory overlay of its current batch, writes and syncs
// the batch's records, and only then Apply()s them here. The store therefore
// never holds anything that is not durable: readers need no per-topic
// "visible end", and a failed write needs no undo - the overlay is dropped and
// the store is exactly as before that batch.
//
// Threads: Apply() and the "sequencer queries" run on the single writer thread
// (or during replay, before any other thread exists). Apply() takes the lock
// exclusively; the sequencer queries take no lock because nothing else ever
// mutates. Readers (Read, ListPrepared, GetStats) may run on any thread and
// take the lock shared.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "broker/log_format.h"
#include "common/status.h"

namespace dw::broker {

struct StoredMessage {
  uint64_t offset = 0;
  MessageData data;
  int64_t ts_ms = 0;  // when it became visible (unix ms)
};

struct PreparedTxn {
  std::string gid;
  int64_t prepared_at_ms = 0;
  std::vector<StagedMessage> messages;
  bool precommitted = false;  // a kPrecommit record followed its kPrepare
};

enum class TxnState { kUnknown, kPrepared, kPrecommitted, kCommitted, kAborted };

class Store {
 public:
  struct Stats {
    uint64_t records_applied = 0;
    uint64_t prepared = 0;  // precommitted ones included
    uint64_t precommitted = 0;
    uint64_t committed = 0;
    uint64_t aborted = 0;
    std::vector<std::pair<std::string, uint64_t>> topic_sizes;  // sorted by topic
  };

  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // --- mutation (writer thread / replay only) ---

  // Applies one record. A record that contradicts the state (an offset that
  // is not the next one, a second prepare of a gid, a commit of a gid that is
  // not prepared, ...) is Corruption and changes nothing: at replay it means
  // the log is not one this broker wrote; live it is a bug in the sequencer.
  // Takes the record by value: its messages are moved into the store, so a
  // caller done with it (replay, the writer) passes it with std::move.
  Status Apply(Record r);
  // Applies several records under one exclusive lock (one durable batch).
  // Stops at the first failing record.
  Status ApplyAll(std::vector<Record> records);

  // --- sequencer queries (writer thread only, no lock) ---

  // The idempotency index of a topic: id -> offset.
  using IdIndex = absl::flat_hash_map<std::string, uint64_t>;

  uint64_t EndOffset(const std::string& topic) const;  // next offset to assign
  std::optional<uint64_t> FindId(const std::string& topic, const std::string& id) const;
  // The topic's index (null: the topic has no message yet). Valid until the
  // next Apply.
  const IdIndex* Ids(const std::string& topic) const;
  TxnState State(const std::string& gid) const;
  const PreparedTxn* FindPrepared(const std::string& gid) const;
  const std::vector<uint64_t>* CommittedOffsets(const std::string& gid) const;

  // --- readers (any thread) ---

  // Messages of `topic` with offset >= from, at most `limit`. Returns the
  // offset after the last one returned (`from` when none).
  uint64_t Read(const std::string& topic, uint64_t from, size_t limit,
                std::vector<StoredMessage>* out) const;
  std::vector<PreparedTxn> ListPrepared() const;  // ordered by gid
  Stats GetStats() const;

 private:
  struct Topic {
    // messages[i].offset == i. A deque: appending never moves the messages
    // already stored, so a topic of millions grows without the copy (and the
    // pause of every reader, under the exclusive lock) of a vector's
    // reallocation.
    std::deque<StoredMessage> messages;
    // id -> offset, the idempotency index. Every publish looks up each of its
    // ids here, and a drain of a large backlog makes it millions of entries:
    // an open-addressing table costs about one cache miss per lookup, where a
    // node-based std::unordered_map walks a chain of scattered nodes.
    IdIndex ids;
  };

  Status ApplyLocked(Record& r);
  Status ApplyPublish(Record& r);
  Status ApplyPrepare(const Record& r);
  Status ApplyCommit(const Record& r);
  Status ApplyAbort(const Record& r);
  Status ApplyPrecommit(const Record& r);

  mutable std::shared_mutex mu_;
  std::map<std::string, Topic> topics_;
  std::map<std::string, PreparedTxn> prepared_;
  std::unordered_map<std::string, std::vector<uint64_t>> committed_;
  std::unordered_set<std::string> aborted_;
  uint64_t records_applied_ = 0;
};

}  // namespace dw::broker
