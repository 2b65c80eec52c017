// RabbitMQ as the outbox's sink, against real rabbitmq-server nodes:
//  - the state folder's node (env/rabbitmq_daemon.h): started with its own
//    epmd on loopback ports, answering AMQP; shown by `env`; found running by
//    a second Ensure; stopped, epmd included, by `down`;
//  - the outbox environment's node for the other tests (a node takes 8 s or
//    more to start), whose `orders` quorum queue each test deletes first,
//    and the outbox suites' scratch databases:
//  - every no-loss relay strategy draining 10,000 orders from 8 writers
//    while they write, verify (reading the queue back, twice: the read
//    takes nothing away) clean: rabbitmq_strategies_test.cc;
//  - a batch the server confirmed but the relay never settled (it died
//    before its COMMIT) is published again and DELIVERED again: RabbitMQ
//    keeps no message ids, and verify counts the extra copies;
//  - the relay process SIGKILLed mid-drain and restarted: nothing lost, and
//    verify's duplicate count is exactly what the second relay re-published;
//  - the node SIGKILLed under load and restarted on its ports: nothing
//    acknowledged lost, the re-published copies counted;
//  - `outbox consume` with the inbox applies each event once though its
//    message was delivered three times, and verify reports the duplicates
//    the inbox absorbed apart from those in the queue;
//  - `outbox relay --sink amqp://... --trace` traces the AMQP publish and its
//    confirms, and `verify --sink amqp://...` says nothing about prepared
//    transactions at a broker RabbitMQ is not.
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/process.h"
#include "env/layout.h"
#include "env/rabbitmq_daemon.h"
#include "outbox/publisher.h"
#include "outbox/rabbitmq_publisher.h"
#include "tests/support/cli_run.h"
#include "tests/support/outbox_test_util.h"
#include "tests/support/rabbitmq_fixture.h"
#include "tests/support/temp_dir.h"

namespace dw::testing {
namespace {

using namespace std::chrono_literals;

pid_t ReadPid(const std::string& path) {
  std::ifstream f(path);
  long v = 0;
  return (f >> v) ? static_cast<pid_t>(v) : 0;
}

TEST(RabbitmqDaemonTest, UpShowsAnswersAmqpAndDownStopsNodeAndEpmd) {
  const std::string state = TempDir("rabbitmq-state");
  env::RabbitmqDaemon rabbitmq{env::Layout(state)};
  EXPECT_EQ(rabbitmq.Running(), 0);

  // `up --sinks rabbitmq` starts the node (Postgres and the broker too).
  CliRun r = RunCli({"--state-dir", state, "up", "--sinks", "rabbitmq"}, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("starting rabbitmq-server on 127.0.0.1:"), std::string::npos) << r.out;
  const pid_t pid = rabbitmq.Running();
  ASSERT_GT(pid, 0) << r.out;
  const int port = rabbitmq.Port();
  ASSERT_GT(port, 0);
  EXPECT_TRUE(env::AmqpAnswers(port, 2s));
  const pid_t epmd = ReadPid(rabbitmq.dir() + "/epmd.pid");
  EXPECT_GT(epmd, 0);
  EXPECT_TRUE(ProcessAlive(epmd));
  // The node's cookie lives in the folder, not in the user's home.
  EXPECT_TRUE(std::ifstream(rabbitmq.dir() + "/home/.erlang.cookie").good());

  r = RunCli({"--state-dir", state, "env", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["rabbitmq"]["running"].get<bool>()) << r.out;
  EXPECT_EQ(j["rabbitmq"]["pid"].get<int>(), pid);
  EXPECT_EQ(j["rabbitmq"]["url"].get<std::string>(),
            "amqp://guest:guest@127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_EQ(j["rabbitmq"]["node"].get<std::string>(), env::RabbitmqDaemon::kNode);
  r = RunCli({"--state-dir", state, "env"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rabbitmq     running, pid " + std::to_string(pid)), std::string::npos)
      << r.out;

  // A second Ensure finds it running.
  pid_t again = 0;
  int port2 = 0;
  bool started = true;
  Status s = rabbitmq.Ensure(&again, &port2, &started, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(started);
  EXPECT_EQ(again, pid);
  EXPECT_EQ(port2, port);

  // `down` stops the node and its epmd.
  r = RunCli({"--state-dir", state, "down"}, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("stopping rabbitmq-server (pid " + std::to_string(pid) + ")"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(rabbitmq.Running(), 0);
  EXPECT_TRUE(WaitGone(pid, 10s));
  EXPECT_TRUE(WaitGone(epmd, 10s));
  EXPECT_FALSE(env::AmqpAnswers(port, 500ms));
  r = RunCli({"--state-dir", state, "env", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(nlohmann::json::parse(r.out)["rabbitmq"]["running"].get<bool>()) << r.out;
}

TEST(RabbitmqCliTest, BadSinkOrUrlIsOneLine) {
  CliRun r = RunCli({"outbox", "relay", "--strategy", "skip-locked", "--sink", "kafka"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--sink 'kafka'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rabbitmq"), std::string::npos) << r.err;
  r = RunCli({"outbox", "relay", "--strategy", "skip-locked", "--sink", "amqp://h:port/"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("want amqp://"), std::string::npos) << r.err;
  r = RunCli({"verify", "--sink", "amqps://127.0.0.1:1/"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--sink 'amqps://127.0.0.1:1/'"), std::string::npos) << r.err;
}

// Publishes through RabbitMQ, then fails the first `fail` batches as a relay
// killed between the server's confirms and its own COMMIT would: the rows
// stay unsettled although the server stored them.
class ConfirmedThenLost : public outbox::Publisher {
 public:
  ConfirmedThenLost(std::unique_ptr<outbox::Publisher> real, int fail)
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

TEST_F(RabbitmqTest, BatchConfirmedButNotSettledIsDeliveredAgain) {
  constexpr int64_t kOrders = 300;
  WriteOrders(kOrders, 4);
  outbox::RelayOptions ro = RabbitRelay(100);
  const outbox::RelayOptions real = ro;
  ro.publisher = [real](std::unique_ptr<outbox::Publisher>* out) {
    std::unique_ptr<outbox::Publisher> p;
    Status s = outbox::MakeRabbitmqPublisher(real, &p);
    if (!s.ok()) return s;
    *out = std::make_unique<ConfirmedThenLost>(std::move(p), 2);
    return Status::OK();
  };
  std::unique_ptr<outbox::Relay> relay;
  ASSERT_TRUE(outbox::CreateRelay(ro, &relay).ok());
  ASSERT_TRUE(relay->Start().ok());
  int64_t moved = 0;
  EXPECT_FALSE(relay->Step(&moved).ok());
  EXPECT_FALSE(relay->Step(&moved).ok());
  // The same first batch twice: stored twice (no deduplication), the rows
  // still there.
  EXPECT_EQ(QueueCount(), 200u);
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table"), kOrders);
  EXPECT_EQ(Pump(relay.get()), kOrders);
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table"), 0);

  // Nothing lost; the first batch's 100 orders were delivered three times.
  workload::VerifyReport v = VerifyRabbit();
  EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders) + 200);
  EXPECT_TRUE(v.missing.empty()) << v.ToText(5);
  EXPECT_TRUE(v.orphans.empty()) << v.ToText(5);
  EXPECT_EQ(v.duplicate_messages, 200u) << v.ToText(5);
  EXPECT_EQ(v.duplicates.size(), 100u) << v.ToText(5);
  EXPECT_FALSE(v.ok());
}

TEST_F(RabbitmqTest, RelayProcessKilledMidDrainLosesNothingAndVerifyCountsItsRepublished) {
  constexpr int64_t kOrders = 2000;
  WriteOrders(kOrders, 8);
  const std::string log = TempDir("rabbitmq-kill") + "/relay.log";
  auto spawn = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {DualwriteBinary(), "outbox", "relay",      "--dsn",      dsn_,
                                     "--sink",          Url(),    "--strategy", "skip-locked"};
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
    seen = QueueCount();
    if (seen >= kOrders / 10) break;
    ASSERT_TRUE(ProcessAlive(pid)) << "relay exited early; see " << log;
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_GE(seen, static_cast<uint64_t>(kOrders / 10)) << "see " << log;
  kill(pid, SIGKILL);
  WaitChild(pid, 10s);

  // Let what the killed relay left settle: Postgres rolls back its open
  // transaction when the socket closes, and the server takes in what was
  // already on the wire. Then the queue and the table stand still.
  uint64_t queued = QueueCount();
  for (int stable = 0; stable < 5;) {
    std::this_thread::sleep_for(100ms);
    const uint64_t now = QueueCount();
    stable = now == queued ? stable + 1 : 0;
    queued = now;
  }
  const int64_t left = SqlInt(dsn_, "SELECT count(*) FROM outbox_table");
  EXPECT_LT(queued, static_cast<uint64_t>(kOrders)) << "the kill should land mid-drain";
  EXPECT_GT(left, 0);

  pid = spawn({"--batch", "500", "--until-drained"});
  auto status = WaitChild(pid, 120s);
  ASSERT_TRUE(status.has_value()) << "restarted relay did not drain within 120 s; see " << log;
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "see " << log;

  // The second relay published every row it found. Those the killed one
  // had published (confirmed or not) before it died unsettled are in the
  // queue twice: exactly queued + left - kOrders extra copies, which may be
  // 0 when the kill fell between batches.
  workload::VerifyReport v = VerifyRabbit();
  std::cout << "killed relay: " << queued << " messages queued, " << left
            << " rows left; verify: " << v.messages << " messages, " << v.duplicate_messages
            << " duplicate deliveries, " << v.missing.size() << " missing\n";
  EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.missing.empty()) << v.ToText(20) << "see " << log;
  EXPECT_TRUE(v.orphans.empty()) << v.ToText(20);
  EXPECT_EQ(v.messages, queued + static_cast<uint64_t>(left));
  EXPECT_EQ(v.duplicate_messages, queued + static_cast<uint64_t>(left) - kOrders) << v.ToText(5);
  EXPECT_EQ(v.duplicates.size(), v.duplicate_messages);  // one event per order
}

// The node SIGKILLed under load and restarted on the same ports and data
// folder: a quorum queue confirms only what its log fsynced, so every batch
// the relay settled survives; the batches the outage cut short stay in the
// table and are published again, some of them twice. The queue must predate
// the node's last clean start: RabbitMQ 3.10 (Ra 2.2) records a new queue's
// Raft member in a table flushed only after 500 ms without access, which
// routing reads, so a queue declared under load and killed before such a
// pause comes back leaderless for good (every publish unconfirmed).
TEST_F(RabbitmqTest, ServerKilledAndRestartedUnderLoadLosesNothingAcknowledged) {
  constexpr int64_t kOrders = 4000;
  env::RabbitmqDaemon daemon{env::Layout(std::getenv("DUALWRITE_STATE_DIR"))};
  {
    EXPECT_EQ(QueueCount(), 0u);  // declares it
    Status s = daemon.Stop(nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    pid_t pid = 0;
    int port = 0;
    bool started = false;
    s = daemon.Ensure(&pid, &port, &started, nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(port, port_);
  }
  std::unique_ptr<outbox::OutboxWriter> writer;
  ASSERT_TRUE(outbox::OutboxWriter::Open(Writer(8), &writer).ok());
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.max_run = 200s;  // bounds the drain however long the node takes to come back
  outbox::RelayOptions ro = RabbitRelay(100);
  ro.broker_timeout = 2000ms;
  RelayThread relay(ro, rn);

  // 4000 orders at 1000/s; the node is SIGKILLed once a quarter of them are
  // in its queue, and restarted at once (it answers again 8 s or more later).
  std::atomic<uint64_t> before_kill{0};
  std::thread outage([&] {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline && before_kill < kOrders / 4) {
      std::this_thread::sleep_for(20ms);
      before_kill = QueueCount();
    }
    const pid_t vm = daemon.Running();
    ASSERT_GT(vm, 0);
    ASSERT_EQ(kill(vm, SIGKILL), 0);
    EXPECT_TRUE(WaitGone(vm, 30s));
    pid_t pid = 0;
    int port = 0;
    bool started = false;
    Status s = daemon.Ensure(&pid, &port, &started, &std::cout);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(started);
    EXPECT_NE(pid, vm);
    EXPECT_EQ(port, port_) << "the relay's URL names the old port";
  });
  workload::LoadSummary sum = Write(writer.get(), kOrders, 8, /*rate=*/1000);
  outage.join();
  EXPECT_EQ(sum.committed, static_cast<uint64_t>(kOrders)) << "writes must not need the broker";
  writer.reset();
  const outbox::RelayReport& report = relay.Join();
  EXPECT_TRUE(report.drained) << report.ToText();
  EXPECT_GT(report.errors, 0u) << "the relay should have met the outage: " << report.ToText();
  EXPECT_GE(before_kill.load(), static_cast<uint64_t>(kOrders / 4));

  // Nothing lost: every row is in the queue, the ones confirmed before the
  // kill included. No deduplication: the copies of batches published again
  // are counted, one extra delivery each.
  workload::VerifyReport v = VerifyRabbit();
  std::cout << "node killed with " << before_kill << " messages queued; verify: " << v.messages
            << " messages, " << v.duplicate_messages << " duplicate deliveries, "
            << v.missing.size() << " missing\n";
  EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.missing.empty()) << v.ToText(20);
  EXPECT_TRUE(v.orphans.empty()) << v.ToText(20);
  EXPECT_GE(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.duplicate_messages, v.messages - kOrders) << v.ToText(5);
  EXPECT_LE(v.duplicates.size(), v.duplicate_messages);
}

TEST_F(RabbitmqTest, RelayTraceShowsTheAmqpPublishAndVerifyLeavesOutTheBroker) {
  constexpr int64_t kOrders = 30;
  WriteOrders(kOrders, 2);
  CliRun r = RunCli({"outbox", "relay", "--dsn", dsn_, "--sink", Url(), "--strategy", "skip-locked",
                     "--batch", "10", "--until-drained", "--trace"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("AMQP basic.publish to quorum queue orders: 10 messages"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("message-id = event id"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("all confirmed: 10 basic.ack"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("POST /topics"), std::string::npos) << r.out;
  EXPECT_EQ(QueueCount(), static_cast<uint64_t>(kOrders));

  r = RunCli({"verify", "--dsn", dsn_, "--sink", Url()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("rows 30, messages 30"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("broker"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("verify: OK"), std::string::npos) << r.out;

  r = RunCli({"verify", "--dsn", dsn_, "--sink", Url(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["ok"].get<bool>());
  EXPECT_EQ(j["duplicate_messages"].get<uint64_t>(), 0u);
  EXPECT_FALSE(j.contains("prepared_broker")) << r.out;
  EXPECT_EQ(QueueCount(), static_cast<uint64_t>(kOrders));
}

TEST_F(RabbitmqTest, InboxAbsorbsTheRedeliveriesAndVerifyReportsThemApart) {
  constexpr int64_t kOrders = 300;
  WriteOrders(kOrders, 4);
  // The first batch of 100 is confirmed twice without being settled: three
  // copies of each of its messages reach the queue.
  outbox::RelayOptions ro = RabbitRelay(100);
  const outbox::RelayOptions real = ro;
  ro.publisher = [real](std::unique_ptr<outbox::Publisher>* out) {
    std::unique_ptr<outbox::Publisher> p;
    Status s = outbox::MakeRabbitmqPublisher(real, &p);
    if (!s.ok()) return s;
    *out = std::make_unique<ConfirmedThenLost>(std::move(p), 2);
    return Status::OK();
  };
  std::unique_ptr<outbox::Relay> relay;
  ASSERT_TRUE(outbox::CreateRelay(ro, &relay).ok());
  ASSERT_TRUE(relay->Start().ok());
  int64_t moved = 0;
  EXPECT_FALSE(relay->Step(&moved).ok());
  EXPECT_FALSE(relay->Step(&moved).ok());
  EXPECT_EQ(Pump(relay.get()), kOrders);
  workload::VerifyReport v = VerifyRabbit();
  EXPECT_EQ(v.duplicate_messages, 200u) << v.ToText(5);
  EXPECT_FALSE(v.has_inbox);

  // The consumer: each delivery in one transaction with its id in the inbox.
  CliRun r =
      RunCli({"outbox", "consume", "--dsn", dsn_, "--sink", Url(), "--idle-ms", "1000", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["delivered"].get<uint64_t>(), 500u) << r.out;
  EXPECT_EQ(j["applied"].get<uint64_t>(), 300u) << r.out;
  EXPECT_EQ(j["absorbed"].get<uint64_t>(), 200u) << r.out;
  // Every order's event was applied once, though its message came up to 3 times.
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM consumer_orders"), kOrders);
  EXPECT_EQ(SqlInt(dsn_, "SELECT max(events) FROM consumer_orders"), 1);
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM inbox"), kOrders);
  EXPECT_EQ(QueueCount(), 0u) << "consumed and acked";

  // verify: the inbox's absorbed duplicates apart from the queue, which the
  // consumer emptied (so every row reads as missing there now).
  v = VerifyRabbit();
  EXPECT_TRUE(v.has_inbox);
  EXPECT_EQ(v.inbox_ids, static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.inbox_absorbed, 200u);
  EXPECT_EQ(v.messages, 0u);
  EXPECT_EQ(v.missing.size(), static_cast<size_t>(kOrders));
  EXPECT_NE(v.ToText(5).find("consumer inbox: 300 message ids, 200 duplicates absorbed"),
            std::string::npos)
      << v.ToText(5);
}

}  // namespace
}  // namespace dw::testing
