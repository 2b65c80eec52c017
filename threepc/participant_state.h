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
//   prepared, row 'aborted'       -> aborted: the abort is decided, its
//                                    ROLLBACK PREPARED not done yet (the
//                                    agent writes 'aborted' BEFORE it rolls
//                                    back, so a precommitted gid never loses
//                                    its mark to a rollback)
//   not prepared, row 'aborted'   -> aborted
//   not prepared, row 'precommitted'
//                                 -> committed: the agent died between COMMIT
//                                    PREPARED and its 'committed' row. An
//                                    abort overwrites the mark before it
//                                    rolls back, so only a commit leaves
//                                    'precommitted' behind an unprepared gid.
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
//   not listed            -> the broker's answer to a precommit of the gid,
//                            which records nothing for a gid not prepared:
//                            OK -> committed, FailedPrecondition -> aborted
//                            (an abort it remembers), NotFound -> unknown
//                            (never prepared). The listing alone could not
//                            tell a commit from an abort, and a Postgres
//                            agent restarted precommitted needs exactly that:
//                            the broker side may have aborted without it.
//                            Read the state with no prepare of the gid on
//                            its way (the agent serialises calls per gid).
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
