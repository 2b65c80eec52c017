// Event sourcing, broker first (`dualwrite es write`, `dualwrite es
// project`), against real processes: the real binary, a scratch database of
// the shared cluster and a topic of the shared broker per test. What must
// hold: an acknowledged write is an event at the broker; once the projector
// has caught up, rows and events match one to one; a projector killed
// between its INSERT and its COMMIT resumes at its last committed offset,
// losing and duplicating nothing; the read model lags the acknowledgement.
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "participants/broker_client.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"
#include "workload/verify.h"

namespace dw::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

class EsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    // Each test case is a ctest test of its own, and ctest runs them side by
    // side: a database each.
    dsn_ = ScratchDatabase(TestDatabaseName("es_test"));
    broker_ = SharedBrokerUrl();
    // A topic of its own: the shared broker's other topics are other tests'.
    topic_ = "es-" + std::to_string(getpid()) + "-" + name;
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

  workload::VerifyReport Verify() {
    workload::VerifyOptions vo;
    vo.dsn = dsn_;
    vo.broker_url = broker_;
    vo.topic = topic_;
    workload::VerifyReport r;
    Status s = workload::Verify(vo, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }

  std::string dsn_, broker_, topic_;
};

TEST_F(EsTest, AcknowledgedWritesAreEventsAndTheProjectionMatchesThemOneToOne) {
  CliRun w = Es({"write", "-n", "1000", "-c", "16", "--topic", topic_, "--json"});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  json ws = Json(w);
  ASSERT_TRUE(ws.is_object()) << w.out;
  EXPECT_EQ(ws["committed"], 1000);
  EXPECT_EQ(Count("SELECT count(*) FROM orders"), 0) << "a write touches no row";

  CliRun p = Es({"project", "--topic", topic_, "--until-caught-up", "--json"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  json ps = Json(p);
  EXPECT_EQ(ps["events"], 1000);
  EXPECT_EQ(ps["rows"], 1000);
  EXPECT_EQ(ps["duplicates"], 0);
  EXPECT_EQ(ps["lag_ms"]["count"], 1000);

  workload::VerifyReport v = Verify();
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  EXPECT_EQ(v.rows, 1000u);
  EXPECT_EQ(v.messages, 1000u);
  EXPECT_EQ(Count("SELECT next_offset FROM es_offsets WHERE projector = 'orders'"), 1000);
}

TEST_F(EsTest, ProjectorKilledBeforeItsCommitResumesWithoutLossOrDuplicates) {
  CliRun w = Es({"write", "-n", "1500", "-c", "8", "--topic", topic_, "--json"});
  ASSERT_EQ(w.exit_code, 0) << w.err;

  // Batch 4's rows are inserted, then the process dies before its COMMIT.
  CliRun crashed =
      Es({"project", "--topic", topic_, "--batch", "100", "--crash-after-insert", "4"});
  EXPECT_EQ(crashed.exit_code, -1)
      << "killed by its own SIGKILL; out: " << crashed.out << " err: " << crashed.err;
  EXPECT_EQ(Count("SELECT count(*) FROM orders"), 300) << "three committed batches";
  EXPECT_EQ(Count("SELECT next_offset FROM es_offsets WHERE projector = 'orders'"), 300);

  CliRun p = Es({"project", "--topic", topic_, "--batch", "100", "--until-caught-up", "--json"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  json ps = Json(p);
  EXPECT_EQ(ps["events"], 1200) << "it resumed at offset 300";
  EXPECT_EQ(ps["rows"], 1200);
  EXPECT_EQ(ps["duplicates"], 0) << "the killed batch was rolled back, not half applied";
  workload::VerifyReport v = Verify();
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  EXPECT_EQ(v.rows, 1500u);
}

TEST_F(EsTest, TheReadModelLagsTheAcknowledgement) {
  // No projector runs: every read right after an acknowledgement misses.
  CliRun w = Es({"write", "-n", "200", "-c", "4", "--topic", topic_, "--ryw-probe", "--json"});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  json ws = Json(w);
  EXPECT_EQ(ws["committed"], 200);
  EXPECT_EQ(ws["read_your_writes"]["reads"], 200);
  EXPECT_EQ(ws["read_your_writes"]["misses"], 200);
  CliRun p = Es({"project", "--topic", topic_, "--until-caught-up", "--json"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(Count("SELECT count(*) FROM orders"), 200);
}

TEST_F(EsTest, OtherEventsAreSkippedAndARepeatedOrderIsOneRow) {
  CliRun w = Es({"write", "-n", "10", "--topic", topic_, "--json"});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  std::unique_ptr<BrokerClient> b;
  BrokerClient::Options bo;
  bo.url = broker_;
  ASSERT_TRUE(BrokerClient::Create(bo, &b).ok());
  // The first event's order again, under another event id (a producer that
  // retried with a new id), and an event of another type.
  std::vector<BrokerMessage> first;
  uint64_t next = 0;
  ASSERT_TRUE(b->Read(topic_, 0, 1, &first, &next).ok());
  ASSERT_EQ(first.size(), 1u);
  uint64_t off = 0;
  ASSERT_TRUE(
      b->Publish(topic_, {topic_, first[0].id + "-again", first[0].key, first[0].payload}, &off)
          .ok());
  ASSERT_TRUE(
      b->Publish(topic_, {topic_, "note-1", "not-an-order", R"({"type":"CustomerRenamed"})"}, &off)
          .ok());

  CliRun p = Es({"project", "--topic", topic_, "--until-caught-up", "--json"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  json ps = Json(p);
  EXPECT_EQ(ps["events"], 12);
  EXPECT_EQ(ps["rows"], 10);
  EXPECT_EQ(ps["duplicates"], 1);
  EXPECT_EQ(ps["skipped"], 1);
  EXPECT_EQ(ps["next_offset"], 12);
}

// The projector sends a batch's customers as one text[] parameter: every
// byte Postgres text can hold must come back as itself, whatever an array
// literal would otherwise make of it (quotes, backslashes, braces, commas,
// the word NULL, blanks, control characters, unicode).
TEST_F(EsTest, HostileCustomersAreProjectedByteForByte) {
  const std::vector<std::string> customers = {"a\"b",
                                              "c\\d",
                                              "{x,y}",
                                              "NULL",
                                              "",
                                              "  blank  ",
                                              "tab\tnew\nline",
                                              "\\\"",
                                              "caf\u00e9 \u2603",
                                              "O'Brien; DROP TABLE orders;--",
                                              ",",
                                              "}"};
  std::unique_ptr<BrokerClient> b;
  BrokerClient::Options bo;
  bo.url = broker_;
  ASSERT_TRUE(BrokerClient::Create(bo, &b).ok());
  for (size_t i = 0; i < customers.size(); ++i) {
    const int64_t id = 1000 + static_cast<int64_t>(i);
    const json event = {
        {"type", "OrderPlaced"}, {"order_id", id}, {"customer", customers[i]}, {"amount_cents", 7}};
    uint64_t off = 0;
    ASSERT_TRUE(
        b->Publish(topic_,
                   {topic_, "order-" + std::to_string(id), std::to_string(id), event.dump()}, &off)
            .ok());
  }
  CliRun p = Es({"project", "--topic", topic_, "--until-caught-up", "--json"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(Json(p)["rows"], static_cast<int>(customers.size()));
  pqxx::connection c(dsn_);
  pqxx::nontransaction tx(c);
  for (size_t i = 0; i < customers.size(); ++i) {
    pqxx::result r =
        tx.exec_params("SELECT customer FROM orders WHERE id = $1", 1000 + static_cast<int64_t>(i));
    ASSERT_EQ(r.size(), 1u) << i;
    EXPECT_EQ(r[0][0].as<std::string>(), customers[i]) << i;
  }
}

TEST_F(EsTest, BadInputIsOneLineAndNonZero) {
  CliRun hot = Es({"write", "-n", "10", "--topic", topic_, "--hot-rows", "4"});
  EXPECT_NE(hot.exit_code, 0);
  EXPECT_NE(hot.err.find("--hot-rows"), std::string::npos) << hot.err;
  ASSERT_EQ(Es({"project", "--topic", topic_, "--until-caught-up"}).exit_code, 0);
  CliRun other = Es({"project", "--topic", topic_ + "-other", "--until-caught-up"});
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.err.find("another --name"), std::string::npos) << other.err;
}

}  // namespace
}  // namespace dw::testing
