// Several events per order under event sourcing (`es write
// --events-per-order E`, `es project`), against real processes: the real
// binary, a scratch database of the shared cluster and a topic of the
// shared broker per test. What must hold: the broker has every order's
// events 1..E once, in version order per key; once the projector has caught
// up every row is at version E with its last status, however the events
// fell into batches; a projector that reads the events again (a second
// projector, a crash before its commit) never moves a row backwards nor
// applies an event twice.
#include <unistd.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "participants/broker_client.h"
#include "tests/support/cli_run.h"
#include "tests/support/order_events_expect.h"
#include "tests/support/test_support.h"
#include "workload/order_events.h"
#include "workload/verify.h"

namespace dw::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr int kOrders = 50;
constexpr int kEvents = 3;

class EsOrderEvents : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dsn_ = ScratchDatabase(TestDatabaseName("es_events"));
    broker_ = SharedBrokerUrl();
    topic_ = "es-ev-" + std::to_string(getpid()) + "-" + name;
    BrokerClient::Options bo;
    bo.url = broker_;
    ASSERT_TRUE(BrokerClient::Create(bo, &client_).ok());
  }

  CliRun Es(std::vector<std::string> args, seconds timeout = seconds(120)) {
    std::vector<std::string> argv = {"--dsn", dsn_, "--broker", broker_, "es"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCli(argv, timeout);
  }

  // The last line of a --json run, parsed.
  static json Json(const CliRun& r) {
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    const size_t nl = out.rfind('\n');
    return json::parse(nl == std::string::npos ? out : out.substr(nl + 1), nullptr, false);
  }

  int64_t Count(const std::string& sql) {
    pqxx::connection c(dsn_);
    pqxx::nontransaction tx(c);
    return tx.exec1(sql)[0].as<int64_t>();
  }

  // Writes kOrders orders of kEvents events with 4 workers; the orders' ids.
  std::set<int64_t> Write() {
    CliRun w = Es({"write", "-n", std::to_string(kOrders), "-c", "4", "--events-per-order",
                   std::to_string(kEvents), "--topic", topic_, "--json"});
    EXPECT_EQ(w.exit_code, 0) << w.err;
    json ws = Json(w);
    EXPECT_TRUE(ws.is_object()) << w.out;
    EXPECT_EQ(ws["committed"], kOrders) << w.out << w.err;
    EXPECT_EQ(ws["events_per_order"], kEvents);
    EXPECT_EQ(ws["later_events_failed"], 0);
    std::vector<BrokerMessage> all;
    EXPECT_TRUE(ReadWholeTopic(*client_, topic_, &all).ok());
    std::set<int64_t> orders;
    for (const auto& m : all) orders.insert(std::stoll(m.key));
    EXPECT_EQ(orders.size(), static_cast<size_t>(kOrders));
    EXPECT_EQ(OrderEventsProblems(all, orders, kEvents), "");
    return orders;
  }

  json Project(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"project", "--topic", topic_, "--until-caught-up", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    CliRun p = Es(args);
    EXPECT_EQ(p.exit_code, 0) << p.err;
    return Json(p);
  }

  // Every order at version kEvents with that event's status.
  void ExpectEveryRowAtTheLastVersion() {
    EXPECT_EQ(Count("SELECT count(*) FROM orders"), kOrders);
    pqxx::connection c(dsn_);
    pqxx::nontransaction tx(c);
    EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM orders WHERE version = $1 AND status = $2",
                              kEvents, workload::OrderEventStatus(kEvents))[0]
                  .as<int64_t>(),
              kOrders);
  }

  void ExpectVerifyClean() {
    workload::VerifyOptions vo;
    vo.dsn = dsn_;
    vo.broker_url = broker_;
    vo.topic = topic_;
    workload::VerifyReport v;
    Status s = workload::Verify(vo, &v);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(v.ok()) << v.ToText(20);
    EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
    EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders * kEvents));
    EXPECT_EQ(v.multi_event_keys, static_cast<uint64_t>(kOrders));
  }

  std::string dsn_, broker_, topic_;
  std::unique_ptr<BrokerClient> client_;
};

TEST_F(EsOrderEvents, EveryOrderReachesItsLastVersionAndTheBrokerHasItsEventsInOrder) {
  Write();
  EXPECT_EQ(Count("SELECT count(*) FROM orders"), 0) << "a write touches no row";
  json ps = Project();
  EXPECT_EQ(ps["events"], kOrders * kEvents);
  EXPECT_EQ(ps["rows"], kOrders);
  EXPECT_EQ(ps["advanced"], kOrders * (kEvents - 1));
  EXPECT_EQ(ps["stale"], 0);
  EXPECT_EQ(ps["skipped"], 0);
  ExpectEveryRowAtTheLastVersion();
  ExpectVerifyClean();
}

// Batches of 7 events: an order's events fall in one batch (placed and
// advanced in the same transaction) or spread over several.
TEST_F(EsOrderEvents, SmallBatchesApplyEachOrdersEventsInVersionOrder) {
  Write();
  json ps = Project({"--batch", "7"});
  EXPECT_EQ(ps["events"], kOrders * kEvents);
  EXPECT_EQ(ps["advanced"], kOrders * (kEvents - 1));
  EXPECT_EQ(ps["stale"], 0);
  ExpectEveryRowAtTheLastVersion();
  ExpectVerifyClean();
}

// A second projector (another name, its own offset from 0) reads every
// event again over the same rows: the redeliveries change nothing.
TEST_F(EsOrderEvents, EventsReadAgainNeverMoveARowBackwards) {
  Write();
  Project();
  json again = Project({"--name", "again"});
  EXPECT_EQ(again["events"], kOrders * kEvents);
  EXPECT_EQ(again["rows"], 0);
  EXPECT_EQ(again["duplicates"], kOrders);
  EXPECT_EQ(again["advanced"], 0);
  EXPECT_EQ(again["stale"], kOrders * (kEvents - 1));
  ExpectEveryRowAtTheLastVersion();
  ExpectVerifyClean();
}

// Killed after batch 3's INSERT and UPDATEs, before its COMMIT: the batch is
// rolled back whole and read again; each event is applied exactly once.
TEST_F(EsOrderEvents, AProjectorKilledBeforeItsCommitAppliesEveryEventOnce) {
  Write();
  CliRun crashed = Es({"project", "--topic", topic_, "--batch", "20", "--crash-after-insert", "3"});
  EXPECT_EQ(crashed.exit_code, -1) << "out: " << crashed.out << " err: " << crashed.err;
  EXPECT_EQ(Count("SELECT next_offset FROM es_offsets WHERE projector = 'orders'"), 40);
  json ps = Project({"--batch", "20"});
  EXPECT_EQ(ps["events"], kOrders * kEvents - 40) << "it resumed at offset 40";
  EXPECT_EQ(ps["stale"], 0) << "the killed batch's UPDATEs were rolled back with it";
  EXPECT_EQ(Count("SELECT count(*) FROM orders"), kOrders);
  ExpectEveryRowAtTheLastVersion();
  ExpectVerifyClean();
}

}  // namespace
}  // namespace dw::testing
