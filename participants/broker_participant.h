// BrokerParticipant: the broker as a two-phase-commit participant, over its
// HTTP transaction API (BrokerClient):
//   Prepare  POST /transactions/{gid}/prepare with work.messages: the broker
//            stages them durably, invisible to readers. 200 -> OK (voted
//            commit); 409 -> Aborted with the broker's reason.
//   Commit   POST /transactions/{gid}/commit: the staged messages become
//            visible (idempotent); 404 -> NotFound.
//   Abort    POST /transactions/{gid}/abort: OK also for an unknown gid
//            (the broker records the abort, so a late prepare or commit of
//            that gid is refused).
//   The broker remembers outcomes: Commit of an aborted gid and Abort of a
//   committed one answer 412 -> FailedPrecondition (the other decision
//   already won; no retry changes that). Not Aborted: that is a vote, which
//   only a Prepare returns (participant.h).
//   ListInDoubt  GET /transactions?state=prepared, filtered by gid prefix.
// Transport failures map as documented in broker_client.h. Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "participants/broker_client.h"
#include "participants/participant.h"

namespace dw {

class BrokerParticipant : public Participant {
 public:
  // `client` may be shared with other users (relays, verify).
  explicit BrokerParticipant(std::shared_ptr<BrokerClient> client, std::string name = "broker");

  std::string name() const override { return name_; }
  Status Prepare(const std::string& gid, const Work& work) override;
  Status Commit(const std::string& gid) override;
  Status Abort(const std::string& gid) override;
  Status ListInDoubt(const std::string& gid_prefix, std::vector<InDoubtTxn>* out) override;
  // Every request carries the client's deadline (connect, write and read).
  bool CallsBounded() const override { return true; }
  // One HTTP request each: sent now, answered at Finish (BrokerClient::StartPrepare).
  bool CallsStartable() const override { return true; }
  std::unique_ptr<StartedCall> StartPrepare(const std::string& gid, const Work& work) override;
  std::unique_ptr<StartedCall> StartCommit(const std::string& gid) override;
  std::unique_ptr<StartedCall> StartAbort(const std::string& gid) override;
  // POST /transactions/prepare and /transactions/commit: several gids in one
  // request (BrokerClient::StartPrepareMany). A batch is split into several
  // such requests, all sent before any answer is read, so that none carries
  // more than kMaxManyTransactions gids or about kManyBodyBudget bytes: a
  // request over the broker's --max-body (1 MiB by default) is refused
  // whole, and would fail every transaction in it, where a transaction's
  // own prepare fails alone. A transaction over the budget by itself goes
  // in a request of its own.
  static constexpr size_t kManyBodyBudget = 256 * 1024;
  std::vector<std::unique_ptr<StartedCall>> StartPrepareMany(
      const std::vector<std::string>& gids, const std::vector<const Work*>& works) override;
  std::vector<std::unique_ptr<StartedCall>> StartCommitMany(
      const std::vector<std::string>& gids) override;

  BrokerClient& client() { return *client_; }

 private:
  const std::shared_ptr<BrokerClient> client_;
  const std::string name_;
};

}  // namespace dw
