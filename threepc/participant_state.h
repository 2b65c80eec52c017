// ParticipantState: where a three-phase-commit participant's state lives,
// durably, at the participant itself (threepc/state.h names the states).
// A participant agent reads it to answer the termination protocol and
// writes it on PreCommit and after the outcome; because it is at the
// participant and not in the agent's memory, an agent SIGKILLed and started
// again answers exactly as before.
//
// Postgres (PgParticipantState). The work itself is a prepared transaction
// (PREPARE TRANSACTION: "uncertain"). The 3PC marks are rows of
// dw_3pc_state(gid, state), each committed in its own ordinary transaction
// NEXT TO the prepared one (a prepared transaction cannot be changed, and
// the mark must be durable before PreCommit is acknowledged):
//   prepared, no row              -> uncertain
//   prepared, row 'precommitted'  -> precommitted
//   not prepared, row 'committed' -> committed   (written after COMMIT PREPARED)
//   not prepared, row 'aborted'   -> aborted     (written after ROLLBACK PREPARED)
//   not prepared, row 'precommitted'
//                                 -> committed: the agent died between COMMIT
//                                    PREPARED and its 'committed' row. A
//                                    precommitted participant is resolved
//                                    only by commit: every decision that
//                                    reaches it sees its own "precommitted"
//                                    and Skeen's rule then says commit.
//   not prepared, no row          -> unknown (never prepared, or rolled back
//                                    before any mark)
// Reading takes pg_prepared_xacts first, then the row: a resolution between
// the two reads shows as "not prepared" with the newer row, never as a
// prepared gid with a stale row.
//
// Broker (BrokerParticipantState). The broker keeps the mark itself:
// POST /transactions/{gid}/precommit writes a durable record in its log.
//   listed prepared       -> uncertain
//   listed precommitted   -> precommitted
//   not listed            -> unknown: the broker forgets nothing, but its
//                            listing shows only undecided gids; the agent
//                            that resolved it knows the outcome, and a
//                            recovery coordinator that reaches the Postgres
//                            side learns it there.
// Outcomes need no mark: the broker's commit/abort record is the outcome.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "participants/broker_client.h"
#include "participants/pg_pool.h"
#include "threepc/state.h"

namespace dw::threepc {

class ParticipantState {
 public:
  virtual ~ParticipantState() = default;

  // Marks a prepared gid precommitted, durably, before returning OK.
  // Idempotent (also once committed). NotFound: nothing prepared under that
  // gid; FailedPrecondition: it was aborted.
  virtual Status Precommit(const std::string& gid) = 0;
  // Notes the outcome once the participant applied it (COMMIT PREPARED /
  // ROLLBACK PREPARED done). Idempotent.
  virtual Status RecordOutcome(const std::string& gid, bool committed) = 0;
  // The gid's state, from the participant's durable data only.
  virtual Status Read(const std::string& gid, State* out) = 0;
};

inline constexpr char kPgStateTable[] = "dw_3pc_state";

// Creates dw_3pc_state when missing. Idempotent.
Status EnsurePgStateSchema(const std::string& dsn);

class PgParticipantState : public ParticipantState {
 public:
  explicit PgParticipantState(std::shared_ptr<PgPool> pool) : pool_(std::move(pool)) {}
  Status Precommit(const std::string& gid) override;
  Status RecordOutcome(const std::string& gid, bool committed) override;
  Status Read(const std::string& gid, State* out) override;

 private:
  std::shared_ptr<PgPool> pool_;
};

class BrokerParticipantState : public ParticipantState {
 public:
  explicit BrokerParticipantState(std::shared_ptr<BrokerClient> client)
      : client_(std::move(client)) {}
  Status Precommit(const std::string& gid) override { return client_->Precommit(gid); }
  Status RecordOutcome(const std::string&, bool) override { return Status::OK(); }
  Status Read(const std::string& gid, State* out) override;

 private:
  std::shared_ptr<BrokerClient> client_;
};

}  // namespace dw::threepc
