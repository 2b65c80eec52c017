#include "coordinator/pg_decision_log.h"

#include <algorithm>
#include <thread>
#include <unordered_set>

#include <pqxx/pqxx>

#include "common/one_line.h"
#include "participants/pg_array.h"
#include "participants/pg_schema.h"

namespace dw::coord {
namespace {

// A statement_timeout cancels the statement: nothing was recorded. Outside
// the "unknown outcome" codes of DecisionLog's contract.
Status Definite(Status s) {
  if (s.code() == Status::Code::kTimeout) return Status::IOError(s.message());
  return s;
}

}  // namespace

struct PgDecisionLog::LockConn {
  std::unique_ptr<pqxx::connection> conn;
};

PgDecisionLog::PgDecisionLog(const Options& opts) : opts_(opts) {}

PgDecisionLog::~PgDecisionLog() {
  // ENDs only let decision rows go: one that is not flushed leaves its row
  // for the next recovery pass to end again.
  (void)Flush();
  group_.reset();
  lock_.reset();  // closing the session releases the advisory lock
}

std::string PgDecisionLog::Describe() const { return "postgres:" + pool_->redacted_dsn(); }

Status PgDecisionLog::EnsureSchema(const std::string& dsn) {
  return ApplyDdl(
      dsn, 7355609,
      {"CREATE TABLE IF NOT EXISTS dw_decisions ("
       " gid text PRIMARY KEY,"
       " coordinator text NOT NULL,"
       " outcome text NOT NULL CHECK (outcome IN ('commit', 'abort')),"
       " decided_at timestamptz NOT NULL DEFAULT now())",
       "CREATE INDEX IF NOT EXISTS dw_decisions_coordinator ON dw_decisions (coordinator)",
       "CREATE TABLE IF NOT EXISTS dw_coordinators ("
       " id text PRIMARY KEY,"
       " next_seq bigint NOT NULL DEFAULT 1,"
       " decision_log text)"},
      "decision log");
}

SqlStatement PgDecisionLog::DecisionRowStatement(const std::string& gid,
                                                 const std::string& coordinator_id) {
  return SqlStatement{
      "INSERT INTO dw_decisions (gid, coordinator, outcome) VALUES ($1, $2, 'commit')",
      {gid, coordinator_id}};
}

Status PgDecisionLog::Open(const Options& opts, std::unique_ptr<PgDecisionLog>* out) {
  Status s = EnsureSchema(opts.dsn);
  if (!s.ok()) return s;
  std::unique_ptr<PgDecisionLog> log(new PgDecisionLog(opts));
  PgPool::Options po;
  po.dsn = opts.dsn;
  po.max_connections = 4;
  po.statement_timeout = opts.statement_timeout;
  po.application_name = "dualwrite-decisions";
  s = PgPool::Create(po, &log->pool_);
  if (!s.ok()) return s;

  // The lock: classid 0x6477 ("dw"), objid = hashtext of the id.
  log->lock_ = std::make_unique<LockConn>();
  auto deadline = std::chrono::steady_clock::now() + opts.lock_wait;
  try {
    log->lock_->conn = std::make_unique<pqxx::connection>(opts.dsn);
    for (;;) {
      pqxx::nontransaction tx(*log->lock_->conn);
      bool got = tx.exec_params1("SELECT pg_try_advisory_lock(25719, hashtext($1))",
                                 "dualwrite-coordinator:" + opts.coordinator_id)[0]
                     .as<bool>();
      if (got) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        return Status::FailedPrecondition(
            "coordinator '" + opts.coordinator_id +
            "' is in use by another process (its advisory lock is held; a coordinator with this "
            "id is running, and its own recovery loop resolves its transactions)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  } catch (const pqxx::broken_connection& e) {
    return Status::Unavailable(std::string("decision log: cannot connect to Postgres (") +
                               log->pool_->redacted_dsn() + ")");
  } catch (const std::exception& e) {
    return Status::IOError(std::string("decision log: taking the coordinator lock: ") + e.what());
  }
  PgDecisionLog* l = log.get();
  log->group_ = std::make_unique<GroupCommit>(
      [l](const std::vector<LogEntry>& b, std::vector<Status>* r) { l->FlushBatch(b, r); },
      opts.group);
  *out = std::move(log);
  return Status::OK();
}

std::vector<std::string> PgDecisionLog::TakeEnds() {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> ends;
  ends.swap(pending_ends_);
  ending_.insert(ending_.end(), ends.begin(), ends.end());
  return ends;
}

void PgDecisionLog::EndsDone(const std::vector<std::string>& ends, bool failed) {
  if (ends.empty()) return;
  std::lock_guard<std::mutex> l(mu_);
  std::unordered_set<std::string> done(ends.begin(), ends.end());
  std::erase_if(ending_, [&](const std::string& g) { return done.count(g) > 0; });
  if (failed) pending_ends_.insert(pending_ends_.end(), ends.begin(), ends.end());
}

void PgDecisionLog::FlushBatch(const std::vector<LogEntry>& batch, std::vector<Status>* results) {
  std::vector<std::string> gids;
  for (const LogEntry& e : batch) gids.push_back(e.gid);  // only kCommit goes through the group
  std::vector<std::string> ends = TakeEnds();
  PgPool::Lease lease;
  Status s = pool_->Acquire(&lease);
  if (!s.ok()) {
    EndsDone(ends, true);
    for (auto& r : *results) r = Definite(s);
    return;
  }
  std::vector<bool> inserted(gids.size(), false);
  try {
    // One statement, so one round trip and one transaction of its own
    // (autocommit, durable when answered): the ENDs queued since the last
    // flush are deleted by a data-modifying WITH, which runs to completion
    // whether or not the INSERT reads it. As BEGIN, INSERT, DELETE and COMMIT
    // it was four round trips and four statements for the server to parse.
    pqxx::nontransaction tx(lease.conn());
    pqxx::result r = tx.exec_params(
        "WITH ended AS (DELETE FROM dw_decisions WHERE gid = ANY($3::text[])) "
        "INSERT INTO dw_decisions (gid, coordinator, outcome) "
        "SELECT g, $2, 'commit' FROM unnest($1::text[]) AS g "
        "ON CONFLICT (gid) DO NOTHING RETURNING gid",
        TextArray(gids), opts_.coordinator_id, TextArray(ends));
    std::vector<std::string> done;
    for (const auto& row : r) done.push_back(row[0].as<std::string>());
    std::unordered_set<std::string> done_set(done.begin(), done.end());
    for (size_t i = 0; i < gids.size(); ++i) inserted[i] = done_set.count(gids[i]) > 0;
  } catch (const pqxx::broken_connection& ex) {
    // The statement was sent and no answer came back: it may have committed
    // just before the connection went. Unlike a transaction block, which is
    // not committed until its COMMIT was sent, the outcome is unknown, and
    // recovery, not the caller, decides.
    lease.MarkBroken();
    EndsDone(ends, true);
    for (auto& r : *results) {
      r = Status::InDoubt(std::string("decision log: connection lost while recording commits: ") +
                          OneLine(ex.what()));
    }
    return;
  } catch (...) {
    Status e = StatusFromPgException(&lease, "decision log: recording commits");
    EndsDone(ends, true);
    for (auto& r : *results) r = Definite(e);
    return;
  }
  EndsDone(ends, false);
  {
    std::lock_guard<std::mutex> l(mu_);
    ++forced_;
  }
  for (size_t i = 0; i < gids.size(); ++i) {
    (*results)[i] = inserted[i] ? Status::OK()
                                : Status::Aborted("decision log: " + gids[i] +
                                                  " was already fixed as aborted by recovery");
  }
}

std::vector<Status> PgDecisionLog::LogCommits(const std::vector<std::string>& gids) {
  return group_->SubmitCommits(gids);
}

Status PgDecisionLog::LogCommit(const std::string& gid) {
  LogEntry e;
  e.kind = LogEntry::Kind::kCommit;
  e.gid = gid;
  return group_->Submit(std::move(e));
}

void PgDecisionLog::LogEnd(const std::string& gid) {
  bool flush = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    pending_ends_.push_back(gid);
    flush = pending_ends_.size() >= opts_.end_batch;
  }
  if (flush) (void)Flush();  // unflushed ENDs stay queued for the next Flush
}

Status PgDecisionLog::Flush() {
  std::vector<std::string> ends = TakeEnds();
  if (ends.empty()) return Status::OK();
  PgPool::Lease lease;
  Status s = pool_->Acquire(&lease);
  if (!s.ok()) {
    EndsDone(ends, true);
    return s;
  }
  try {
    pqxx::work tx(lease.conn());
    // Losing an END costs recovery one more look; not worth a WAL flush.
    tx.exec0("SET LOCAL synchronous_commit = off");
    tx.exec_params("DELETE FROM dw_decisions WHERE gid = ANY($1::text[])", TextArray(ends));
    tx.commit();
  } catch (...) {
    EndsDone(ends, true);
    return StatusFromPgException(&lease, "decision log: deleting ended decisions");
  }
  EndsDone(ends, false);
  return Status::OK();
}

Status PgDecisionLog::Resolve(const std::string& gid, bool* committed) {
  PgPool::Lease lease;
  Status s = pool_->Acquire(&lease);
  if (!s.ok()) return s;
  try {
    pqxx::nontransaction tx(lease.conn());
    // Waits for any transaction inserting the same gid (see the header).
    pqxx::result r = tx.exec_params(
        "INSERT INTO dw_decisions (gid, coordinator, outcome) VALUES ($1, $2, 'abort') "
        "ON CONFLICT (gid) DO NOTHING RETURNING outcome",
        gid, opts_.coordinator_id);
    if (!r.empty()) {
      *committed = false;
      return Status::OK();
    }
    // A new statement, a new snapshot: it sees the row that won.
    r = tx.exec_params("SELECT outcome FROM dw_decisions WHERE gid = $1", gid);
    if (r.empty()) return Status::NotFound("decision log: " + gid + " was ended meanwhile");
    *committed = r[0][0].as<std::string>() == "commit";
    return Status::OK();
  } catch (...) {
    return StatusFromPgException(&lease, "decision log: resolving " + gid);
  }
}

Status PgDecisionLog::ListOpen(std::vector<std::string>* gids) {
  gids->clear();
  // Ended but not yet deleted: not open any more. Taken BEFORE the SELECT:
  // an END whose DELETE commits in between is then either in this set or
  // already invisible to the SELECT.
  std::unordered_set<std::string> ended;
  {
    std::lock_guard<std::mutex> l(mu_);
    ended.insert(pending_ends_.begin(), pending_ends_.end());
    ended.insert(ending_.begin(), ending_.end());
  }
  PgPool::Lease lease;
  Status s = pool_->Acquire(&lease);
  if (!s.ok()) return s;
  try {
    pqxx::nontransaction tx(lease.conn());
    pqxx::result r = tx.exec_params(
        "SELECT gid FROM dw_decisions WHERE coordinator = $1 ORDER BY gid", opts_.coordinator_id);
    for (const auto& row : r) {
      std::string g = row[0].as<std::string>();
      if (!ended.count(g)) gids->push_back(std::move(g));
    }
  } catch (...) {
    return StatusFromPgException(&lease, "decision log: listing decisions");
  }
  return Status::OK();
}

Status PgDecisionLog::ReserveSequence(uint64_t n, uint64_t* first) {
  PgPool::Lease lease;
  Status s = pool_->Acquire(&lease);
  if (!s.ok()) return s;
  try {
    pqxx::nontransaction tx(lease.conn());
    pqxx::result r = tx.exec_params(
        "INSERT INTO dw_coordinators (id, next_seq) VALUES ($1, 1 + $2::bigint) "
        "ON CONFLICT (id) DO UPDATE SET next_seq = dw_coordinators.next_seq + $2::bigint "
        "RETURNING next_seq - $2::bigint",
        opts_.coordinator_id, static_cast<int64_t>(n));
    *first = static_cast<uint64_t>(r[0][0].as<int64_t>());
  } catch (...) {
    return Definite(StatusFromPgException(&lease, "decision log: reserving sequence numbers"));
  }
  std::lock_guard<std::mutex> l(mu_);
  ++forced_;
  return Status::OK();
}

uint64_t PgDecisionLog::forced_writes() const {
  std::lock_guard<std::mutex> l(mu_);
  return forced_;
}

}  // namespace dw::coord
