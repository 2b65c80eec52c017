// In-process tests of the broker's core, below HTTP: the record encoding, the
// Store's state machine and replay rules, the Sequencer's decisions within a
// batch, and the Writer's group commit on a real log file.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <future>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/api.h"
#include "broker/log_format.h"
#include "broker/message_body.h"
#include "broker/sequencer.h"
#include "broker/store.h"
#include "broker/writer.h"
#include "common/record_file.h"
#include "tests/support/temp_dir.h"

namespace dw::broker {
namespace {

std::string Bytes() {
  std::string s = "a";
  s.push_back('\0');
  s += "\xff\xfe\x01 z";
  s.push_back('\0');
  return s;
}

std::vector<Record> SampleRecords() {
  Record pub;
  pub.type = Record::Type::kPublish;
  pub.topic = "orders";
  pub.first_offset = 0;
  pub.ts_ms = 1700000000123;
  pub.messages = {{"id-1", "k", Bytes()}, {"", "", ""}, {"id-2", Bytes(), "p"}};
  Record prep;
  prep.type = Record::Type::kPrepare;
  prep.gid = "gid:1";
  prep.ts_ms = 1700000000456;
  prep.staged = {{"orders", {"id-3", "k3", Bytes()}}, {"other", {"id-1", "", "x"}}};
  Record commit;
  commit.type = Record::Type::kCommit;
  commit.gid = "gid:1";
  commit.ts_ms = 1700000000789;
  commit.offsets = {3, 0};
  Record abort;
  abort.type = Record::Type::kAbort;
  abort.gid = "gid:2";
  return {pub, prep, commit, abort};
}

TEST(BrokerLogFormat, RoundTripsEveryRecordTypeByteExact) {
  for (const auto& r : SampleRecords()) {
    std::string enc;
    EncodeRecord(r, &enc);
    Record back;
    ASSERT_TRUE(DecodeRecord(enc, &back).ok()) << RecordTypeName(r.type);
    EXPECT_EQ(back, r) << RecordTypeName(r.type);
  }
}

TEST(BrokerLogFormat, RejectsEveryTruncationAndTrailingBytes) {
  for (const auto& r : SampleRecords()) {
    std::string enc;
    EncodeRecord(r, &enc);
    for (size_t n = 0; n < enc.size(); ++n) {
      Record back;
      EXPECT_EQ(DecodeRecord(std::string_view(enc).substr(0, n), &back).code(),
                Status::Code::kCorruption)
          << RecordTypeName(r.type) << " cut at " << n;
    }
    Record back;
    EXPECT_FALSE(DecodeRecord(enc + "x", &back).ok());
  }
  Record back;
  EXPECT_EQ(DecodeRecord(std::string("\x09", 1), &back).code(), Status::Code::kCorruption);
}

TEST(BrokerLogFormat, RandomBytesNeverCrashTheDecoder) {
  std::mt19937 rng(42);
  std::vector<std::string> seeds;
  for (const auto& r : SampleRecords()) {
    seeds.emplace_back();
    EncodeRecord(r, &seeds.back());
  }
  int decoded = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string s = seeds[i % seeds.size()];
    int flips = 1 + rng() % 4;
    for (int f = 0; f < flips; ++f) s[rng() % s.size()] = static_cast<char>(rng());
    if (rng() % 4 == 0) s.resize(rng() % (s.size() + 1));
    Record r;
    if (DecodeRecord(s, &r).ok()) ++decoded;
  }
  SUCCEED() << decoded << " mutated records still decoded";
}

// Applies records through a Store and expects each to succeed.
void ApplyOk(Store* st, const std::vector<Record>& rs) {
  for (const auto& r : rs) ASSERT_TRUE(st->Apply(r).ok()) << RecordTypeName(r.type);
}

TEST(BrokerStore, AppliesRecordsAndAnswersQueries) {
  Store st;
  ApplyOk(&st, SampleRecords());
  EXPECT_EQ(st.EndOffset("orders"), 4u);
  EXPECT_EQ(st.EndOffset("other"), 1u);
  EXPECT_EQ(st.FindId("orders", "id-2"), 2u);
  EXPECT_EQ(st.FindId("orders", "id-3"), 3u);
  EXPECT_EQ(st.FindId("other", "id-1"), 0u);
  EXPECT_EQ(st.State("gid:1"), TxnState::kCommitted);
  EXPECT_EQ(st.State("gid:2"), TxnState::kAborted);
  EXPECT_EQ(st.State("gid:3"), TxnState::kUnknown);
  std::vector<StoredMessage> msgs;
  EXPECT_EQ(st.Read("orders", 1, 2, &msgs), 3u);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].offset, 1u);
  EXPECT_EQ(msgs[1].data.key, Bytes());
  msgs.clear();
  EXPECT_EQ(st.Read("orders", 9, 10, &msgs), 9u);
  EXPECT_EQ(st.Read("nope", 5, 10, &msgs), 5u);
  EXPECT_TRUE(msgs.empty());
}

// Three-phase commit's mark: prepared -> precommitted -> committed (or
// aborted), replayed from records like every other state.
TEST(BrokerStore, PrecommitMarksAPreparedGidAndKeepsItsMessages) {
  Store st;
  Record prep;
  prep.type = Record::Type::kPrepare;
  prep.gid = "g3";
  prep.staged = {{"orders", {"m1", "k", "p"}}};
  Record pre;
  pre.type = Record::Type::kPrecommit;
  pre.gid = "g3";
  std::string enc;
  EncodeRecord(pre, &enc);
  Record back;
  ASSERT_TRUE(DecodeRecord(enc, &back).ok());
  EXPECT_EQ(back, pre);
  EXPECT_EQ(std::string(RecordTypeName(pre.type)), "precommit");

  EXPECT_EQ(st.Apply(pre).code(), Status::Code::kCorruption) << "not prepared";
  ApplyOk(&st, {prep, pre});
  EXPECT_EQ(st.State("g3"), TxnState::kPrecommitted);
  EXPECT_EQ(st.Apply(pre).code(), Status::Code::kCorruption) << "a second mark is never written";
  auto listed = st.ListPrepared();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed[0].precommitted);
  EXPECT_EQ(listed[0].messages, prep.staged);
  EXPECT_EQ(st.GetStats().precommitted, 1u);
  EXPECT_EQ(st.GetStats().prepared, 1u);

  Record commit;
  commit.type = Record::Type::kCommit;
  commit.gid = "g3";
  commit.offsets = {0};
  ApplyOk(&st, {commit});
  EXPECT_EQ(st.State("g3"), TxnState::kCommitted);
  EXPECT_EQ(st.FindId("orders", "m1"), 0u);
  EXPECT_EQ(st.GetStats().precommitted, 0u);
}

TEST(BrokerSequencer, PrecommitIsIdempotentAndRefusesWhatWasNotPrepared) {
  Store st;
  auto plan = [&](Mutation::Kind kind, const std::string& gid) {
    Sequencer seq(&st);
    Mutation m;
    m.kind = kind;
    m.gid = gid;
    if (kind == Mutation::Kind::kPrepare) m.staged = {{"orders", {"id-" + gid, "", "x"}}};
    Outcome o;
    bool dep;
    seq.Plan(std::move(m), 1, &o, &dep);
    size_t n = seq.records().size();
    EXPECT_TRUE(st.ApplyAll(seq.TakeRecords()).ok());
    return std::make_pair(o.status, n);
  };
  EXPECT_TRUE(plan(Mutation::Kind::kPrecommit, "never").first.IsNotFound());
  EXPECT_TRUE(plan(Mutation::Kind::kPrepare, "a").first.ok());
  auto first = plan(Mutation::Kind::kPrecommit, "a");
  EXPECT_TRUE(first.first.ok());
  EXPECT_EQ(first.second, 1u);
  auto again = plan(Mutation::Kind::kPrecommit, "a");
  EXPECT_TRUE(again.first.ok());
  EXPECT_EQ(again.second, 0u) << "a retried precommit writes nothing";
  EXPECT_TRUE(plan(Mutation::Kind::kPrepare, "a").first.ok()) << "a retried prepare: vote stands";
  EXPECT_TRUE(plan(Mutation::Kind::kCommit, "a").first.ok());
  EXPECT_TRUE(plan(Mutation::Kind::kPrecommit, "a").first.ok()) << "late retry after commit";
  EXPECT_TRUE(plan(Mutation::Kind::kPrepare, "b").first.ok());
  EXPECT_TRUE(plan(Mutation::Kind::kAbort, "b").first.ok());
  EXPECT_EQ(plan(Mutation::Kind::kPrecommit, "b").first.code(), Status::Code::kFailedPrecondition);
  // A precommitted gid can still be aborted: the protocol above decides.
  EXPECT_TRUE(plan(Mutation::Kind::kPrepare, "c").first.ok());
  EXPECT_TRUE(plan(Mutation::Kind::kPrecommit, "c").first.ok());
  EXPECT_TRUE(plan(Mutation::Kind::kAbort, "c").first.ok());
  EXPECT_EQ(st.State("c"), TxnState::kAborted);
}

TEST(BrokerStore, RefusesContradictingRecordsWithoutChangingState) {
  Store st;
  ApplyOk(&st, SampleRecords());
  Record gap;  // offset 7 when 4 is next
  gap.type = Record::Type::kPublish;
  gap.topic = "orders";
  gap.first_offset = 7;
  gap.messages = {{"", "", "x"}};
  EXPECT_EQ(st.Apply(gap).code(), Status::Code::kCorruption);
  Record dup_id = gap;  // an id that is stored already
  dup_id.first_offset = 4;
  dup_id.messages = {{"z", "", ""}, {"id-1", "", ""}};
  EXPECT_EQ(st.Apply(dup_id).code(), Status::Code::kCorruption);
  Record self_dup;  // an id twice in one record, on a topic with nothing stored yet
  self_dup.type = Record::Type::kPublish;
  self_dup.topic = "fresh";
  self_dup.messages = {{"a", "", ""}, {"b", "", ""}, {"a", "", ""}};
  EXPECT_EQ(st.Apply(self_dup).code(), Status::Code::kCorruption);
  EXPECT_FALSE(st.FindId("fresh", "a"));
  EXPECT_FALSE(st.FindId("fresh", "b"));
  EXPECT_EQ(st.Ids("fresh"), nullptr) << "the refused record left no topic behind";
  Record commit_unknown;
  commit_unknown.type = Record::Type::kCommit;
  commit_unknown.gid = "never";
  EXPECT_EQ(st.Apply(commit_unknown).code(), Status::Code::kCorruption);
  Record prepare_again;
  prepare_again.type = Record::Type::kPrepare;
  prepare_again.gid = "gid:2";  // aborted
  EXPECT_EQ(st.Apply(prepare_again).code(), Status::Code::kCorruption);
  Record abort_committed;
  abort_committed.type = Record::Type::kAbort;
  abort_committed.gid = "gid:1";
  EXPECT_EQ(st.Apply(abort_committed).code(), Status::Code::kCorruption);
  EXPECT_EQ(st.EndOffset("orders"), 4u);
  EXPECT_FALSE(st.FindId("orders", "z"));
  EXPECT_EQ(st.State("gid:1"), TxnState::kCommitted);
  EXPECT_EQ(st.GetStats().records_applied, 4u);
}

Mutation Pub(const std::string& topic, const std::string& id, const std::string& payload) {
  Mutation m;
  m.kind = Mutation::Kind::kPublish;
  m.topic = topic;
  m.messages = {{id, "", payload}};
  return m;
}

Mutation Txn(Mutation::Kind kind, const std::string& gid, std::vector<StagedMessage> staged = {}) {
  Mutation m;
  m.kind = kind;
  m.gid = gid;
  m.staged = std::move(staged);
  return m;
}

TEST(BrokerSequencer, DecidesAgainstTheBatchAndTheStoreAlike) {
  Store st;
  Sequencer seq(&st);
  Outcome o;
  bool dep;
  seq.Plan(Pub("t", "a", "1"), 10, &o, &dep);
  EXPECT_TRUE(o.created);
  EXPECT_EQ(o.offsets, std::vector<uint64_t>{0});
  seq.Plan(Pub("t", "a", "again"), 10, &o, &dep);  // duplicate inside the batch
  EXPECT_FALSE(o.created);
  EXPECT_EQ(o.offsets, std::vector<uint64_t>{0});
  EXPECT_TRUE(dep) << "answered from a record that is not durable yet";
  seq.Plan(Txn(Mutation::Kind::kPrepare, "g", {{"t", {"b", "", "x"}}, {"t", {"a", "", "y"}}}), 11,
           &o, &dep);
  EXPECT_TRUE(o.status.ok());
  seq.Plan(Txn(Mutation::Kind::kCommit, "g"), 12, &o, &dep);  // same batch as its prepare
  EXPECT_TRUE(o.status.ok());
  EXPECT_EQ(o.offsets, (std::vector<uint64_t>{1, 0}));
  seq.Plan(Txn(Mutation::Kind::kCommit, "unknown"), 12, &o, &dep);
  EXPECT_TRUE(o.status.IsNotFound());
  EXPECT_FALSE(dep);
  seq.Plan(Txn(Mutation::Kind::kAbort, "late"), 12, &o, &dep);  // presumed abort is recorded
  EXPECT_TRUE(o.status.ok());
  seq.Plan(Txn(Mutation::Kind::kPrepare, "late", {{"t", {"c", "", ""}}}), 13, &o, &dep);
  EXPECT_TRUE(o.status.IsAborted());
  ASSERT_EQ(seq.records().size(), 4u);  // publish, prepare, commit, abort

  // The store sees nothing until the records are applied...
  EXPECT_EQ(st.EndOffset("t"), 0u);
  ASSERT_TRUE(st.ApplyAll(seq.records()).ok());
  seq.Reset();
  // ...and then decides exactly as the overlay did.
  seq.Plan(Pub("t", "b", "dup of the committed one"), 20, &o, &dep);
  EXPECT_EQ(o.offsets, std::vector<uint64_t>{1});
  EXPECT_FALSE(o.created);
  EXPECT_FALSE(dep);
  seq.Plan(Txn(Mutation::Kind::kCommit, "g"), 20, &o, &dep);
  EXPECT_EQ(o.offsets, (std::vector<uint64_t>{1, 0}));
  seq.Plan(Txn(Mutation::Kind::kAbort, "g"), 20, &o, &dep);
  EXPECT_EQ(o.status.code(), Status::Code::kFailedPrecondition);
  seq.Plan(Txn(Mutation::Kind::kPrepare, "late", {}), 20, &o, &dep);
  EXPECT_TRUE(o.status.IsAborted());
  EXPECT_TRUE(seq.records().empty());
}

TEST(BrokerWriter, GroupCommitsAndReplayRebuildsTheSameState) {
  std::string dir = dw::testing::TempDir("broker-writer");
  std::string path = dir + "/broker.log";
  Store st;
  Faults faults;
  Metrics metrics;
  std::unique_ptr<RecordFile> log;
  RecordFile::ReplayReport rep;
  ASSERT_TRUE(RecordFile::Open(
                  path, [](std::string_view) { return Status::OK(); }, &log, &rep)
                  .ok());
  constexpr int kThreads = 8, kPer = 100;
  {
    Writer w(&st, log.get(), FsyncPolicy::kBatch, &faults, &metrics);
    w.Start();
    std::vector<std::thread> ts;
    std::atomic<int> ok{0};
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&, t] {
        for (int i = 0; i < kPer; ++i) {
          std::promise<Outcome> p;
          auto f = p.get_future();
          std::string id = "m" + std::to_string(t) + "-" + std::to_string(i % (kPer / 2));
          w.Submit(Pub("t" + std::to_string(t % 2), id, "x"),
                   [&p](Outcome o) { p.set_value(std::move(o)); });
          if (f.get().status.ok()) ++ok;
        }
      });
    }
    for (auto& th : ts) th.join();
    std::promise<Outcome> p;
    auto f = p.get_future();
    w.Submit(
        Txn(Mutation::Kind::kPrepare, "g1", {{"t0", {"m0-0", "", "dup"}}, {"t9", {"", "", ""}}}),
        [&p](Outcome o) { p.set_value(std::move(o)); });
    ASSERT_TRUE(f.get().status.ok());
    w.Stop();
    EXPECT_EQ(ok.load(), kThreads * kPer);
  }
  // Half of the ids repeat: kThreads * kPer / 2 messages, split over t0 and t1.
  EXPECT_EQ(st.EndOffset("t0") + st.EndOffset("t1"), uint64_t{kThreads * kPer / 2});
  EXPECT_LE(metrics.fsyncs.load(), metrics.records_written.load());
  EXPECT_EQ(metrics.fsyncs.load(), log->syncs());

  Store again;
  std::unique_ptr<RecordFile> log2;
  ASSERT_TRUE(RecordFile::Open(
                  path,
                  [&](std::string_view p) {
                    Record r;
                    Status s = DecodeRecord(p, &r);
                    return s.ok() ? again.Apply(r) : s;
                  },
                  &log2, &rep)
                  .ok());
  EXPECT_EQ(rep.records, metrics.records_written.load());
  for (const char* topic : {"t0", "t1"}) {
    std::vector<StoredMessage> a, b;
    st.Read(topic, 0, 1 << 20, &a);
    again.Read(topic, 0, 1 << 20, &b);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].offset, b[i].offset);
      EXPECT_EQ(a[i].data, b[i].data);
      EXPECT_EQ(a[i].ts_ms, b[i].ts_ms);
    }
  }
  auto pa = st.ListPrepared(), pb = again.ListPrepared();
  ASSERT_EQ(pa.size(), 1u);
  ASSERT_EQ(pb.size(), 1u);
  EXPECT_EQ(pa[0].messages, pb[0].messages);
  EXPECT_EQ(pa[0].prepared_at_ms, pb[0].prepared_at_ms);
  std::filesystem::remove_all(dir);
}

// SubmitMany: the mutations of one call share a batch (one sync) and their
// outcomes come back together, in order, while other threads submit too.
TEST(BrokerWriter, SubmitManySharesABatchAndAnswersInOrder) {
  std::string dir = dw::testing::TempDir("broker-writer-many");
  Store st;
  Faults faults;
  Metrics metrics;
  std::unique_ptr<RecordFile> log;
  RecordFile::ReplayReport rep;
  ASSERT_TRUE(RecordFile::Open(
                  dir + "/broker.log", [](std::string_view) { return Status::OK(); }, &log, &rep)
                  .ok());
  Writer w(&st, log.get(), FsyncPolicy::kBatch, &faults, &metrics);
  w.Start();
  auto many = [&w](std::vector<Mutation> ms) {
    std::promise<std::vector<Outcome>> p;
    auto f = p.get_future();
    w.SubmitMany(std::move(ms), [&p](std::vector<Outcome> os) { p.set_value(std::move(os)); });
    return f.get();
  };
  const uint64_t syncs0 = log->syncs();
  std::vector<Outcome> os = many({Txn(Mutation::Kind::kPrepare, "g1", {{"t", {"a", "", "1"}}}),
                                  Txn(Mutation::Kind::kCommit, "never", {}),
                                  Txn(Mutation::Kind::kPrepare, "g2", {{"t", {"b", "", "2"}}})});
  ASSERT_EQ(os.size(), 3u);
  EXPECT_TRUE(os[0].status.ok()) << os[0].status.ToString();
  EXPECT_TRUE(os[1].status.IsNotFound()) << os[1].status.ToString();
  EXPECT_TRUE(os[2].status.ok()) << os[2].status.ToString();
  EXPECT_EQ(log->syncs() - syncs0, 1u) << "one durable write for the call";
  EXPECT_TRUE(many({}).empty());
  // Several threads at once, each a many-call of its own gids.
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string g = "c" + std::to_string(t) + "-" + std::to_string(i);
        std::vector<Outcome> r = many({Txn(Mutation::Kind::kPrepare, g, {{"t", {g, "", "x"}}}),
                                       Txn(Mutation::Kind::kCommit, g, {})});
        if (r.size() == 2 && r[0].status.ok() && r[1].status.ok()) ++ok;
      }
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(ok.load(), 80);
  os = many({Txn(Mutation::Kind::kCommit, "g1", {}), Txn(Mutation::Kind::kCommit, "g2", {})});
  EXPECT_TRUE(os[0].status.ok() && os[1].status.ok());
  w.Stop();
  std::vector<StoredMessage> read;
  st.Read("t", 0, 1000, &read);
  EXPECT_EQ(read.size(), 82u);
  // After Stop every outcome is Unavailable, still one answer for all.
  os = many({Txn(Mutation::Kind::kCommit, "x", {}), Txn(Mutation::Kind::kCommit, "y", {})});
  ASSERT_EQ(os.size(), 2u);
  EXPECT_EQ(os[1].status.code(), Status::Code::kUnavailable);
  std::filesystem::remove_all(dir);
}

// The wire contract (api.h): one table both ends read.
TEST(BrokerApiTable, EveryCodeThatTravelsRoundTrips) {
  std::set<int> statuses;
  for (const api::StatusRow& r : api::kStatusTable) {
    EXPECT_EQ(api::HttpStatusFor(r.code), r.http) << CodeName(r.code);
    EXPECT_EQ(api::CodeForHttp(r.http), r.code) << r.http;
    Status back = api::StatusForHttp(r.http, "why");
    EXPECT_EQ(back.code(), r.code) << r.http;
    if (!back.ok()) {
      EXPECT_EQ(back.message(), "why");
    }
    EXPECT_TRUE(statuses.insert(r.http).second) << "two codes share HTTP " << r.http;
  }
  // The statuses sent without a Status behind them never shadow a row.
  for (const api::StatusRow& r : api::kHttpOnlyTable) {
    EXPECT_TRUE(statuses.insert(r.http).second) << "HTTP " << r.http << " is in both tables";
    EXPECT_EQ(api::CodeForHttp(r.http), r.code) << r.http;
  }
}

TEST(BrokerApiTable, TotalBothWays) {
  for (int c = 0; c <= static_cast<int>(Status::Code::kFailedPrecondition); ++c) {
    const auto code = static_cast<Status::Code>(c);
    const int http = api::HttpStatusFor(code);
    if (code == Status::Code::kOk) {
      EXPECT_EQ(http, 200);
    } else {
      EXPECT_TRUE(http >= 400 && http < 600) << CodeName(code) << " -> " << http;
    }
  }
  // Not on the wire: the client's own verdicts and the log's.
  for (auto code : {Status::Code::kTimeout, Status::Code::kInDoubt, Status::Code::kCorruption}) {
    EXPECT_EQ(api::HttpStatusFor(code), 500) << CodeName(code);
  }
  for (int http = 100; http < 600; ++http) {
    const Status::Code code = api::CodeForHttp(http);
    if (http >= 200 && http < 300) {
      EXPECT_EQ(code, Status::Code::kOk) << http;
    } else {
      EXPECT_NE(code, Status::Code::kOk) << http;
      EXPECT_FALSE(code == Status::Code::kTimeout || code == Status::Code::kInDoubt) << http;
    }
  }
}

// What participant.h promises the coordinator, as the broker's statuses read.
TEST(BrokerApiTable, KeepsTheParticipantContract) {
  // A prepare refused (abort_prob, or the gid was aborted before) is a vote abort.
  EXPECT_TRUE(api::StatusForHttp(409, "").IsAborted());
  // Commit of a gid the broker does not hold prepared: NotFound.
  EXPECT_TRUE(api::StatusForHttp(404, "").IsNotFound());
  // Commit of an aborted gid / abort of a committed one: not a vote.
  EXPECT_EQ(api::StatusForHttp(412, "").code(), Status::Code::kFailedPrecondition);
  // A publish the business refused: definitive, like a vote abort.
  EXPECT_TRUE(api::StatusForHttp(api::kHttpRejected, "").IsAborted());
  EXPECT_EQ(api::StatusForHttp(503, "").code(), Status::Code::kUnavailable);
  EXPECT_EQ(api::StatusForHttp(401, "").code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(api::StatusForHttp(413, "").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(api::StatusForHttp(502, "").code(), Status::Code::kIOError);
}

TEST(BrokerApiRoutes, EveryPathMatchesItsRoute) {
  using api::Route;
  for (Route r : {Route::kHealthz, Route::kMetrics, Route::kFaults, Route::kMessages, Route::kBatch,
                  Route::kTransactions, Route::kPrepare, Route::kCommit, Route::kAbort,
                  Route::kPrecommit, Route::kPrepareMany, Route::kCommitMany}) {
    std::string path = api::Path(r, "name.1:x");
    ASSERT_EQ(path[0], '/');
    std::string_view p = path;
    p.remove_prefix(1);
    p = p.substr(0, p.find('?'));
    std::vector<std::string_view> seg;
    for (size_t slash; (slash = p.find('/')) != std::string_view::npos;
         p.remove_prefix(slash + 1)) {
      seg.push_back(p.substr(0, slash));
    }
    seg.push_back(p);
    EXPECT_EQ(api::MatchRoute(seg), r) << path;
  }
  EXPECT_EQ(api::Path(Route::kCommit, "g1"), "/transactions/g1/commit");
  EXPECT_EQ(api::Path(Route::kPrecommit, "g1"), "/transactions/g1/precommit");
  EXPECT_EQ(api::Path(Route::kTransactions), "/transactions?state=prepared");
  EXPECT_EQ(api::Path(Route::kPrepareMany), "/transactions/prepare");
  EXPECT_EQ(api::Path(Route::kCommitMany), "/transactions/commit");
  EXPECT_EQ(api::ReadPath("orders", 5, 10), "/topics/orders/messages?from=5&limit=10");
  EXPECT_EQ(api::MatchRoute({"topics", "orders"}), Route::kNone);
  EXPECT_EQ(api::MatchRoute({"transactions", "g1", "rollback"}), Route::kNone);
}

}  // namespace
}  // namespace dw::broker

// The message bodies (message_body.h): what a client sends comes out byte
// exact, and each refusal says why, with the element's index in a list.
TEST(BrokerMessageBody, ParsesMessagesAndNamesEachError) {
  using dw::broker::MessageData;
  using dw::broker::StagedMessage;
  std::string err;
  MessageData m;
  ASSERT_TRUE(dw::broker::ParseMessageBody(
      R"({"id":"o-1","key":null,"payload":"{\"a\":\"caf\u00e9\\n\u0000\"}","extra":[1,{}]})", &m,
      &err))
      << err;
  EXPECT_EQ(m.id, "o-1");
  EXPECT_EQ(m.key, "");
  EXPECT_EQ(m.payload, std::string("{\"a\":\"caf\xc3\xa9\\n\0\"}", 16));
  ASSERT_TRUE(dw::broker::ParseMessageBody(R"({"payload":"first","payload":"last"})", &m, &err));
  EXPECT_EQ(m.payload, "last");  // a repeated key keeps its last value
  EXPECT_EQ(m.id, "");

  std::vector<MessageData> batch;
  ASSERT_TRUE(dw::broker::ParseBatchBody(
      R"({"messages":[{"id":"a","key":"k","payload":"1"},{"payload":""}]})", &batch, &err));
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0], (MessageData{"a", "k", "1"}));
  EXPECT_EQ(batch[1], (MessageData{"", "", ""}));
  ASSERT_TRUE(dw::broker::ParseBatchBody(R"({"messages":[]})", &batch, &err));
  EXPECT_TRUE(batch.empty());

  std::vector<StagedMessage> staged;
  ASSERT_TRUE(dw::broker::ParsePrepareBody(
      R"({"messages":[{"topic":"orders","id":"x","payload":"p"}]})", &staged, &err));
  ASSERT_EQ(staged.size(), 1u);
  EXPECT_EQ(staged[0], (StagedMessage{"orders", MessageData{"x", "", "p"}}));

  struct Bad {
    std::string body;
    const char* want;
  };
  const std::vector<Bad> single = {
      {"{\"payload\": ", "malformed JSON body"},
      {"", "malformed JSON body"},
      {"{\"payload\": \"\xff\xfe\"}", "malformed JSON body"},
      {"[1,2]", "JSON body must be an object"},
      {R"({"id":"x"})", "'payload' is required and must be a string"},
      {R"({"payload":12})", "'payload' is required and must be a string"},
      {R"({"id":5,"payload":"p"})", "'id' must be a string"},
      {R"({"key":[],"payload":"p"})", "'key' must be a string"},
  };
  for (const auto& b : single) {
    EXPECT_FALSE(dw::broker::ParseMessageBody(b.body, &m, &err)) << b.body;
    EXPECT_EQ(err, b.want) << b.body;
  }
  const std::vector<Bad> lists = {
      {R"({"msgs":[]})", "'messages' is required and must be an array"},
      {R"({"messages":{}})", "'messages' is required and must be an array"},
      {R"({"messages":[{"payload":"a"},7]})", "messages[1]: a message must be a JSON object"},
      {R"({"messages":[{"payload":"a"},{"id":1,"payload":"b"}]})",
       "messages[1]: 'id' must be a string"},
  };
  for (const auto& b : lists) {
    EXPECT_FALSE(dw::broker::ParseBatchBody(b.body, &batch, &err)) << b.body;
    EXPECT_EQ(err, b.want) << b.body;
  }
  EXPECT_FALSE(dw::broker::ParsePrepareBody(R"({"messages":[{"payload":"a"}]})", &staged, &err));
  EXPECT_EQ(err, "messages[0]: each message needs a 'topic' matching [A-Za-z0-9._:-]{1,200}");
  EXPECT_FALSE(dw::broker::ParsePrepareBody(R"({"messages":[{"topic":"a b","payload":"a"}]})",
                                            &staged, &err));
  EXPECT_EQ(err, "messages[0]: each message needs a 'topic' matching [A-Za-z0-9._:-]{1,200}");
}

// The read answer (message_body.h) is the bytes nlohmann's dump() gives for
// the same object, escapes included; a string that is not UTF-8 gets U+FFFD
// instead of an exception.
TEST(BrokerMessageBody, ReadBodyIsNlohmannsDumpOfTheSameObject) {
  using dw::broker::StoredMessage;
  using nlohmann::json;
  std::vector<StoredMessage> msgs(3);
  msgs[0] = {0, {"order-1", "1", "{\"placed_at_us\":17}"}, 1700000000123};
  msgs[1] = {1, {"", "", std::string("tab\t nl\n q\" bs\\ caf\xc3\xa9 \x01\0 end", 27)}, -5};
  msgs[2] = {18446744073709551615ull, {"id", std::string("\xff\xfe"), "p"}, 0};
  const std::string got = dw::broker::ReadBody(msgs, 42);
  json arr = json::array();
  for (const auto& m : msgs) {
    arr.push_back(json{{"offset", m.offset},
                       {"id", m.data.id},
                       {"key", m.data.key},
                       {"payload", m.data.payload},
                       {"ts", m.ts_ms}});
  }
  const json want = json{{"messages", arr}, {"next", 42}};
  EXPECT_EQ(got, want.dump(-1, ' ', false, json::error_handler_t::replace));
  EXPECT_EQ(json::parse(got)["messages"][1]["payload"].get<std::string>(), msgs[1].data.payload);
  EXPECT_EQ(json::parse(got)["messages"][2]["key"].get<std::string>(), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(dw::broker::ReadBody({}, 7), R"({"messages":[],"next":7})");
}
