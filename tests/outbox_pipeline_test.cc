// The pipelined skip-locked relay (outbox/relay_skip_locked_pipeline.h)
// against a real Postgres, with a publisher of the test's own that fails
// every k-th publish: every row is delivered, each key's versions arrive in
// order (judged on first delivery, as verify's order check does), and the
// batch claimed ahead of a failed one is rolled back with it, so nothing
// overtakes the retry; and through the runner, with 8 concurrent writers, in
// mark mode, verify finds every order exactly once.
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "outbox/partitions.h"
#include "outbox/publisher.h"
#include "outbox/relay.h"
#include "outbox/schema.h"
#include "tests/support/outbox_test_util.h"
#include "workload/order_check.h"

namespace dw::testing {
namespace {

// What the broker stored, in order, shared by the relay's publisher and the test.
struct Delivered {
  std::mutex mu;
  int calls = 0;
  int failures = 0;
  int fail_first = 0;  // these first calls fail too, without storing
  std::vector<outbox::OutboxEvent> events;
};

// Fails every k-th Publish; every other failure stored the batch first (the
// answer was lost), as the Publisher contract allows.
class EveryKthFails : public outbox::Publisher {
 public:
  EveryKthFails(std::shared_ptr<Delivered> d, int k) : d_(std::move(d)), k_(k) {}
  Status Publish(const std::vector<outbox::OutboxEvent>& events) override {
    std::lock_guard<std::mutex> l(d_->mu);
    const int call = ++d_->calls;
    const bool first = call <= d_->fail_first;
    const bool fail = first || call % k_ == 0;
    const bool stored = !fail || (!first && (call / k_) % 2 == 0);
    if (stored) d_->events.insert(d_->events.end(), events.begin(), events.end());
    if (!fail) return Status::OK();
    ++d_->failures;
    return Status::Unavailable("publish " + std::to_string(call) + " fails");
  }

 private:
  std::shared_ptr<Delivered> d_;
  const int k_;
};

class PipelineTest : public OutboxTest {
 protected:
  void SetUp() override {
    OutboxTest::SetUp();
    ASSERT_TRUE(outbox::EnsureSchema(dsn_).ok());
    outbox::MaintenanceReport mr;
    ASSERT_TRUE(outbox::MaintainPartitions(dsn_, outbox::PartitionOptions{}, &mr).ok());
  }

  // `rows` events over `keys` keys, in id order; event g is version g / keys
  // + 1 of key g % keys, its event id "<key>:<version>".
  void Fill(int rows, int keys) {
    const std::string k = std::to_string(keys);
    Sql(dsn_,
        "INSERT INTO outbox_table (entity_name, event_id, topic, msg_key, payload)"
        " SELECT 'order', (g % " +
            k + ") || ':' || (g / " + k + " + 1), 'orders', (g % " + k +
            ")::text, '{}' FROM generate_series(0, " + std::to_string(rows - 1) + ") g");
  }
};

TEST_F(PipelineTest, EveryKthPublishFailsEveryRowArrivesAndEachKeyInOrder) {
  constexpr int kRows = 6000, kKeys = 37, kBatch = 100, kFailEvery = 7;
  Fill(kRows, kKeys);
  auto delivered = std::make_shared<Delivered>();
  outbox::RelayOptions ro = Relay(outbox::Strategy::kSkipLocked, kBatch);
  ro.pipeline = true;
  ro.publisher = [delivered, k = kFailEvery](std::unique_ptr<outbox::Publisher>* out) {
    *out = std::make_unique<EveryKthFails>(delivered, k);
    return Status::OK();
  };
  std::unique_ptr<outbox::Relay> r;
  ASSERT_TRUE(outbox::CreateRelay(ro, &r).ok());
  Status s = r->Start();
  ASSERT_TRUE(s.ok()) << s.ToString();

  // Step as the runner does (a failed Step is simply retried) until a Step
  // moves nothing.
  int errors = 0;
  int64_t moved_total = 0;
  for (int i = 0; i < 1000; ++i) {
    int64_t moved = 0;
    s = r->Step(&moved);
    if (!s.ok()) {
      EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
      ++errors;
      continue;
    }
    if (moved == 0) break;
    moved_total += moved;
  }

  EXPECT_EQ(moved_total, kRows);
  EXPECT_EQ(r->counters().published, static_cast<uint64_t>(kRows));
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table"), 0) << "every row settled";
  bool drained = false;
  ASSERT_TRUE(r->Drained(&drained).ok());
  EXPECT_TRUE(drained);

  std::lock_guard<std::mutex> l(delivered->mu);
  EXPECT_GE(delivered->failures, kRows / kBatch / kFailEvery) << "the fault ran";
  EXPECT_EQ(errors, delivered->failures);

  // First deliveries, per key in delivery order, must be versions 1..V.
  workload::OrderCheck check;
  for (size_t i = 0; i < delivered->events.size(); ++i) {
    const std::string& id = delivered->events[i].event_id;
    const size_t colon = id.find(':');
    ASSERT_NE(colon, std::string::npos) << id;
    check.Add(std::stoll(id.substr(0, colon)), std::stoi(id.substr(colon + 1)), i);
  }
  std::unordered_map<int64_t, int> versions;
  for (int key = 0; key < kKeys; ++key) {
    versions[key] = (kRows - 1 - key) / kKeys + 1;  // the version of the key's last row
  }
  workload::OrderCheckResult res = check.Finish(versions);
  EXPECT_EQ(res.keys, static_cast<uint64_t>(kKeys));
  EXPECT_TRUE(res.gaps.empty()) << res.gaps.size() << " keys miss a version";
  EXPECT_TRUE(res.ahead.empty());
  ASSERT_TRUE(res.reordered.empty()) << res.reordered.front().ToText();
  EXPECT_FALSE(res.duplicates.empty()) << "failures that stored their batch are sent again";
}

TEST_F(PipelineTest, TheBatchClaimedAheadIsRolledBackWithTheFailedOne) {
  // Two batches of 10: batch 1's publish fails after batch 2 was claimed on
  // the second connection. Both come back; the retry publishes batch 1's
  // rows before any of batch 2's.
  Fill(20, 20);
  auto delivered = std::make_shared<Delivered>();
  delivered->fail_first = 1;
  outbox::RelayOptions ro = Relay(outbox::Strategy::kSkipLocked, 10);
  ro.pipeline = true;
  ro.publisher = [delivered](std::unique_ptr<outbox::Publisher>* out) {
    *out = std::make_unique<EveryKthFails>(delivered, 1000);
    return Status::OK();
  };
  std::unique_ptr<outbox::Relay> r;
  ASSERT_TRUE(outbox::CreateRelay(ro, &r).ok());
  ASSERT_TRUE(r->Start().ok());
  int64_t moved = 0;
  Status s = r->Step(&moved);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_EQ(moved, 0);
  // Both batches are back: nothing is locked, every row is there.
  EXPECT_EQ(
      SqlInt(dsn_, "SELECT count(*) FROM (SELECT id FROM outbox_table FOR UPDATE SKIP LOCKED) t"),
      20);
  bool drained = true;
  ASSERT_TRUE(r->Drained(&drained).ok());
  EXPECT_FALSE(drained);

  EXPECT_EQ(Pump(r.get()), 20);
  std::vector<std::string> want, got;
  for (int g = 0; g < 20; ++g) want.push_back(std::to_string(g) + ":1");
  std::lock_guard<std::mutex> l(delivered->mu);
  for (const auto& e : delivered->events) got.push_back(e.event_id);
  EXPECT_EQ(got, want) << "batch 1's rows first, then batch 2's, each once";
}

TEST_F(PipelineTest, RunnerWithConcurrentWritersMarkModeVerifyClean) {
  // Through RelayRunner (--until-drained, wake-ups, Drained) while 8 writers
  // place 2,000 orders; mark mode, so the marked rows can be counted.
  constexpr int kOrders = 2000, kWriters = 8;
  std::unique_ptr<outbox::OutboxWriter> writer;
  Status s = outbox::OutboxWriter::Open(Writer(kWriters), &writer);
  ASSERT_TRUE(s.ok()) << s.ToString();
  outbox::RunnerOptions rn;
  rn.until_drained = true;  // the writer above holds the writers' lock until reset
  outbox::RelayOptions ro = Relay(outbox::Strategy::kSkipLocked, 50);
  ro.pipeline = true;
  ro.mark_sent = true;
  RelayThread relay(ro, rn);
  workload::LoadSummary sum = Write(writer.get(), kOrders, kWriters);
  EXPECT_EQ(sum.committed, static_cast<uint64_t>(kOrders));
  writer.reset();

  const outbox::RelayReport& report = relay.Join();
  EXPECT_TRUE(report.drained) << report.ToText();
  EXPECT_EQ(report.published, static_cast<uint64_t>(kOrders)) << report.ToText();
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table WHERE status <> 'sent'"), 0);
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table"), kOrders);
}

TEST(PipelineOptions, RefusedWithKeyPartitionsAndOtherStrategies) {
  outbox::RelayOptions ro;
  ro.dsn = "dbname=x";
  ro.broker_url = "http://127.0.0.1:1";
  ro.pipeline = true;
  ro.key_partitions = 2;
  std::unique_ptr<outbox::Relay> r;
  EXPECT_EQ(outbox::CreateRelay(ro, &r).code(), Status::Code::kInvalidArgument);
  ro.key_partitions = 0;
  ro.strategy = outbox::Strategy::kStatus;
  EXPECT_EQ(outbox::CreateRelay(ro, &r).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace dw::testing
