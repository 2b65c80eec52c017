// Participant: anything that takes part in two-phase commit.
//
// The coordinator hands every participant the same Work; each takes the part
// that concerns it (a database runs the statements, the broker stages the
// messages). Contract of the calls:
//   Prepare  OK          -> voted commit: the work is durably staged and will
//                           survive a crash of the participant until Commit or
//                           Abort for this gid arrives.
//            Aborted     -> voted abort: nothing is staged.
//            other error -> no vote (timeout, unreachable): the coordinator
//                           must treat it as abort, and Abort the gid later in
//                           case the prepare did land.
//   Commit   OK          -> committed (also when it was committed before).
//            NotFound    -> the participant knows no prepared gid of that name
//                           (already resolved, or never prepared).
//            outcome unknown (Timeout/InDoubt) or Unavailable -> retry.
//   Abort    OK          -> rolled back, or nothing was prepared (presumed abort).
// Commit and Abort are idempotent and may be called from any thread, on any
// connection, long after Prepare (recovery runs them in another process).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace dw {

// One SQL statement with positional parameters ($1, $2, ...). A nullopt
// parameter is SQL NULL.
struct SqlStatement {
  std::string sql;
  std::vector<std::optional<std::string>> params;
  // When set, the statement must change exactly this many rows, else the
  // whole work fails as Aborted (a vote abort) and nothing of it is staged
  // or committed: a conditional UPDATE that matched no row must not let the
  // rest of the work (its message at the broker) go through.
  std::optional<uint64_t> expect_rows = std::nullopt;
};

// One message for the broker.
struct OutMessage {
  std::string topic;
  std::string id;  // idempotency key: the event's identity, e.g. "order-42"
  std::string key;
  std::string payload;
};

// The business operation, as each kind of participant sees it.
struct Work {
  std::vector<SqlStatement> statements;  // for database participants
  std::vector<OutMessage> messages;      // for broker participants
};

// A transaction a participant holds prepared (what recovery reads).
struct InDoubtTxn {
  std::string gid;
  std::chrono::system_clock::time_point prepared_at;
};

// A participant call whose request is on its way and whose answer has not
// been read yet (Participant::StartPrepare and the like).
class StartedCall {
 public:
  virtual ~StartedCall() = default;
  // Waits for the answer, within the participant's own timeout, and returns
  // exactly what the blocking call (Prepare, Commit, Abort) would have.
  virtual Status Finish() = 0;
};

class Participant {
 public:
  virtual ~Participant() = default;

  // A short human name for logs and traces: "postgres", "postgres:shard1", "broker".
  virtual std::string name() const = 0;

  virtual Status Prepare(const std::string& gid, const Work& work) = 0;
  virtual Status Commit(const std::string& gid) = 0;
  virtual Status Abort(const std::string& gid) = 0;

  // True when every call returns by itself within the participant's own
  // timeout (a timer covers each wait, as the broker client's does). The
  // coordinator may then run the call on its own thread instead of handing
  // it to a pool thread that it could abandon (a libpq read on a
  // black-holed connection has no timer of its own: Postgres says true only
  // with a call deadline, which a watcher enforces, see call_deadline.h).
  virtual bool CallsBounded() const { return false; }

  // Prepare, Commit and Abort in two halves, for a participant whose call
  // is one request to its server (the broker's): the request has been sent
  // when these return, and Finish reads the answer. The coordinator sends
  // them first, makes its other participant's call on the same thread
  // while they travel, and then reads their answers: a phase in parallel
  // with no thread hand-off. nullptr (the default): not supported, use the
  // blocking call. A participant that supports them says so with
  // CallsStartable (the coordinator must know before it starts any call of
  // a phase) and bounds its calls (CallsBounded), Finish included.
  virtual bool CallsStartable() const { return false; }
  virtual std::unique_ptr<StartedCall> StartPrepare(const std::string& gid, const Work& work) {
    (void)gid, (void)work;
    return nullptr;
  }
  virtual std::unique_ptr<StartedCall> StartCommit(const std::string& gid) {
    (void)gid;
    return nullptr;
  }
  virtual std::unique_ptr<StartedCall> StartAbort(const std::string& gid) {
    (void)gid;
    return nullptr;
  }

  // Several branches' Prepare (Commit) as ONE request to the server, for a
  // participant that can take them together (the broker: one HTTP request
  // and one durable write for all). One call per branch, in order, each
  // answering exactly what that branch's StartPrepare (StartCommit) would.
  // Empty (the default): not supported, start them one by one. The calls of
  // one request are finished on one thread.
  virtual std::vector<std::unique_ptr<StartedCall>> StartPrepareMany(
      const std::vector<std::string>& gids, const std::vector<const Work*>& works) {
    (void)gids, (void)works;
    return {};
  }
  virtual std::vector<std::unique_ptr<StartedCall>> StartCommitMany(
      const std::vector<std::string>& gids) {
    (void)gids;
    return {};
  }

  // Prepared (in-doubt) transactions whose gid starts with `gid_prefix`.
  virtual Status ListInDoubt(const std::string& gid_prefix, std::vector<InDoubtTxn>* out) = 0;
};

}  // namespace dw
