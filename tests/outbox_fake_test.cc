// The relays' settle logic in process, with a fake publisher: what a failed
// publish leaves unsettled and publishes again, what a successful one
// settles. The cdc relay's backlog (outbox/cdc_backlog.h) decides when the
// slot's flush position may be confirmed; the publisher seam
// (outbox/publisher.h) is how every relay reaches the broker. No server is
// started.
#include <poll.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/trace.h"
#include "outbox/cdc_backlog.h"
#include "outbox/publish_worker.h"
#include "outbox/publisher.h"
#include "outbox/relay.h"
#include "tests/support/fake_publisher.h"

namespace dw::outbox {
namespace {

using testing::FakePublisher;

OutboxEvent Event(int64_t id) {
  return OutboxEvent{id, "orders", "order-" + std::to_string(id), std::to_string(id), "{}"};
}

// One transaction of the stream: BEGIN, one insert per id, COMMIT at end_lsn.
void Txn(CdcBacklog* b, const std::vector<int64_t>& ids, uint64_t end_lsn) {
  b->Begin();
  for (int64_t id : ids) b->Insert(Event(id));
  b->Commit(end_lsn);
}

TEST(CdcBacklog, FailedPublishSettlesNothingAndTheSameEventsGoAgain) {
  FakePublisher pub;
  CdcBacklog b;
  Txn(&b, {1, 2}, 100);
  pub.Fail(Status::Unavailable("broker down"));
  Status s = b.Publish(&pub, nullptr, "");
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_EQ(b.size(), 2u) << "the events stay buffered";
  EXPECT_EQ(b.confirmed(), 0u) << "nothing confirmed to the slot";
  b.ConfirmIdle();
  EXPECT_EQ(b.confirmed(), 0u) << "not idle while events wait";

  ASSERT_TRUE(b.Publish(&pub, nullptr, "").ok());
  EXPECT_EQ(pub.calls(), 2);
  EXPECT_EQ(pub.event_ids(), (std::vector<std::string>{"order-1", "order-2"}));
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.confirmed(), 100u);
}

TEST(CdcBacklog, AnswerLostAfterStoringIsPublishedAgainNotConfirmedEarly) {
  FakePublisher pub;
  CdcBacklog b;
  Txn(&b, {1}, 100);
  pub.Fail(Status::Timeout("no answer"), 1, /*stored=*/true);
  EXPECT_FALSE(b.Publish(&pub, nullptr, "").ok());
  EXPECT_EQ(b.confirmed(), 0u);
  ASSERT_TRUE(b.Publish(&pub, nullptr, "").ok());
  // At least once: the broker deduplicates the repeat by event id.
  EXPECT_EQ(pub.event_ids(), (std::vector<std::string>{"order-1", "order-1"}));
  EXPECT_EQ(b.confirmed(), 100u);
}

TEST(CdcBacklog, TransactionCutByTheBatchStaysUnconfirmed) {
  FakePublisher pub;
  CdcBacklog b;
  Txn(&b, {1}, 100);
  b.Begin();
  b.Insert(Event(2));  // the batch ends inside this transaction
  ASSERT_TRUE(b.Publish(&pub, nullptr, "").ok());
  EXPECT_EQ(b.confirmed(), 100u) << "only up to the last complete commit";
  EXPECT_TRUE(b.in_txn());
  b.SawWalEnd(500);
  b.ConfirmIdle();
  EXPECT_EQ(b.confirmed(), 100u) << "not idle inside a transaction";
  b.Insert(Event(3));
  b.Commit(200);
  ASSERT_TRUE(b.Publish(&pub, nullptr, "").ok());
  EXPECT_EQ(b.confirmed(), 200u);
}

TEST(CdcBacklog, IdleConfirmsTheServersWalEnd) {
  FakePublisher pub;
  CdcBacklog b;
  b.SawWalEnd(300);
  b.SawWalEnd(250);  // an older report never moves it back
  EXPECT_EQ(b.wal_end(), 300u);
  b.ConfirmIdle();
  EXPECT_EQ(b.confirmed(), 300u);
  EXPECT_EQ(pub.calls(), 0);
}

TEST(CdcBacklog, RestartDropsTheBufferButNotThePositions) {
  FakePublisher pub;
  CdcBacklog b;
  Txn(&b, {1}, 100);
  ASSERT_TRUE(b.Publish(&pub, nullptr, "").ok());
  b.Begin();
  b.Insert(Event(2));
  pub.Fail(Status::Unavailable("broker down"));
  EXPECT_FALSE(b.Publish(&pub, nullptr, "").ok());
  b.Restart();  // the stream resends from the confirmed position
  EXPECT_TRUE(b.empty());
  EXPECT_FALSE(b.in_txn());
  EXPECT_EQ(b.confirmed(), 100u);
  Txn(&b, {2}, 200);
  ASSERT_TRUE(b.Publish(&pub, nullptr, "").ok());
  EXPECT_EQ(pub.event_ids(), (std::vector<std::string>{"order-1", "order-2"}));
  EXPECT_EQ(b.confirmed(), 200u);
}

// The cdc relay's overlap: batch 1 in flight while transaction 2 is read.
// Its ack confirms only what had been read when it was handed over.
TEST(CdcBacklog, AckConfirmsOnlyWhatWasReadBeforeTheBatchWasTaken) {
  CdcBacklog b;
  Txn(&b, {1}, 100);
  b.Begin();
  b.Insert(Event(2));  // the batch is taken inside this transaction
  std::vector<OutboxEvent> batch;
  b.Take(&batch);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_TRUE(b.in_flight());
  b.Insert(Event(3));
  b.Commit(200);
  Txn(&b, {4}, 300);
  b.SawWalEnd(400);
  b.ConfirmIdle();
  EXPECT_EQ(b.confirmed(), 0u) << "nothing confirmed while a batch is in flight";
  b.Acked();
  EXPECT_EQ(b.confirmed(), 100u) << "the commit read after the hand-over is not confirmed";
  EXPECT_EQ(b.size(), 2u) << "what was read meanwhile stays buffered";
  b.Take(&batch);
  b.Acked();
  EXPECT_EQ(b.confirmed(), 300u);
}

TEST(CdcBacklog, FailedBatchGoesBackInFrontOfWhatWasReadMeanwhile) {
  CdcBacklog b;
  Txn(&b, {1, 2}, 100);
  std::vector<OutboxEvent> batch;
  b.Take(&batch);
  Txn(&b, {3}, 200);
  b.Failed(std::move(batch));
  EXPECT_FALSE(b.in_flight());
  EXPECT_EQ(b.confirmed(), 0u);
  std::vector<int64_t> ids;
  for (const auto& e : b.events()) ids.push_back(e.id);
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 2, 3})) << "stream order kept";
  b.Take(&batch);
  b.Acked();
  EXPECT_EQ(b.confirmed(), 200u);
}

TEST(PublishWorker, PublishesOneBatchAtATimeAndSignalsItsFd) {
  FakePublisher pub;
  PublishWorker w(&pub);
  EXPECT_FALSE(w.in_flight());
  w.Start({Event(1), Event(2)}, nullptr, "");
  EXPECT_TRUE(w.in_flight());
  pollfd p{w.fd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1) << "the fd says the batch is done";
  EXPECT_TRUE(w.Done());
  std::vector<OutboxEvent> back;
  ASSERT_TRUE(w.Finish(&back).ok());
  EXPECT_EQ(back.size(), 2u);
  EXPECT_FALSE(w.in_flight());
  EXPECT_EQ(poll(&p, 1, 0), 0) << "Finish empties the fd";

  pub.Fail(Status::Unavailable("broker down"));
  w.Start({Event(3)}, nullptr, "");
  Status s = w.Finish(&back);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  ASSERT_EQ(back.size(), 1u) << "a failed batch comes back for its retry";
  EXPECT_EQ(back[0].id, 3);
  EXPECT_EQ(pub.event_ids(), (std::vector<std::string>{"order-1", "order-2"}));
}

TEST(Publisher, TracedPublishRecordsTheBrokersAnswer) {
  FakePublisher pub;
  Trace tr(10, "relay");
  ASSERT_TRUE(tr.Begin("r0.b1"));
  pub.Fail(Status::Unavailable("broker down"));
  EXPECT_FALSE(PublishTraced(&pub, {Event(1), Event(2)}, &tr, "r0.b1").ok());
  EXPECT_TRUE(PublishTraced(&pub, {Event(1), Event(2)}, &tr, "r0.b1").ok());
  std::ostringstream out;
  tr.Write(out, Trace::Format::kText);
  EXPECT_NE(out.str().find("2 messages (order-1 .. order-2)"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("failed: "), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("200: stored durably"), std::string::npos) << out.str();
}

TEST(Publisher, RelayOptionsPublisherReplacesTheBroker) {
  FakePublisher pub;
  RelayOptions opts;
  opts.broker_url = "http://127.0.0.1:1";  // never contacted
  opts.publisher = pub.Factory();
  std::unique_ptr<Publisher> a, b;
  ASSERT_TRUE(MakePublisher(opts, &a).ok());
  ASSERT_TRUE(MakePublisher(opts, &b).ok());
  ASSERT_TRUE(a->Publish({Event(1)}).ok());
  ASSERT_TRUE(b->Publish({Event(2)}).ok());
  EXPECT_EQ(pub.event_ids(), (std::vector<std::string>{"order-1", "order-2"}));
}

}  // namespace
}  // namespace dw::outbox
