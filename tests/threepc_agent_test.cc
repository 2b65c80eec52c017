// Three-phase commit with real processes: `dualwrite 3pc run` as the
// coordinator, `dualwrite 3pc agent` as the participants' agents, a real
// Postgres (a scratch database of the shared cluster) and a broker process
// of the test's own. What 3PC promises without a partition: a clean load
// leaves nothing prepared, and a coordinator that dies is not waited for:
// the agents decide by themselves (commit after every PreCommit, abort
// before any), with no recovery command run. An agent SIGKILLed and started
// again picks its undecided transactions up from its participant's durable
// state. And what 3PC gives up: under a partition the two sides decide
// differently, and verify finds the lost atomicity.
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/crash_exit.h"
#include "common/process.h"
#include "env/http_get.h"
#include "env/threepc_agent.h"
#include "participants/broker_client.h"
#include "proxy/proxy.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"
#include "tests/support/threepc_agents_fixture.h"
#include "workload/orders.h"

namespace dw::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ThreePcAgents : public ThreePcAgentsFixture {
 protected:
  ThreePcAgents() : ThreePcAgentsFixture("dw3") {}

  // The agents can no longer reach each other: every proxy refuses.
  void Partition() {
    for (auto& p : proxies_) {
      proxy::ProxyFaults f;
      f.refuse = true;
      Status s = p.second->SetFaults(f);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  }
  std::string AgentList() const { return "1=" + agents_.at(1).url() + ",2=" + agents_.at(2).url(); }

  nlohmann::json Verify() {
    CliRun v = Dw({"verify", "--json"});
    auto j = nlohmann::json::parse(v.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << v.out << v.err;
    return j;
  }

  // Undecided transactions at an agent (-1: it did not answer).
  int64_t Undecided(int id) {
    env::HttpReply r;
    if (!env::HttpGet(agents_.at(id).port(), "/healthz", milliseconds(2000), &r).ok()) return -1;
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    return j.is_object() ? j.value("undecided", int64_t{-1}) : -1;
  }
  // Waits until no agent holds an undecided transaction: the termination
  // protocol has finished them (a generous bound for a loaded machine).
  void WaitUntilDecided() {
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Undecided(1) == 0 && Undecided(2) == 0) return;
      std::this_thread::sleep_for(milliseconds(50));
    }
    ADD_FAILURE() << "undecided transactions left: agent 1 " << Undecided(1) << ", agent 2 "
                  << Undecided(2);
  }

  // The order id of the transaction a crash point stopped, from its line.
  static int64_t CrashedOrder(const std::string& err) {
    std::smatch m;
    EXPECT_TRUE(std::regex_search(err, m, std::regex("reached in dw3:[A-Za-z0-9_-]+:([0-9]+)")))
        << err;
    return m.empty() ? -1 : std::stoll(m[1].str());
  }

  int64_t Query(const std::string& sql, const std::string& param) {
    pqxx::connection c(dsn_);
    pqxx::nontransaction tx(c);
    return tx.exec_params(sql, param)[0][0].as<int64_t>();
  }
  bool HasRow(int64_t order) {
    return Query("SELECT count(*) FROM orders WHERE id = $1::bigint", std::to_string(order)) == 1;
  }
  bool HasMessage(int64_t order) {
    std::vector<BrokerMessage> msgs;
    uint64_t next = 0;
    EXPECT_TRUE(client_->Read(workload::kOrdersTopic, 0, 100000, &msgs, &next).ok());
    for (const auto& m : msgs) {
      if (m.id == workload::MessageIdFor(order)) return true;
    }
    return false;
  }
  int64_t PreparedAtPostgres() {
    return Query(
        "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database() AND "
        "gid LIKE $1",
        "dw3:%");
  }
  size_t PreparedAtBroker() {  // precommitted ones included
    std::vector<BrokerPrepared> listed;
    EXPECT_TRUE(client_->ListPrepared(&listed).ok());
    return listed.size();
  }
  // Prepared gids are one namespace per cluster, and every scratch database
  // numbers its orders from 1: a coordinator id per test keeps them apart.
  static std::string Cid() { return TestDatabaseName("dw3"); }
  std::string Gid(int64_t order) { return "dw3:" + Cid() + ":" + std::to_string(order); }
  std::string AgentLog(int id) { return ReadFileBytes(agents_.at(id).log_path()); }

  // The coordinator dies at `step` in its first transaction; returns that
  // transaction's order id.
  int64_t RunToCrash(const std::string& step, int concurrency) {
    CliRun r = Dw({"3pc", "run", "-n", "50", "-c", std::to_string(concurrency), "--agents",
                   AgentList(), "--coordinator-id", Cid(), "--crash-at", step});
    EXPECT_EQ(r.exit_code, kCrashExitCode) << r.out << r.err;
    return CrashedOrder(r.err);
  }

  void ExpectCleanAndNothingPrepared() {
    nlohmann::json v = Verify();
    EXPECT_TRUE(v.value("ok", false)) << v;
    EXPECT_EQ(PreparedAtPostgres(), 0);
    EXPECT_EQ(PreparedAtBroker(), 0u);
  }
};

// The embedded default: `3pc run` starts both agents, places the orders,
// stops the agents. Every order in both places once, nothing left prepared
// or precommitted.
TEST_F(ThreePcAgents, AThousandOrdersCommitCleanly) {
  // A long agent timeout: on a loaded machine no live transaction is
  // mistaken for an orphan (this test is about the protocol without faults).
  CliRun r = Dw({"--state-dir", TempDir("3pc-run"), "3pc", "run", "-n", "1000", "-c", "16",
                 "--coordinator-id", Cid(), "--agent-timeout", "10000", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["committed"], 1000) << r.err;
  EXPECT_EQ(j["failed"], 0);
  EXPECT_EQ(j["aborted"], 0);
  EXPECT_EQ(j["undecided_at_exit"], 0);
  EXPECT_EQ(j["agents_started"], true);
  nlohmann::json v = Verify();
  EXPECT_TRUE(v.value("ok", false)) << v;
  EXPECT_EQ(v["rows"], 1000);
  EXPECT_EQ(v["messages"], 1000);
  EXPECT_EQ(PreparedAtPostgres(), 0);
  EXPECT_EQ(PreparedAtBroker(), 0u);
}

// Killed once every agent acknowledged PreCommit: the agents commit by
// themselves after their timeout, the order and its message both exist.
TEST_F(ThreePcAgents, CoordinatorDeadAfterPrecommitAllTheAgentsCommit) {
  StartAgents(1000);
  const int64_t order = RunToCrash("after-precommit-all", 4);
  WaitUntilDecided();
  EXPECT_TRUE(HasRow(order));
  EXPECT_TRUE(HasMessage(order));
  ExpectCleanAndNothingPrepared();
  const std::string gid = Gid(order);
  EXPECT_NE((AgentLog(1) + AgentLog(2)).find("terminated " + gid), std::string::npos)
      << AgentLog(1) << AgentLog(2);
}

// Killed after CanCommit, before any PreCommit: the agents abort.
TEST_F(ThreePcAgents, CoordinatorDeadAfterCanCommitTheAgentsAbort) {
  StartAgents(1000);
  const int64_t order = RunToCrash("after-cancommit", 4);
  WaitUntilDecided();
  EXPECT_FALSE(HasRow(order));
  EXPECT_FALSE(HasMessage(order));
  ExpectCleanAndNothingPrepared();
}

// The Postgres agent is SIGKILLed right after the coordinator died with its
// transaction precommitted everywhere: the prepared transaction and its
// 'precommitted' mark wait in Postgres. Started again, the agent takes the
// transaction back and commits it.
TEST_F(ThreePcAgents, AnAgentKilledAndRestartedResumesFromItsDurableState) {
  StartAgents(3000);
  const int64_t order = RunToCrash("after-precommit-all", 1);
  ASSERT_TRUE(agents_.at(1).Kill().ok());  // long before its timeout: still precommitted
  const std::string gid = Gid(order);
  EXPECT_EQ(Query("SELECT count(*) FROM pg_prepared_xacts WHERE gid = $1", gid), 1);
  EXPECT_EQ(
      Query("SELECT count(*) FROM dw_3pc_state WHERE gid = $1 AND state = 'precommitted'", gid), 1);
  Status s = agents_.at(1).Start();
  ASSERT_TRUE(s.ok()) << s.ToString();
  WaitUntilDecided();
  EXPECT_TRUE(HasRow(order));
  EXPECT_TRUE(HasMessage(order));
  ExpectCleanAndNothingPrepared();
}

// Two failures at once: the coordinator dies with PreCommit at the Postgres
// agent only, and the Postgres agent is SIGKILLed right after. The broker
// agent, uncertain and alone, terminates: abort (nobody can have committed
// without its PreCommit). The Postgres agent, started again with the same
// arguments, finds its transaction prepared and precommitted; committing on
// that mark would keep the row without its message. It reaches the broker
// agent, learns that the broker aborted, and rolls its branch back: neither
// the row nor the message, nothing prepared, no recovery command run.
TEST_F(ThreePcAgents, AnAgentKilledPrecommittedFollowsTheAbortItsPeerTookAlone) {
  StartAgents(1000);
  const int64_t order = RunToCrash("after-precommit-some", 1);
  ASSERT_TRUE(agents_.at(1).Kill().ok());  // long before its timeout: still precommitted
  const std::string gid = Gid(order);
  EXPECT_EQ(
      Query("SELECT count(*) FROM dw_3pc_state WHERE gid = $1 AND state = 'precommitted'", gid), 1);
  // The broker agent terminates without its peer (bounded: a loaded machine).
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (PreparedAtBroker() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_EQ(PreparedAtBroker(), 0u) << AgentLog(2);
  EXPECT_NE(AgentLog(2).find("terminated " + gid + ": 2=uncertain 1=unreachable -> abort"),
            std::string::npos)
      << AgentLog(2);
  EXPECT_EQ(Query("SELECT count(*) FROM pg_prepared_xacts WHERE gid = $1", gid), 1)
      << "the Postgres branch waits for its agent";
  Status s = agents_.at(1).Start();
  ASSERT_TRUE(s.ok()) << s.ToString();
  WaitUntilDecided();
  EXPECT_FALSE(HasRow(order)) << AgentLog(1);
  EXPECT_FALSE(HasMessage(order));
  ExpectCleanAndNothingPrepared();
  EXPECT_NE(AgentLog(1).find("terminated " + gid + ": 1=precommitted 2=aborted -> abort"),
            std::string::npos)
      << AgentLog(1);
}

// The partition: PreCommit reached the Postgres agent only, then the
// coordinator was cut off (it dies there), and the agents cannot reach each
// other (the fault proxies between them refuse every connection from the
// start: agents speak to each other only to terminate). Each side
// terminates with what it reaches, by Skeen's rule: the precommitted
// Postgres side commits, the uncertain broker side aborts. The order row
// exists without its message, and verify says so.
TEST_F(ThreePcAgents, APartitionAfterAPartialPrecommitLosesAtomicity) {
  StartAgents(1000, true);
  Partition();
  const int64_t order = RunToCrash("after-precommit-some", 1);
  WaitUntilDecided();
  EXPECT_TRUE(HasRow(order)) << "the precommitted side committed";
  EXPECT_FALSE(HasMessage(order)) << "the uncertain side aborted";
  nlohmann::json v = Verify();
  EXPECT_FALSE(v.value("ok", true)) << v;
  EXPECT_EQ(v["missing"], nlohmann::json::array({order})) << v;
  EXPECT_EQ(v["orphans"], nlohmann::json::array()) << v;
  EXPECT_EQ(PreparedAtPostgres(), 0) << "and nothing blocks: both sides finished";
  EXPECT_EQ(PreparedAtBroker(), 0u);
  const std::string gid = Gid(order);
  EXPECT_NE(AgentLog(1).find("terminated " + gid + ": 1=precommitted 2=unreachable -> commit"),
            std::string::npos)
      << AgentLog(1);
  EXPECT_NE(AgentLog(2).find("terminated " + gid + ": 2=uncertain 1=unreachable -> abort"),
            std::string::npos)
      << AgentLog(2);
}

}  // namespace
}  // namespace dw::testing
