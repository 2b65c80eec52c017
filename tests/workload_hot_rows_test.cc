// `--hot-rows N` / `--hot-skew S` on every load command, against real
// processes: the real `dualwrite` binary, a scratch database of the shared
// cluster and a broker process per test. Each order reserves one unit of a
// product in 1..N in its own business transaction, so after a run the
// reservations add up to the committed orders exactly; under 2PC the row
// lock is held while the transaction is prepared; the event is unchanged.
#include <algorithm>
#include <filesystem>
#include <future>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "coordinator/crash_points.h"
#include "tests/support/cli_run.h"
#include "tests/support/coordinator_test_util.h"
#include "tests/support/test_support.h"
#include "workload/stock.h"

namespace dw::coord {
namespace {

using std::chrono::seconds;

class HotRowsEnv : public CoordEnv {
 protected:
  // A failing test may leave a crashed coordinator's prepared transaction
  // (and its row lock) in its scratch database: roll it back so that nothing
  // else in the shared cluster waits for it.
  void TearDown() override {
    try {
      pqxx::connection c(dsn_);
      pqxx::nontransaction tx(c);
      for (const auto& row :
           tx.exec("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()")) {
        tx.exec("ROLLBACK PREPARED " + tx.quote(row[0].as<std::string>()));
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleaning up prepared transactions: " << e.what();
    }
    CoordEnv::TearDown();
  }

  // The reservations must be exactly one per committed order, and only on
  // products 1..rows (every one of which has its row).
  void ExpectReservations(int64_t committed, int64_t rows, const std::string& dsn = "") {
    EXPECT_EQ(Count("SELECT coalesce(sum(reserved), 0) FROM stock", dsn), committed);
    EXPECT_EQ(Count("SELECT count(*) FROM stock WHERE reserved > 0 AND product NOT BETWEEN 1 "
                    "AND " +
                        std::to_string(rows),
                    dsn),
              0);
    EXPECT_EQ(
        Count("SELECT count(*) FROM stock WHERE product BETWEEN 1 AND " + std::to_string(rows),
              dsn),
        rows);
  }
};

TEST_F(HotRowsEnv, FloorReservesOncePerOrder) {
  DwRun r = Dw({"floor", "-n", "200", "-c", "4", "--hot-rows", "3", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json["committed"], 200) << r.out;
  ExpectReservations(200, 3);
  EXPECT_EQ(Count("SELECT count(*) FROM orders"), 200);
  // Uniform over 3: every product gets some.
  EXPECT_EQ(Count("SELECT count(*) FROM stock WHERE reserved > 0"), 3);
}

struct OutboxVariant {
  const char* name;
  std::vector<std::string> args;
};

// Names the variant in ctest's listing (instead of the struct's bytes).
void PrintTo(const OutboxVariant& v, std::ostream* os) { *os << v.name; }

class HotRowsOutbox : public HotRowsEnv, public ::testing::WithParamInterface<OutboxVariant> {};

TEST_P(HotRowsOutbox, ReservesOncePerOrderAndTheEventIsUnchanged) {
  std::vector<std::string> args = {"outbox",     "write", "-n",         "200", "-c",    "4",
                                   "--hot-rows", "3",     "--hot-skew", "1.5", "--json"};
  args.insert(args.end(), GetParam().args.begin(), GetParam().args.end());
  DwRun r = Dw(args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json["committed"], 200) << r.out;
  ExpectReservations(200, 3);
  EXPECT_EQ(Count("SELECT count(*) FROM orders"), 200);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox_table"), 200);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox_table WHERE payload::text LIKE '%product%'"), 0);
  // Zipf with exponent 1.5 over 3: product 1 is the hottest.
  EXPECT_GT(Count("SELECT reserved FROM stock WHERE product = 1"),
            Count("SELECT max(reserved) FROM stock WHERE product > 1"));
}

INSTANTIATE_TEST_SUITE_P(
    Writer, HotRowsOutbox,
    ::testing::Values(OutboxVariant{"explicit", {}},
                      OutboxVariant{"explicit_notify_in_tx", {"--notify", "in-tx"}},
                      OutboxVariant{"explicit_clock_skew", {"--clock-skew-ms", "5"}},
                      OutboxVariant{"trigger", {"--trigger"}},
                      OutboxVariant{"trigger_notify_in_tx", {"--trigger", "--notify", "in-tx"}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(HotRowsEnv, TwoPhaseCommitReservesOncePerCommittedOrder) {
  DwRun r = Dw({"2pc", "run", "-n", "200", "-c", "4", "--hot-rows", "3", "--coordinator-id",
                "hot2pc", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json["committed"], 200) << r.out;
  ExpectReservations(r.json["committed"].get<int64_t>(), 3);
  ExpectClean(Verify());
  EXPECT_TRUE(PreparedAtPostgres().empty());
}

TEST_F(HotRowsEnv, LastResourceCommitReservesOncePerCommittedOrder) {
  DwRun r = Dw({"2pc", "run", "-n", "100", "-c", "4", "--hot-rows", "3", "--hot-skew", "1",
                "--lrco", "--coordinator-id", "hotlrco", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json["committed"], 100) << r.out;
  ExpectReservations(100, 3);
  ExpectClean(Verify());
}

TEST_F(HotRowsEnv, ShardsReserveOnTheOrdersHomeShard) {
  std::string shard1 = testing::ScratchDatabase(DbName() + "_s1");
  ASSERT_FALSE(shard1.empty());
  const std::string parts = "pg,pg:" + shard1 + ",broker";
  DwRun r = Dw({"2pc", "run", "-n", "200", "-c", "4", "--hot-rows", "3", "--participants", parts,
                "--coordinator-id", "hotshard", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json["committed"], 200) << r.out;
  // Each shard has the whole stock table; its reservations are its orders'.
  for (const std::string& dsn : {dsn_, shard1}) {
    SCOPED_TRACE(dsn);
    int64_t orders = Count("SELECT count(*) FROM orders", dsn);
    EXPECT_GT(orders, 0);
    ExpectReservations(orders, 3, dsn);
  }
}

TEST_F(HotRowsEnv, APreparedTransactionHoldsItsRowLockUntilRecovery) {
  DwRun r = Dw({"2pc", "run", "-n", "1", "--hot-rows", "1", "--coordinator-id", "hotcrash",
                "--crash-at", "after-prepare-all"});
  ASSERT_EQ(r.code, kCrashExitCode) << r.out << r.err;
  ASSERT_EQ(PreparedAtPostgres().size(), 1u);

  // The prepared transaction holds product 1's row lock: a session that
  // will not wait is refused at once.
  auto try_lock = [this](std::string* sqlstate) {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    try {
      tx.exec("SELECT reserved FROM stock WHERE product = 1 FOR UPDATE NOWAIT");
      return true;
    } catch (const pqxx::sql_error& e) {
      *sqlstate = e.sqlstate();
      return false;
    }
  };
  std::string state;
  EXPECT_FALSE(try_lock(&state));
  EXPECT_EQ(state, "55P03") << "lock_not_available";

  // The next load command's set-up does not wait for that lock.
  auto setup =
      std::async(std::launch::async, [this] { return workload::EnsureStockTable(dsn_, 2).ok(); });
  EXPECT_EQ(setup.wait_for(seconds(20)), std::future_status::ready)
      << "EnsureStockTable waits for the prepared transaction's row lock";

  // Presumed abort: no COMMIT record, so recovery rolls it back; the lock
  // goes and the reservation never happened.
  DwRun rec = Dw({"2pc", "recover", "--coordinator-id", "hotcrash", "--json"});
  ASSERT_EQ(rec.code, 0) << rec.out << rec.err;
  EXPECT_TRUE(setup.get());
  EXPECT_TRUE(PreparedAtPostgres().empty());
  EXPECT_TRUE(PreparedAtBroker().empty());
  state.clear();
  EXPECT_TRUE(try_lock(&state)) << state;
  EXPECT_EQ(Count("SELECT coalesce(sum(reserved), 0) FROM stock"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM stock"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM orders"), 0);
  ExpectClean(Verify());
}

// Bad values of the flags: one error line, non-zero exit, nothing on stdout,
// for every load command, before anything is started or connected to.
TEST(HotRowsFlags, BadValuesAreOneErrorLine) {
  const std::vector<std::vector<std::string>> commands = {
      {"floor"}, {"outbox", "write"}, {"outbox", "write", "--trigger"}, {"2pc", "run"}};
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"--hot-skew", "1"}, "--hot-skew"},
      {{"--hot-rows", "-1"}, "--hot-rows"},
      {{"--hot-rows", "abc"}, "--hot-rows"},
      {{"--hot-rows", "3", "--hot-skew", "-0.5"}, "--hot-skew"},
      {{"--hot-rows", "3", "--hot-skew", "nan"}, "--hot-skew"},
      {{"--hot-rows", "10000001"}, "--hot-rows"},
  };
  for (const auto& command : commands) {
    for (const auto& [flags, expect] : bad) {
      std::vector<std::string> args = command;
      args.insert(args.end(), flags.begin(), flags.end());
      std::string shown = "dualwrite";
      for (const auto& a : args) shown += " " + a;
      SCOPED_TRACE(shown);
      std::string cwd = testing::TempDir("hot-rows-bad");
      testing::CliRun r =
          testing::RunCli(args, seconds(60), {"DUALWRITE_STATE_DIR=" + cwd + "/state"}, cwd);
      EXPECT_FALSE(r.timed_out);
      EXPECT_GT(r.exit_code, 0) << r.err;
      EXPECT_EQ(r.out, "");
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
      EXPECT_EQ(r.err.rfind("dualwrite: error: ", 0), 0u) << r.err;
      EXPECT_NE(r.err.find(expect), std::string::npos) << r.err;
      EXPECT_FALSE(std::filesystem::exists(cwd + "/state")) << "nothing is started";
      std::error_code ec;
      std::filesystem::remove_all(cwd, ec);
    }
  }
}

}  // namespace
}  // namespace dw::coord
