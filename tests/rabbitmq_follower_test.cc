// rabbitmq::Follower against the outbox environment's rabbitmq-server node
// (the RabbitmqTest fixture's, its `orders` queue deleted first):
//  - opened before the first publish (it declares the queue), it reads
//    65,000 messages each once, more than one consumer's prefetch (so it
//    opened more consumers), holding them all: none is ready meanwhile;
//  - closed, it hands every message back: the queue holds all 65,000
//    again, and Client::Read finds each one;
//  - the queue deleted under it ends it with an error.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "rabbitmq/client.h"
#include "rabbitmq/follower.h"
#include "tests/support/rabbitmq_fixture.h"

namespace dw::testing {
namespace {

using namespace std::chrono_literals;

rabbitmq::ClientOptions Options(const std::string& url) {
  rabbitmq::ClientOptions o;
  o.url = url;
  o.timeout = 5000ms;
  return o;
}

// Publishes messages first..last (id e<i>, key <i>, payload p<i>), 5,000 a batch.
void PublishRange(rabbitmq::Client* c, int first, int last) {
  std::vector<rabbitmq::OutMessage> msgs;
  for (int i = first; i <= last; ++i) {
    msgs.push_back({"e" + std::to_string(i), std::to_string(i), "p" + std::to_string(i)});
    if (msgs.size() == 5000 || i == last) {
      Status s = c->Publish("orders", msgs);
      ASSERT_TRUE(s.ok()) << s.ToString();
      msgs.clear();
    }
  }
}

class RabbitmqFollowerTest : public RabbitmqTest {
 protected:
  // The ready count once it reaches `n`, or the last one seen after 30 s (the
  // server returns a closed connection's deliveries on its own time).
  static uint64_t ReadyOnceItReaches(uint64_t n) {
    uint64_t ready = 0;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      ready = QueueCount();
      if (ready >= n) break;
      std::this_thread::sleep_for(20ms);
    }
    return ready;
  }
};

TEST_F(RabbitmqFollowerTest, ReadsEachMessageOnceHoldingThemAllAndHandsThemBackWhenClosed) {
  constexpr int kMessages = 65000;
  std::unique_ptr<rabbitmq::Follower> f;
  Status s = rabbitmq::Follower::Open(Options(Url()), "orders", &f);
  ASSERT_TRUE(s.ok()) << s.ToString();

  std::unique_ptr<rabbitmq::Client> c = Connect();
  ASSERT_TRUE(c);
  PublishRange(c.get(), 1, kMessages);

  std::unordered_set<std::string> ids;
  std::vector<rabbitmq::StoredMessage> batch;
  int idle = 0;  // Next calls in a row that waited 1 s for nothing
  while (ids.size() < kMessages && idle < 10) {
    s = f->Next(1000, 1000ms, &batch);
    ASSERT_TRUE(s.ok()) << s.ToString();
    idle = batch.empty() ? idle + 1 : 0;
    EXPECT_LE(batch.size(), 1000u);
    for (const auto& m : batch) {
      EXPECT_TRUE(ids.insert(m.id).second) << m.id << " read twice";
      EXPECT_EQ(m.id, "e" + m.key);
      EXPECT_EQ(m.payload, "p" + m.key);
      EXPECT_FALSE(m.redelivered);
    }
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(f->held(), static_cast<uint64_t>(kMessages));
  // Nothing more, and nothing ready for anyone else while the Follower holds them.
  ASSERT_TRUE(f->Next(1000, 100ms, &batch).ok());
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(QueueCount(), 0u);

  f.reset();
  EXPECT_EQ(ReadyOnceItReaches(kMessages), static_cast<uint64_t>(kMessages));
  std::vector<rabbitmq::StoredMessage> all;
  s = c->Read("orders", &all);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::unordered_set<std::string> back;
  for (const auto& m : all) back.insert(m.id);
  EXPECT_EQ(all.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(back, ids);
}

TEST_F(RabbitmqFollowerTest, TheQueueDeletedUnderItEndsIt) {
  std::unique_ptr<rabbitmq::Follower> f;
  Status s = rabbitmq::Follower::Open(Options(Url()), "orders", &f);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::unique_ptr<rabbitmq::Client> c = Connect();
  ASSERT_TRUE(c);
  PublishRange(c.get(), 1, 10);
  ASSERT_TRUE(c->DeleteQueue("orders").ok());
  std::vector<rabbitmq::StoredMessage> batch;
  std::vector<rabbitmq::StoredMessage> got;
  for (int i = 0; i < 50 && s.ok(); ++i) {
    s = f->Next(1000, 100ms, &batch);
    got.insert(got.end(), batch.begin(), batch.end());
  }
  EXPECT_FALSE(s.ok());
  EXPECT_LE(got.size(), 10u);
}

}  // namespace
}  // namespace dw::testing
