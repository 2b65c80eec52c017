// NATS JetStream as the outbox's sink, against real nats-server processes
// (env/nats_daemon.h) and the outbox suites' scratch databases:
//  - the state folder's nats-server: started on a loopback port with its
//    store in the folder, shown by `env`, stopped by `down`, restarted on
//    the same port after a SIGKILL;
//  - every no-loss relay strategy draining 10,000 orders from 8 writers
//    into JetStream while they write: nats_strategies_test.cc;
//  - a batch the server stored but the relay never settled (it died before
//    its COMMIT) is published again and dropped by the server as a
//    duplicate; the relay process SIGKILLed mid-drain loses nothing;
//  - a replayed event inside the stream's duplicate window is dropped,
//    outside it (a 1 s window) stored again: verify counts the duplicates;
//  - nats-server SIGKILLed and restarted under load: every acknowledged
//    message is still there, nothing lost;
//  - `outbox relay --sink nats --trace` traces the JetStream publish and its
//    acks (not a broker POST), and `verify --sink nats` says nothing about
//    transactions prepared at a broker JetStream does not have.
#include <signal.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/process.h"
#include "env/layout.h"
#include "env/nats_daemon.h"
#include "outbox/jetstream_publisher.h"
#include "outbox/publisher.h"
#include "tests/support/cli_run.h"
#include "tests/support/nats_fixture.h"
#include "tests/support/outbox_test_util.h"
#include "tests/support/temp_dir.h"

namespace dw::testing {
namespace {

using namespace std::chrono_literals;

TEST(NatsDaemonTest, UpShowsDownStopsAndSigkillRestartsOnItsPort) {
  const std::string state = TempDir("nats-state");
  env::NatsDaemon nats{env::Layout(state)};
  pid_t pid = 0;
  int port = 0;
  bool started = false;
  Status s = nats.Ensure(&pid, &port, &started, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(started);
  EXPECT_GT(pid, 0);
  EXPECT_TRUE(env::NatsAnswers(port, 2s));

  // `env --json` shows it (no Postgres is needed for that).
  CliRun r = RunCli({"--state-dir", state, "env", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["nats"]["running"].get<bool>()) << r.out;
  EXPECT_EQ(j["nats"]["pid"].get<int>(), pid);
  EXPECT_EQ(j["nats"]["url"].get<std::string>(), "nats://127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(j["nats"]["store"].get<std::string>(), nats.dir() + "/jetstream");

  // A second Ensure finds it running.
  pid_t again = 0;
  int port2 = 0;
  ASSERT_TRUE(nats.Ensure(&again, &port2, &started, nullptr).ok());
  EXPECT_FALSE(started);
  EXPECT_EQ(again, pid);

  // SIGKILL: the next Ensure restarts it on the same port.
  kill(pid, SIGKILL);
  ASSERT_TRUE(WaitGone(pid, 10s));
  s = nats.Ensure(&again, &port2, &started, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(started);
  EXPECT_NE(again, pid);
  EXPECT_EQ(port2, port);

  // `down` stops it.
  r = RunCli({"--state-dir", state, "down"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("stopping nats-server"), std::string::npos) << r.out;
  EXPECT_EQ(nats.Running(), 0);
  EXPECT_FALSE(ProcessAlive(again));
  r = RunCli({"--state-dir", state, "env", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(nlohmann::json::parse(r.out)["nats"]["running"].get<bool>()) << r.out;
}

TEST(NatsCliTest, BadSinkIsOneLine) {
  CliRun r = RunCli({"outbox", "relay", "--strategy", "skip-locked", "--sink", "kafka"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--sink 'kafka'"), std::string::npos) << r.err;
  r = RunCli({"outbox", "relay", "--strategy", "skip-locked", "--sink", "nats", "--dedupe-window",
              "soon"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--dedupe-window 'soon'"), std::string::npos) << r.err;
}

// Publishes through JetStream, then fails the first `fail` batches as a
// relay killed between the server's ack and its own COMMIT would: the rows
// stay unsettled although the server stored them.
class AckedThenLost : public outbox::Publisher {
 public:
  AckedThenLost(std::unique_ptr<outbox::Publisher> real, int fail)
      : real_(std::move(real)), fail_(fail) {}
  Status Publish(const std::vector<outbox::OutboxEvent>& events) override {
    Status s = real_->Publish(events);
    if (!s.ok()) return s;
    if (fail_-- > 0) return Status::Unavailable("the relay died before settling");
    return Status::OK();
  }

 private:
  std::unique_ptr<outbox::Publisher> real_;
  int fail_;
};

TEST_F(NatsTest, BatchStoredButNotSettledIsRepublishedAndDroppedAsDuplicates) {
  constexpr int64_t kOrders = 300;
  WriteOrders(kOrders, 4);
  outbox::RelayOptions ro = NatsRelay(100);
  const outbox::RelayOptions real = ro;
  ro.publisher = [real](std::unique_ptr<outbox::Publisher>* out) {
    std::unique_ptr<outbox::Publisher> p;
    Status s = outbox::MakeJetStreamPublisher(real, &p);
    if (!s.ok()) return s;
    *out = std::make_unique<AckedThenLost>(std::move(p), 2);
    return Status::OK();
  };
  std::unique_ptr<outbox::Relay> relay;
  ASSERT_TRUE(outbox::CreateRelay(ro, &relay).ok());
  ASSERT_TRUE(relay->Start().ok());
  int64_t moved = 0;
  EXPECT_FALSE(relay->Step(&moved).ok());
  EXPECT_FALSE(relay->Step(&moved).ok());
  // The same first batch twice: stored once, the rows still there.
  EXPECT_EQ(StreamCount(), 100u);
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table"), kOrders);
  EXPECT_EQ(Pump(relay.get()), kOrders);
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table"), 0);

  workload::VerifyReport v = VerifyNats();
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

TEST_F(NatsTest, RelayProcessKilledMidDrainAndRestartedLosesNothing) {
  constexpr int64_t kOrders = 4000;
  WriteOrders(kOrders, 8);
  const std::string log = TempDir("nats-kill") + "/relay.log";
  auto spawn = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {DualwriteBinary(), "outbox",     "relay",
                                     "--dsn",           dsn_,         "--sink",
                                     nats_->url(),      "--strategy", "skip-locked"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    SpawnOptions o;
    o.stdout_path = log;
    o.stderr_path = "=stdout";
    o.append = true;
    pid_t pid = -1;
    Status st = Spawn(argv, o, &pid);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return pid;
  };
  // Small batches: the drain takes long enough for the kill to land in it.
  pid_t pid = spawn({"--batch", "5"});
  auto deadline = std::chrono::steady_clock::now() + 60s;
  uint64_t seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    seen = StreamCount();
    if (seen >= kOrders / 10) break;
    ASSERT_TRUE(ProcessAlive(pid)) << "relay exited early; see " << log;
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_GE(seen, static_cast<uint64_t>(kOrders / 10)) << "see " << log;
  kill(pid, SIGKILL);
  WaitChild(pid, 10s);
  EXPECT_LT(StreamCount(), static_cast<uint64_t>(kOrders)) << "the kill should land mid-drain";

  pid = spawn({"--batch", "500", "--until-drained"});
  auto status = WaitChild(pid, 120s);
  ASSERT_TRUE(status.has_value()) << "restarted relay did not drain within 120 s; see " << log;
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "see " << log;

  workload::VerifyReport v = VerifyNats();
  EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.ok()) << v.ToText(20) << "see " << log;
}

TEST_F(NatsTest, ReplayInsideTheDuplicateWindowIsDroppedOutsideItIsDelivered) {
  constexpr int64_t kOrders = 50;
  WriteOrders(kOrders, 2);
  // What a replay re-inserts (a CDC slot rewound, say): the same events.
  Sql(dsn_,
      "CREATE TABLE replay AS SELECT entity_name, event_id, topic, msg_key, payload "
      "FROM outbox_table");
  const std::string replay =
      "INSERT INTO outbox_table (entity_name, event_id, topic, msg_key, payload) "
      "SELECT entity_name, event_id, topic, msg_key, payload FROM replay";
  outbox::RelayOptions ro = NatsRelay(100);
  ro.dedupe_window = 1000ms;
  std::unique_ptr<outbox::Relay> relay;
  ASSERT_TRUE(outbox::CreateRelay(ro, &relay).ok());
  ASSERT_TRUE(relay->Start().ok());
  const auto first_publish = std::chrono::steady_clock::now();
  EXPECT_EQ(Pump(relay.get()), kOrders);

  // Inside the window: the server drops every one of them.
  Sql(dsn_, replay);
  EXPECT_EQ(Pump(relay.get()), kOrders);  // acknowledged as duplicates: settled
  if (std::chrono::steady_clock::now() - first_publish < 1000ms) {
    EXPECT_EQ(StreamCount(), static_cast<uint64_t>(kOrders));
    workload::VerifyReport v = VerifyNats();
    EXPECT_TRUE(v.ok()) << v.ToText(20);
  }

  // Past the window the server no longer knows the ids: stored again. It
  // forgets them on a timer, within two windows of their publish.
  std::this_thread::sleep_until(first_publish + 3000ms);
  Sql(dsn_, replay);
  EXPECT_EQ(Pump(relay.get()), kOrders);
  const uint64_t stored = StreamCount();
  EXPECT_EQ(stored, 2 * static_cast<uint64_t>(kOrders));
  workload::VerifyReport v = VerifyNats();
  EXPECT_EQ(v.messages, 2 * static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.duplicates.size(), static_cast<size_t>(kOrders)) << v.ToText(5);
  EXPECT_FALSE(v.ok());
}

TEST_F(NatsTest, ServerKilledAndRestartedUnderLoadLosesNothingAcknowledged) {
  constexpr int64_t kOrders = 3000;
  std::unique_ptr<outbox::OutboxWriter> writer;
  ASSERT_TRUE(outbox::OutboxWriter::Open(Writer(8), &writer).ok());
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  outbox::RelayOptions ro = NatsRelay(100);
  ro.broker_timeout = 1000ms;
  RelayThread relay(ro, rn);

  // 3000 orders at 1000/s; the server is SIGKILLed a second in, and
  // restarted on the same port and store half a second later.
  std::atomic<uint64_t> before_kill{0};
  std::thread outage([&] {
    std::this_thread::sleep_for(1000ms);
    before_kill = StreamCount();
    EXPECT_TRUE(nats_->Kill().ok());
    std::this_thread::sleep_for(500ms);
    Status s = nats_->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  workload::LoadSummary sum = Write(writer.get(), kOrders, 8, /*rate=*/1000);
  outage.join();
  EXPECT_EQ(sum.committed, static_cast<uint64_t>(kOrders)) << "writes must not need the broker";
  writer.reset();
  const outbox::RelayReport& report = relay.Join();
  EXPECT_TRUE(report.drained) << report.ToText();
  EXPECT_GT(report.errors, 0u) << "the relay should have met the outage: " << report.ToText();
  EXPECT_GT(before_kill.load(), 0u);

  workload::VerifyReport v = VerifyNats();
  EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

TEST_F(NatsTest, RelayTraceShowsTheJetStreamPublishAndVerifyLeavesOutTheBroker) {
  constexpr int64_t kOrders = 30;
  WriteOrders(kOrders, 2);
  CliRun r = RunCli({"outbox", "relay", "--dsn", dsn_, "--sink", nats_->url(), "--strategy",
                     "skip-locked", "--batch", "10", "--until-drained", "--trace"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("JetStream publish to subject orders: 10 messages"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Nats-Msg-Id = event id"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("all acknowledged: 10 stored, 0 dropped as duplicates"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("POST /topics"), std::string::npos) << r.out;
  EXPECT_EQ(StreamCount(), static_cast<uint64_t>(kOrders));

  r = RunCli({"verify", "--dsn", dsn_, "--sink", nats_->url()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("rows 30, messages 30"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("prepared at Postgres: 0"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("broker"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("verify: OK"), std::string::npos) << r.out;

  r = RunCli({"verify", "--dsn", dsn_, "--sink", nats_->url(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["ok"].get<bool>());
  EXPECT_FALSE(j.contains("prepared_broker")) << r.out;
  EXPECT_TRUE(j.contains("prepared_postgres")) << r.out;
}

}  // namespace
}  // namespace dw::testing
