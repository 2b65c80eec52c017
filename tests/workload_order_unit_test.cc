// Order per key in process: the numbered events of an order
// (workload/order_events.h: ids, versions, statements, messages) and the
// check verify runs on what the broker holds (workload/order_check.h):
// inversions judged on first deliveries, duplicates, gaps, events past the
// row's version. No Postgres, no broker.
#include <string>
#include <unordered_map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "coordinator/order_work.h"
#include "workload/order_check.h"
#include "workload/order_events.h"

namespace dw::workload {
namespace {

TEST(OrderEvents, IdsStayDeterministicAndEventOneKeepsTodaysId) {
  EXPECT_EQ(OrderEventMessageId(42, 1), MessageIdFor(42));
  EXPECT_EQ(OrderEventMessageId(42, 1), "order-42");
  EXPECT_EQ(OrderEventMessageId(42, 2), "order-42-2");
  EXPECT_EQ(OrderEventMessageId(42, 17), "order-42-17");
}

TEST(OrderEvents, VersionIsReadBackFromTheId) {
  EXPECT_EQ(OrderEventVersion("order-42", 42), 1);
  EXPECT_EQ(OrderEventVersion("order-42-2", 42), 2);
  EXPECT_EQ(OrderEventVersion("order-42-17", 42), 17);
  // Not a numbered event of this order: counted as event 1, so two such
  // messages of one key are a duplicate, as verify judged them before.
  EXPECT_EQ(OrderEventVersion("order-42-cancelled", 42), 1);
  EXPECT_EQ(OrderEventVersion("order-4-2", 42), 1);
  EXPECT_EQ(OrderEventVersion("order-42-02", 42), 1);
  EXPECT_EQ(OrderEventVersion("order-42-1", 42), 1);
  EXPECT_EQ(OrderEventVersion("order-42-", 42), 1);
  EXPECT_EQ(OrderEventVersion("x", 42), 1);
}

TEST(OrderEvents, MessageCarriesKeyTypeAndVersion) {
  OutMessage m = OrderEventMessage(7, 3);
  EXPECT_EQ(m.topic, kOrdersTopic);
  EXPECT_EQ(m.id, "order-7-3");
  EXPECT_EQ(m.key, "7");
  auto j = nlohmann::json::parse(m.payload);
  EXPECT_EQ(j["type"], "OrderPacked");
  EXPECT_EQ(j["status"], "packed");
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["order_id"], 7);
  EXPECT_EQ(OrderEventType(2), "OrderPaid");
  EXPECT_EQ(OrderEventType(4), "OrderShipped");
  EXPECT_EQ(OrderEventType(9), "OrderUpdated");
}

TEST(OrderEvents, UpdateMovesOneVersionAtATime) {
  SqlStatement u = AdvanceOrderStatement(7, 3);
  EXPECT_NE(u.sql.find("version = $3 - 1"), std::string::npos);
  ASSERT_EQ(u.params.size(), 3u);
  EXPECT_EQ(u.params[0], "7");
  EXPECT_EQ(u.params[1], "packed");
  EXPECT_EQ(u.params[2], "3");
  // Exactly one row, else the event fails instead of being published.
  EXPECT_EQ(u.expect_rows, std::optional<uint64_t>(1));
}

TEST(OrderEvents, FollowUpsStopAtTheFirstFailure) {
  std::vector<int> ran;
  Status s = RunFollowUpEvents(5, [&](int n) {
    ran.push_back(n);
    return n == 3 ? Status::Unavailable("down") : Status::OK();
  });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(ran, (std::vector<int>{2, 3}));
  ran.clear();
  EXPECT_TRUE(RunFollowUpEvents(1, [&](int n) {
                ran.push_back(n);
                return Status::OK();
              }).ok());
  EXPECT_TRUE(ran.empty());
}

TEST(OrderEvents, TwoPcEventGoesToTheHomeShardAndTheBroker) {
  coord::Topology t;
  t.shards = {0, 1};
  t.broker = 2;
  t.members = 3;
  auto works = coord::OrderEventWork(5, 2, t);
  ASSERT_EQ(works.size(), 3u);
  EXPECT_EQ(works[coord::HomeShard(5, 2)].statements.size(), 1u);
  EXPECT_TRUE(works[1 - coord::HomeShard(5, 2)].statements.empty());
  ASSERT_EQ(works[2].messages.size(), 1u);
  EXPECT_EQ(works[2].messages[0].id, "order-5-2");
}

TEST(OrderCheck, InOrderIsClean) {
  OrderCheck c;
  uint64_t off = 0;
  for (int64_t order : {1, 2}) {
    for (int v = 1; v <= 3; ++v) c.Add(order, v, off++);
  }
  OrderCheckResult r = c.Finish({{1, 3}, {2, 3}});
  EXPECT_EQ(r.keys, 2u);
  EXPECT_EQ(r.multi_event, 2u);
  EXPECT_TRUE(r.reordered.empty());
  EXPECT_TRUE(r.duplicates.empty());
  EXPECT_TRUE(r.gaps.empty());
  EXPECT_TRUE(r.ahead.empty());
}

TEST(OrderCheck, ReportsTheFirstInversion) {
  OrderCheck c;
  c.Add(9, 1, 10);
  c.Add(9, 3, 11);
  c.Add(9, 2, 12);  // first inversion: v3 at 11 before v2 at 12
  c.Add(9, 4, 13);
  OrderCheckResult r = c.Finish({{9, 4}});
  ASSERT_EQ(r.reordered.size(), 1u);
  const Inversion& i = r.reordered[0];
  EXPECT_EQ(i.order, 9);
  EXPECT_EQ(i.later_version, 3);
  EXPECT_EQ(i.later_offset, 11u);
  EXPECT_EQ(i.version, 2);
  EXPECT_EQ(i.offset, 12u);
  EXPECT_EQ(i.ToText(), "9 (v3 at offset 11 before v2 at offset 12)");
  EXPECT_TRUE(r.gaps.empty());
}

TEST(OrderCheck, ARedeliveredBatchIsDuplicatesNotReordering) {
  OrderCheck c;
  uint64_t off = 0;
  for (int round = 0; round < 2; ++round) {
    for (int v = 1; v <= 3; ++v) c.Add(4, v, off++);
  }
  OrderCheckResult r = c.Finish({{4, 3}});
  EXPECT_TRUE(r.reordered.empty());
  EXPECT_EQ(r.duplicates, (std::vector<int64_t>{4}));
}

TEST(OrderCheck, GapsAndEventsPastTheRow) {
  OrderCheck c;
  c.Add(1, 1, 0);
  c.Add(1, 3, 1);  // v2 never read: a gap
  c.Add(2, 1, 2);
  c.Add(2, 2, 3);  // the row stayed at 1: v2 escaped a rolled-back UPDATE
  OrderCheckResult r = c.Finish({{1, 3}, {2, 1}});
  EXPECT_EQ(r.gaps, (std::vector<int64_t>{1}));
  EXPECT_EQ(r.ahead, (std::vector<int64_t>{2}));
  EXPECT_TRUE(r.reordered.empty());
  EXPECT_EQ(r.multi_event, 1u);
}

TEST(OrderCheck, WithoutARowOnlyCopiesCount) {
  OrderCheck c;
  c.Add(5, 2, 0);
  c.Add(5, 1, 1);
  c.Add(5, 1, 2);
  OrderCheckResult r = c.Finish({});
  EXPECT_EQ(r.keys, 0u);
  EXPECT_TRUE(r.reordered.empty());  // verify's orphans, judged there
  EXPECT_EQ(r.duplicates, (std::vector<int64_t>{5}));
}

TEST(OrderCheck, OneEventPerOrderJudgesDuplicatesAsBefore) {
  // Two messages of one key whatever their ids: a duplicate, not a reordering.
  OrderCheck c;
  c.Add(3, OrderEventVersion("order-3", 3), 0);
  c.Add(3, OrderEventVersion("something-else", 3), 1);
  OrderCheckResult r = c.Finish({{3, 1}});
  EXPECT_EQ(r.duplicates, (std::vector<int64_t>{3}));
  EXPECT_TRUE(r.reordered.empty());
  EXPECT_TRUE(r.gaps.empty());
  EXPECT_EQ(r.multi_event, 0u);
}

}  // namespace
}  // namespace dw::workload
