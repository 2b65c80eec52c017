#include "participants/postgres_participant.h"

#include <thread>
#include <utility>

#include "common/names.h"
#include "participants/pg_one_message.h"

namespace dw {

using pg_work::CheckGid;
using pg_work::CheckNoNul;
using pg_work::Joined;
using pg_work::OneMessage;

namespace {

// Runs `work`'s statements in `tx`, as server-side prepared statements while
// the connection's cache has room (the extended protocol is worth 25-30% at
// one client, see BASELINES), with exec_params past that. Throws on a server
// error; a statement that changed other than its expect_rows rows returns
// Aborted (the caller leaves `tx` uncommitted, so it rolls back).
Status RunStatements(pqxx::transaction_base& tx, PgPool::Lease& lease, const Work& work) {
  std::vector<const char*> params;
  for (const SqlStatement& st : work.statements) {
    // libpqxx 6.4 has no string_traits for std::optional: a null const char*
    // is its SQL NULL. (Text parameters cannot hold NUL bytes anyway.)
    params.clear();
    for (const auto& p : st.params) params.push_back(p ? p->c_str() : nullptr);
    std::string name = lease.Prepared(st.sql);
    pqxx::result r = !name.empty()
                         ? tx.exec_prepared(name, pqxx::prepare::make_dynamic_params(params))
                         : tx.exec_params(st.sql, pqxx::prepare::make_dynamic_params(params));
    if (st.expect_rows && r.affected_rows() != *st.expect_rows) {
      return pg_work::RowsMismatch(st, r.affected_rows());
    }
  }
  return Status::OK();
}

// LIKE's wildcards in a literal prefix, escaped with '!' (not backslash,
// whose meaning in a literal depends on standard_conforming_strings).
std::string LikePrefix(const std::string& prefix) {
  std::string out;
  for (char c : prefix) {
    if (c == '!' || c == '%' || c == '_') out += '!';
    out += c;
  }
  return out + "%";
}

}  // namespace

PostgresParticipant::PostgresParticipant(std::shared_ptr<PgPool> pool, const Options& opts)
    : pool_(std::move(pool)), opts_(opts) {}

CallDeadlines::Guard PostgresParticipant::Watch(PgPool::Lease& lease,
                                                std::chrono::steady_clock::time_point d) const {
  if (!Bounded() || !lease) return CallDeadlines::Guard();
  return CallDeadlines::Watch(lease.conn().sock(), d);
}

Status PostgresParticipant::Missed(const std::string& what) const {
  return Status::Timeout(what + ": no answer from Postgres within " +
                         std::to_string(opts_.call_deadline.count()) +
                         " ms; the connection was shut down");
}

Status PostgresParticipant::Create(std::shared_ptr<PgPool> pool, const Options& opts,
                                   std::unique_ptr<PostgresParticipant>* out) {
  if (!pool) return Status::InvalidArgument("no connection pool");
  if (opts.finish_attempts < 1) return Status::InvalidArgument("finish_attempts must be >= 1");
  PgPool::Lease lease;
  Status s = pool->Acquire(&lease);
  if (!s.ok()) return s;
  int max_prepared = 0;
  std::string where;
  try {
    pqxx::nontransaction tx(lease.conn());
    max_prepared =
        tx.exec1("SELECT current_setting('max_prepared_transactions')::int")[0].as<int>();
    const char* host = lease.conn().hostname();
    const char* port = lease.conn().port();
    where = std::string(host && *host ? host : "localhost") + ":" + (port ? port : "");
  } catch (...) {
    return StatusFromPgException(&lease, "checking max_prepared_transactions");
  }
  if (max_prepared == 0) {
    return Status::FailedPrecondition(
        "max_prepared_transactions is 0 on " + where +
        ": 2PC is disabled; set max_prepared_transactions = 256 in postgresql.conf and restart "
        "(or run ALTER SYSTEM SET max_prepared_transactions = 256 as a superuser, then restart "
        "the server), or use the embedded environment");
  }
  out->reset(new PostgresParticipant(std::move(pool), opts));
  return Status::OK();
}

Status PostgresParticipant::Create(const PgPool::Options& pool_opts, const Options& opts,
                                   std::unique_ptr<PostgresParticipant>* out) {
  std::shared_ptr<PgPool> pool;
  Status s = PgPool::Create(pool_opts, &pool);
  if (!s.ok()) return s;
  return Create(std::move(pool), opts, out);
}

Status PostgresParticipant::Prepare(const std::string& gid, const Work& work) {
  Status s = CheckGid(gid);
  if (s.ok()) s = CheckNoNul(work);
  if (!s.ok()) return s;
  const auto deadline = Deadline();
  PgPool::Lease lease;
  s = pool_->Acquire(&lease);
  if (!s.ok()) return s;
  CallDeadlines::Guard guard = Watch(lease, deadline);  // after the lease: see call_deadline.h
  bool prepared = false;
  bool one_message = false;
  try {
    std::vector<std::string> parts;
    one_message = OneMessage(lease, work, &parts);
    if (one_message) {
      parts.push_back("PREPARE TRANSACTION " + lease.conn().quote(gid));
      pqxx::nontransaction tx(lease.conn());
      tx.exec(Joined(parts));
      return Status::OK();  // PREPARE answered: durably prepared, the session is idle again
    }
    pqxx::work tx(lease.conn());
    Status rows = RunStatements(tx, lease, work);
    if (!rows.ok()) return rows;  // tx rolls back: nothing staged, a vote abort
    tx.exec0("PREPARE TRANSACTION " + tx.quote(gid));
    // PREPARE TRANSACTION answered: the transaction is durably prepared and
    // detached from this session. libpqxx still wants its commit() (it sends
    // a COMMIT that only draws the filtered warning); whatever happens to
    // that no longer changes the vote.
    prepared = true;
    tx.commit();
  } catch (...) {
    std::string state;
    Status e = StatusFromPgException(&lease, name() + " prepare " + gid, &state);
    // After a failed statement of the one-message form the session sits in
    // an aborted transaction block: never hand it to the next caller.
    if (one_message && lease) lease.MarkBroken();
    if (prepared) {
      lease.MarkBroken();  // libpqxx's idea of the session state is unreliable now
      return Status::OK();
    }
    if (guard.fired()) {
      if (lease) lease.MarkBroken();
      return Missed(name() + " prepare " + gid);  // no vote: the coordinator aborts it
    }
    return e;
  }
  return Status::OK();
}

Status PostgresParticipant::Commit(const std::string& gid) {
  return Finish(gid, true, false, Deadline());
}
Status PostgresParticipant::Abort(const std::string& gid) {
  return Finish(gid, false, false, Deadline());
}

Status PostgresParticipant::Finish(const std::string& gid, bool commit, bool maybe_sent,
                                   std::chrono::steady_clock::time_point deadline) {
  Status s = CheckGid(gid);
  if (!s.ok()) return s;
  const std::string verb = commit ? "COMMIT PREPARED " : "ROLLBACK PREPARED ";
  const std::string what = name() + (commit ? " commit " : " abort ") + gid;
  // Once a COMMIT/ROLLBACK PREPARED may have reached the server, its outcome
  // is unknown until pg_prepared_xacts tells: from then on every round looks
  // the gid up first.
  Status last;
  for (int round = 0; round < opts_.finish_attempts; ++round) {
    if (round > 0) {
      const auto wait = opts_.retry_backoff * round;
      if (Bounded() && std::chrono::steady_clock::now() + wait >= deadline) {
        last = Missed(what);
        break;
      }
      std::this_thread::sleep_for(wait);
    }
    PgPool::Lease lease;
    s = pool_->Acquire(&lease);
    if (!s.ok()) {
      if (!maybe_sent) return s;  // nothing happened: the caller retries later
      last = s;
      continue;
    }
    CallDeadlines::Guard guard = Watch(lease, deadline);  // after the lease: see call_deadline.h
    try {
      pqxx::nontransaction tx(lease.conn());
      if (maybe_sent) {
        pqxx::result r = tx.exec_params(
            "SELECT 1 FROM pg_prepared_xacts WHERE gid = $1 AND database = current_database()",
            gid);
        if (r.empty()) return Status::OK();  // our earlier attempt finished it
      }
      maybe_sent = true;
      // COMMIT PREPARED must run outside a transaction block (25001 inside
      // pqxx::work), and the gid cannot be a $1 parameter (42601): quote it.
      tx.exec0(verb + tx.quote(gid));
      return Status::OK();
    } catch (...) {
      std::string state;
      Status e = StatusFromPgException(&lease, what, &state);
      if (state == "42704") {
        // Unknown gid: never prepared, or resolved already. For an abort that
        // is success (presumed abort); a commit must say so.
        if (commit) return Status::NotFound(what + ": no such prepared transaction");
        return Status::OK();
      }
      if (state == "55000") {
        // "prepared transaction with identifier ... is busy": another session
        // is finishing it right now. Look again next round.
        last = Status::InDoubt(e.message());
        continue;
      }
      if (guard.fired()) {
        if (lease) lease.MarkBroken();
        // The statement may have run: the outcome is unknown, and the
        // deadline leaves no time for another round.
        last = Missed(what);
        break;
      }
      if (e.code() == Status::Code::kUnavailable || e.code() == Status::Code::kInDoubt) {
        last = e;
        continue;
      }
      if (e.code() == Status::Code::kTimeout) return e;  // cancelled: nothing finished
      // Permission denied, wrong database...: retrying will not help. Not
      // Aborted: for Commit/Abort that would read as a vote.
      return Status::IOError(e.message());
    }
  }
  if (last.code() == Status::Code::kTimeout) return Status::InDoubt(last.message());
  return Status::InDoubt(what + ": outcome unknown after " + std::to_string(opts_.finish_attempts) +
                         " attempts; last error: " + last.ToString());
}

Status PostgresParticipant::ListInDoubt(const std::string& gid_prefix,
                                        std::vector<InDoubtTxn>* out) {
  out->clear();
  PgPool::Lease lease;
  Status s = pool_->Acquire(&lease);
  if (!s.ok()) return s;
  try {
    pqxx::nontransaction tx(lease.conn());
    pqxx::result r = tx.exec_params(
        "SELECT gid, (extract(epoch FROM prepared) * 1000000)::bigint FROM pg_prepared_xacts "
        "WHERE gid LIKE $1 ESCAPE '!' AND database = current_database() ORDER BY prepared, gid",
        LikePrefix(gid_prefix));
    for (const auto& row : r) {
      InDoubtTxn t;
      t.gid = row[0].as<std::string>();
      t.prepared_at = std::chrono::system_clock::time_point(
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::microseconds(row[1].as<int64_t>())));
      out->push_back(std::move(t));
    }
  } catch (...) {
    out->clear();
    Status e = StatusFromPgException(&lease, name() + " list prepared transactions");
    return e.IsAborted() ? Status::IOError(e.message()) : e;
  }
  return Status::OK();
}

Status PostgresParticipant::CommitOnePhase(const Work& work) {
  Status s = CheckNoNul(work);
  if (!s.ok()) return s;
  const auto deadline = Deadline();
  PgPool::Lease lease;
  s = pool_->Acquire(&lease);
  if (!s.ok()) return s;
  CallDeadlines::Guard guard = Watch(lease, deadline);  // after the lease: see call_deadline.h
  bool one_message = false;
  try {
    std::vector<std::string> parts;
    one_message = OneMessage(lease, work, &parts);
    if (one_message) {
      pqxx::nontransaction tx(lease.conn());
      tx.exec(Joined(parts) + "COMMIT");
      return Status::OK();
    }
    pqxx::work tx(lease.conn());
    Status rows = RunStatements(tx, lease, work);
    if (!rows.ok()) return rows;  // tx rolls back: nothing committed
    tx.commit();                  // a connection lost here throws pqxx::in_doubt_error -> InDoubt
  } catch (...) {
    Status e = StatusFromPgException(&lease, name() + " one-phase commit");
    if (one_message && lease) lease.MarkBroken();  // maybe inside an aborted transaction block
    if (guard.fired()) {
      if (lease) lease.MarkBroken();
      // Shut down while the commit may have run: as a lost connection.
      return Status::InDoubt(Missed(name() + " one-phase commit").message());
    }
    // The connection died with the COMMIT maybe executed: the outcome is
    // unknown, exactly as pqxx::in_doubt_error reports it on the other path.
    if (one_message && e.code() == Status::Code::kUnavailable) {
      return Status::InDoubt(e.message());
    }
    return e;
  }
  return Status::OK();
}

}  // namespace dw
