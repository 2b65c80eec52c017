// jetstream::Follower against a real nats-server (the NatsTest fixture's):
//  - it reads a stream from sequence 1 in batches, each message once, in
//    order with its sequence, id, key and payload, then what is published
//    after it caught up; the stream keeps every message (no acks, nothing
//    taken away: Client::Read still returns them all);
//  - caught up, a Next that waits returns the message stored while it
//    waits;
//  - it starts at any sequence, and a stream that does not exist is
//    NotFound;
//  - after the server restarted, the old Follower fails, and a new one
//    opened from its next_seq() reads on with no gap and no repeat;
//  - with 1 ms waits while a publisher keeps the stream growing, every
//    message is returned by Next or named in TakeGaps, once (the test that
//    found libnats 3.4.1's Fetch writing past its list: it crashed within
//    three runs with a pull consumer);
//  - compare's e2e tail (compare/broker_tail.h) reads on when the server
//    stops pushing to its consumer.
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nats/nats.h>

#include "compare/broker_tail.h"
#include "jetstream/client.h"
#include "jetstream/follower.h"
#include "tests/support/nats_fixture.h"

namespace dw::testing {
namespace {

class NatsFollowerTest : public NatsTest {
 protected:
  jetstream::ClientOptions Options() const {
    jetstream::ClientOptions o;
    o.url = nats_->url();
    o.timeout = std::chrono::milliseconds(2000);
    return o;
  }

  // Publishes messages first..last (id e<i>, key <i>, payload p<i>).
  void PublishRange(int first, int last) {
    std::unique_ptr<jetstream::Client> c;
    ASSERT_TRUE(jetstream::Client::Connect(Options(), &c).ok());
    std::vector<jetstream::OutMessage> msgs;
    for (int i = first; i <= last; ++i) {
      msgs.push_back({"e" + std::to_string(i), std::to_string(i), "p" + std::to_string(i)});
    }
    jetstream::PublishResult r;
    Status s = c->Publish("orders", msgs, &r);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(r.stored, msgs.size());
  }

  // Next until a batch comes back empty; every batch at most `max`.
  static std::vector<jetstream::StoredMessage> Drain(jetstream::Follower* f, size_t max) {
    std::vector<jetstream::StoredMessage> all, batch;
    for (;;) {
      Status s = f->Next(max, std::chrono::milliseconds(50), &batch);
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (!s.ok() || batch.empty()) return all;
      EXPECT_LE(batch.size(), max);
      all.insert(all.end(), batch.begin(), batch.end());
    }
  }

  // Each message i of `got` is the one published with sequence first + i.
  static void ExpectSequence(const std::vector<jetstream::StoredMessage>& got, int first) {
    for (size_t i = 0; i < got.size(); ++i) {
      const int n = first + static_cast<int>(i);
      ASSERT_EQ(got[i].seq, static_cast<uint64_t>(n));
      EXPECT_EQ(got[i].id, "e" + std::to_string(n));
      EXPECT_EQ(got[i].key, std::to_string(n));
      EXPECT_EQ(got[i].payload, "p" + std::to_string(n));
    }
  }
};

TEST_F(NatsFollowerTest, ReadsEachMessageOnceInBatchesAndTakesNothingAway) {
  PublishRange(1, 2000);
  std::unique_ptr<jetstream::Follower> f;
  Status s = jetstream::Follower::Open(Options(), "orders", 1, &f);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<jetstream::StoredMessage> got = Drain(f.get(), 300);
  ASSERT_EQ(got.size(), 2000u);
  ExpectSequence(got, 1);
  EXPECT_EQ(f->next_seq(), 2001u);

  // Caught up: what comes next, and only that.
  PublishRange(2001, 2010);
  got = Drain(f.get(), 300);
  ASSERT_EQ(got.size(), 10u);
  ExpectSequence(got, 2001);

  // The stream still holds every message for verify.
  EXPECT_EQ(StreamCount(), 2010u);
  std::unique_ptr<jetstream::Client> c;
  ASSERT_TRUE(jetstream::Client::Connect(Options(), &c).ok());
  std::vector<jetstream::StoredMessage> read;
  uint64_t next = 0;
  ASSERT_TRUE(c->Read("orders", 1, 5000, &read, &next).ok());
  EXPECT_EQ(read.size(), 2010u);
}

TEST_F(NatsFollowerTest, CaughtUpANextThatWaitsReturnsTheMessageStoredMeanwhile) {
  PublishRange(1, 5);
  std::unique_ptr<jetstream::Follower> f;
  ASSERT_TRUE(jetstream::Follower::Open(Options(), "orders", 1, &f).ok());
  ASSERT_EQ(Drain(f.get(), 512).size(), 5u);
  // Published once the Next below is (most likely) waiting for a push;
  // either way that one Next, waiting up to 30 s, returns it.
  std::thread publisher([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    PublishRange(6, 6);
  });
  std::vector<jetstream::StoredMessage> batch;
  Status s = f->Next(512, std::chrono::seconds(30), &batch);
  publisher.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(batch.size(), 1u);
  ExpectSequence(batch, 6);
}

TEST_F(NatsFollowerTest, StartsAtAnySequenceAndAMissingStreamIsNotFound) {
  std::unique_ptr<jetstream::Follower> f;
  Status s = jetstream::Follower::Open(Options(), "orders", 1, &f);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_FALSE(f);

  PublishRange(1, 100);
  s = jetstream::Follower::Open(Options(), "orders", 61, &f);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<jetstream::StoredMessage> got = Drain(f.get(), 1000);
  ASSERT_EQ(got.size(), 40u);
  ExpectSequence(got, 61);
}

TEST_F(NatsFollowerTest, AfterAServerRestartANewFollowerGoesOnFromNextSeq) {
  PublishRange(1, 500);
  std::unique_ptr<jetstream::Follower> f;
  ASSERT_TRUE(jetstream::Follower::Open(Options(), "orders", 1, &f).ok());
  std::vector<jetstream::StoredMessage> got = Drain(f.get(), 256);
  ASSERT_EQ(got.size(), 500u);

  Status s = nats_->Restart();
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<jetstream::StoredMessage> batch;
  EXPECT_FALSE(f->Next(256, std::chrono::milliseconds(50), &batch).ok());

  PublishRange(501, 800);
  std::unique_ptr<jetstream::Follower> again;
  s = jetstream::Follower::Open(Options(), "orders", f->next_seq(), &again);
  ASSERT_TRUE(s.ok()) << s.ToString();
  got = Drain(again.get(), 256);
  ASSERT_EQ(got.size(), 300u);
  ExpectSequence(got, 501);
}

// Short waits while the stream grows: every message once, returned or
// named as a gap (none is expected; what is asserted holds either way).
TEST_F(NatsFollowerTest, EveryMessageIsReturnedOrNamedInAGapOnce) {
  std::unique_ptr<jetstream::Follower> f;
  PublishRange(1, 1);
  Status s = jetstream::Follower::Open(Options(), "orders", 1, &f);
  ASSERT_TRUE(s.ok()) << s.ToString();
  constexpr int kLast = 6001;  // 1, then 12 batches of 500
  std::thread publisher([this] {
    for (int first = 2; first <= kLast; first += 500) PublishRange(first, first + 499);
  });
  std::vector<int> seen(kLast + 1, 0);
  std::vector<jetstream::StoredMessage> batch;
  uint64_t gaps = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (f->next_seq() <= static_cast<uint64_t>(kLast) &&
         std::chrono::steady_clock::now() < deadline) {
    s = f->Next(64, std::chrono::milliseconds(1), &batch);
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (const auto& m : batch) ++seen.at(m.seq);
    for (const auto& [first, last] : f->TakeGaps()) {
      ASSERT_LE(first, last);
      for (uint64_t q = first; q <= last; ++q) ++seen.at(q);
      ++gaps;
    }
  }
  publisher.join();
  for (int q = 1; q <= kLast; ++q) ASSERT_EQ(seen[q], 1) << "sequence " << q;
  std::cerr << "gaps met: " << gaps << "\n";
}

// Deleting the tail's consumer on the server stops the pushes without a
// word to the subscription: a stall the consumer cannot see. compare's
// e2e tail notices that the stream holds more than it was pushed (it asks
// once a second while caught up) and reads on, each message once.
TEST_F(NatsFollowerTest, TheTailReadsOnWhenTheServerStopsPushingToItsConsumer) {
  PublishRange(1, 5);
  compare::BrokerTail tail(nats_->url(), "orders", 1, 1000);
  tail.Start();
  auto wait_for = [&](uint64_t n) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (tail.unique() < n && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return tail.unique();
  };
  ASSERT_EQ(wait_for(5), 5u);

  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, nats_->url().c_str()), NATS_OK);
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  jsConsumerNamesList* names = nullptr;
  ASSERT_EQ(js_ConsumerNames(&names, js, "orders", nullptr, nullptr), NATS_OK);
  ASSERT_EQ(names->Count, 1) << "the tail's consumer";
  EXPECT_EQ(js_DeleteConsumer(js, "orders", names->List[0], nullptr, nullptr), NATS_OK);
  jsConsumerNamesList_Destroy(names);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);

  PublishRange(6, 10);
  EXPECT_EQ(wait_for(10), 10u);
  tail.Stop();
  EXPECT_EQ(tail.redundant(), 0u);
}

}  // namespace
}  // namespace dw::testing
