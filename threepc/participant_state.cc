#include "threepc/participant_state.h"

#include <optional>
#include <vector>

#include <pqxx/pqxx>

namespace dw::threepc {
namespace {

const std::string kCreate = std::string("CREATE TABLE IF NOT EXISTS ") + kPgStateTable +
                            " (gid text PRIMARY KEY, state text NOT NULL CHECK (state IN "
                            "('precommitted', 'committed', 'aborted')), "
                            "updated_at timestamptz NOT NULL DEFAULT now())";

// Whether `gid` is prepared in this database (pg_prepared_xacts is
// cluster-wide; the database filter keeps other databases' gids out).
bool IsPrepared(pqxx::transaction_base& tx, const std::string& gid) {
  return !tx.exec_params(
                "SELECT 1 FROM pg_prepared_xacts WHERE gid = $1 AND database = "
                "current_database()",
                gid)
              .empty();
}

std::optional<std::string> MarkOf(pqxx::transaction_base& tx, const std::string& gid) {
  pqxx::result r =
      tx.exec_params(std::string("SELECT state FROM ") + kPgStateTable + " WHERE gid = $1", gid);
  if (r.empty()) return std::nullopt;
  return r[0][0].as<std::string>();
}

}  // namespace

Status EnsurePgStateSchema(const std::string& dsn) {
  try {
    pqxx::connection c(dsn);
    pqxx::nontransaction tx(c);
    tx.exec0(kCreate);
    return Status::OK();
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("create ") + kPgStateTable + ": " + e.what());
  }
}

Status PgParticipantState::Precommit(const std::string& gid) {
  PgPool::Lease lease;
  Status s = pool_->Acquire(&lease);
  if (!s.ok()) return s;
  try {
    pqxx::work tx(lease.conn());
    std::optional<std::string> mark = MarkOf(tx, gid);
    if (!IsPrepared(tx, gid)) {
      // A retry after the commit finds the gid resolved: the mark (or the
      // outcome row) tells which way.
      if (mark && (*mark == "precommitted" || *mark == "committed")) return Status::OK();
      if (mark && *mark == "aborted") {
        return Status::FailedPrecondition("transaction " + gid + " was aborted");
      }
      return Status::NotFound("transaction " + gid + " is not prepared");
    }
    // 'aborted' next to a prepared gid: an abort decided, its ROLLBACK
    // PREPARED still to come (the mark goes first, see the header).
    if (mark && *mark == "aborted") {
      return Status::FailedPrecondition("transaction " + gid + " was aborted");
    }
    if (mark) return Status::OK();  // precommitted before
    tx.exec_params(std::string("INSERT INTO ") + kPgStateTable +
                       " (gid, state) VALUES ($1, 'precommitted') ON CONFLICT (gid) DO NOTHING",
                   gid);
    tx.commit();  // durable (synchronous_commit) before PreCommit is acknowledged
    return Status::OK();
  } catch (...) {
    return StatusFromPgException(&lease, "precommit " + gid);
  }
}

Status PgParticipantState::RecordOutcome(const std::string& gid, bool committed) {
  PgPool::Lease lease;
  Status s = pool_->Acquire(&lease);
  if (!s.ok()) return s;
  try {
    pqxx::work tx(lease.conn());
    tx.exec_params(std::string("INSERT INTO ") + kPgStateTable +
                       " (gid, state) VALUES ($1, $2) ON CONFLICT (gid) DO UPDATE SET state = "
                       "EXCLUDED.state, updated_at = now()",
                   gid, committed ? "committed" : "aborted");
    tx.commit();
    return Status::OK();
  } catch (...) {
    return StatusFromPgException(&lease, "record the outcome of " + gid);
  }
}

Status PgParticipantState::Read(const std::string& gid, State* out) {
  PgPool::Lease lease;
  Status s = pool_->Acquire(&lease);
  if (!s.ok()) return s;
  try {
    // Read committed, two statements: the prepared set first, then the mark
    // (see the header for why this order).
    pqxx::nontransaction tx(lease.conn());
    const bool prepared = IsPrepared(tx, gid);
    std::optional<std::string> mark = MarkOf(tx, gid);
    if (prepared) {
      if (!mark) {
        *out = State::kUncertain;
      } else {
        *out = *mark == "aborted" ? State::kAborted : State::kPrecommitted;
      }
    } else if (!mark) {
      *out = State::kUnknown;
    } else if (*mark == "aborted") {
      *out = State::kAborted;
    } else {
      *out = State::kCommitted;  // 'committed', or 'precommitted' and resolved
    }
    return Status::OK();
  } catch (...) {
    return StatusFromPgException(&lease, "read the 3PC state of " + gid);
  }
}

Status BrokerParticipantState::Read(const std::string& gid, State* out) {
  std::vector<BrokerPrepared> listed;
  Status s = client_->ListPrepared(&listed);
  if (!s.ok()) return s;
  for (const auto& p : listed) {
    if (p.gid == gid) {
      *out = p.precommitted ? State::kPrecommitted : State::kUncertain;
      return Status::OK();
    }
  }
  // Not undecided: ask the broker how it ended. A precommit of a gid that is
  // not prepared records nothing; its answer is the outcome (see the header).
  s = client_->Precommit(gid);
  if (s.ok()) {
    *out = State::kCommitted;
  } else if (s.code() == Status::Code::kFailedPrecondition) {
    *out = State::kAborted;
  } else if (s.IsNotFound()) {
    *out = State::kUnknown;
  } else {
    return s;
  }
  return Status::OK();
}

}  // namespace dw::threepc
