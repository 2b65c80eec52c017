// Servers that go away between prepare and commit. Postgres is stopped with
// `pg_ctl stop -m immediate` (a crash: no shutdown checkpoint, prepared
// transactions survive only through WAL), so this suite runs a cluster of
// its own (`dualwrite up --state-dir /tmp/dw-coord-XXXX`, `down --purge` at
// the end), never the shared one; the broker is a process of its own too,
// SIGKILLed and restarted.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/process.h"
#include "coordinator/coordinator.h"
#include "coordinator/file_decision_log.h"
#include "coordinator/participant_spec.h"
#include "coordinator/pg_decision_log.h"
#include "env/layout.h"
#include "env/pg_binaries.h"
#include "env/scratch_database.h"
#include "tests/support/test_support.h"
#include "workload/orders.h"
#include "workload/verify.h"

namespace dw::coord {
namespace {

using std::chrono::milliseconds;

std::string g_state;  // the suite's own environment
std::string g_dsn;

class OwnCluster : public ::testing::Environment {
 public:
  void SetUp() override {
    g_state = testing::TempDir("coord-env");
    std::string out;
    Status s = RunCommand({testing::DualwriteBinary(), "up", "--state-dir", g_state}, &out);
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << out;
    s = RunCommand({testing::DualwriteBinary(), "env", "--json", "--state-dir", g_state}, &out);
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto j = nlohmann::json::parse(out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << out;
    g_dsn = j.value("dsn", "");
    ASSERT_FALSE(g_dsn.empty()) << out;
  }
  void TearDown() override {
    std::string out;
    Status s =
        RunCommand({testing::DualwriteBinary(), "down", "--purge", "--state-dir", g_state}, &out);
    EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << out;
  }
};
[[maybe_unused]] const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new OwnCluster);

// A crash of the Postgres server: pg_ctl stop -m immediate.
void StopPostgresImmediately() {
  std::string bin;
  ASSERT_TRUE(env::FindPostgresBinDir(&bin).ok());
  env::Layout layout(g_state);
  std::vector<std::string> argv = {bin + "/pg_ctl", "-D", layout.pg_data, "-w",
                                   "stop",          "-m", "immediate"};
  SpawnOptions o;
  uid_t uid;
  gid_t gid;
  if (geteuid() == 0 && LookupUser("postgres", &uid, &gid)) {
    o.uid = uid;
    o.gid = gid;
  }
  std::string out;
  Status s = RunCommand(argv, &out, o);
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << out;
}

void StartPostgres() {
  std::string out;
  Status s = RunCommand({testing::DualwriteBinary(), "up", "--state-dir", g_state}, &out);
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << out;
}

struct Crashed {};  // thrown from a step hook: the coordinator "dies" there

class Restart : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(g_dsn.empty());
    // A fresh database per test in the suite's own cluster.
    const std::string db = testing::TestDatabaseName("r");
    Status s = env::RecreateScratchDatabase(g_dsn, db);
    ASSERT_TRUE(s.ok()) << s.ToString();
    dsn_ = testing::WithDatabase(g_dsn, db);
    ASSERT_TRUE(workload::EnsureOrdersSchema(dsn_).ok());
    dir_ = testing::TempDir("coord-restart");
    broker_ = std::make_unique<testing::BrokerProcess>(dir_ + "/broker");
    broker_->Start();
  }

  void TearDown() override {
    if (broker_) broker_->Stop();
    if (!HasFailure() && !dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  std::unique_ptr<DecisionLog> Log(const std::string& kind, const std::string& id) {
    if (kind == "file") {
      FileDecisionLog::Options o;
      o.path = dir_ + "/" + id + ".dlog";
      std::unique_ptr<FileDecisionLog> f;
      EXPECT_TRUE(FileDecisionLog::Open(o, &f).ok());
      return f;
    }
    PgDecisionLog::Options o;
    o.dsn = dsn_;
    o.coordinator_id = id;
    o.lock_wait = milliseconds(10000);
    std::unique_ptr<PgDecisionLog> p;
    Status s = PgDecisionLog::Open(o, &p);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return p;
  }

  // A coordinator over this test's database and broker.
  std::unique_ptr<Coordinator> Make(CoordinatorOptions co, const std::string& log_kind,
                                    Topology* topo) {
    std::vector<ParticipantSpec> specs = {{ParticipantSpec::Kind::kPostgres, dsn_},
                                          {ParticipantSpec::Kind::kBroker, broker_->url()}};
    BuildOptions bo;
    bo.timeout = milliseconds(3000);
    Built b;
    Status s = BuildMembers(specs, bo, &b);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) return nullptr;
    *topo = b.topology;
    co.backoff_max = milliseconds(200);
    co.recovery_interval = milliseconds(0);
    std::unique_ptr<Coordinator> c;
    s = Coordinator::Create(co, b.members, Log(log_kind, co.id), &c);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return c;
  }

  std::vector<Work> OrderWork(int64_t id, const Topology& t) {
    return PlaceOrderWork(workload::MakeOrder(id, id, 7), t);
  }

  workload::VerifyReport Verify() {
    workload::VerifyOptions vo;
    vo.dsn = dsn_;
    vo.broker_url = broker_->url();
    workload::VerifyReport r;
    Status s = workload::Verify(vo, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }

  int64_t Rows(int64_t id) {
    pqxx::connection c(dsn_);
    pqxx::nontransaction tx(c);
    return tx.exec("SELECT count(*) FROM orders WHERE id = " + std::to_string(id))[0][0]
        .as<int64_t>();
  }

  std::string dsn_, dir_;
  std::unique_ptr<testing::BrokerProcess> broker_;
};

// Postgres crashes after the decision; the coordinator keeps retrying
// COMMIT PREPARED (capped backoff) until the server is back: the prepared
// transaction survived the crash through WAL.
TEST_F(Restart, PostgresCrashBetweenPrepareAndCommitCoordinatorRetries) {
  std::thread restarter;
  std::atomic<bool> once{false};
  CoordinatorOptions co;
  co.id = "pgretry";
  co.on_step = [&](Step s, const std::string&, int64_t) {
    if (s != Step::kAfterDecision || once.exchange(true)) return;
    StopPostgresImmediately();
    restarter = std::thread([] {
      std::this_thread::sleep_for(milliseconds(500));
      StartPostgres();
    });
  };
  Topology t;
  auto c = Make(co, "file", &t);
  ASSERT_TRUE(c);
  TxnResult r = c->Execute(OrderWork(1, t));
  EXPECT_EQ(r.outcome, TxnOutcome::kCommitted) << r.status.ToString();
  EXPECT_EQ(c->Drain(milliseconds(60000)), 0u);
  if (restarter.joinable()) restarter.join();
  EXPECT_GT(c->stats().phase2_retries, 0u);
  // The coordinator keeps working on fresh connections.
  for (int64_t id = 2; id <= 20; ++id) {
    EXPECT_EQ(c->Execute(OrderWork(id, t)).outcome, TxnOutcome::kCommitted);
  }
  c.reset();
  workload::VerifyReport v = Verify();
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  EXPECT_EQ(v.rows, 20u);
  EXPECT_EQ(Rows(1), 1);
}

class RestartLogs : public Restart, public ::testing::WithParamInterface<const char*> {};

// Postgres crashes after the decision AND the coordinator dies: after the
// restart, recovery finds the prepared transaction and commits it from the
// decision log (with the postgres log, the COMMIT row itself had to survive
// the crash).
TEST_P(RestartLogs, PostgresCrashAndCoordinatorCrashRecoveryCompletes) {
  std::string id = std::string("pgrec") + GetParam();
  CoordinatorOptions co;
  co.id = id;
  co.on_step = [&](Step s, const std::string&, int64_t) {
    if (s != Step::kAfterDecision) return;
    StopPostgresImmediately();
    throw Crashed{};
  };
  Topology t;
  auto c = Make(co, GetParam(), &t);
  ASSERT_TRUE(c);
  EXPECT_THROW(c->Execute(OrderWork(1, t)), Crashed);
  c.reset();
  StartPostgres();
  co.on_step = nullptr;
  c = Make(co, GetParam(), &t);  // start-up recovery
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stats().recovery.committed, 2u);
  EXPECT_TRUE(c->stats().recovery.errors.empty());
  c.reset();
  workload::VerifyReport v = Verify();
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  EXPECT_EQ(Rows(1), 1);
  EXPECT_EQ(v.messages, 1u);
}

INSTANTIATE_TEST_SUITE_P(Coordinator, RestartLogs, ::testing::Values("file", "postgres"));

// The broker is SIGKILLed after the decision: the coordinator retries the
// broker's commit until it is back; the prepared messages survived in its log.
TEST_F(Restart, BrokerKilledBetweenPrepareAndCommitCoordinatorRetries) {
  std::thread restarter;
  std::atomic<bool> once{false};
  CoordinatorOptions co;
  co.id = "brretry";
  co.on_step = [&](Step s, const std::string&, int64_t) {
    if (s != Step::kAfterDecision || once.exchange(true)) return;
    broker_->Kill9();
    restarter = std::thread([&] {
      std::this_thread::sleep_for(milliseconds(500));
      broker_->Start();
    });
  };
  Topology t;
  auto c = Make(co, "postgres", &t);
  ASSERT_TRUE(c);
  TxnResult r = c->Execute(OrderWork(1, t));
  EXPECT_EQ(r.outcome, TxnOutcome::kCommitted) << r.status.ToString();
  EXPECT_EQ(c->Drain(milliseconds(60000)), 0u);
  if (restarter.joinable()) restarter.join();
  for (int64_t id = 2; id <= 10; ++id) {
    EXPECT_EQ(c->Execute(OrderWork(id, t)).outcome, TxnOutcome::kCommitted);
  }
  c.reset();
  workload::VerifyReport v = Verify();
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  EXPECT_EQ(v.rows, 10u);
}

// The broker and the coordinator both die after the decision: recovery, at
// the next start, commits the broker's prepared messages.
TEST_F(Restart, BrokerKilledAndCoordinatorCrashRecoveryCompletes) {
  CoordinatorOptions co;
  co.id = "brrec";
  co.on_step = [&](Step s, const std::string&, int64_t) {
    if (s != Step::kAfterDecision) return;
    broker_->Kill9();
    throw Crashed{};
  };
  Topology t;
  auto c = Make(co, "file", &t);
  ASSERT_TRUE(c);
  EXPECT_THROW(c->Execute(OrderWork(1, t)), Crashed);
  c.reset();
  broker_->Start();
  co.on_step = nullptr;
  c = Make(co, "file", &t);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stats().recovery.committed, 2u);
  c.reset();
  workload::VerifyReport v = Verify();
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  EXPECT_EQ(v.messages, 1u);
  EXPECT_EQ(Rows(1), 1);
}

}  // namespace
}  // namespace dw::coord
