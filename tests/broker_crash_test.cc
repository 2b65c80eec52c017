// The broker dying at the worst moments: SIGKILL with a prepared transaction,
// the crash_at fault points, SIGKILL under publishing load, and a full disk.
// What was acknowledged must survive exactly once; what was not may or may not.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/process.h"
#include "tests/support/broker_test_util.h"

namespace dw::testing::broker {
namespace {

// Waits for the broker process to exit by itself; returns its exit code (-1 if not).
int WaitExit(BrokerProcess& b) {
  auto st = WaitChild(b.pid(), std::chrono::seconds(10));
  if (!st || !WIFEXITED(*st)) return -1;
  return WEXITSTATUS(*st);
}

json FindPrepared(int port, const std::string& gid) {
  Resp listed = Call(port, "GET", "/transactions?state=prepared");
  EXPECT_EQ(listed.status, 200);
  for (const auto& t : listed.j["transactions"]) {
    if (t["gid"] == gid) return t;
  }
  return nullptr;
}

TEST(BrokerCrash, PreparedTransactionSurvivesKill9ThenCommitsExactlyOnce) {
  BrokerProcess b(TempDir("broker-kill-prepared"));
  b.Start();
  ASSERT_EQ(Call(b.port(), "POST", "/transactions/order-7/prepare",
                 R"({"messages":[{"topic":"orders","id":"order-7","payload":"created"},
                                 {"topic":"emails","id":"mail-7","payload":"welcome"}]})")
                .status,
            200);
  b.Kill9();
  b.Start();
  json t = FindPrepared(b.port(), "order-7");
  ASSERT_FALSE(t.is_null()) << "a prepared transaction must survive a SIGKILL";
  EXPECT_EQ(t["messages"].size(), 2u);
  EXPECT_TRUE(ReadAll(b.port(), "orders").empty());
  Resp c = Call(b.port(), "POST", "/transactions/order-7/commit");
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(c.j["offsets"], json::array({0, 0}));
  // The recovery of a coordinator may commit again after another crash.
  b.Kill9();
  b.Start();
  EXPECT_EQ(Call(b.port(), "POST", "/transactions/order-7/commit").status, 200);
  EXPECT_TRUE(FindPrepared(b.port(), "order-7").is_null());
  auto orders = ReadAll(b.port(), "orders");
  ASSERT_EQ(orders.size(), 1u);
  EXPECT_EQ(orders[0]["id"], "order-7");
  EXPECT_EQ(ReadAll(b.port(), "emails").size(), 1u);
  b.Stop();
}

TEST(BrokerCrash, CrashAfterStageBeforeVote) {
  BrokerProcess b(TempDir("broker-crash-stage"));
  b.Start();
  ASSERT_EQ(
      Call(b.port(), "POST", "/admin/faults", R"({"crash_at":"after-stage-before-vote"})").status,
      200);
  Resp v = Call(b.port(), "POST", "/transactions/g-stage/prepare",
                R"({"messages":[{"topic":"t","id":"s1","payload":"x"}]})");
  EXPECT_EQ(v.status, 0) << "no vote may come back: " << v.body;
  EXPECT_EQ(WaitExit(b), 3);
  b.Start();  // faults set at run time are gone after a restart
  EXPECT_FALSE(FindPrepared(b.port(), "g-stage").is_null())
      << "the prepare record was durable before the crash";
  // The coordinator, having no vote, aborts; or it retries the prepare.
  EXPECT_EQ(Call(b.port(), "POST", "/transactions/g-stage/prepare",
                 R"({"messages":[{"topic":"t","id":"s1","payload":"x"}]})")
                .status,
            200);
  EXPECT_EQ(Call(b.port(), "POST", "/transactions/g-stage/abort").status, 200);
  EXPECT_TRUE(FindPrepared(b.port(), "g-stage").is_null());
  EXPECT_TRUE(ReadAll(b.port(), "t").empty());
  b.Stop();
}

TEST(BrokerCrash, CrashAfterCommitBeforeReply) {
  std::string dir = TempDir("broker-crash-commit");
  BrokerProcess crashing(dir, {"--crash-at", "after-commit-before-reply"});
  crashing.Start();
  ASSERT_EQ(Call(crashing.port(), "POST", "/transactions/g-commit/prepare",
                 R"({"messages":[{"topic":"t","id":"c1","payload":"x"}]})")
                .status,
            200);
  EXPECT_EQ(Call(crashing.port(), "POST", "/transactions/g-commit/commit").status, 0);
  EXPECT_EQ(WaitExit(crashing), 3);
  // Same data dir, without the fault flag.
  BrokerProcess b(dir);
  b.Start();
  EXPECT_TRUE(FindPrepared(b.port(), "g-commit").is_null());
  auto msgs = ReadAll(b.port(), "t");
  ASSERT_EQ(msgs.size(), 1u) << "the commit record was durable before the crash";
  Resp c = Call(b.port(), "POST", "/transactions/g-commit/commit");
  EXPECT_EQ(c.status, 200) << "a retried commit is answered, not refused";
  EXPECT_EQ(c.j["offsets"], json::array({0}));
  EXPECT_EQ(ReadAll(b.port(), "t").size(), 1u);
  b.Stop();
}

// Publishers hammer the broker; it is SIGKILLed mid-flight; after a restart
// every acknowledged message is there exactly once, at its acknowledged
// offset, and offsets are dense.
void KillUnderLoad(const std::string& fsync) {
  BrokerProcess b(TempDir("broker-kill-load-" + fsync), {"--fsync", fsync});
  b.Start();
  constexpr int kThreads = 6;
  std::mutex mu;
  std::map<std::string, uint64_t> acked;  // id -> offset
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        std::string id = "w" + std::to_string(t) + "-" + std::to_string(i);
        Resp r;
        if (i % 5 == 4) {  // some batches too
          r = Call(
              b.port(), "POST", "/topics/load/batch",
              json{{"messages",
                    {{{"id", id + "a"}, {"payload", id}}, {{"id", id + "b"}, {"payload", id}}}}}
                  .dump(),
              std::chrono::milliseconds(3000));
          if (r.status != 200) return;  // the broker is gone
          std::lock_guard lock(mu);
          acked[id + "a"] = r.j["offsets"][0].get<uint64_t>();
          acked[id + "b"] = r.j["offsets"][1].get<uint64_t>();
        } else {
          r = Call(b.port(), "POST", "/topics/load/messages",
                   json{{"id", id}, {"payload", id}}.dump(), std::chrono::milliseconds(3000));
          if (r.status != 201) return;
          std::lock_guard lock(mu);
          acked[id] = r.j["offset"].get<uint64_t>();
        }
      }
    });
  }
  // Let load build up, then kill while requests are in flight.
  for (int i = 0; i < 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::lock_guard lock(mu);
    if (acked.size() >= 300) break;
  }
  b.Kill9();
  stop = true;
  for (auto& t : ts) t.join();
  ASSERT_GT(acked.size(), 0u);

  b.Start();
  auto all = ReadAll(b.port(), "load");
  std::map<std::string, uint64_t> stored;
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i]["offset"], i) << "offsets must be dense";
    std::string id = all[i]["id"];
    ASSERT_TRUE(stored.emplace(id, i).second) << "stored twice: " << id;
  }
  std::printf("fsync %s: %zu acknowledged, %zu stored after the SIGKILL\n", fsync.c_str(),
              acked.size(), stored.size());
  for (const auto& [id, off] : acked) {
    auto it = stored.find(id);
    ASSERT_NE(it, stored.end()) << "acknowledged and lost: " << id;
    EXPECT_EQ(it->second, off) << id;
  }
  // Retrying any acknowledged publish after the crash is answered with the
  // original offset (what a client that lost the answer would do).
  const auto& [some_id, some_off] = *acked.begin();
  Resp r = Call(b.port(), "POST", "/topics/load/messages",
                json{{"id", some_id}, {"payload", "retry"}}.dump());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.j["offset"], some_off);
  b.Stop();
}

TEST(BrokerCrash, Kill9UnderLoadLosesNothingAcknowledgedBatch) { KillUnderLoad("batch"); }
TEST(BrokerCrash, Kill9UnderLoadLosesNothingAcknowledgedAlways) { KillUnderLoad("always"); }

// A full disk, simulated with RLIMIT_FSIZE on the broker process (the broker
// ignores SIGXFSZ, so writes past the limit fail with EFBIG -> 507).
TEST(BrokerCrash, DiskFullRefusesWritesKeepsServingReadsAndRecovers) {
  std::string dir = TempDir("broker-disk-full");
  BrokerProcess b(dir);
  b.Start();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Publish(b.port(), "full", "f" + std::to_string(i), "x").status, 201);
  }
  ASSERT_EQ(Call(b.port(), "POST", "/transactions/g-full/prepare",
                 R"({"messages":[{"topic":"full","id":"gf","payload":"y"}]})")
                .status,
            200);
  const std::string log = dir + "/broker.log";
  // The log is preallocated: what matters is where its records end. A write
  // at or past the limit fails (EFBIG) even inside the file's zeros.
  const auto size = RecordsEnd(log);
  // Room for the first bytes of a record, not a whole one: every append
  // fails part-way and must be cut back (the preallocated space with it).
  rlimit lim{size + 10, RLIM_INFINITY};
  ASSERT_EQ(prlimit(b.pid(), RLIMIT_FSIZE, &lim, nullptr), 0) << strerror(errno);

  std::string big(1000, 'z');
  Resp r = Publish(b.port(), "full", "f-big", big);
  EXPECT_EQ(r.status, 507) << r.body;
  EXPECT_TRUE(r.j["error"].is_string());
  r = Call(b.port(), "POST", "/transactions/g-full/commit");
  EXPECT_EQ(r.status, 507) << r.body;
  r = Call(b.port(), "POST", "/topics/full/batch",
           json{{"messages", {{{"id", "b1"}, {"payload", big}}}}}.dump());
  EXPECT_EQ(r.status, 507);
  r = Call(b.port(), "POST", "/transactions/g-full-2/prepare",
           json{{"messages", {{{"topic", "full"}, {"payload", big}}}}}.dump());
  EXPECT_EQ(r.status, 507) << "no vote without a durable stage";
  // Answers that need no write are still given.
  EXPECT_EQ(Publish(b.port(), "full", "f1", "dup").status, 200);
  EXPECT_TRUE(Healthy(b.port()));
  EXPECT_EQ(ReadAll(b.port(), "full").size(), 3u) << "reads are still served";
  EXPECT_FALSE(FindPrepared(b.port(), "g-full").is_null()) << "state is as before the failure";
  EXPECT_GE(Metric(b.port(), "dw_broker_write_errors_total"), 4);
  EXPECT_EQ(std::filesystem::file_size(log), size) << "a failed append leaves no partial frame";

  // Space comes back: writes resume where they stopped, offsets dense.
  lim = {RLIM_INFINITY, RLIM_INFINITY};
  ASSERT_EQ(prlimit(b.pid(), RLIMIT_FSIZE, &lim, nullptr), 0);
  EXPECT_EQ(Call(b.port(), "POST", "/transactions/g-full/commit").status, 200);
  r = Publish(b.port(), "full", "f-big", big);
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.j["offset"], 4);
  b.Stop();
  b.Start();
  std::string out = ReadFile(b.log_path());
  EXPECT_NE(out.rfind("truncated 0 torn bytes"), std::string::npos) << out;
  auto after = ReadAll(b.port(), "full");
  ASSERT_EQ(after.size(), 5u);
  EXPECT_EQ(after[3]["id"], "gf");
  EXPECT_EQ(after[4]["id"], "f-big");
  EXPECT_TRUE(FindPrepared(b.port(), "g-full-2").is_null());
  b.Stop();
}

}  // namespace
}  // namespace dw::testing::broker
