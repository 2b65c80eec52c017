// The two-phase-commit coordinator against real processes: the shared test
// cluster (a scratch database per test) and a broker process per test, and
// the real `dualwrite 2pc run` binary where a crash must be a real _exit.
// Every test ends with workload::Verify: each order is a row AND a message,
// exactly once, and nothing is left prepared.
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/process.h"
#include "coordinator/coordinator.h"
#include "coordinator/file_decision_log.h"
#include "coordinator/participant_spec.h"
#include "coordinator/pg_decision_log.h"
#include "participants/broker_client.h"
#include "tests/support/coordinator_test_util.h"
#include "tests/support/test_support.h"
#include "workload/orders.h"
#include "workload/verify.h"

namespace dw::coord {
namespace {

// --- The workload -------------------------------------------------------

TEST_F(CoordEnv, ThousandOrdersAtC16AreAllOrNothing) {
  DwRun r = Dw({"2pc", "run", "--transactions", "1000", "--concurrency", "16", "--coordinator-id",
                "clean", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(r.json.is_object()) << r.out;
  EXPECT_EQ(r.json["committed"], 1000);
  EXPECT_EQ(r.json["aborted"], 0);
  EXPECT_EQ(r.json["failed"], 0);
  for (const char* k : {"p50", "p95", "p99", "p999", "max"}) {
    EXPECT_TRUE(r.json["latency_ms"].contains(k)) << k;
  }
  EXPECT_GT(r.json["throughput_per_s"].get<double>(), 0);
  // One forced write per decision batch (+ the sequence reservation): never more than one per txn.
  EXPECT_GT(r.json["log_fsyncs"].get<int64_t>(), 0);
  EXPECT_LE(r.json["log_fsyncs"].get<int64_t>(), 1001);
  workload::VerifyReport v = Verify();
  ExpectClean(v);
  EXPECT_EQ(v.rows, 1000u);
  EXPECT_TRUE(PreparedAtPostgres().empty());
  EXPECT_TRUE(PreparedAtBroker().empty());
  // Every decision was ENDed: the decision table does not grow with history.
  EXPECT_EQ(Count("SELECT count(*) FROM dw_decisions"), 0);
}

struct Variant {
  const char* name;
  std::vector<std::string> args;
};

class CoordVariants : public CoordEnv, public ::testing::WithParamInterface<Variant> {};

TEST_P(CoordVariants, CleanRun) {
  // Gids are unique per cluster, not per database: tests running in
  // parallel need coordinator ids of their own.
  std::vector<std::string> args = {"2pc",
                                   "run",
                                   "-n",
                                   "300",
                                   "-c",
                                   "8",
                                   "--json",
                                   "--coordinator-id",
                                   std::string("v_") + GetParam().name};
  for (const auto& a : GetParam().args) {
    args.push_back(a == "LOG" ? "file:" + dir_ + "/c.dlog" : a);
  }
  DwRun r = Dw(args);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(r.json.is_object()) << r.out;
  EXPECT_EQ(r.json["committed"], 300) << r.out;
  EXPECT_EQ(r.json["phase2_pending_at_exit"], 0);
  ExpectClean(Verify());
  EXPECT_EQ(Verify().rows, 300u);
}

INSTANTIATE_TEST_SUITE_P(
    Coordinator, CoordVariants,
    ::testing::Values(
        Variant{"file_log", {"--log", "LOG"}},
        Variant{"ack_after_decision", {"--ack-after", "decision"}},
        Variant{"ack_after_decision_file", {"--ack-after", "decision", "--log", "LOG"}},
        Variant{"lrco", {"--lrco"}}, Variant{"open_loop", {"--rate", "400"}},
        // Orders driven 4 per thread in lockstep (batch.cc).
        Variant{"batch", {"--batch", "4"}},
        Variant{"batch_file_log", {"--batch", "4", "--log", "LOG"}},
        Variant{"batch_ack_after_decision", {"--batch", "8", "--ack-after", "decision"}},
        Variant{"batch_lrco", {"--batch", "4", "--lrco"}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(CoordEnv, LrcoSkipsTheDecisionLogsForcedWrite) {
  DwRun r =
      Dw({"2pc", "run", "-n", "100", "-c", "4", "--lrco", "--coordinator-id", "lr", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  // The decision rides on the Postgres commit: the only forced log write is
  // the sequence reservation.
  EXPECT_EQ(r.json["log_fsyncs"], 1) << r.out;
  ExpectClean(Verify());
}

// --- Abort and timeouts ---------------------------------------------------

TEST_F(CoordEnv, BrokerVotesAbortNoRowNoMessage) {
  Faults(R"({"abort_prob": 1})");
  DwRun r = Dw({"2pc", "run", "-n", "20", "-c", "4", "--coordinator-id", "ab", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json["committed"], 0) << r.out;
  EXPECT_EQ(r.json["aborted"], 20) << r.out;
  workload::VerifyReport v = Verify();
  ExpectClean(v);
  EXPECT_EQ(v.rows, 0u);
  EXPECT_EQ(v.messages, 0u);
  // The Postgres branch had voted commit: it was rolled back, not left prepared.
  EXPECT_TRUE(PreparedAtPostgres().empty());
  EXPECT_EQ(Count("SELECT count(*) FROM orders"), 0);
}

TEST_F(CoordEnv, ParticipantTimeoutAbortsAndRecoveryCleansLateWork) {
  // Every broker request waits 1.5 s; the coordinator gives each call 300 ms.
  Faults(R"({"latency_ms": 1500})");
  DwRun r = Dw({"2pc", "run", "-n", "2", "-c", "2", "--coordinator-id", "to", "--timeout-ms", "300",
                "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json["committed"], 0) << r.out;
  // A phase-1 timeout makes the decision abort (presumed abort): the caller is
  // told "aborted", not "outcome unknown".
  EXPECT_EQ(r.json["aborted"], 2) << r.out;
  EXPECT_EQ(r.json["failed"], 0) << r.out;
  Faults(R"({"latency_ms": 0})");
  // The slow prepares may land after the abort: recovery aborts them.
  std::this_thread::sleep_for(milliseconds(1600));
  DwRun rec = Dw({"2pc", "recover", "--coordinator-id", "to"});
  ASSERT_EQ(rec.code, 0) << rec.out << rec.err;
  workload::VerifyReport v = Verify();
  ExpectClean(v);
  EXPECT_EQ(v.rows, 0u);
}

// --- Crash points ---------------------------------------------------------

struct CrashCase {
  std::string log;  // "file" | "postgres" | "lrco"
  std::string point;
};

class CoordCrash : public CoordEnv, public ::testing::WithParamInterface<CrashCase> {};

TEST_P(CoordCrash, DieRecoverVerify) {
  const CrashCase& c = GetParam();
  std::string id = "k" + std::to_string(std::hash<std::string>{}(c.log + c.point) % 100000);
  std::vector<std::string> log_args;
  if (c.log == "file") log_args = {"--log", "file:" + dir_ + "/c.dlog"};
  if (c.log == "lrco") log_args = {"--lrco"};
  std::vector<std::string> args = {
      "2pc", "run",        "-n",    "200",           "-c", "4", "--coordinator-id",
      id,    "--crash-at", c.point, "--crash-after", "5"};
  args.insert(args.end(), log_args.begin(), log_args.end());
  DwRun r = Dw(args);
  ASSERT_EQ(r.code, kCrashExitCode) << r.out << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex("crash point (\\S+) reached in (\\S+):")))
      << r.err;
  EXPECT_EQ(m[1].str(), c.point);
  const std::string gid = m[2].str();

  // What the crash left behind, and which order the crashed gid carried.
  std::set<std::string> pg = PreparedAtPostgres();
  std::vector<BrokerPrepared> br = PreparedAtBroker();
  std::optional<int64_t> order;
  bool at_broker = false;
  for (const auto& p : br) {
    if (p.gid == gid) {
      at_broker = true;
      if (!p.messages.empty()) order = std::stoll(p.messages[0].key);
    }
  }
  const bool lrco = c.log == "lrco";
  if (c.point == "before-prepare") {
    EXPECT_FALSE(at_broker);
    EXPECT_FALSE(pg.count(gid));
  } else if (c.point == "after-prepare-one") {
    EXPECT_TRUE(at_broker || pg.count(gid)) << "one vote was durable";
  } else if (c.point == "after-prepare-all" || c.point == "after-decision") {
    EXPECT_TRUE(at_broker) << "voted, no phase-2 message sent";
    // Under --lrco Postgres is never prepared: it is committed (after-decision) or untouched.
    EXPECT_EQ(pg.count(gid) > 0, !lrco);
  }
  if (c.point != "before-prepare" && c.point != "after-commit-one") {
    EXPECT_FALSE(pg.empty() && br.empty()) << "real in-doubt state was left behind";
  }

  // recover takes the log run used (under --lrco: the postgres log, the default).
  std::vector<std::string> rec_args = {"2pc", "recover", "--coordinator-id", id, "--json"};
  if (c.log == "file") rec_args.insert(rec_args.end(), log_args.begin(), log_args.end());
  DwRun rec = Dw(rec_args);
  ASSERT_EQ(rec.code, 0) << rec.out << rec.err;
  workload::VerifyReport v = Verify();
  ExpectClean(v);
  EXPECT_TRUE(PreparedAtPostgres().empty());
  EXPECT_TRUE(PreparedAtBroker().empty());
  if (order) {
    int64_t rows = Count("SELECT count(*) FROM orders WHERE id = " + std::to_string(*order));
    bool committed = c.point == "after-decision" || c.point == "after-commit-one";
    EXPECT_EQ(rows, committed ? 1 : 0) << "order " << *order << " of " << gid;
  }
  // Idempotent: a second pass finds nothing.
  DwRun rec2 = Dw(rec_args);
  ASSERT_EQ(rec2.code, 0) << rec2.out << rec2.err;
  EXPECT_EQ(rec2.json["listed"], 0) << rec2.out;
}

std::vector<CrashCase> AllCrashCases() {
  std::vector<CrashCase> out;
  for (const char* log : {"file", "postgres", "lrco"}) {
    for (const char* p : {"before-prepare", "after-prepare-one", "after-prepare-all",
                          "after-decision", "after-commit-one"}) {
      out.push_back({log, p});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Coordinator, CoordCrash, ::testing::ValuesIn(AllCrashCases()),
                         [](const auto& info) {
                           std::string n = info.param.log + "_" + info.param.point;
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

TEST_F(CoordEnv, NextRunRecoversAtStart) {
  std::string log = "file:" + dir_ + "/c.dlog";
  DwRun r = Dw({"2pc", "run", "-n", "100", "-c", "4", "--coordinator-id", "st", "--log", log,
                "--crash-at", "after-decision", "--crash-after", "3"});
  ASSERT_EQ(r.code, kCrashExitCode) << r.err;
  ASSERT_FALSE(PreparedAtBroker().empty());
  DwRun again =
      Dw({"2pc", "run", "-n", "20", "-c", "2", "--coordinator-id", "st", "--log", log, "--json"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_GE(again.json["recovered"]["committed"].get<int64_t>(), 2) << again.out;
  EXPECT_NE(again.err.find("start-up recovery"), std::string::npos) << again.err;
  ExpectClean(Verify());
}

TEST_F(CoordEnv, RecoverRefusesTheWrongLogAndARunningCoordinator) {
  std::string log = "file:" + dir_ + "/c.dlog";
  DwRun r = Dw({"2pc", "run", "-n", "10", "--coordinator-id", "guard", "--log", log});
  ASSERT_EQ(r.code, 0) << r.err;
  // The postgres log holds none of this coordinator's COMMITs: recovering
  // from it would presume abort for committed transactions.
  DwRun wrong = Dw({"2pc", "recover", "--coordinator-id", "guard"});
  EXPECT_NE(wrong.code, 0);
  EXPECT_NE(wrong.err.find("pass --log " + log), std::string::npos) << wrong.err;
  // While another process owns the log (a running coordinator), recover
  // could not see its transactions in flight: refused.
  FileDecisionLog::Options o;
  o.path = dir_ + "/c.dlog";
  std::unique_ptr<FileDecisionLog> held;
  ASSERT_TRUE(FileDecisionLog::Open(o, &held).ok());
  DwRun busy = Dw({"2pc", "recover", "--coordinator-id", "guard", "--log", log});
  EXPECT_NE(busy.code, 0);
  EXPECT_NE(busy.err.find("in use"), std::string::npos) << busy.err;
  held.reset();
  DwRun ok = Dw({"2pc", "recover", "--coordinator-id", "guard", "--log", log});
  EXPECT_EQ(ok.code, 0) << ok.err;
}

// --- Several Postgres databases ------------------------------------------

TEST_F(CoordEnv, TwoShardsAndTheBrokerAreAtomicEvenAcrossACrash) {
  std::string shard1 = testing::ScratchDatabase(DbName() + "_s1");
  std::string parts = "pg:" + dsn_ + ",pg:" + shard1 + ",broker";
  std::string log = "file:" + dir_ + "/c.dlog";
  DwRun r = Dw({"2pc", "run", "-n", "300", "-c", "8", "--participants", parts, "--coordinator-id",
                "sh", "--log", log, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json["committed"], 300) << r.out;
  DwRun crash =
      Dw({"2pc", "run", "-n", "200", "-c", "4", "--participants", parts, "--coordinator-id", "sh",
          "--log", log, "--crash-at", "after-decision", "--crash-after", "5"});
  ASSERT_EQ(crash.code, kCrashExitCode) << crash.err;
  DwRun rec =
      Dw({"2pc", "recover", "--participants", parts, "--coordinator-id", "sh", "--log", log});
  ASSERT_EQ(rec.code, 0) << rec.out << rec.err;

  // Across both shards: every order is exactly one row, has its ledger row
  // and its message; nothing is left prepared anywhere.
  std::map<int64_t, int> orders, ledger;
  for (const std::string& d : {dsn_, shard1}) {
    pqxx::connection c(d);
    pqxx::nontransaction tx(c);
    for (const auto& row : tx.exec("SELECT id FROM orders")) ++orders[row[0].as<int64_t>()];
    for (const auto& row : tx.exec("SELECT order_id FROM customer_ledger")) {
      ++ledger[row[0].as<int64_t>()];
    }
    EXPECT_TRUE(PreparedAtPostgres(d).empty());
  }
  EXPECT_TRUE(PreparedAtBroker().empty());
  std::map<int64_t, int> messages;
  uint64_t from = 0;
  auto client = Client();
  for (;;) {
    std::vector<BrokerMessage> batch;
    uint64_t next = 0;
    ASSERT_TRUE(client->Read("orders", from, 1000, &batch, &next).ok());
    if (batch.empty()) break;
    for (const auto& m : batch) ++messages[std::stoll(m.key)];
    from = next;
  }
  EXPECT_GE(orders.size(), 305u);
  EXPECT_EQ(orders, ledger);
  EXPECT_EQ(orders, messages);
  for (const auto& [id, n] : orders) EXPECT_EQ(n, 1) << id;
}

// --- The blocking property of 2PC ----------------------------------------

Status BuildFor(const std::string& dsn, const std::string& broker, Built* out) {
  std::vector<ParticipantSpec> specs = {{ParticipantSpec::Kind::kPostgres, dsn},
                                        {ParticipantSpec::Kind::kBroker, broker}};
  BuildOptions bo;
  bo.timeout = milliseconds(30000);
  return BuildMembers(specs, bo, out);
}

std::unique_ptr<DecisionLog> PgLog(const std::string& dsn, const std::string& id) {
  PgDecisionLog::Options o;
  o.dsn = dsn;
  o.coordinator_id = id;
  o.lock_wait = milliseconds(10000);
  std::unique_ptr<PgDecisionLog> log;
  Status s = PgDecisionLog::Open(o, &log);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return log;
}

struct Crashed {};  // thrown from a step hook: the coordinator "dies" there

TEST_F(CoordEnv, PreparedTransactionKeepsItsRowLocksUntilRecoveryResolvesIt) {
  ASSERT_TRUE(workload::EnsureOrdersSchema(dsn_).ok());
  {
    pqxx::connection c(dsn_);
    pqxx::nontransaction tx(c);
    tx.exec("INSERT INTO orders (id, customer, amount_cents) VALUES (1, 'alice', 100)");
  }
  Built built;
  ASSERT_TRUE(BuildFor(dsn_, broker_->url(), &built).ok());
  CoordinatorOptions co;
  co.id = "blk";
  co.recovery_interval = milliseconds(0);
  co.on_step = [](Step s, const std::string&, int64_t) {
    if (s == Step::kAfterDecision) throw Crashed{};
  };
  std::unique_ptr<Coordinator> c;
  ASSERT_TRUE(Coordinator::Create(co, built.members, PgLog(dsn_, "blk"), &c).ok());
  // The transaction changes an existing row; the coordinator dies after the
  // decision, before any COMMIT PREPARED.
  std::vector<Work> works(2);
  works[0].statements.push_back(
      {"UPDATE orders SET amount_cents = 999 WHERE id = $1", {std::string("1")}});
  works[1].messages.push_back({"orders", "order-1", "1", "{\"amount_cents\":999}"});
  EXPECT_THROW(c->Execute(works), Crashed);
  c.reset();
  ASSERT_EQ(PreparedAtPostgres().size(), 1u);

  // Another session updates the same row: it must wait for the prepared
  // transaction (its row lock outlived the coordinator).
  std::atomic<bool> finished{false};
  std::string update_error;
  std::thread updater([&] {
    try {
      pqxx::connection uc(dsn_);
      pqxx::nontransaction tx(uc);
      tx.exec("SET application_name = 'dw-blocked-update'");
      tx.exec("UPDATE orders SET amount_cents = amount_cents + 1 WHERE id = 1");
    } catch (const std::exception& e) {
      update_error = e.what();
    }
    finished = true;
  });
  bool waiting_on_lock = false;
  for (int i = 0; i < 200 && !waiting_on_lock && !finished; ++i) {
    waiting_on_lock = Count(
                          "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                          "'dw-blocked-update' AND wait_event_type = 'Lock'") == 1;
    if (!waiting_on_lock) std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(waiting_on_lock) << "the UPDATE should wait on the prepared transaction's lock";
  EXPECT_FALSE(finished.load()) << "the UPDATE went through a prepared transaction's lock";
  EXPECT_EQ(Count("SELECT amount_cents FROM orders WHERE id = 1"), 100);  // invisible meanwhile

  // A new coordinator with the same id: its start-up recovery commits the
  // transaction (the decision was durable), which releases the lock.
  Built built2;
  ASSERT_TRUE(BuildFor(dsn_, broker_->url(), &built2).ok());
  co.on_step = nullptr;
  ASSERT_TRUE(Coordinator::Create(co, built2.members, PgLog(dsn_, "blk"), &c).ok());
  EXPECT_EQ(c->stats().recovery.committed, 2u);
  updater.join();
  EXPECT_TRUE(update_error.empty()) << update_error;
  // The waiting UPDATE ran after the commit, on the committed value.
  EXPECT_EQ(Count("SELECT amount_cents FROM orders WHERE id = 1"), 1000);
  c.reset();
  ExpectClean(Verify());
}

}  // namespace
}  // namespace dw::coord
