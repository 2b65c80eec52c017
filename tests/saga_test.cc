// The orchestrated saga (saga/) against the real Postgres (a scratch database
// of the shared cluster) and a broker process of the test's own: the real
// `dualwrite saga run | recover | verify` binary, its crash points killing
// it with SIGKILL, the broker's reject_prob and latency faults; and the
// sub-transaction barrier of saga/steps.h driven out of order in process.
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "participants/broker_client.h"
#include "saga/pivot.h"
#include "saga/schema.h"
#include "saga/steps.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"
#include "workload/orders.h"

namespace dw::testing {
namespace {

using std::chrono::seconds;

class SagaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = ScratchDatabase(TestDatabaseName("dws"));
    ASSERT_FALSE(dsn_.empty());
    broker_ = std::make_unique<BrokerProcess>(TempDir("saga-broker"));
    broker_->Start();
    BrokerClient::Options bo;
    bo.url = broker_->url();
    ASSERT_TRUE(BrokerClient::Create(bo, &client_).ok());
  }
  void TearDown() override {
    if (broker_) broker_->Kill9();
  }

  CliRun Saga(std::vector<std::string> args, seconds timeout = seconds(60)) {
    std::vector<std::string> full = {"--dsn", dsn_, "--broker", broker_->url(), "saga"};
    full.insert(full.end(), args.begin(), args.end());
    return RunCli(full, timeout);
  }

  void Faults(const std::string& json) {
    HttpResponse r;
    ASSERT_TRUE(client_->Request("POST", "/admin/faults", json, &r).ok());
    ASSERT_EQ(r.status, 200) << r.body;
  }

  nlohmann::json VerifyJson(int want_exit) {
    CliRun v = Saga({"verify", "--json"});
    EXPECT_EQ(v.exit_code, want_exit) << v.out << v.err;
    return nlohmann::json::parse(v.out, nullptr, false);
  }

  // Status of every saga order.
  std::map<int64_t, std::string> Statuses() {
    std::map<int64_t, std::string> out;
    pqxx::connection c{dsn_};
    pqxx::nontransaction tx{c};
    for (const auto& row : tx.exec("SELECT order_id, status FROM saga_orders")) {
      out[row[0].as<int64_t>()] = row[1].as<std::string>();
    }
    return out;
  }

  // Message ids on the topic, in offset order, per key.
  std::map<std::string, std::vector<std::string>> Events() {
    std::map<std::string, std::vector<std::string>> out;
    uint64_t from = 0;
    for (;;) {
      std::vector<BrokerMessage> batch;
      uint64_t next = 0;
      EXPECT_TRUE(client_->Read("orders", from, 10000, &batch, &next).ok());
      if (batch.empty()) break;
      for (const auto& m : batch) out[m.key].push_back(m.id);
      from = next;
    }
    return out;
  }

  std::string dsn_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<BrokerClient> client_;
};

TEST_F(SagaTest, ThousandOrdersAtSixteenVerifyClean) {
  CliRun r = Saga({"run", "-n", "1000", "-c", "16", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["committed"], 1000);
  EXPECT_EQ(j["placed"], 1000);
  EXPECT_EQ(j["publish_attempts"], 1000);
  auto v = VerifyJson(0);
  EXPECT_EQ(v["placed"], 1000);
  EXPECT_EQ(v["messages"], 1000);
}

// Each crash point kills the real process with SIGKILL and leaves an open
// saga; `saga recover` finishes it and verify is clean.
class SagaCrashTest : public SagaTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(SagaCrashTest, CrashThenRecoverIsClean) {
  const std::string point = GetParam();
  // The compensation is reached only when the publish is refused.
  if (point == "during-compensation") Faults(R"({"reject_prob": 1})");
  CliRun r = Saga({"run", "-n", "40", "-c", "4", "--crash-at", point, "--crash-after", "5",
                   "--recovery-interval-ms", "0"});
  EXPECT_EQ(r.exit_code, -1) << "want death by SIGKILL; " << r.err;
  EXPECT_NE(r.err.find("crash point " + point), std::string::npos) << r.err;
  auto before = VerifyJson(3);
  EXPECT_GE(before["pending"].size() + before["compensating"].size(), 1u) << before.dump();

  Faults(R"({"reject_prob": 0})");
  CliRun rec = Saga({"recover", "--json"});
  ASSERT_EQ(rec.exit_code, 0) << rec.out << rec.err;
  auto rj = nlohmann::json::parse(rec.out);
  EXPECT_GE(rj["listed"].get<int>(), 1);
  EXPECT_EQ(rj["still_open"], 0);
  VerifyJson(0);
  // Recovery again finds nothing to do.
  CliRun again = Saga({"recover", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["listed"], 0);
}

INSTANTIATE_TEST_SUITE_P(Points, SagaCrashTest,
                         ::testing::Values("after-t1", "after-publish", "during-compensation"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

TEST_F(SagaTest, RejectedPublishIsCancelledWithItsCompensationEvent) {
  Faults(R"({"reject_prob": 1})");
  CliRun r = Saga({"run", "-n", "5", "-c", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["aborted"], 5);
  EXPECT_EQ(j["refused"], 5);
  EXPECT_EQ(j["publish_attempts"], 5) << "a refusal is not retried";
  auto st = Statuses();
  ASSERT_EQ(st.size(), 5u);
  auto ev = Events();
  for (const auto& [id, s] : st) {
    EXPECT_EQ(s, "cancelled") << id;
    // Refused, never in doubt: no OrderPlaced, only the compensation's event.
    EXPECT_EQ(ev[std::to_string(id)],
              std::vector<std::string>{"order-" + std::to_string(id) + "-cancelled"})
        << id;
  }
  VerifyJson(0);
}

// The broker answers after the client gave up: every attempt times out, yet
// lands. Each order ends placed (one OrderPlaced) or cancelled with
// OrderPlaced before OrderCancelled, never anything else.
TEST_F(SagaTest, TimedOutPublishThatLandedEndsConsistent) {
  Faults(R"({"latency_ms": 300})");
  CliRun r = Saga({"run", "-n", "8", "-c", "2", "--publish-timeout-ms", "100", "--publish-budget",
                   "250", "--recovery-interval-ms", "0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_GE(j["out_of_budget"].get<int>(), 1) << r.out;
  Faults(R"({"latency_ms": 0})");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // late requests land
  CliRun rec = Saga({"recover"});  // OrderCancelled of those whose event also timed out
  ASSERT_EQ(rec.exit_code, 0) << rec.out << rec.err;
  VerifyJson(0);
  auto ev = Events();
  int fenced = 0;
  for (const auto& [id, s] : Statuses()) {
    const std::string placed = "order-" + std::to_string(id);
    const auto& ids = ev[std::to_string(id)];
    if (s == "placed") {
      EXPECT_EQ(ids, std::vector<std::string>{placed}) << id;
    } else {
      ASSERT_EQ(s, "cancelled") << id;
      // in doubt: the fence, OrderPlaced then OrderCancelled
      EXPECT_EQ(ids, (std::vector<std::string>{placed, placed + "-cancelled"})) << id;
      ++fenced;
    }
  }
  EXPECT_GE(fenced, 1);
}

// The saga's missing isolation, counted: each publish waits 200 ms at the
// broker, so every order stays pending long enough for the probe to read it.
// Refused, each was read before it was cancelled: an order that never
// happened. Accepted, each was read before its event existed.
TEST_F(SagaTest, DirtyReadProbeCountsOrdersReadBeforeTheyWereDecided) {
  Faults(R"({"latency_ms": 200, "reject_prob": 1})");
  CliRun r = Saga({"run", "-n", "6", "-c", "2", "--dirty-read-probe", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto dr = nlohmann::json::parse(r.out)["dirty_reads"];
  EXPECT_EQ(dr["interval_ms"], 5) << dr;  // the default pause between polls
  EXPECT_EQ(dr["orders_seen_pending"], 6) << dr;
  EXPECT_EQ(dr["then_cancelled"], 6) << dr;
  EXPECT_EQ(dr["then_placed"], 0) << dr;
  EXPECT_EQ(dr["errors"], 0) << dr;

  Faults(R"({"latency_ms": 200, "reject_prob": 0})");
  r = Saga({"run", "-n", "4", "-c", "2", "--dirty-read-probe", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  dr = nlohmann::json::parse(r.out)["dirty_reads"];
  EXPECT_EQ(dr["orders_seen_pending"], 4) << dr;
  EXPECT_EQ(dr["then_placed"], 4) << dr;
  EXPECT_EQ(dr["then_cancelled"], 0) << dr;
  EXPECT_EQ(dr["still_pending"], 0) << dr;
  Faults(R"({"latency_ms": 0})");
  VerifyJson(0);
}

TEST_F(SagaTest, RejectProbIsAFaultKnobWithBounds) {
  HttpResponse r;
  ASSERT_TRUE(client_->Request("POST", "/admin/faults", R"({"reject_prob": 1.5})", &r).ok());
  EXPECT_EQ(r.status, 400) << r.body;
  Faults(R"({"reject_prob": 1})");
  ASSERT_TRUE(client_->Request("GET", "/admin/faults", "", &r).ok());
  EXPECT_EQ(nlohmann::json::parse(r.body)["reject_prob"], 1.0);
  uint64_t off = 0;
  Status s = client_->Publish("orders", OutMessage{"orders", "m1", "1", "p"}, &off);
  EXPECT_TRUE(saga::IsRefusal(s)) << s.ToString();  // 422: a "no", not a failure
  EXPECT_NE(s.ToString().find("422"), std::string::npos) << s.ToString();
  // Batches are never refused: they carry decided events.
  std::vector<uint64_t> offs;
  EXPECT_TRUE(client_->PublishBatch("orders", {OutMessage{"orders", "m2", "2", "p"}}, &offs).ok());
}

// The barrier: steps that arrive twice or out of order do nothing.
TEST_F(SagaTest, BarrierMakesStepsIdempotentAndOrdered) {
  ASSERT_TRUE(saga::EnsureSagaSchema(dsn_).ok());
  saga::SagaSteps steps(dsn_, "saga-test");
  saga::Barrier b;
  workload::Order o = workload::MakeOrder(1, 0, 1);
  ASSERT_TRUE(steps.Begin(o, "{}", &b).ok());
  EXPECT_EQ(b, saga::Barrier::kApplied);
  ASSERT_TRUE(steps.Confirm(1, &b).ok());
  EXPECT_EQ(b, saga::Barrier::kApplied);
  ASSERT_TRUE(steps.Confirm(1, &b).ok());
  EXPECT_EQ(b, saga::Barrier::kDuplicate);
  ASSERT_TRUE(steps.Compensate(1, false, &b).ok());  // after T3: the pivot is passed
  EXPECT_EQ(b, saga::Barrier::kBlocked);
  ASSERT_TRUE(steps.Release(1).ok());

  o = workload::MakeOrder(2, 1, 1);
  ASSERT_TRUE(steps.Begin(o, "{}", &b).ok());
  ASSERT_TRUE(steps.Compensate(2, false, &b).ok());
  EXPECT_EQ(b, saga::Barrier::kApplied);
  ASSERT_TRUE(steps.Compensate(2, false, &b).ok());
  EXPECT_EQ(b, saga::Barrier::kDuplicate);
  ASSERT_TRUE(steps.Confirm(2, &b).ok());  // T3 after its compensation
  EXPECT_EQ(b, saga::Barrier::kBlocked);
  ASSERT_TRUE(steps.Release(2).ok());

  // A compensation with no T1 (null compensation), then the late T1.
  ASSERT_TRUE(steps.Compensate(3, false, &b).ok());
  EXPECT_EQ(b, saga::Barrier::kNullCompensation);
  o = workload::MakeOrder(3, 2, 1);
  ASSERT_TRUE(steps.Begin(o, "{}", &b).ok());
  EXPECT_EQ(b, saga::Barrier::kBlocked);
  ASSERT_TRUE(steps.Release(3).ok());

  auto st = Statuses();
  EXPECT_EQ(st[1], "placed");
  EXPECT_EQ(st[2], "cancelled");
  EXPECT_EQ(st.count(3), 0u);
}

}  // namespace
}  // namespace dw::testing
