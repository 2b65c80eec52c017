// BrokerClient and BrokerParticipant against real broker processes
// (`dualwrite broker serve`), each test with a broker of its own that it may
// slow down, crash, kill and restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "participants/broker_client.h"
#include "participants/broker_participant.h"
#include "tests/support/test_support.h"

using dw::BrokerClient;
using dw::BrokerMessage;
using dw::BrokerParticipant;
using dw::InDoubtTxn;
using dw::OutMessage;
using dw::Status;
using dw::Work;
using dw::testing::BrokerProcess;
using dw::testing::TempDir;

namespace {

using Clock = std::chrono::steady_clock;

// Quotes, backslashes, control characters, multi-byte UTF-8 (2, 3 and 4
// bytes) and NUL bytes: all must come back byte for byte.
const std::string kNastyPayload = std::string("{\"q\":\"it's \\\"quoted\\\"\"}\n\t\r\x01\x1f") +
                                  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 " +
                                  std::string("nul>\0<nul\0", 10) + "end\\";

std::unique_ptr<BrokerClient> NewClient(const std::string& url,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                        const std::string& token = "") {
  BrokerClient::Options o;
  o.url = url;
  o.timeout = timeout;
  o.bearer_token = token;
  std::unique_ptr<BrokerClient> c;
  Status s = BrokerClient::Create(o, &c);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return c;
}

class BrokerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("participants-broker");
    broker_ = std::make_unique<BrokerProcess>(dir_);
    ASSERT_NO_FATAL_FAILURE(broker_->Start());
    client_ = NewClient(broker_->url());
    ASSERT_NE(client_, nullptr);
  }

  void SetFaults(const std::string& json) {
    auto admin = NewClient(broker_->url());
    dw::HttpResponse r;
    ASSERT_TRUE(admin->Request("POST", "/admin/faults", json, &r).ok());
    ASSERT_EQ(r.status, 200) << r.body;
  }

  std::vector<BrokerMessage> ReadAll(const std::string& topic) {
    std::vector<BrokerMessage> out;
    uint64_t next = 0;
    Status s = client_->Read(topic, 0, 1000, &out, &next);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  // The broker's folder stays behind only when the test failed (its log is in there).
  void TearDown() override {
    client_.reset();
    broker_.reset();  // SIGKILLs it if still running
    if (!HasFailure() && !dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<BrokerClient> client_;
};

TEST_F(BrokerClientTest, PublishDuplicateBatchAndReadAreByteExact) {
  ASSERT_TRUE(client_->Health().ok());
  uint64_t off1 = 99, off_dup = 98;
  bool created = false;
  OutMessage m{"orders", "order-1", "key \"1\"", kNastyPayload};
  Status s = client_->Publish("orders", m, &off1, &created);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(created);
  // Same id again: the broker deduplicates and answers the first offset.
  ASSERT_TRUE(client_->Publish("orders", m, &off_dup, &created).ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(off_dup, off1);

  std::vector<OutMessage> batch = {{"", "order-2", "k2", "two"},
                                   {"", "order-3", "", std::string("\0", 1)},
                                   {"", "order-4", "k4", kNastyPayload + kNastyPayload}};
  std::vector<uint64_t> offsets;
  s = client_->PublishBatch("orders", batch, &offsets);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(offsets.size(), 3u);
  EXPECT_LT(off1, offsets[0]);
  EXPECT_LT(offsets[0], offsets[1]);
  EXPECT_LT(offsets[1], offsets[2]);

  std::vector<BrokerMessage> got;
  uint64_t next = 0;
  s = client_->Read("orders", 0, 100, &got, &next);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(got.size(), 4u) << "the duplicate was not stored twice";
  EXPECT_EQ(got[0].offset, off1);
  EXPECT_EQ(got[0].id, "order-1");
  EXPECT_EQ(got[0].key, "key \"1\"");
  EXPECT_EQ(got[0].payload, kNastyPayload);
  EXPECT_EQ(got[0].payload.size(), kNastyPayload.size());
  EXPECT_GT(got[0].ts_ms, 0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i + 1].offset, offsets[i]);
    EXPECT_EQ(got[i + 1].id, batch[i].id);
    EXPECT_EQ(got[i + 1].key, batch[i].key);
    EXPECT_EQ(got[i + 1].payload, batch[i].payload);
  }
  EXPECT_GT(next, offsets[2]);
  // Paging: from the second message, one at a time.
  s = client_->Read("orders", got[1].offset, 1, &got, &next);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, "order-2");
  // An unknown topic reads as empty or NotFound, never as an error of transport.
  s = client_->Read("no-such-topic", 0, 10, &got, &next);
  EXPECT_TRUE(s.ok() || s.IsNotFound()) << s.ToString();
}

TEST_F(BrokerClientTest, ParticipantPrepareCommitAbortList) {
  auto shared = std::shared_ptr<BrokerClient>(std::move(client_));
  client_ = NewClient(broker_->url());
  BrokerParticipant p(shared);
  EXPECT_EQ(p.name(), "broker");

  Work w;
  w.messages = {{"orders", "evt-1", "o1", kNastyPayload}, {"audit", "evt-2", "a1", "audit one"}};
  auto before = std::chrono::system_clock::now() - std::chrono::seconds(5);
  ASSERT_TRUE(p.Prepare("c1:commit-me", w).ok());
  Work w2;
  w2.messages = {{"orders", "evt-3", "o3", "aborted one"}};
  ASSERT_TRUE(p.Prepare("c1:abort-me", w2).ok());
  ASSERT_TRUE(p.Prepare("c2:other-coordinator", w2).ok());

  // Staged messages are invisible to readers.
  EXPECT_TRUE(ReadAll("orders").empty());
  std::vector<InDoubtTxn> in_doubt;
  ASSERT_TRUE(p.ListInDoubt("c1:", &in_doubt).ok());
  ASSERT_EQ(in_doubt.size(), 2u);
  std::vector<std::string> gids = {in_doubt[0].gid, in_doubt[1].gid};
  std::sort(gids.begin(), gids.end());
  EXPECT_EQ(gids, (std::vector<std::string>{"c1:abort-me", "c1:commit-me"}));
  EXPECT_GT(in_doubt[0].prepared_at, before);
  EXPECT_LT(in_doubt[0].prepared_at, std::chrono::system_clock::now() + std::chrono::seconds(5));
  // The client's raw view carries the staged messages themselves.
  std::vector<dw::BrokerPrepared> raw;
  ASSERT_TRUE(shared->ListPrepared(&raw).ok());
  ASSERT_EQ(raw.size(), 3u);
  for (const auto& t : raw) {
    if (t.gid != "c1:commit-me") continue;
    ASSERT_EQ(t.messages.size(), 2u);
    EXPECT_EQ(t.messages[0].topic, "orders");
    EXPECT_EQ(t.messages[0].payload, kNastyPayload);
  }

  ASSERT_TRUE(p.Commit("c1:commit-me").ok());
  EXPECT_TRUE(p.Commit("c1:commit-me").ok()) << "commit is idempotent";
  ASSERT_TRUE(p.Abort("c1:abort-me").ok());
  EXPECT_TRUE(p.Abort("c1:abort-me").ok()) << "abort is idempotent";
  EXPECT_TRUE(p.Abort("c1:never-prepared").ok()) << "presumed abort";
  Status s = p.Commit("c1:never-seen");
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  // The broker remembers decisions: the opposite one is refused (412), and
  // that is no vote: FailedPrecondition, not Aborted (participant.h).
  s = p.Commit("c1:abort-me");
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.ToString();
  s = p.Commit("c1:never-prepared");
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << "its presumed abort was recorded";
  s = p.Abort("c1:commit-me");
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.ToString();

  auto orders = ReadAll("orders");
  ASSERT_EQ(orders.size(), 1u);
  EXPECT_EQ(orders[0].id, "evt-1");
  EXPECT_EQ(orders[0].payload, kNastyPayload);
  auto audit = ReadAll("audit");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].payload, "audit one");

  ASSERT_TRUE(p.ListInDoubt("c1:", &in_doubt).ok());
  EXPECT_TRUE(in_doubt.empty());
  ASSERT_TRUE(p.ListInDoubt("", &in_doubt).ok());
  ASSERT_EQ(in_doubt.size(), 1u);
  EXPECT_EQ(in_doubt[0].gid, "c2:other-coordinator");
  ASSERT_TRUE(p.Abort("c2:other-coordinator").ok());
}

TEST_F(BrokerClientTest, VoteAbortIsAbortedWithReason) {
  SetFaults(R"({"abort_prob": 1})");
  BrokerParticipant p(std::shared_ptr<BrokerClient>(NewClient(broker_->url())));
  Work w;
  w.messages = {{"orders", "evt-1", "", "x"}};
  Status s = p.Prepare("c1:vote-abort", w);
  EXPECT_TRUE(s.IsAborted()) << s.ToString();
  EXPECT_NE(s.message().find("409"), std::string::npos) << s.message();
  std::vector<InDoubtTxn> in_doubt;
  ASSERT_TRUE(p.ListInDoubt("c1:", &in_doubt).ok());
  EXPECT_TRUE(in_doubt.empty()) << "a no vote stages nothing";
  EXPECT_TRUE(p.Abort("c1:vote-abort").ok());
}

TEST_F(BrokerClientTest, SlowBrokerIsTimeoutAndTheConnectionIsNotReused) {
  auto fast = NewClient(broker_->url(), std::chrono::milliseconds(200));
  ASSERT_TRUE(fast->Health().ok());
  uint64_t off;
  ASSERT_TRUE(fast->Publish("orders", {"", "warm", "", "x"}, &off).ok());
  EXPECT_EQ(fast->stats().connections_opened, 1u);

  SetFaults(R"({"latency_ms": 2000})");
  auto start = Clock::now();
  Status s = fast->Publish("orders", {"", "late", "", "x"}, &off);
  EXPECT_EQ(s.code(), Status::Code::kTimeout) << s.ToString();
  EXPECT_TRUE(s.IsOutcomeUnknown());
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1500)) << "the deadline was not kept";
  EXPECT_EQ(fast->stats().idle, 0u) << "a timed-out connection must be discarded";

  SetFaults(R"({"latency_ms": 0})");
  // The late publish did land once its latency passed; publishing it again
  // is deduplicated, which is why a Timeout may be retried.
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  bool created = true;
  s = fast->Publish("orders", {"", "late", "", "x"}, &off, &created);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(created);
  EXPECT_EQ(fast->stats().connections_opened, 2u)
      << "a fresh connection replaced the timed-out one";
}

TEST_F(BrokerClientTest, KilledBrokerIsUnavailableQuicklyThenRecovers) {
  auto c = NewClient(broker_->url(), std::chrono::seconds(10));
  uint64_t off;
  ASSERT_TRUE(c->Publish("orders", {"", "before-kill", "", "x"}, &off).ok());
  ASSERT_EQ(c->stats().idle, 1u);
  broker_->Kill9();

  auto start = Clock::now();
  Status s = c->Publish("orders", {"", "while-dead", "", "x"}, &off);
  // Usually the pooled connection's FIN is already there and the publish is
  // refused before anything is sent: Unavailable. On a loaded machine the
  // loopback FIN can still be queued in the kernel when the killed process
  // has been reaped; then the request goes out on the dead connection, and
  // the client rightly cannot rule out that it was applied: InDoubt.
  EXPECT_TRUE(s.code() == Status::Code::kUnavailable || s.code() == Status::Code::kInDoubt)
      << s.ToString();
  // Refused at once, not after the 10 s deadline.
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  start = Clock::now();
  EXPECT_EQ(c->Health().code(), Status::Code::kUnavailable);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));

  ASSERT_NO_FATAL_FAILURE(broker_->Start());  // same port, same data dir
  s = c->Publish("orders", {"", "after-restart", "", "x"}, &off);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto got = ReadAll("orders");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, "before-kill");
  EXPECT_EQ(got[1].id, "after-restart");
}

TEST_F(BrokerClientTest, IdleConnectionsSurviveABrokerRestart) {
  ASSERT_TRUE(client_->Health().ok());
  ASSERT_EQ(client_->stats().idle, 1u);
  broker_->Restart();  // SIGTERM + start: the pooled connection is closed
  // No error surfaces: the dead idle connection is noticed and replaced.
  Status s = client_->Health();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(client_->stats().connections_opened, 2u);
}

// A pooled plain connection idle for less than a second is reused without
// first checking that the broker still holds it open (a system call per
// request saved). When the broker has closed it, here by its idle timeout,
// the request meets the end of the stream before any byte of a response
// and goes again on a new connection: the caller sees no error.
TEST(BrokerClientIdle, AConnectionTheBrokerClosedMomentsAgoIsReplacedSilently) {
  const std::string dir = TempDir("participants-broker-idle");
  BrokerProcess broker(dir, {"--idle-timeout-ms", "150"});
  ASSERT_NO_FATAL_FAILURE(broker.Start());
  auto client = NewClient(broker.url());
  ASSERT_NE(client, nullptr);
  uint64_t off = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client->Publish("idle", {"", "m" + std::to_string(i), "", "x"}, &off).ok());
    // Past the broker's idle timeout, inside the client's one second.
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  Status s = client->Publish("idle", {"", "last", "", "x"}, &off);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(off, 3u);
  EXPECT_EQ(client->stats().connections_opened, 4u) << "each closed connection was replaced";
  EXPECT_EQ(client->stats().requests, 4u);
  std::vector<BrokerMessage> got;
  uint64_t next = 0;
  ASSERT_TRUE(client->Read("idle", 0, 10, &got, &next).ok());
  EXPECT_EQ(got.size(), 4u) << "each request applied once";
  client.reset();
  broker.Stop();
  std::filesystem::remove_all(dir);
}

// The broker dies after its commit record is durable, before it answers:
// the client cannot know, and says so (InDoubt, not Unavailable). Commit is
// idempotent, so the answer is to ask again once the broker is back.
TEST_F(BrokerClientTest, CrashAfterCommitBeforeReplyIsInDoubtThenCommitted) {
  BrokerParticipant p(std::shared_ptr<BrokerClient>(NewClient(broker_->url())));
  Work w;
  w.messages = {{"orders", "evt-crash", "", "survives"}};
  ASSERT_TRUE(p.Prepare("c1:crash", w).ok());
  SetFaults(R"({"crash_at": "after-commit-before-reply"})");
  Status s = p.Commit("c1:crash");
  EXPECT_EQ(s.code(), Status::Code::kInDoubt) << s.ToString();
  EXPECT_TRUE(s.IsOutcomeUnknown());
  for (int i = 0; i < 500 && broker_->Running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(broker_->Running());
  ASSERT_NO_FATAL_FAILURE(broker_->Start());
  s = p.Commit("c1:crash");
  EXPECT_TRUE(s.ok()) << s.ToString();
  auto got = ReadAll("orders");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "survives");
}

TEST_F(BrokerClientTest, ReusesConnections) {
  for (int i = 0; i < 1000; ++i) {
    Status s = client_->Health();
    ASSERT_TRUE(s.ok()) << "request " << i << ": " << s.ToString();
  }
  uint64_t off;
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(client_->Publish("orders", {"", "m" + std::to_string(i), "", "x"}, &off).ok());
  }
  // The broker exports no connection count in /metrics, so the client's own
  // count is the evidence: 1200 requests, one TCP connection.
  EXPECT_EQ(client_->stats().connections_opened, 1u);
  EXPECT_EQ(client_->stats().requests, 1200u);

  // Concurrent callers each get a connection; no more are opened than callers.
  auto shared = NewClient(broker_->url());
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        uint64_t o;
        OutMessage m{"", "t" + std::to_string(t) + "-" + std::to_string(i), "", "x"};
        if (!shared->Publish("concurrent", m, &o).ok()) ++failures;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_LE(shared->stats().connections_opened, 4u);
  EXPECT_EQ(ReadAll("concurrent").size(), 400u);
}

TEST_F(BrokerClientTest, HttpErrorsMapToStatuses) {
  dw::HttpResponse r;
  ASSERT_TRUE(client_->Request("GET", "/no/such/route", "", &r).ok())
      << "raw requests report any HTTP status";
  EXPECT_EQ(r.status, 404);
  ASSERT_TRUE(client_->Request("GET", "/metrics", "", &r).ok());
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("dw_broker_requests_total"), std::string::npos);
  // Over the broker's body limit (1 MiB by default): 413 -> InvalidArgument.
  uint64_t off;
  Status s = client_->Publish("orders", {"", "big", "", std::string(2 << 20, 'x')}, &off);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  // The client keeps working afterwards.
  EXPECT_TRUE(client_->Publish("orders", {"", "small", "", "x"}, &off).ok());
}

TEST(BrokerTokenTest, BearerToken) {
  std::string dir = TempDir("participants-broker-token");
  {
    std::ofstream f(dir + "/token");
    f << "s3cret-token\n";
  }
  BrokerProcess b(dir + "/data", {"--token-file", dir + "/token"});
  ASSERT_NO_FATAL_FAILURE(b.Start());
  uint64_t off;
  Status s = NewClient(b.url())->Publish("orders", {"", "a", "", "x"}, &off);
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.ToString();
  s = NewClient(b.url(), std::chrono::seconds(5), "s3cret-token")
          ->Publish("orders", {"", "a", "", "x"}, &off);
  EXPECT_TRUE(s.ok()) << s.ToString();
  b.Kill9();
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
