// Partition maintenance against a real cluster:
//  - partitions are created ahead and dropped while writers write and the
//    relay drains (2 s partitions, so a few seconds cross several
//    boundaries); no insert fails, verify is clean;
//  - an old partition with unsent rows is kept, and dropped (not DELETEd)
//    once the strategy has sent them; `dualwrite outbox maintain` does the
//    same from the command line.
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/process.h"
#include "outbox/partitions.h"
#include "outbox/relay.h"
#include "outbox/schema.h"
#include "tests/support/outbox_test_util.h"
#include "workload/orders.h"

namespace dw::testing {
namespace {

using namespace std::chrono_literals;

class PartitionsTest : public OutboxTest {};

TEST_F(PartitionsTest, CreatedAndDroppedWhileWriting) {
  outbox::PartitionOptions po;
  po.width = 2s;
  po.ahead = 2;
  po.grace = 1s;
  // The writer prepares only the next partition and does not come back
  // during the run: the relay's maintenance must create the rest in time.
  outbox::WriterOptions wo = Writer(8);
  wo.partitions = po;
  wo.partitions.ahead = 1;
  wo.maintain_interval = 60s;
  std::unique_ptr<outbox::OutboxWriter> writer;
  ASSERT_TRUE(outbox::OutboxWriter::Open(wo, &writer).ok());

  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.partitions = po;
  rn.maintain_interval = 500ms;
  RelayThread relay(Relay(outbox::Strategy::kSkipLocked), rn);

  // 7 s of load at 400 orders/s: three or four partition boundaries.
  workload::LoadSummary sum = Write(writer.get(), 2800, 8, /*rate=*/400);
  EXPECT_EQ(sum.committed, 2800u);
  EXPECT_EQ(sum.failed, 0u) << "an insert met a missing partition";
  writer.reset();
  const auto& report = relay.Join();
  EXPECT_TRUE(report.drained);
  EXPECT_GE(report.maintenance.value("created", 0), 2) << report.ToText();
  EXPECT_GE(report.maintenance.value("dropped", 1), 1) << report.ToText();

  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, 2800u);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  // Old partitions went away whole; what is left covers about now only.
  std::vector<outbox::PartitionInfo> parts;
  ASSERT_TRUE(outbox::ListPartitions(dsn_, &parts).ok());
  EXPECT_LE(parts.size(), 8u);
}

class OldPartitionTest : public OutboxTest,
                         public ::testing::WithParamInterface<outbox::Strategy> {};

TEST_P(OldPartitionTest, KeptWhileUnsentDroppedOnceSent) {
  const outbox::Strategy strategy = GetParam();
  ASSERT_TRUE(workload::EnsureOrdersSchema(dsn_).ok());
  ASSERT_TRUE(outbox::EnsureSchema(dsn_).ok());
  outbox::RelayOptions ro = Relay(strategy);
  outbox::PartitionOptions po;  // 1 day
  po.unsent_predicate = outbox::UnsentPredicate(ro);
  po.grace = 26h;  // creation starts at now - grace: yesterday's partition too
  outbox::MaintenanceReport mr;
  ASSERT_TRUE(outbox::MaintainPartitions(dsn_, po, &mr).ok());
  ASSERT_GE(mr.created.size(), 4u);  // yesterday, today, 2 ahead
  po.grace = 0s;
  const std::string yesterday = outbox::PartitionName(
      (SqlInt(dsn_,
              "SELECT extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'UTC') "
              "AT TIME ZONE 'UTC')::bigint") -
       86400) *
      1000000);

  // 20 events from "yesterday" (a transaction that started long ago), 20 of today.
  {
    pqxx::connection c{dsn_};
    pqxx::work tx{c};
    for (int i = 1; i <= 40; ++i) {
      workload::Order o = workload::MakeOrder(i, i, 1);
      SqlStatement ins = workload::InsertOrderStatement(o);
      tx.exec_params(ins.sql, *ins.params[0], *ins.params[1], *ins.params[2]);
      OutMessage m = workload::OrderPlacedMessage(o);
      tx.exec_params(
          "INSERT INTO outbox_table (entity_name, event_id, topic, msg_key, payload,"
          " created_dttm) VALUES ('order', $1, $2, $3, $4,"
          " CASE WHEN $5 THEN now() - interval '1 day' ELSE now() END)",
          m.id, m.topic, m.key, m.payload, i <= 20);
    }
    tx.commit();
  }
  ASSERT_EQ(SqlInt(dsn_, "SELECT count(*) FROM " + yesterday), 20) << mr.ToText();

  ASSERT_TRUE(outbox::MaintainPartitions(dsn_, po, &mr).ok());
  // (An empty partition from before yesterday may go; yesterday's stays.)
  EXPECT_EQ(std::count(mr.dropped.begin(), mr.dropped.end(), yesterday), 0) << mr.ToText();
  EXPECT_EQ(mr.kept, std::vector<std::string>{yesterday}) << mr.ToText();

  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  {
    RelayThread relay(ro, rn);
    EXPECT_TRUE(relay.Join().drained);
  }
  EXPECT_TRUE(Verify().ok());

  // Now from the command line, as an operator would.
  std::vector<std::string> argv = {DualwriteBinary(),
                                   "outbox",
                                   "maintain",
                                   "--dsn",
                                   dsn_,
                                   "--strategy",
                                   outbox::StrategyName(strategy),
                                   "--grace-s",
                                   "0",
                                   "--json"};
  std::string out;
  Status s = RunCommand(argv, &out);
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << out;
  auto j = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(j["dropped"], nlohmann::json::array({yesterday})) << out;
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM pg_class WHERE relname = '" + yesterday + "'"), 0);
  // The orders stay; only the outbox partition went.
  auto v = Verify();
  EXPECT_EQ(v.rows, 40u);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

INSTANTIATE_TEST_SUITE_P(Strategies, OldPartitionTest,
                         ::testing::Values(outbox::Strategy::kSkipLocked, outbox::Strategy::kStatus,
                                           outbox::Strategy::kOffsetSafe),
                         [](const auto& info) {
                           switch (info.param) {
                             case outbox::Strategy::kSkipLocked:
                               return std::string("SkipLocked");
                             case outbox::Strategy::kStatus:
                               return std::string("Status");
                             default:
                               return std::string("OffsetSafe");
                           }
                         });

}  // namespace
}  // namespace dw::testing
