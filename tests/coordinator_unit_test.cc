// Coordinator pieces that need no server: gids, the file decision log
// (durability, replay, torn tail, group commit, compaction, the lock),
// participant lists, crash point names, traces.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/trace.h"
#include "coordinator/call_pool.h"
#include "coordinator/crash_points.h"
#include "coordinator/file_decision_log.h"
#include "coordinator/gid.h"
#include "coordinator/group_commit.h"
#include "coordinator/order_work.h"
#include "coordinator/participant_spec.h"
#include "tests/support/temp_dir.h"

namespace dw::coord {
namespace {

TEST(Gid, FormatParseAndBranches) {
  EXPECT_EQ(FormatGid("c1", 42), "dw:c1:42");
  EXPECT_EQ(GidPrefix("c1"), "dw:c1:");
  EXPECT_EQ(BranchGid("dw:c1:42", 0), "dw:c1:42");
  EXPECT_EQ(BranchGid("dw:c1:42", 2), "dw:c1:42.2");
  ParsedGid p;
  ASSERT_TRUE(ParseGid("dw:c1:42.2", &p));
  EXPECT_EQ(p.coordinator_id, "c1");
  EXPECT_EQ(p.seq, 42u);
  EXPECT_EQ(p.branch, 2);
  EXPECT_EQ(p.gid, "dw:c1:42");
  ASSERT_TRUE(ParseGid("dw:my-coord_2:7", &p));
  EXPECT_EQ(p.coordinator_id, "my-coord_2");
  EXPECT_EQ(p.branch, 0);
  for (const char* bad : {"", "dw:", "dw:c1", "dw:c1:", "dw:c1:x", "dw:c1:01", "dw:c1:5.0",
                          "dw:c1:5.", "xx:c1:5", "dw:c.1:5", "dw:c1:5:6"}) {
    EXPECT_FALSE(ParseGid(bad, &p)) << bad;
  }
  // The prefix of one id is never the prefix of another's gids.
  EXPECT_NE(FormatGid("c10", 5).rfind(GidPrefix("c1"), 0), 0u);
  EXPECT_TRUE(ValidCoordinatorId("c1"));
  EXPECT_FALSE(ValidCoordinatorId("c:1"));
  EXPECT_FALSE(ValidCoordinatorId("c.1"));
  EXPECT_FALSE(ValidCoordinatorId(std::string(65, 'a')));
  // Longest id and seq still fit Postgres' 200-byte gid.
  EXPECT_LT(BranchGid(FormatGid(std::string(64, 'a'), UINT64_MAX), 999999).size(), 200u);
}

// A temporary folder removed when the test ends.
struct ScopedDir {
  explicit ScopedDir(const std::string& tag) : path(testing::TempDir(tag)) {}
  ~ScopedDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

std::unique_ptr<FileDecisionLog> OpenLog(const std::string& path,
                                         FileDecisionLog::OpenReport* rep = nullptr,
                                         uint64_t compact_bytes = 4u << 20) {
  FileDecisionLog::Options o;
  o.path = path;
  o.compact_bytes = compact_bytes;
  o.lock_wait = std::chrono::milliseconds(100);
  std::unique_ptr<FileDecisionLog> log;
  Status s = FileDecisionLog::Open(o, &log, rep);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return log;
}

TEST(FileDecisionLog, CommitsSurviveReopenAndEndsCloseThem) {
  ScopedDir dir("coord-flog");
  std::string path = dir.path + "/c.dlog";
  uint64_t first = 0;
  {
    auto log = OpenLog(path);
    ASSERT_TRUE(log->ReserveSequence(100, &first).ok());
    EXPECT_EQ(first, 1u);
    ASSERT_TRUE(log->LogCommit("dw:c:1").ok());
    ASSERT_TRUE(log->LogCommit("dw:c:2").ok());
    log->LogEnd("dw:c:1");
    EXPECT_EQ(log->forced_writes(), 3u);
  }
  FileDecisionLog::OpenReport rep;
  auto log = OpenLog(path, &rep);
  EXPECT_EQ(rep.open_commits, 1u);  // the END was written at close (Flush)
  bool committed = false;
  ASSERT_TRUE(log->Resolve("dw:c:2", &committed).ok());
  EXPECT_TRUE(committed);
  ASSERT_TRUE(log->Resolve("dw:c:1", &committed).ok());
  EXPECT_FALSE(committed);
  ASSERT_TRUE(log->Resolve("dw:c:3", &committed).ok());
  EXPECT_FALSE(committed);  // presumed abort
  // Sequence numbers never repeat across a restart.
  uint64_t again = 0;
  ASSERT_TRUE(log->ReserveSequence(10, &again).ok());
  EXPECT_EQ(again, first + 100);
}

TEST(FileDecisionLog, TornTailIsTruncatedAndAcknowledgedRecordsStay) {
  ScopedDir dir("coord-torn");
  std::string path = dir.path + "/c.dlog";
  {
    auto log = OpenLog(path);
    ASSERT_TRUE(log->LogCommit("dw:c:1").ok());
  }
  // A crash in the middle of appending the next record.
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  const char junk[] = "\x20\x00\x00\x00\x11\x22";
  ASSERT_EQ(::write(fd, junk, 6), 6);
  ::close(fd);
  FileDecisionLog::OpenReport rep;
  auto log = OpenLog(path, &rep);
  EXPECT_EQ(rep.truncated_bytes, 6u);
  bool committed = false;
  ASSERT_TRUE(log->Resolve("dw:c:1", &committed).ok());
  EXPECT_TRUE(committed);
  ASSERT_TRUE(log->LogCommit("dw:c:2").ok());
}

TEST(FileDecisionLog, OneProcessAtATime) {
  ScopedDir dir("coord-lock");
  std::string path = dir.path + "/c.dlog";
  auto log = OpenLog(path);
  FileDecisionLog::Options o;
  o.path = path;
  o.lock_wait = std::chrono::milliseconds(50);
  std::unique_ptr<FileDecisionLog> second;
  Status s = FileDecisionLog::Open(o, &second);
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("in use"), std::string::npos);
  log.reset();
  EXPECT_TRUE(FileDecisionLog::Open(o, &second).ok());
}

TEST(FileDecisionLog, GroupCommitSharesFsyncsAcrossConcurrentCommits) {
  ScopedDir dir("coord-group");
  std::string path = dir.path + "/c.dlog";
  FileDecisionLog::Options o;
  o.path = path;
  // Ask the leader to wait for the others (as with many transactions in phase 1).
  o.group.delay = std::chrono::microseconds(2000);
  o.group.siblings = 1;
  std::unique_ptr<FileDecisionLog> log;
  ASSERT_TRUE(FileDecisionLog::Open(o, &log).ok());
  constexpr int kThreads = 16, kEach = 50;
  std::vector<std::thread> ts;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        log->ExpectCommits(1);
        if (!log->LogCommit("dw:c:" + std::to_string(t * 1000 + i + 1)).ok()) ++failures;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
  uint64_t fsyncs = log->forced_writes();
  EXPECT_LT(fsyncs, static_cast<uint64_t>(kThreads * kEach));
  EXPECT_GT(fsyncs, 0u);
  std::vector<std::string> open;
  ASSERT_TRUE(log->ListOpen(&open).ok());
  EXPECT_EQ(open.size(), static_cast<size_t>(kThreads * kEach));
  // Every acknowledged commit is on disk.
  log.reset();
  FileDecisionLog::OpenReport rep;
  auto again = OpenLog(path, &rep);
  EXPECT_EQ(rep.open_commits, static_cast<size_t>(kThreads * kEach));
}

TEST(FileDecisionLog, CompactionBoundsTheFile) {
  ScopedDir dir("coord-compact");
  std::string path = dir.path + "/c.dlog";
  auto log = OpenLog(path, nullptr, /*compact_bytes=*/8 << 10);
  uint64_t first = 0;
  ASSERT_TRUE(log->ReserveSequence(1000, &first).ok());
  for (int i = 1; i <= 1200; ++i) {
    std::string g = "dw:c:" + std::to_string(i);
    ASSERT_TRUE(log->LogCommit(g).ok());
    if (i != 1042) log->LogEnd(g);  // one transaction stays open
  }
  EXPECT_GT(log->compactions(), 0u);
  log.reset();
  EXPECT_LT(std::filesystem::file_size(path), 24u << 10);
  FileDecisionLog::OpenReport rep;
  log = OpenLog(path, &rep);
  EXPECT_EQ(rep.open_commits, 1u);
  bool committed = false;
  ASSERT_TRUE(log->Resolve("dw:c:1042", &committed).ok());
  EXPECT_TRUE(committed);
  uint64_t next = 0;
  ASSERT_TRUE(log->ReserveSequence(1, &next).ok());
  EXPECT_EQ(next, first + 1000);  // the high-water mark survived compaction
}

TEST(GroupCommit, LeaderWaitsOnlyWhenOthersAreOnTheirWay) {
  std::atomic<int> flushes{0};
  GroupCommit::Options o;
  o.delay = std::chrono::microseconds(500000);
  o.siblings = 1;
  GroupCommit g(
      [&](const std::vector<LogEntry>& b, std::vector<Status>* r) {
        ++flushes;
        for (auto& s : *r) s = Status::OK();
        (void)b;
      },
      o);
  // Nobody expected: no wait at all (C=1 pays nothing).
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(g.Submit(LogEntry{}).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(400));
  // Two expected: the first submitter waits for the second, one flush for both.
  g.AddExpected(2);
  std::thread a([&] { EXPECT_TRUE(g.Submit(LogEntry{}).ok()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(g.Submit(LogEntry{}).ok());
  a.join();
  EXPECT_EQ(flushes.load(), 2);
  EXPECT_EQ(g.batches(), 2u);
}

// Many submitters at once: each gets its own entry's result (the flush
// answers per entry), every entry is flushed exactly once, and nobody is left
// asleep (a lost wake-up would hang the test). The flush yields so that
// batches form and followers and new leaders interleave.
TEST(GroupCommit, EverySubmitterGetsItsOwnResultUnderConcurrency) {
  std::mutex seen_mu;
  std::multiset<std::string> seen;
  GroupCommit g(
      [&](const std::vector<LogEntry>& b, std::vector<Status>* r) {
        std::this_thread::yield();
        std::lock_guard<std::mutex> l(seen_mu);
        for (size_t i = 0; i < b.size(); ++i) {
          seen.insert(b[i].gid);
          (*r)[i] = b[i].gid.back() % 2 == 0 ? Status::OK() : Status::IOError(b[i].gid);
        }
      },
      GroupCommit::Options{});
  constexpr int kThreads = 16, kEach = 500, kMany = 4;
  std::atomic<int> wrong{0};
  auto check = [&](const LogEntry& e, const Status& s) {
    const bool want_ok = e.gid.back() % 2 == 0;
    if (s.ok() != want_ok || (!want_ok && s.ToString().find(e.gid) == std::string::npos)) ++wrong;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    // Even threads submit one entry at a time, odd ones kMany at once
    // (SubmitMany, a thread driving a batch of transactions).
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; i += (t % 2 == 0 ? 1 : kMany)) {
        std::vector<LogEntry> es;
        for (int k = 0; k < (t % 2 == 0 ? 1 : kMany); ++k) {
          LogEntry e;
          e.gid = "t" + std::to_string(t) + "-" + std::to_string(i + k);
          es.push_back(e);
        }
        if (es.size() == 1) {
          check(es[0], g.Submit(es[0]));
          continue;
        }
        std::vector<Status> rs = g.SubmitMany(es);
        if (rs.size() != es.size()) {
          ++wrong;
          continue;
        }
        for (size_t k = 0; k < es.size(); ++k) check(es[k], rs[k]);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kEach));
  for (const auto& gid : seen) ASSERT_EQ(seen.count(gid), 1u) << gid;
  EXPECT_LE(g.batches(), static_cast<uint64_t>(kThreads * kEach));
}

// One caller's entries go into one flush, in their order, and each result
// comes back to its entry.
TEST(GroupCommit, SubmitManyFlushesTheEntriesTogetherInOrder) {
  std::vector<std::vector<std::string>> flushed;
  GroupCommit g(
      [&](const std::vector<LogEntry>& b, std::vector<Status>* r) {
        flushed.emplace_back();
        for (size_t i = 0; i < b.size(); ++i) {
          flushed.back().push_back(b[i].gid);
          (*r)[i] = b[i].gid == "b" ? Status::Aborted("b") : Status::OK();
        }
      },
      GroupCommit::Options{});
  std::vector<LogEntry> es(3);
  es[0].gid = "a";
  es[1].gid = "b";
  es[2].gid = "c";
  g.AddExpected(3);
  std::vector<Status> rs = g.SubmitMany(es);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_TRUE(rs[0].ok());
  EXPECT_TRUE(rs[1].IsAborted());
  EXPECT_TRUE(rs[2].ok());
  ASSERT_EQ(flushed.size(), 1u) << "one forced write for the three";
  EXPECT_EQ(flushed[0], (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(g.SubmitMany({}).empty());
  EXPECT_EQ(g.batches(), 1u);
}

TEST(CallPool, FanoutReportsInCompletionOrderAndTimesOutLateCalls) {
  CallPool pool(8);
  std::atomic<bool> release{false};
  std::vector<std::function<Status()>> calls = {
      [] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        return Status::OK();
      },
      [] { return Status::Aborted("no"); },
      [&] {
        while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return Status::OK();  // answers long after the deadline: dropped
      },
  };
  std::vector<size_t> order;
  auto res = pool.Fanout(calls, std::chrono::steady_clock::now() + std::chrono::milliseconds(300),
                         [&](size_t i, const Status&) { order.push_back(i); });
  release = true;
  ASSERT_EQ(res.size(), 3u);
  EXPECT_TRUE(res[0].ok());
  EXPECT_TRUE(res[1].IsAborted());
  EXPECT_EQ(res[2].code(), Status::Code::kTimeout);
  EXPECT_EQ(order, (std::vector<size_t>{1, 0}));
  // The pool keeps serving many fan-outs at once.
  std::vector<std::thread> ts;
  std::atomic<int> oks{0};
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&] {
      for (int k = 0; k < 50; ++k) {
        std::vector<std::function<Status()>> two = {[] { return Status::OK(); },
                                                    [] { return Status::OK(); }};
        auto r = pool.Fanout(two, std::chrono::steady_clock::now() + std::chrono::seconds(10));
        if (r[0].ok() && r[1].ok()) ++oks;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(oks.load(), 400);
}

TEST(ParticipantSpec, ParsesListsWithDsnsThatContainCommas) {
  std::vector<ParticipantSpec> s;
  ASSERT_TRUE(ParseParticipants("pg,broker", &s).ok());
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].kind, ParticipantSpec::Kind::kPostgres);
  EXPECT_TRUE(s[0].target.empty());
  ASSERT_TRUE(
      ParseParticipants("pg:host=127.0.0.1 dbname=a options='-c x=1,2', pg:postgresql://h/b, "
                        "broker:http://127.0.0.1:7070",
                        &s)
          .ok());
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].target, "host=127.0.0.1 dbname=a options='-c x=1,2'");
  EXPECT_EQ(s[1].target, "postgresql://h/b");
  EXPECT_EQ(s[2].kind, ParticipantSpec::Kind::kBroker);
  EXPECT_EQ(s[2].target, "http://127.0.0.1:7070");
  EXPECT_FALSE(ParseParticipants("pg", &s).ok());                // no broker
  EXPECT_FALSE(ParseParticipants("broker", &s).ok());            // no database
  EXPECT_FALSE(ParseParticipants("pg,broker,broker", &s).ok());  // two brokers
  EXPECT_FALSE(ParseParticipants("pg,kafka,broker", &s).ok());
  EXPECT_FALSE(ParseParticipants("pg:,broker", &s).ok());
}

TEST(OrderWork, ShardsGetTheirPartAndTheBrokerTheMessage) {
  Topology one{{0}, 1, 2};
  workload::Order o = workload::MakeOrder(7, 0, 1);
  auto w = PlaceOrderWork(o, one);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].statements.size(), 1u);
  EXPECT_EQ(w[1].messages.size(), 1u);
  EXPECT_EQ(w[1].messages[0].id, "order-7");
  Topology two{{0, 2}, 1, 3};
  size_t total = 0;
  for (int64_t id = 1; id < 50; ++id) {
    workload::Order x = workload::MakeOrder(id, id, 1);
    auto ws = PlaceOrderWork(x, two);
    total = ws[0].statements.size() + ws[2].statements.size();
    EXPECT_EQ(total, 2u);  // the order row and the ledger row
    EXPECT_EQ(ws[HomeShard(id, 2) == 0 ? 0 : 2].statements[0].sql.find("INSERT INTO orders"), 0u);
    EXPECT_EQ(ws[1].messages.size(), 1u);
  }
}

TEST(CrashPoints, NamesRoundTrip) {
  for (const char* n : {"before-prepare", "after-prepare-one", "after-prepare-all",
                        "after-decision", "after-commit-one"}) {
    auto s = ParseStep(n);
    ASSERT_TRUE(s.has_value()) << n;
    EXPECT_STREQ(StepName(*s), n);
  }
  EXPECT_FALSE(ParseStep("after-lunch").has_value());
}

TEST(Trace, TimelineAndMermaid) {
  Trace t(1);
  t.Begin("dw:c:1");
  t.Send("dw:c:1", "postgres", "prepare dw:c:1");
  t.Reply("dw:c:1", "postgres", "vote commit");
  t.Begin("dw:c:2");  // over the budget: not traced
  t.Send("dw:c:2", "broker", "prepare dw:c:2");
  std::ostringstream text, mer;
  t.Write(text, Trace::Format::kText);
  t.Write(mer, Trace::Format::kMermaid);
  EXPECT_NE(text.str().find("-> postgres"), std::string::npos);
  EXPECT_NE(text.str().find("vote commit"), std::string::npos);
  EXPECT_EQ(text.str().find("dw:c:2"), std::string::npos);
  EXPECT_EQ(mer.str().rfind("sequenceDiagram\n", 0), 0u);
  EXPECT_NE(mer.str().find("participant P0 as postgres"), std::string::npos);
  EXPECT_NE(mer.str().find("C->>P0: prepare dw:c:1"), std::string::npos);
  EXPECT_NE(mer.str().find("P0-->>C: vote commit"), std::string::npos);
}

}  // namespace
}  // namespace dw::coord
