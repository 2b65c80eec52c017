// Recovery: resolves the prepared transactions of one coordinator id.
//
//   1. Snapshot the transactions in flight in this process (InFlight)
//      BEFORE listing anything. As in Citus' RecoverTwoPhaseCommits, the
//      order matters: a transaction between its prepare and its decision is
//      listed as prepared but has no COMMIT record yet; presumed abort would
//      abort it under its feet. Every gid in the snapshot, and every gid
//      whose sequence number was handed out after it, is left alone.
//   2. List the prepared gids with prefix "dw:<id>:" at every participant
//      (pg_prepared_xacts, GET /transactions?state=prepared).
//   3. Per gid, ask the decision log (DecisionLog::Resolve, AFTER the
//      listing): COMMIT recorded -> commit everywhere it is listed and at
//      every participant that could not be listed (it may hold the gid);
//      no record -> abort (presumed abort) at every participant, also those
//      that did not list it, so that a prepare still on its way is refused
//      by the broker. Once every one of those answered, END it in the log:
//      an END while some participant may still hold the gid prepared would
//      turn its COMMIT into a presumed abort on the next pass.
//   4. If every participant could be listed, END the log's open decisions
//      that no participant holds any more (their END was lost in a crash).
// A gid not in the snapshot with a smaller sequence number finished its
// Execute before the snapshot: its decision (if any) is in the log already,
// and nothing of this process will touch it again, so the answers of 3 and
// 4 cannot go stale.
//
// In another process (`2pc recover`) the snapshot is empty: the decision
// log's lock guarantees that no coordinator with this id is running.
// Idempotent: running it twice does nothing the second time.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "coordinator/call_pool.h"
#include "coordinator/decision_log.h"
#include "coordinator/member.h"

namespace dw::coord {

struct InFlight {
  std::set<uint64_t> seqs;                                // in flight at the snapshot
  uint64_t limit = std::numeric_limits<uint64_t>::max();  // handed out after the snapshot: >= limit
  bool Contains(uint64_t seq) const { return seq >= limit || seqs.count(seq) > 0; }
};

struct RecoveryAction {
  std::string gid;          // the branch name as prepared
  std::string participant;  // member name
  std::string action;       // "commit" | "abort"
  std::string result;       // "ok" or the error
};

struct RecoveryReport {
  uint64_t listed = 0;             // prepared branches of this coordinator found
  uint64_t committed = 0;          // branches committed
  uint64_t aborted = 0;            // branches rolled back
  uint64_t skipped_in_flight = 0;  // branches of transactions still running here
  uint64_t ended = 0;              // decisions closed in the log (nothing left prepared)
  std::vector<RecoveryAction> actions;
  std::vector<std::string> errors;

  void Merge(const RecoveryReport& o);
  nlohmann::json ToJson() const;
  std::string ToText() const;
};

struct RecoveryContext {
  std::string coordinator_id;
  const std::vector<Member>* members = nullptr;
  DecisionLog* log = nullptr;
  CallPool* pool = nullptr;
  std::chrono::milliseconds call_timeout{5000};
};

// One pass. OK when everything found was resolved; otherwise an error that
// summarises report->errors (what was resolvable was resolved).
Status RecoverOnce(const RecoveryContext& ctx, const InFlight& in_flight, RecoveryReport* report);

}  // namespace dw::coord
