// Several events per order under three-phase commit (`3pc run
// --events-per-order E`): event n >= 2 is its own 3PC transaction through
// the same agents, its UPDATE of the order's status and version with its
// event. Real processes: the binary's coordinator and agents, a scratch
// database of the shared cluster, a broker process of the test's own. What
// must hold: every order at version E with its last status, each event at
// the broker once and in version order per key, nothing left prepared; and
// an event whose order is not at version n-1 is voted down by the Postgres
// agent (the UPDATE's expected row count travels in the agent's CanCommit),
// so its event is never published.
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/process.h"
#include "env/server_process.h"
#include "env/threepc_agent.h"
#include "participants/broker_client.h"
#include "tests/support/cli_run.h"
#include "tests/support/order_events_expect.h"
#include "tests/support/test_support.h"
#include "tests/support/threepc_agents_fixture.h"
#include "threepc/agent_client.h"
#include "threepc/coordinator.h"
#include "workload/order_events.h"
#include "workload/orders.h"
#include "workload/verify.h"

namespace dw::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ThreePcOrderEvents : public ThreePcAgentsFixture {
 protected:
  ThreePcOrderEvents() : ThreePcAgentsFixture("dw3ev") {}

  int64_t Count(const std::string& sql) {
    pqxx::connection c(dsn_);
    pqxx::nontransaction tx(c);
    return tx.exec1(sql)[0].as<int64_t>();
  }

  std::vector<BrokerMessage> Topic() {
    std::vector<BrokerMessage> all;
    EXPECT_TRUE(ReadWholeTopic(*client_, workload::kOrdersTopic, &all).ok());
    return all;
  }

  void ExpectNothingPrepared() {
    EXPECT_EQ(Count("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()"),
              0);
    std::vector<BrokerPrepared> listed;
    EXPECT_TRUE(client_->ListPrepared(&listed).ok());
    EXPECT_TRUE(listed.empty());
  }

  // Both agents, with a timeout no loaded machine reaches while a
  // transaction is alive (no termination of a live transaction).
  void StartAgents() { ThreePcAgentsFixture::StartAgents(10000); }
};

TEST_F(ThreePcOrderEvents, FiftyOrdersOfThreeEventsEachCommitInOrder) {
  constexpr int kOrders = 50, kEvents = 3;
  CliRun r = Dw({"--state-dir", TempDir("3pc-ev-run"), "3pc", "run", "-n", std::to_string(kOrders),
                 "-c", "4", "--events-per-order", std::to_string(kEvents), "--coordinator-id",
                 TestDatabaseName("dw3ev"), "--agent-timeout", "10000", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["committed"], kOrders) << r.err;
  EXPECT_EQ(j["failed"], 0);
  EXPECT_EQ(j["aborted"], 0);
  EXPECT_EQ(j["events_per_order"], kEvents);
  EXPECT_EQ(j["later_events_failed"], 0);
  EXPECT_EQ(j["undecided_at_exit"], 0);

  EXPECT_EQ(Count("SELECT count(*) FROM orders"), kOrders);
  EXPECT_EQ(Count("SELECT count(*) FROM orders WHERE version = 3 AND status = '" +
                  workload::OrderEventStatus(kEvents) + "'"),
            kOrders);
  std::set<int64_t> orders;
  {
    pqxx::connection c(dsn_);
    pqxx::nontransaction tx(c);
    for (const auto& row : tx.exec("SELECT id FROM orders")) orders.insert(row[0].as<int64_t>());
  }
  EXPECT_EQ(OrderEventsProblems(Topic(), orders, kEvents), "");

  workload::VerifyOptions vo;
  vo.dsn = dsn_;
  vo.broker_url = broker_->url();
  workload::VerifyReport v;
  ASSERT_TRUE(workload::Verify(vo, &v).ok());
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders * kEvents));
  EXPECT_EQ(v.multi_event_keys, static_cast<uint64_t>(kOrders));
  ExpectNothingPrepared();
}

// Through the agents' HTTP API, as `3pc run` sends it: event 3 of an order
// still at version 1 is voted down by the Postgres agent and aborted at
// both; event 2 then commits, once.
TEST_F(ThreePcOrderEvents, AnEventWhoseOrderIsNotAtTheVersionBeforeIsVotedDown) {
  ASSERT_TRUE(workload::EnsureOrdersSchema(dsn_).ok());
  ASSERT_TRUE(workload::EnsureOrderVersionColumns(dsn_).ok());
  {
    pqxx::connection c(dsn_);
    pqxx::nontransaction tx(c);
    tx.exec("INSERT INTO orders (id, customer, amount_cents) VALUES (1, 'alice', 100)");
  }
  StartAgents();
  std::vector<std::unique_ptr<threepc::AgentParticipant>> parts;
  std::vector<std::unique_ptr<threepc::AgentParticipantState>> states;
  for (int id : {1, 2}) {
    std::unique_ptr<threepc::AgentClient> c;
    ASSERT_TRUE(threepc::AgentClient::Create(agents_.at(id).url(), milliseconds(10000), &c).ok());
    std::shared_ptr<threepc::AgentClient> client(std::move(c));
    parts.push_back(
        std::make_unique<threepc::AgentParticipant>(client, "agent " + std::to_string(id)));
    states.push_back(std::make_unique<threepc::AgentParticipantState>(client));
  }
  const threepc::Coordinator coordinator;
  auto execute = [&](int n) {
    Work w;
    w.statements = {workload::AdvanceOrderStatement(1, n)};
    w.messages = {workload::OrderEventMessage(1, n)};
    const std::string gid = "dw3:" + TestDatabaseName("dw3ev") + ":1-" + std::to_string(n);
    std::vector<threepc::Member> m;
    for (size_t k = 0; k < parts.size(); ++k)
      m.push_back({parts[k].get(), states[k].get(), gid, w});
    return coordinator.Execute(gid, m);
  };

  Status s = execute(3);
  EXPECT_TRUE(s.IsAborted()) << s.ToString();
  EXPECT_TRUE(Topic().empty());
  EXPECT_EQ(Count("SELECT version FROM orders WHERE id = 1"), 1);

  s = execute(2);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::vector<BrokerMessage> sent = Topic();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].id, workload::OrderEventMessageId(1, 2));
  EXPECT_EQ(Count("SELECT version FROM orders WHERE id = 1"), 2);
  ExpectNothingPrepared();
}

}  // namespace
}  // namespace dw::testing
