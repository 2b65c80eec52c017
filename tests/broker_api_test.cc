// The broker's HTTP API against a real `dualwrite broker serve` process:
// publish (idempotent), batch, read paging, the 2PC endpoints, concurrency,
// every kind of bad input, fault knobs, metrics, bearer tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "tests/support/broker_test_util.h"

namespace dw::testing::broker {
namespace {

// One broker for the suite: tests use distinct topics and gids.
class BrokerApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    broker_ = new BrokerProcess(TempDir("broker-api"), {"--max-body", "65536"});
    broker_->Start();
  }
  static void TearDownTestSuite() {
    broker_->Stop();
    delete broker_;
  }
  void TearDown() override { EXPECT_TRUE(Healthy(port())) << "the broker must keep serving"; }
  static int port() { return broker_->port(); }
  static BrokerProcess* broker_;
};
BrokerProcess* BrokerApi::broker_ = nullptr;

TEST_F(BrokerApi, PublishIsIdempotentPerTopic) {
  Resp a = Publish(port(), "idem", "evt-1", "first");
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(a.j, json({{"offset", 0}}));
  Resp b = Publish(port(), "idem", "evt-1", "second attempt");
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(b.j, json({{"offset", 0}}));
  EXPECT_EQ(Publish(port(), "idem", "evt-2", "x").j["offset"], 1);
  EXPECT_EQ(Publish(port(), "idem-other", "evt-1", "x").status, 201) << "ids are per topic";
  auto all = ReadAll(port(), "idem");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["payload"], "first");
  EXPECT_EQ(all[0]["id"], "evt-1");
  EXPECT_GT(all[0]["ts"].get<int64_t>(), 1600000000000);
  // No id: never deduplicated.
  EXPECT_EQ(Publish(port(), "idem", "", "same").status, 201);
  EXPECT_EQ(Publish(port(), "idem", "", "same").status, 201);
  EXPECT_EQ(ReadAll(port(), "idem").size(), 4u);
}

TEST_F(BrokerApi, PayloadsRoundTripExactly) {
  std::string payload = std::string("nul\0byte", 8) + "\xc3\xa9\xe2\x82\xac \"quoted\" \\ \n\t";
  Resp r = Publish(port(), "bytes", "b", payload, std::string("k\0", 2));
  ASSERT_EQ(r.status, 201);
  auto all = ReadAll(port(), "bytes");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["payload"].get<std::string>(), payload);
  EXPECT_EQ(all[0]["key"].get<std::string>(), std::string("k\0", 2));
}

TEST_F(BrokerApi, BatchDedupesInsideAndAgainstStoredMessages) {
  ASSERT_EQ(Publish(port(), "batch", "x", "old").status, 201);
  Resp r = Call(port(), "POST", "/topics/batch/batch",
                R"({"messages":[{"id":"a","payload":"1"},{"id":"x","payload":"dup"},
                    {"id":"a","payload":"dup"},{"payload":"2","key":"k"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j, json({{"offsets", {1, 0, 1, 2}}}));
  EXPECT_EQ(ReadAll(port(), "batch").size(), 3u);
  Resp empty = Call(port(), "POST", "/topics/batch/batch", R"({"messages":[]})");
  EXPECT_EQ(empty.status, 200);
  EXPECT_EQ(empty.j, json({{"offsets", json::array()}}));
}

TEST_F(BrokerApi, ReadPagesWithFromLimitAndNext) {
  json msgs = json::array();
  for (int i = 0; i < 25; ++i) msgs.push_back({{"id", std::to_string(i)}, {"payload", "p"}});
  ASSERT_EQ(Call(port(), "POST", "/topics/paging/batch", json{{"messages", msgs}}.dump()).status,
            200);
  Resp r = Call(port(), "GET", "/topics/paging/messages?from=5&limit=10");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.j["messages"].size(), 10u);
  EXPECT_EQ(r.j["messages"][0]["offset"], 5);
  EXPECT_EQ(r.j["messages"][9]["offset"], 14);
  EXPECT_EQ(r.j["next"], 15);
  r = Call(port(), "GET", "/topics/paging/messages?from=20");
  EXPECT_EQ(r.j["messages"].size(), 5u);
  EXPECT_EQ(r.j["next"], 25);
  r = Call(port(), "GET", "/topics/paging/messages?from=40&limit=3");
  EXPECT_TRUE(r.j["messages"].empty());
  EXPECT_EQ(r.j["next"], 40);
  r = Call(port(), "GET", "/topics/paging/messages");
  EXPECT_EQ(r.j["messages"].size(), 25u) << "from defaults to 0";
  r = Call(port(), "GET", "/topics/never-written/messages?from=7");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.j, json({{"messages", json::array()}, {"next", 7}}));
  r = Call(port(), "GET", "/topics/paging/messages?limit=99999999");
  EXPECT_EQ(r.status, 200) << "limit is capped, not refused";
  EXPECT_EQ(Call(port(), "GET", "/topics/paging/messages?from=-1").status, 400);
  EXPECT_EQ(Call(port(), "GET", "/topics/paging/messages?limit=ten").status, 400);
}

TEST_F(BrokerApi, PreparedMessagesBecomeVisibleAtomicallyOnCommit) {
  ASSERT_EQ(Publish(port(), "tx-a", "pre-existing", "old").status, 201);
  const std::string staged = R"({"messages":[
      {"topic":"tx-a","id":"e1","key":"k1","payload":"one"},
      {"topic":"tx-b","id":"e2","payload":"two"},
      {"topic":"tx-a","id":"pre-existing","payload":"dup"},
      {"topic":"tx-a","id":"e3","payload":"three"}]})";
  Resp prep = Call(port(), "POST", "/transactions/gid-commit-1/prepare", staged);
  ASSERT_EQ(prep.status, 200) << prep.body;
  EXPECT_EQ(prep.j, json({{"vote", "commit"}}));
  EXPECT_EQ(ReadAll(port(), "tx-a").size(), 1u) << "staged messages are invisible";
  EXPECT_TRUE(ReadAll(port(), "tx-b").empty());

  Resp list = Call(port(), "GET", "/transactions?state=prepared");
  ASSERT_EQ(list.status, 200);
  json found;
  for (const auto& t : list.j["transactions"]) {
    if (t["gid"] == "gid-commit-1") found = t;
  }
  ASSERT_FALSE(found.is_null()) << list.body;
  EXPECT_EQ(found["messages"].size(), 4u);
  EXPECT_EQ(found["messages"][0],
            json({{"topic", "tx-a"}, {"id", "e1"}, {"key", "k1"}, {"payload", "one"}}));
  auto age = std::chrono::system_clock::now().time_since_epoch() / std::chrono::milliseconds(1) -
             found["prepared_at"].get<int64_t>();
  EXPECT_GE(age, 0);
  EXPECT_LT(age, 60000);

  // A retried prepare keeps the vote and stages nothing twice.
  EXPECT_EQ(Call(port(), "POST", "/transactions/gid-commit-1/prepare", staged).status, 200);

  Resp commit = Call(port(), "POST", "/transactions/gid-commit-1/commit");
  ASSERT_EQ(commit.status, 200) << commit.body;
  EXPECT_EQ(commit.j, json({{"offsets", {1, 0, 0, 2}}}));
  auto a = ReadAll(port(), "tx-a");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[1]["id"], "e1");
  EXPECT_EQ(a[2]["id"], "e3");
  EXPECT_EQ(a[1]["ts"], a[2]["ts"]) << "one commit, one visibility instant";
  EXPECT_EQ(ReadAll(port(), "tx-b").size(), 1u);

  Resp again = Call(port(), "POST", "/transactions/gid-commit-1/commit");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.j, commit.j);
  EXPECT_EQ(ReadAll(port(), "tx-a").size(), 3u);
  Resp listed = Call(port(), "GET", "/transactions");
  ASSERT_EQ(listed.status, 200);
  for (const auto& t : listed.j["transactions"]) {
    EXPECT_NE(t["gid"], "gid-commit-1");
  }
}

TEST_F(BrokerApi, PrecommitMarksAPreparedTransactionUntilItsCommit) {
  EXPECT_EQ(Call(port(), "POST", "/transactions/gid-pc-never/precommit").status, 404);
  ASSERT_EQ(Call(port(), "POST", "/transactions/gid-pc-1/prepare",
                 R"({"messages":[{"topic":"tx-pc","id":"p1","payload":"one"}]})")
                .status,
            200);
  Resp pre = Call(port(), "POST", "/transactions/gid-pc-1/precommit");
  ASSERT_EQ(pre.status, 200) << pre.body;
  EXPECT_EQ(pre.j, json({{"state", "precommitted"}}));
  EXPECT_EQ(Call(port(), "POST", "/transactions/gid-pc-1/precommit").j, pre.j) << "idempotent";
  EXPECT_TRUE(ReadAll(port(), "tx-pc").empty()) << "precommitted is still undecided";

  auto state_of = [&](const std::string& query, const std::string& gid) {
    Resp l = Call(port(), "GET", "/transactions?state=" + query);
    EXPECT_EQ(l.status, 200) << l.body;
    for (const auto& t : l.j["transactions"]) {
      if (t["gid"] == gid) return t["state"].get<std::string>();
    }
    return std::string("absent");
  };
  EXPECT_EQ(state_of("prepared", "gid-pc-1"), "precommitted");
  EXPECT_EQ(state_of("precommitted", "gid-pc-1"), "precommitted");
  ASSERT_EQ(Call(port(), "POST", "/transactions/gid-pc-2/prepare",
                 R"({"messages":[{"topic":"tx-pc","id":"p2","payload":"two"}]})")
                .status,
            200);
  EXPECT_EQ(state_of("prepared", "gid-pc-2"), "prepared");
  EXPECT_EQ(state_of("precommitted", "gid-pc-2"), "absent");
  EXPECT_EQ(Call(port(), "GET", "/transactions?state=committed").status, 400);

  ASSERT_EQ(Call(port(), "POST", "/transactions/gid-pc-1/commit").status, 200);
  auto msgs = ReadAll(port(), "tx-pc");
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0]["id"], "p1");
  EXPECT_EQ(state_of("prepared", "gid-pc-1"), "absent");
  EXPECT_EQ(Call(port(), "POST", "/transactions/gid-pc-1/precommit").status, 200)
      << "a late retry after the commit";

  ASSERT_EQ(Call(port(), "POST", "/transactions/gid-pc-2/abort").status, 200);
  Resp refused = Call(port(), "POST", "/transactions/gid-pc-2/precommit");
  EXPECT_EQ(refused.status, 412) << refused.body;
  EXPECT_TRUE(refused.j.contains("error"));
  EXPECT_EQ(Call(port(), "GET", "/transactions/gid-pc-2/precommit").status, 405);
  EXPECT_EQ(Call(port(), "POST", "/transactions/bad%20gid/precommit").status, 400);
}

TEST_F(BrokerApi, AbortDiscardsStagedMessagesAndIsRemembered) {
  ASSERT_EQ(Call(port(), "POST", "/transactions/gid-abort-1/prepare",
                 R"({"messages":[{"topic":"tx-abort","id":"z","payload":"never"}]})")
                .status,
            200);
  Resp ab = Call(port(), "POST", "/transactions/gid-abort-1/abort");
  EXPECT_EQ(ab.status, 200) << ab.body;
  EXPECT_EQ(Call(port(), "POST", "/transactions/gid-abort-1/abort").status, 200) << "idempotent";
  EXPECT_TRUE(ReadAll(port(), "tx-abort").empty());
  Resp listed = Call(port(), "GET", "/transactions?state=prepared");
  ASSERT_EQ(listed.status, 200);
  for (const auto& t : listed.j["transactions"]) {
    EXPECT_NE(t["gid"], "gid-abort-1");
  }
  Resp commit = Call(port(), "POST", "/transactions/gid-abort-1/commit");
  EXPECT_EQ(commit.status, 412) << commit.body;
  EXPECT_TRUE(commit.j.contains("error"));
  Resp late = Call(port(), "POST", "/transactions/gid-abort-1/prepare",
                   R"({"messages":[{"topic":"tx-abort","payload":"late"}]})");
  EXPECT_EQ(late.status, 409);
  EXPECT_EQ(late.j["vote"], "abort");
  EXPECT_TRUE(late.j["reason"].is_string());
  EXPECT_TRUE(ReadAll(port(), "tx-abort").empty());
}

TEST_F(BrokerApi, UnknownGids) {
  Resp c = Call(port(), "POST", "/transactions/never-prepared/commit");
  EXPECT_EQ(c.status, 404);
  EXPECT_TRUE(c.j["error"].is_string());
  // Presumed abort: the abort of an unknown gid succeeds and a prepare that
  // arrives after it (a delayed packet) votes abort.
  EXPECT_EQ(Call(port(), "POST", "/transactions/abort-first/abort").status, 200);
  Resp late = Call(port(), "POST", "/transactions/abort-first/prepare",
                   R"({"messages":[{"topic":"late","payload":"x"}]})");
  EXPECT_EQ(late.status, 409);
  EXPECT_EQ(late.j["vote"], "abort");
  // A committed gid cannot be aborted.
  ASSERT_EQ(Call(port(), "POST", "/transactions/c-then-a/prepare", R"({"messages":[]})").status,
            200);
  ASSERT_EQ(Call(port(), "POST", "/transactions/c-then-a/commit").status, 200);
  EXPECT_EQ(Call(port(), "POST", "/transactions/c-then-a/abort").status, 412);
}

TEST_F(BrokerApi, ConcurrentPublishersGetUniqueDenseOffsets) {
  constexpr int kThreads = 8, kPer = 200;
  std::mutex mu;
  std::vector<uint64_t> offsets;
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        Resp r = Publish(port(), "dense", "t" + std::to_string(t) + "-" + std::to_string(i), "x");
        if (r.status != 201) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mu);
        offsets.push_back(r.j["offset"].get<uint64_t>());
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::sort(offsets.begin(), offsets.end());
  ASSERT_EQ(offsets.size(), size_t{kThreads * kPer});
  for (size_t i = 0; i < offsets.size(); ++i) ASSERT_EQ(offsets[i], i);
  auto all = ReadAll(port(), "dense");
  ASSERT_EQ(all.size(), size_t{kThreads * kPer});
  std::set<std::string> ids;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i]["offset"], i);
    ids.insert(all[i]["id"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), size_t{kThreads * kPer});
}

struct BadCase {
  const char* what;
  std::string raw;
  int want;
};

TEST_F(BrokerApi, BadInputGets4xxAndTheBrokerKeepsServing) {
  auto post = [](const std::string& target, const std::string& body) {
    return "POST " + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  auto get = [](const std::string& target, const std::string& method = "GET") {
    return method + " " + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  };
  std::string long_name(201, 'a');
  std::vector<BadCase> cases = {
      {"malformed JSON", post("/topics/bad/messages", "{\"payload\": "), 400},
      {"JSON not an object", post("/topics/bad/messages", "[1,2]"), 400},
      {"empty body", post("/topics/bad/messages", ""), 400},
      {"payload not a string", post("/topics/bad/messages", R"({"payload": 12})"), 400},
      {"missing payload", post("/topics/bad/messages", R"({"id": "x"})"), 400},
      {"id not a string", post("/topics/bad/messages", R"({"id": 5, "payload": "p"})"), 400},
      {"key not a string", post("/topics/bad/messages", R"({"key": [], "payload": "p"})"), 400},
      {"invalid UTF-8", post("/topics/bad/messages", "{\"payload\": \"\xff\xfe\"}"), 400},
      {"batch without messages", post("/topics/bad/batch", R"({"msgs": []})"), 400},
      {"batch messages not an array", post("/topics/bad/batch", R"({"messages": {}})"), 400},
      {"batch with a bad element",
       post("/topics/bad/batch", R"({"messages": [{"payload":"a"}, 7]})"), 400},
      {"prepare without topic",
       post("/transactions/bad-1/prepare", R"({"messages": [{"payload":"a"}]})"), 400},
      {"prepare with bad topic",
       post("/transactions/bad-1/prepare", R"({"messages": [{"topic":"a b","payload":"a"}]})"),
       400},
      {"prepare with malformed JSON", post("/transactions/bad-1/prepare", "{"), 400},
      {"topic with bad characters", post("/topics/a%20b/messages", R"({"payload":"p"})"), 400},
      {"topic too long", post("/topics/" + long_name + "/messages", R"({"payload":"p"})"), 400},
      {"gid with bad characters", post("/transactions/a$b/commit", ""), 400},
      {"gid too long", post("/transactions/" + long_name + "/abort", ""), 400},
      {"empty topic", post("/topics//messages", R"({"payload":"p"})"), 400},
      {"bad from", get("/topics/bad/messages?from=x"), 400},
      {"bad state", get("/transactions?state=committed"), 400},
      {"bad fault value", post("/admin/faults", R"({"abort_prob": 2})"), 400},
      {"unknown fault", post("/admin/faults", R"({"latency": 5})"), 400},
      {"bad crash point", post("/admin/faults", R"({"crash_at": "sometime"})"), 400},
      {"unknown route", get("/nope"), 404},
      {"unknown sub-route", get("/topics/bad/offsets"), 404},
      {"root", get("/"), 404},
      {"wrong method on messages", get("/topics/bad/messages", "DELETE"), 405},
      {"GET on commit", get("/transactions/g/commit"), 405},
      {"POST on healthz", post("/healthz", ""), 405},
      {"body over --max-body", post("/topics/bad/messages", std::string(200000, 'x')), 413},
      {"declared body over --max-body",
       "POST /topics/bad/messages HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n", 413},
      {"header too large",
       "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(20000, 'h') + "\r\n\r\n", 431},
      {"garbage request line", "\x01\x02 hello there\r\n\r\n", 400},
      {"bad HTTP version", "GET /healthz HTTP/9.Z\r\n\r\n", 400},
      {"bad content-length", "POST /topics/bad/messages HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
       400},
      {"bad chunked body",
       "POST /topics/bad/messages HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
  };
  for (const auto& c : cases) {
    std::string body;
    int got = RawHttp(port(), c.raw, &body);
    EXPECT_EQ(got, c.want) << c.what << ": " << body;
    if (got >= 400) {
      auto j = json::parse(body, nullptr, false);
      EXPECT_TRUE(!j.is_discarded() && j.contains("error")) << c.what << ": " << body;
    }
    ASSERT_TRUE(Healthy(port())) << "after " << c.what;
  }
  EXPECT_TRUE(ReadAll(port(), "bad").empty()) << "nothing bad was stored";
  // The log still replays after all of that.
  broker_->Restart();
  EXPECT_TRUE(ReadAll(port(), "bad").empty());
}

TEST_F(BrokerApi, KeepAliveAnswersPipelinedRequestsInOrder) {
  std::string body = R"({"payload":"ka"})";
  std::string raw =
      "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
      "POST /topics/keepalive/messages HTTP/1.1\r\nHost: t\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body +
      "GET /topics/keepalive/messages HTTP/1.1\r\nHost: t\r\n"
      "Connection: close\r\n\r\n";
  std::string resp = RawUntilClose(port(), raw);
  EXPECT_EQ(Count(resp, "HTTP/1.1 "), 3) << resp;
  size_t ok = resp.find("HTTP/1.1 200"), created = resp.find("HTTP/1.1 201"),
         read = resp.find("HTTP/1.1 200", created);
  EXPECT_TRUE(ok < created && created < read && read != std::string::npos) << resp;
  EXPECT_NE(resp.find(R"("payload":"ka")"), std::string::npos) << resp;
}

TEST_F(BrokerApi, ExpectContinueIsHonoured) {
  std::string body = R"({"payload":"continued"})";
  std::string head =
      "POST /topics/expect/messages HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n";
  std::string resp = RawUntilClose(port(), head + body);
  EXPECT_EQ(resp.find("HTTP/1.1 100 Continue\r\n"), 0u) << resp;
  EXPECT_NE(resp.find("HTTP/1.1 201"), std::string::npos) << resp;
  EXPECT_EQ(ReadAll(port(), "expect").size(), 1u);
}

TEST_F(BrokerApi, HealthAndMetrics) {
  Resp h = Call(port(), "GET", "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.j, json({{"status", "ok"}}));
  ASSERT_EQ(Publish(port(), "metered", "", "x").status, 201);
  Resp m = Call(port(), "GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  for (const char* want :
       {"dw_broker_requests_total{route=\"publish\",code=\"201\"}",
        "dw_broker_request_duration_seconds_bucket{route=\"publish\",le=\"+Inf\"}",
        "dw_broker_request_duration_seconds_count{route=\"publish\"}", "dw_broker_fsyncs_total ",
        "dw_broker_bytes_written_total ", "dw_broker_records_written_total ",
        "dw_broker_prepared_transactions ", "dw_broker_topic_messages{topic=\"metered\"} 1",
        "# TYPE dw_broker_request_duration_seconds histogram"}) {
    EXPECT_NE(m.body.find(want), std::string::npos) << want;
  }
  EXPECT_GT(Metric(port(), "dw_broker_bytes_written_total"), 0);
}

TEST_F(BrokerApi, FaultKnobsAtRunTime) {
  Resp f = Call(port(), "POST", "/admin/faults", R"({"abort_prob": 1, "latency_ms": 150})");
  ASSERT_EQ(f.status, 200) << f.body;
  Resp g = Call(port(), "GET", "/admin/faults");
  EXPECT_EQ(g.j["abort_prob"], 1.0);
  EXPECT_EQ(g.j["latency_ms"], 150.0);
  EXPECT_EQ(g.j["jitter_ms"], 0.0);
  EXPECT_EQ(g.j["crash_at"], "");

  auto t0 = std::chrono::steady_clock::now();
  Resp v = Call(port(), "POST", "/transactions/fault-abort/prepare",
                R"({"messages":[{"topic":"faulty","payload":"x"}]})");
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(v.status, 409);
  EXPECT_EQ(v.j["vote"], "abort");
  // The injected latency is a floor, not a performance measurement.
  EXPECT_GE(took, std::chrono::milliseconds(140));
  // The vote was recorded: a retry votes abort again, even with the fault off.
  ASSERT_EQ(Call(port(), "POST", "/admin/faults", R"({"abort_prob": 0, "latency_ms": 0})").status,
            200);
  EXPECT_EQ(Call(port(), "POST", "/transactions/fault-abort/prepare",
                 R"({"messages":[{"topic":"faulty","payload":"x"}]})")
                .status,
            409);

  // Down: connections are closed without an answer, then it comes back by itself.
  ASSERT_EQ(Call(port(), "POST", "/admin/faults", R"({"down_for_ms": 700})").status, 200);
  EXPECT_EQ(Call(port(), "GET", "/healthz", "", std::chrono::milliseconds(2000)).status, 0);
  EXPECT_EQ(Publish(port(), "faulty", "", "while down").status, 0);
  bool back = false;
  for (int i = 0; i < 100 && !back; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    back = Healthy(port());
  }
  EXPECT_TRUE(back);
  EXPECT_TRUE(ReadAll(port(), "faulty").empty());
  EXPECT_EQ(Call(port(), "GET", "/admin/faults").j["down_for_ms"], 0);
}

TEST(BrokerAuth, BearerTokenIsRequiredExceptForHealthz) {
  std::string dir = TempDir("broker-auth");
  std::ofstream(dir + "/token") << "s3cret\n";
  BrokerProcess b(dir + "/data", {"--token-file", dir + "/token"});
  b.Start();
  EXPECT_EQ(Publish(b.port(), "auth", "", "x").status, 401);
  EXPECT_EQ(Call(b.port(), "GET", "/topics/auth/messages", "", std::chrono::milliseconds(5000),
                 "Authorization: Bearer wrong\r\n")
                .status,
            401);
  EXPECT_EQ(Call(b.port(), "POST", "/topics/auth/messages", R"({"payload":"x"})",
                 std::chrono::milliseconds(5000), "Authorization: Bearer s3cret\r\n")
                .status,
            201);
  EXPECT_TRUE(Healthy(b.port()));
  b.Stop();
}

}  // namespace
}  // namespace dw::testing::broker
