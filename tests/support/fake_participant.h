// FakeParticipant: a Participant (participants/participant.h) in memory,
// for in-process tests of the coordinator and of recovery.
//
// Unscripted, it behaves as the contract says a participant does: Prepare
// stages the gid (OK), Commit commits a staged gid (OK, also when committed
// before) and answers NotFound for a gid it never staged, Abort drops a
// staged gid (OK whatever it knew), ListInDoubt lists the staged gids with
// the prefix. Like Postgres, it does not remember aborted gids: a prepare
// that arrives after the abort stages the gid again (recovery must abort it).
//
// A test scripts faults per method:
//   Answer(m, status, n)  the next n calls of m answer `status` instead of
//                         doing anything (a vote abort, a NotFound, an
//                         Unavailable); OK scripted this way does the call.
//   Delay(m, d)           every call of m first waits d (a slow or
//                         black-holed participant: past the coordinator's
//                         call timeout it counts as no answer, and the call
//                         still lands later).
// calls(m) counts the calls of each method, scripted ones included.
// Thread-safe: the coordinator calls it from several threads at once.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "participants/participant.h"

namespace dw::testing {

class FakeParticipant : public Participant {
 public:
  enum class Method { kPrepare, kCommit, kAbort, kList };

  explicit FakeParticipant(std::string name = "fake") : name_(std::move(name)) {}

  void Answer(Method m, Status status, int times = 1);
  void Delay(Method m, std::chrono::milliseconds d);
  // What CallsBounded answers (false by default, as for Postgres).
  void set_bounded(bool b) { bounded_ = b; }
  // What CallsStartable answers (false by default). When true, StartPrepare
  // and the like return a call whose Finish makes the blocking call, so
  // scripted answers and delays apply to it.
  void set_startable(bool b) { startable_ = b; }
  int started() const;  // calls begun through Start* (a branch of a *Many request included)
  // Whether StartPrepareMany / StartCommitMany take several branches (false
  // by default: not supported). Each branch is then a started call as
  // above; many_requests() counts the requests.
  void set_takes_many(bool b) { takes_many_ = b; }
  int many_requests() const;
  // Stages `gid` as if an earlier process had prepared it.
  void AddPrepared(const std::string& gid);

  int calls(Method m) const;
  std::set<std::string> prepared() const;
  std::set<std::string> committed() const;
  std::set<std::string> aborted() const;  // gids an Abort found staged

  std::string name() const override { return name_; }
  Status Prepare(const std::string& gid, const Work& work) override;
  Status Commit(const std::string& gid) override;
  Status Abort(const std::string& gid) override;
  bool CallsBounded() const override { return bounded_; }
  bool CallsStartable() const override { return startable_; }
  std::unique_ptr<StartedCall> StartPrepare(const std::string& gid, const Work& work) override;
  std::unique_ptr<StartedCall> StartCommit(const std::string& gid) override;
  std::unique_ptr<StartedCall> StartAbort(const std::string& gid) override;
  std::vector<std::unique_ptr<StartedCall>> StartPrepareMany(
      const std::vector<std::string>& gids, const std::vector<const Work*>& works) override;
  std::vector<std::unique_ptr<StartedCall>> StartCommitMany(
      const std::vector<std::string>& gids) override;
  Status ListInDoubt(const std::string& gid_prefix, std::vector<InDoubtTxn>* out) override;

 private:
  // Counts the call, waits its delay, and returns true with *scripted set
  // when a scripted answer replaces it.
  bool Enter(Method m, Status* scripted);

  const std::string name_;
  bool bounded_ = false;
  bool startable_ = false;
  bool takes_many_ = false;
  std::unique_ptr<StartedCall> Started(std::function<Status()> call);
  mutable std::mutex mu_;
  std::map<Method, std::deque<Status>> answers_;                           // guarded by mu_
  std::map<Method, std::chrono::milliseconds> delays_;                     // guarded by mu_
  std::map<Method, int> calls_;                                            // guarded by mu_
  int started_ = 0;                                                        // guarded by mu_
  int many_requests_ = 0;                                                  // guarded by mu_
  std::map<std::string, std::chrono::system_clock::time_point> prepared_;  // guarded by mu_
  std::set<std::string> committed_;                                        // guarded by mu_
  std::set<std::string> aborted_;                                          // guarded by mu_
};

}  // namespace dw::testing
