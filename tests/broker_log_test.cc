// The broker's log, seen from outside: what a restart replays, how a torn
// tail and a damaged middle are handled, and group commit under concurrency.
// Every test runs its own `dualwrite broker serve` process.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "common/process.h"
#include "tests/support/broker_test_util.h"

namespace dw::testing::broker {
namespace {

TEST(BrokerLog, RestartReplaysMessagesIdempotencyAndTransactions) {
  std::string dir = TempDir("broker-replay");
  BrokerProcess b(dir);
  b.Start();
  const int p = b.port();
  ASSERT_EQ(Publish(p, "orders", "o-1", std::string("bin\0ary", 7)).status, 201);
  ASSERT_EQ(Call(p, "POST", "/topics/orders/batch",
                 R"({"messages":[{"id":"o-2","payload":"b"},{"payload":"no id"}]})")
                .status,
            200);
  ASSERT_EQ(Call(p, "POST", "/transactions/g-commit/prepare",
                 R"({"messages":[{"topic":"orders","id":"o-3","payload":"c"}]})")
                .status,
            200);
  ASSERT_EQ(Call(p, "POST", "/transactions/g-commit/commit").status, 200);
  ASSERT_EQ(Call(p, "POST", "/transactions/g-open/prepare",
                 R"({"messages":[{"topic":"audit","id":"a-1","key":"k","payload":"d"}]})")
                .status,
            200);
  ASSERT_EQ(Call(p, "POST", "/transactions/g-aborted/abort").status, 200);
  ASSERT_EQ(Call(p, "POST", "/transactions/g-pre/prepare",
                 R"({"messages":[{"topic":"audit","id":"a-2","payload":"e"}]})")
                .status,
            200);
  ASSERT_EQ(Call(p, "POST", "/transactions/g-pre/precommit").status, 200);
  auto before = ReadAll(p, "orders");
  auto prepared_before = Call(p, "GET", "/transactions?state=prepared").j;
  ASSERT_EQ(before.size(), 4u);

  b.Restart();  // SIGTERM, clean start
  EXPECT_EQ(ReadAll(p, "orders"), before);
  EXPECT_EQ(Call(p, "GET", "/transactions?state=prepared").j, prepared_before);
  // The precommitted mark survived the restart.
  Resp pre = Call(p, "GET", "/transactions?state=precommitted");
  ASSERT_EQ(pre.j["transactions"].size(), 1u) << pre.body;
  EXPECT_EQ(pre.j["transactions"][0]["gid"], "g-pre");
  // The idempotency index survived: same id -> the original offset, nothing new.
  Resp dup = Publish(p, "orders", "o-2", "again");
  EXPECT_EQ(dup.status, 200);
  EXPECT_EQ(dup.j["offset"], 1);
  // Transaction states survived: committed stays committed, aborted stays aborted.
  Resp again = Call(p, "POST", "/transactions/g-commit/commit");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.j["offsets"], json::array({3}));
  EXPECT_EQ(Call(p, "POST", "/transactions/g-aborted/prepare", R"({"messages":[]})").status, 409);
  EXPECT_EQ(ReadAll(p, "orders").size(), 4u);
  std::string out = ReadFile(b.log_path());
  EXPECT_NE(out.find("replayed 8 records (4 messages, 2 prepared), truncated 0 torn bytes"),
            std::string::npos)
      << out;
  b.Stop();
}

TEST(BrokerLog, TornTailIsTruncatedAndReported) {
  std::string dir = TempDir("broker-torn");
  BrokerProcess b(dir);
  b.Start();
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(Publish(b.port(), "t", "m" + std::to_string(i), "x").status, 201);
  b.Kill9();
  const auto log = dir + "/broker.log";
  const auto good = std::filesystem::file_size(log);
  {
    // What a crash in the middle of a write leaves: a frame header that
    // promises more bytes than follow, at the end of the records. The log
    // is preallocated (zeros past the records), so that is inside the file.
    const uint64_t end = RecordsEnd(log);
    ASSERT_LT(end + 11, good) << "the broker's log should have preallocated zeros";
    std::fstream f(log, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(end));
    const char torn[] = {0x40, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 'p', 'a', 'r'};
    f.write(torn, sizeof torn);
  }
  b.Start();
  EXPECT_NE(ReadFile(b.log_path())
                .find("replayed 5 records (5 messages, 0 prepared), truncated 11 torn bytes"),
            std::string::npos)
      << ReadFile(b.log_path());
  EXPECT_EQ(std::filesystem::file_size(log), good);
  EXPECT_EQ(ReadAll(b.port(), "t").size(), 5u);
  Resp r = Publish(b.port(), "t", "m5", "after");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.j["offset"], 5);
  b.Restart();
  EXPECT_EQ(ReadAll(b.port(), "t").size(), 6u);
  b.Stop();
}

TEST(BrokerLog, DamagedMiddleIsRefusedNotDropped) {
  std::string dir = TempDir("broker-corrupt");
  {
    BrokerProcess b(dir);
    b.Start();
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(Publish(b.port(), "t", "m" + std::to_string(i), "payload").status, 201);
    }
    b.Stop();
  }
  const auto log = dir + "/broker.log";
  std::string bytes = ReadFile(log);
  ASSERT_GT(bytes.size(), 20u);
  bytes[12] ^= 0x5a;  // inside the first record's payload
  std::ofstream(log, std::ios::binary | std::ios::trunc) << bytes;

  pid_t pid;
  SpawnOptions o;
  o.stdout_path = dir + "/refused.out";
  o.stderr_path = "=stdout";
  ASSERT_TRUE(
      Spawn({DualwriteBinary(), "broker", "serve", "--listen", "127.0.0.1:0", "--data-dir", dir}, o,
            &pid)
          .ok());
  auto st = WaitChild(pid, std::chrono::seconds(20));
  if (!st) {
    kill(pid, SIGKILL);
    WaitChild(pid, std::chrono::seconds(5));
    FAIL() << "the broker started on a log with a damaged middle";
  }
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) != 0);
  std::string out = ReadFile(dir + "/refused.out");
  EXPECT_NE(out.find("Corruption"), std::string::npos) << out;
  EXPECT_EQ(ReadFile(log), bytes) << "the damaged log must be left as it was";
}

TEST(BrokerLog, GroupCommitSharesFsyncsUnderConcurrency) {
  std::string dir = TempDir("broker-group");
  BrokerProcess b(dir, {"--fsync", "batch", "--threads", "2"});
  b.Start();
  constexpr int kThreads = 16, kPer = 40;
  std::atomic<int> created{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        if (Publish(b.port(), "g", "w" + std::to_string(t) + "-" + std::to_string(i), "x").status ==
            201) {
          ++created;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  ASSERT_EQ(created.load(), kThreads * kPer);
  double fsyncs = Metric(b.port(), "dw_broker_fsyncs_total");
  double records = Metric(b.port(), "dw_broker_records_written_total");
  EXPECT_EQ(records, kThreads * kPer);
  EXPECT_GT(fsyncs, 0);
  EXPECT_LT(fsyncs, records) << "concurrent publishes should share fsyncs";
  EXPECT_EQ(Metric(b.port(), "dw_broker_topic_messages{topic=\"g\"}"), kThreads * kPer);
  b.Stop();
}

TEST(BrokerLog, FsyncAlwaysSyncsEveryRecord) {
  std::string dir = TempDir("broker-always");
  BrokerProcess b(dir, {"--fsync", "always"});
  b.Start();
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) Publish(b.port(), "a", std::to_string(t * 100 + i), "x");
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(Metric(b.port(), "dw_broker_records_written_total"), 40);
  EXPECT_EQ(Metric(b.port(), "dw_broker_fsyncs_total"), 40);
  b.Stop();
}

}  // namespace
}  // namespace dw::testing::broker
