// The participant agent's logic in-process: two threepc::Agent objects over
// in-memory participants (tests/support/fake_participant.h, and a 3PC state
// kept next to it), linked by a PeerLink that hands each request to the
// other agent's Handle, so every call goes through the real routes and
// JSON. The termination protocol's election, freezing, Skeen's rule at each
// crash point, a partition (a link cut both ways), and an agent made again
// over the same participant. The real processes: threepc_agent_test.cc.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/fake_participant.h"
#include "threepc/agent.h"
#include "threepc/agent_api.h"
#include "threepc/agent_client.h"

namespace dw::threepc {
namespace {

using dw::testing::FakeParticipant;

// The 3PC state of a FakeParticipant: its staged gids are uncertain, or
// precommitted once marked; its outcomes are its committed and aborted sets.
class FakeState : public ParticipantState {
 public:
  explicit FakeState(FakeParticipant* p) : p_(p) {}
  Status Precommit(const std::string& gid) override {
    std::lock_guard<std::mutex> l(mu_);
    if (p_->prepared().count(gid) || p_->committed().count(gid)) {
      marked_.insert(gid);
      return Status::OK();
    }
    if (aborted_.count(gid)) return Status::FailedPrecondition(gid + " aborted");
    return Status::NotFound(gid + " not prepared");
  }
  Status RecordOutcome(const std::string& gid, bool committed) override {
    std::lock_guard<std::mutex> l(mu_);
    if (!committed) aborted_.insert(gid);
    return Status::OK();
  }
  Status Read(const std::string& gid, State* out) override {
    std::lock_guard<std::mutex> l(mu_);
    if (p_->prepared().count(gid)) {
      *out = marked_.count(gid) ? State::kPrecommitted : State::kUncertain;
    } else if (p_->committed().count(gid)) {
      *out = State::kCommitted;
    } else if (aborted_.count(gid)) {
      *out = State::kAborted;
    } else {
      *out = State::kUnknown;
    }
    return Status::OK();
  }

 private:
  FakeParticipant* p_;
  std::mutex mu_;
  std::set<std::string> marked_, aborted_;  // guarded by mu_
};

// Requests to the other agents, straight into their Handle. A cut link
// answers Unavailable, as a refused connection does.
class LoopLink : public PeerLink {
 public:
  void Add(int id, Agent* a) { agents_[id] = a; }
  void Cut(bool cut) { cut_ = cut; }
  Status Freeze(int peer, const std::string& gid, State* out) override {
    std::string body;
    Status s = Call(peer, api::Route::kFreeze, gid, false, &body);
    if (!s.ok()) return s;
    auto st = ParseState(nlohmann::json::parse(body).value("state", ""));
    if (!st) return Status::IOError("no state in " + body);
    *out = *st;
    return Status::OK();
  }
  Status Decide(int peer, const std::string& gid, Decision d) override {
    return Call(peer, d == Decision::kCommit ? api::Route::kDoCommit : api::Route::kAbort, gid,
                true, nullptr);
  }
  Status AskToTerminate(int peer, const std::string& gid) override {
    if (cut_) return Status::Unavailable("cut");
    std::string body;
    (void)Call(peer, api::Route::kTerminate, gid, false, &body);  // any answer: it has the gid
    return Status::OK();
  }

 private:
  Status Call(int peer, api::Route r, const std::string& gid, bool termination, std::string* body) {
    if (cut_) return Status::Unavailable("cut");
    AgentReply rep =
        agents_.at(peer)->Handle(api::MethodOf(r), api::PathOf(r, gid, termination), "");
    if (body) *body = rep.body;
    return api::StatusOfReply(rep.status, rep.body, "agent " + std::to_string(peer));
  }
  std::map<int, Agent*> agents_;
  bool cut_ = false;
};

// A Postgres-like agent 1 and a broker-like agent 2, each the other's peer.
class Agents : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int id : {1, 2}) {
      parts_[id] = std::make_unique<FakeParticipant>("fake" + std::to_string(id));
      states_[id] = std::make_unique<FakeState>(parts_[id].get());
      links_[id] = std::make_unique<LoopLink>();
    }
    for (int id : {1, 2}) Make(id);
  }
  // (Re)makes agent `id` over the same participant: an agent started again.
  void Make(int id) {
    AgentOptions o;
    o.id = id;
    o.participant_kind = id == 1 ? "postgres" : "broker";
    o.peers = {id == 1 ? 2 : 1};
    o.timeout = std::chrono::milliseconds(1);
    agents_[id] = std::make_unique<Agent>(parts_[id].get(), states_[id].get(), links_[id].get(), o);
    for (auto& l : links_) l.second->Add(id, agents_[id].get());
  }
  int Post(int id, api::Route r, const std::string& gid, const std::string& body = "") {
    return agents_[id]->Handle("POST", api::PathOf(r, gid), body).status;
  }
  std::string StateAt(int id, const std::string& gid) {
    AgentReply r = agents_[id]->Handle("GET", api::PathOf(api::Route::kState, gid), "");
    return nlohmann::json::parse(r.body).value("state", "?");
  }
  // Lets the timeout pass, then runs both agents' timers.
  void Silence() {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (int id : {2, 1}) agents_[id]->Tick();
  }
  void CanCommitBoth(const std::string& gid) {
    Work w;
    w.statements.push_back({"INSERT", {"1", std::nullopt}});
    w.messages.push_back({"orders", "order-1", "1", "{}"});
    for (int id : {1, 2}) ASSERT_EQ(Post(id, api::Route::kCanCommit, gid, api::WorkToJson(w)), 200);
  }

  std::map<int, std::unique_ptr<FakeParticipant>> parts_;
  std::map<int, std::unique_ptr<FakeState>> states_;
  std::map<int, std::unique_ptr<LoopLink>> links_;
  std::map<int, std::unique_ptr<Agent>> agents_;
};

TEST(AgentApi, RoutesAndWorkRoundTrip) {
  using api::Route;
  for (Route r : {Route::kState, Route::kCanCommit, Route::kPrecommit, Route::kDoCommit,
                  Route::kAbort, Route::kFreeze, Route::kTerminate}) {
    api::Target t = api::ParseTarget(api::PathOf(r, "dw3:c1:7"));
    EXPECT_EQ(t.route, r);
    EXPECT_EQ(t.gid, "dw3:c1:7");
    EXPECT_FALSE(t.termination);
  }
  EXPECT_TRUE(api::ParseTarget(api::PathOf(Route::kDoCommit, "g", true)).termination);
  EXPECT_EQ(api::ParseTarget("/3pc/g/precommit?from=termination").route, Route::kNone);
  EXPECT_EQ(api::ParseTarget("/3pc/a b/abort").route, Route::kNone);
  EXPECT_EQ(api::ParseTarget("/3pc/g/bogus").route, Route::kNone);
  EXPECT_EQ(api::ParseTarget("/healthz").route, Route::kHealthz);

  Work w;
  w.statements.push_back({"INSERT INTO t VALUES ($1, $2)", {"x\"y", std::nullopt}});
  w.messages.push_back({"orders", "order-1", "1", "payload \xc3\xa9"});
  Work back;
  ASSERT_TRUE(api::WorkFromJson(api::WorkToJson(w), &back).ok());
  ASSERT_EQ(back.statements.size(), 1u);
  EXPECT_EQ(back.statements[0].params, w.statements[0].params);
  EXPECT_EQ(back.messages[0].payload, w.messages[0].payload);
  EXPECT_FALSE(api::WorkFromJson("[1]", &back).ok());

  std::map<int, std::string> agents;
  ASSERT_TRUE(ParseAgentList("1=127.0.0.1:5,2=http://h:6", "--agents", &agents).ok());
  EXPECT_EQ(agents[1], "http://127.0.0.1:5");
  EXPECT_EQ(agents[2], "http://h:6");
  EXPECT_FALSE(ParseAgentList("0=h:1", "--agents", &agents).ok());
  EXPECT_FALSE(ParseAgentList("1=h:1,1=h:2", "--agents", &agents).ok());
}

TEST_F(Agents, SilentAfterEveryPrecommitTheyCommit) {
  CanCommitBoth("dw3:t:1");
  for (int id : {1, 2}) ASSERT_EQ(Post(id, api::Route::kPrecommit, "dw3:t:1"), 200);
  EXPECT_EQ(agents_[1]->undecided(), 1u);
  Silence();
  EXPECT_EQ(parts_[1]->committed().count("dw3:t:1"), 1u);
  EXPECT_EQ(parts_[2]->committed().count("dw3:t:1"), 1u);
  EXPECT_EQ(agents_[1]->undecided() + agents_[2]->undecided(), 0u);
  // The old coordinator's late DoCommit is refused: the gid was terminated.
  EXPECT_EQ(Post(2, api::Route::kDoCommit, "dw3:t:1"), 503);
}

TEST_F(Agents, SilentAfterCanCommitTheyAbort) {
  CanCommitBoth("dw3:t:2");
  Silence();
  EXPECT_EQ(StateAt(1, "dw3:t:2"), "aborted");
  EXPECT_EQ(parts_[2]->aborted().count("dw3:t:2"), 1u);
  EXPECT_TRUE(parts_[1]->committed().empty());
  EXPECT_EQ(Post(1, api::Route::kPrecommit, "dw3:t:2"), 503)
      << "frozen: the coordinator is refused";
}

TEST_F(Agents, OnePrecommitIsEnoughToCommitEverywhere) {
  CanCommitBoth("dw3:t:3");
  ASSERT_EQ(Post(1, api::Route::kPrecommit, "dw3:t:3"), 200);
  Silence();
  EXPECT_EQ(parts_[1]->committed().count("dw3:t:3"), 1u);
  EXPECT_EQ(parts_[2]->committed().count("dw3:t:3"), 1u);
}

TEST_F(Agents, APartitionSplitsTheDecision) {
  CanCommitBoth("dw3:t:4");
  ASSERT_EQ(Post(1, api::Route::kPrecommit, "dw3:t:4"), 200);
  for (auto& l : links_) l.second->Cut(true);
  Silence();
  EXPECT_EQ(parts_[1]->committed().count("dw3:t:4"), 1u) << "the precommitted side commits";
  EXPECT_EQ(parts_[2]->aborted().count("dw3:t:4"), 1u) << "the uncertain side aborts";
}

TEST_F(Agents, AnAgentMadeAgainTakesItsUndecidedBack) {
  CanCommitBoth("dw3:t:5");
  for (int id : {1, 2}) ASSERT_EQ(Post(id, api::Route::kPrecommit, "dw3:t:5"), 200);
  Make(1);  // the old agent 1 is gone; its participant still holds g5
  EXPECT_EQ(agents_[1]->undecided(), 0u);
  ASSERT_TRUE(agents_[1]->Adopt().ok());
  EXPECT_EQ(agents_[1]->undecided(), 1u);
  EXPECT_EQ(StateAt(1, "dw3:t:5"), "precommitted");
  Silence();
  EXPECT_EQ(parts_[1]->committed().count("dw3:t:5"), 1u);
  EXPECT_EQ(parts_[2]->committed().count("dw3:t:5"), 1u);
}

// Agent 1 dies precommitted after a coordinator that reached it alone; agent
// 2, uncertain and unable to reach it, terminates alone: abort. Started
// again, agent 1 must not commit on its own mark: it learns the abort from
// agent 2 and rolls its precommitted branch back.
TEST_F(Agents, ARestartedPrecommittedAgentFollowsTheAbortTakenWithoutIt) {
  CanCommitBoth("dw3:t:7");
  ASSERT_EQ(Post(1, api::Route::kPrecommit, "dw3:t:7"), 200);
  links_[2]->Cut(true);  // agent 1 is dead: nothing reaches it
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  agents_[2]->Tick();
  ASSERT_EQ(parts_[2]->aborted().count("dw3:t:7"), 1u) << "the uncertain survivor aborts";
  links_[2]->Cut(false);
  Make(1);
  ASSERT_TRUE(agents_[1]->Adopt().ok());
  EXPECT_EQ(StateAt(1, "dw3:t:7"), "precommitted");
  Silence();
  EXPECT_EQ(parts_[1]->aborted().count("dw3:t:7"), 1u) << "it follows the abort";
  EXPECT_TRUE(parts_[1]->committed().empty());
  EXPECT_TRUE(parts_[1]->prepared().empty());
  EXPECT_EQ(agents_[1]->undecided() + agents_[2]->undecided(), 0u);
}

// Started again precommitted and unable to reach its peer, an agent waits
// (its peer may have aborted without it); once it reaches the peer, still
// uncertain, both commit.
TEST_F(Agents, ARestartedPrecommittedAgentWaitsForItsPeer) {
  CanCommitBoth("dw3:t:8");
  ASSERT_EQ(Post(1, api::Route::kPrecommit, "dw3:t:8"), 200);
  Make(1);
  ASSERT_TRUE(agents_[1]->Adopt().ok());
  links_[1]->Cut(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  agents_[1]->Tick();
  EXPECT_EQ(agents_[1]->undecided(), 1u) << "not decided on its own mark";
  EXPECT_TRUE(parts_[1]->committed().empty());
  links_[1]->Cut(false);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  agents_[1]->Tick();
  EXPECT_EQ(parts_[1]->committed().count("dw3:t:8"), 1u);
  EXPECT_EQ(parts_[2]->committed().count("dw3:t:8"), 1u);
}

TEST_F(Agents, TheCoordinatorsAbortIsRefusedOncePrecommitted) {
  CanCommitBoth("dw3:t:6");
  ASSERT_EQ(Post(1, api::Route::kPrecommit, "dw3:t:6"), 200);
  EXPECT_EQ(Post(1, api::Route::kAbort, "dw3:t:6"), 412);
  EXPECT_EQ(Post(2, api::Route::kAbort, "dw3:t:6"), 200);
  EXPECT_EQ(agents_[1]->Handle("GET", "/nowhere", "").status, 404);
  EXPECT_EQ(agents_[1]->Handle("GET", api::PathOf(api::Route::kAbort, "dw3:t:6"), "").status, 405);
}

}  // namespace
}  // namespace dw::threepc
