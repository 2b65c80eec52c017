// The optional pg_partman partitioner (outbox/partman.h) against a real
// cluster with the real extension (Debian's postgresql-15-partman, which
// scripts/install-deps.sh installs; the tests skip only when the server lacks
// it):
//  - `outbox maintain --partitioner partman` registers outbox_table
//    (part_config row, infinite_time_partitions, no retention, no DEFAULT
//    partition) and partitions exist ahead with partman's names; `outbox
//    write` (whose own passes follow the registration) succeeds; a relay with
//    --partitioner partman drains; an old partition with unsent rows is kept
//    and a fully sent one dropped; run_maintenance still creates what is
//    needed after our drops;
//  - a table the built-in maintenance partitioned is handed over (renamed,
//    continued, no gap, no overlap) while a writer writes, and handed back;
//  - an extension that cannot be created is one line on stderr and a
//    non-zero exit.
#include <gtest/gtest.h>

#include <regex>

#include <nlohmann/json.hpp>

#include "common/process.h"
#include "outbox/partitions.h"
#include "outbox/relay.h"
#include "outbox/schema.h"
#include "tests/support/outbox_test_util.h"
#include "workload/orders.h"

namespace dw::testing {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kMin = 60LL * 1000000;

bool PartmanAvailable(const std::string& dsn) {
  return SqlInt(dsn, "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_partman'") == 1;
}

int64_t NowUs(const std::string& dsn) {
  return SqlInt(dsn, "SELECT (extract(epoch FROM now()) * 1000000)::bigint");
}

// The partitions holding the rows `where` selects (one, or two when the rows
// straddle a minute boundary), ordered.
std::vector<std::string> PartitionsOf(const std::string& dsn, const std::string& where) {
  pqxx::connection c{dsn};
  pqxx::nontransaction tx{c};
  std::vector<std::string> out;
  for (const auto& r : tx.exec("SELECT DISTINCT tableoid::regclass::text FROM outbox_table WHERE " +
                               where + " ORDER BY 1")) {
    out.push_back(r[0].as<std::string>());
  }
  EXPECT_FALSE(out.empty()) << where;
  return out;
}

bool Contains(const nlohmann::json& list, const std::string& name) {
  for (const auto& x : list) {
    if (x == name) return true;
  }
  return false;
}

// No two attached partitions overlap, and those reaching into [lo, hi) tile
// it with no gap. (Gaps before lo are normal: sent partitions are dropped
// around one still holding unsent rows.)
void ExpectContiguous(const std::string& dsn, int64_t lo, int64_t hi) {
  std::vector<outbox::PartitionInfo> parts;
  ASSERT_TRUE(outbox::ListPartitions(dsn, &parts).ok());
  std::string names;
  for (const auto& p : parts) names += p.name + " ";
  int64_t covered = lo;  // [lo, covered) is covered so far
  for (size_t i = 0; i < parts.size(); ++i) {
    ASSERT_TRUE(parts[i].parsed) << "DEFAULT or unbounded partition: " << parts[i].name;
    if (i > 0) {
      EXPECT_GE(parts[i].from_us, parts[i - 1].to_us) << "overlap: " << names;
    }
    if (parts[i].to_us <= covered || parts[i].from_us >= hi) continue;
    EXPECT_LE(parts[i].from_us, covered) << "gap before " << parts[i].name << ": " << names;
    covered = parts[i].to_us;
  }
  EXPECT_GE(covered, hi) << "not covered up to the end: " << names;
}

// (Failures name the calling line.)
#define EXPECT_CONTIGUOUS(...)        \
  do {                                \
    SCOPED_TRACE("ExpectContiguous"); \
    ExpectContiguous(__VA_ARGS__);    \
  } while (0)

void ExpectPartmanNames(const std::string& dsn) {
  static const std::regex kName("outbox_table_p[0-9]{4}_[0-9]{2}_[0-9]{2}_[0-9]{6}");
  std::vector<outbox::PartitionInfo> parts;
  ASSERT_TRUE(outbox::ListPartitions(dsn, &parts).ok());
  for (const auto& p : parts) EXPECT_TRUE(std::regex_match(p.name, kName)) << p.name;
  // partman itself can list (and so order) them all.
  EXPECT_EQ(SqlInt(dsn, "SELECT count(*) FROM partman.show_partitions('public.outbox_table')"),
            static_cast<int64_t>(parts.size()));
}

class PartmanTest : public OutboxTest {
 protected:
  void SetUp() override {
    OutboxTest::SetUp();
    if (HasFatalFailure()) return;
    if (!PartmanAvailable(dsn_)) {
      GTEST_SKIP() << "pg_partman is not installed on this server (postgresql-15-partman)";
    }
  }

  // `dualwrite ARGS --dsn D [--broker B]`; parses the last JSON object printed.
  nlohmann::json Run(std::vector<std::string> args, bool broker = false) {
    std::vector<std::string> argv = {DualwriteBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--dsn", dsn_});
    if (broker) argv.insert(argv.end(), {"--broker", broker_->url()});
    std::string out;
    Status s = RunCommand(argv, &out);
    EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << out;
    size_t brace = out.rfind("\n{");
    brace = brace == std::string::npos ? out.find('{') : brace + 1;
    if (brace == std::string::npos) return nlohmann::json::object();
    return nlohmann::json::parse(out.substr(brace), nullptr, false);
  }
};

TEST_F(PartmanTest, RegistersCreatesAheadAndDropsOnlySentPartitions) {
  ASSERT_TRUE(workload::EnsureOrdersSchema(dsn_).ok());
  ASSERT_TRUE(outbox::EnsureSchema(dsn_).ok());
  // 1-minute partitions from 15 minutes ago (so rows "8 and 5 minutes old" have one).
  auto j = Run({"outbox", "maintain", "--partitioner", "partman", "--partition-width", "1min",
                "--ahead", "3", "--grace-s", "900", "--json"});
  ASSERT_EQ(j.value("partitioner", ""), "partman") << j.dump();
  EXPECT_TRUE(j.value("registered", false)) << j.dump();
  EXPECT_TRUE(j["errors"].empty()) << j.dump();
  EXPECT_GE(j["created"].size(), 18u) << j.dump();  // 15 back, the current one, 3 ahead
  EXPECT_EQ(SqlInt(dsn_,
                   "SELECT count(*) FROM partman.part_config WHERE parent_table ="
                   " 'public.outbox_table' AND partition_type = 'native' AND partition_interval ="
                   " '00:01:00' AND premake = 3 AND infinite_time_partitions"
                   " AND retention IS NULL AND automatic_maintenance = 'off'"),
            1);
  EXPECT_EQ(SqlInt(dsn_,
                   "SELECT partdefid::bigint FROM pg_partitioned_table"
                   " WHERE partrelid = 'outbox_table'::regclass"),
            0)
      << "a DEFAULT partition would forbid DETACH CONCURRENTLY";
  int64_t now = NowUs(dsn_);
  EXPECT_CONTIGUOUS(dsn_, now - 14 * kMin, now + 3 * kMin);
  ExpectPartmanNames(dsn_);

  // `dualwrite env` says who manages the table.
  auto env = Run({"env", "--json"});
  EXPECT_EQ(env["outbox"].value("partitioner", ""), "partman") << env.dump();

  // A second pass: nothing to register, nothing new yet (idempotent).
  j = Run({"outbox", "maintain", "--partitioner", "partman", "--grace-s", "900", "--json"});
  EXPECT_FALSE(j.value("registered", true)) << j.dump();
  EXPECT_TRUE(j["errors"].empty()) << j.dump();

  // Writers with their default options (built-in, 1-day width) follow the
  // registration: no built-in partition appears.
  auto write = [&](int n, int64_t skew_ms) {
    auto w = Run({"outbox", "write", "-n", std::to_string(n), "-c", "4", "--clock-skew-ms",
                  std::to_string(skew_ms), "--json"});
    EXPECT_EQ(w.value("committed", 0), n) << w.dump();
    EXPECT_EQ(w.value("failed", 1), 0) << w.dump();
  };
  write(100, 0);
  write(30, -8 * 60000);  // "8 minutes old": sent below, then its partition goes
  ExpectPartmanNames(dsn_);
  EXPECT_CONTIGUOUS(dsn_, now - 14 * kMin, now + 3 * kMin);
  const std::vector<std::string> sent_parts =
      PartitionsOf(dsn_, "created_dttm < now() - interval '6 minutes'");

  // A relay with --partitioner partman drains (its loop's first pass runs
  // partman's run_maintenance); nothing is old enough to drop yet.
  j = Run({"outbox", "relay", "--strategy", "skip-locked", "--until-drained", "--partitioner",
           "partman", "--grace-s", "900", "--json"},
          /*broker=*/true);
  EXPECT_TRUE(j.value("drained", false)) << j.dump();
  EXPECT_EQ(j.value("published", 0), 130) << j.dump();
  EXPECT_EQ(j["maintenance"].value("partitioner", ""), "partman") << j.dump();

  write(20, -5 * 60000);  // "5 minutes old" and not sent
  const std::vector<std::string> unsent_parts =
      PartitionsOf(dsn_, "created_dttm < now() - interval '3 minutes'");
  for (const auto& p : unsent_parts) {
    ASSERT_EQ(std::count(sent_parts.begin(), sent_parts.end(), p), 0) << p;
  }

  // grace 0: every partition that ended is a candidate; ours decide.
  j = Run({"outbox", "maintain", "--partitioner", "partman", "--grace-s", "0", "--json"});
  EXPECT_TRUE(j["errors"].empty()) << j.dump();
  EXPECT_EQ(j["kept"], nlohmann::json(unsent_parts)) << j.dump();
  for (const auto& p : sent_parts) {
    EXPECT_TRUE(Contains(j["dropped"], p)) << p << " " << j.dump();
    EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM pg_class WHERE relname = '" + p + "'"), 0);
  }
  int64_t kept_rows = 0;
  for (const auto& p : unsent_parts) kept_rows += SqlInt(dsn_, "SELECT count(*) FROM " + p);
  EXPECT_EQ(kept_rows, 20);
  ExpectPartmanNames(dsn_);

  // partman is not confused by our drops: more premade partitions asked for
  // are created by its run_maintenance, after the newest one, no gap.
  Sql(dsn_,
      "UPDATE partman.part_config SET premake = 5 WHERE parent_table = 'public.outbox_table'");
  j = Run({"outbox", "maintain", "--grace-s", "0", "--json"});  // (no option: follows the table)
  EXPECT_EQ(j.value("partitioner", ""), "partman") << j.dump();
  EXPECT_GE(j["created"].size(), 2u) << j.dump();
  EXPECT_TRUE(j["errors"].empty()) << j.dump();
  now = NowUs(dsn_);
  EXPECT_CONTIGUOUS(dsn_, now, now + 5 * kMin);
  ExpectPartmanNames(dsn_);
  // And called directly, as an operator might (in UTC: partman names by the session's zone).
  Sql(dsn_,
      "SET TimeZone = 'UTC'; SELECT partman.run_maintenance('public.outbox_table',"
      " p_jobmon := false)");

  // Drain the rest: verify is clean and the kept partition goes too.
  {
    outbox::RunnerOptions rn;
    rn.until_drained = true;
    rn.partitions.partitioner = outbox::Partitioner::kPartman;
    rn.partitions.grace = 0s;
    RelayThread relay(Relay(outbox::Strategy::kSkipLocked), rn);
    EXPECT_TRUE(relay.Join().drained);
  }
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, 150u);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  j = Run({"outbox", "maintain", "--grace-s", "0", "--json"});
  for (const auto& p : unsent_parts) {
    EXPECT_TRUE(Contains(j["dropped"], p)) << p << " " << j.dump();
  }
  now = NowUs(dsn_);
  EXPECT_CONTIGUOUS(dsn_, now, now + 3 * kMin);
  write(10, 0);  // inserts still find their partition
}

TEST_F(PartmanTest, HandsOverBuiltinPartitionsWhileWritingAndBack) {
  ASSERT_TRUE(workload::EnsureOrdersSchema(dsn_).ok());
  ASSERT_TRUE(outbox::EnsureSchema(dsn_).ok());
  outbox::PartitionOptions po;
  po.width = 60s;
  po.ahead = 2;
  po.grace = 300s;
  outbox::MaintenanceReport mr;
  ASSERT_TRUE(outbox::MaintainPartitions(dsn_, po, &mr).ok());
  ASSERT_EQ(mr.partitioner, "builtin");
  ASSERT_GE(mr.created.size(), 7u) << mr.ToText();
  const size_t builtin_parts = mr.created.size();

  // A writer keeps writing (built-in options: it follows whatever manages
  // the table) while the table is registered: no insert may fail.
  outbox::WriterOptions wo = Writer(4);
  wo.partitions = po;
  wo.partitions.drop = false;
  std::unique_ptr<outbox::OutboxWriter> writer;
  ASSERT_TRUE(outbox::OutboxWriter::Open(wo, &writer).ok());
  workload::LoadSummary sum;
  std::thread load([&] { sum = Write(writer.get(), 1200, 4, /*rate=*/300); });
  std::this_thread::sleep_for(1s);
  auto j = Run({"outbox", "maintain", "--partitioner", "partman", "--partition-width", "1min",
                "--ahead", "2", "--grace-s", "300", "--json"});
  load.join();
  writer.reset();
  EXPECT_EQ(sum.committed, 1200u);
  EXPECT_EQ(sum.failed, 0u) << "an insert failed during the handover";
  EXPECT_TRUE(j.value("registered", false)) << j.dump();
  EXPECT_TRUE(j["errors"].empty()) << j.dump();
  EXPECT_GE(j["renamed"].size(), builtin_parts) << j.dump();
  ExpectPartmanNames(dsn_);
  int64_t now = NowUs(dsn_);
  EXPECT_CONTIGUOUS(dsn_, now - 4 * kMin, now + 2 * kMin);
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table"), 1200);

  // A daily pg_partman set cannot take minute partitions' names: refused,
  // and the table is left as it was (still the built-in way, still working).
  {
    std::string db2 = db_ + "_b";
    std::string dsn2 = ScratchDatabase(db2);
    ASSERT_TRUE(outbox::EnsureSchema(dsn2).ok());
    ASSERT_TRUE(outbox::MaintainPartitions(dsn2, po, &mr).ok());
    outbox::PartitionOptions daily;
    daily.partitioner = outbox::Partitioner::kPartman;
    ASSERT_TRUE(outbox::MaintainPartitions(dsn2, daily, &mr).ok());
    EXPECT_FALSE(mr.registered);
    ASSERT_EQ(mr.errors.size(), 1u) << mr.ToText();
    EXPECT_NE(mr.errors[0].find("would both be named"), std::string::npos) << mr.errors[0];
    EXPECT_EQ(SqlInt(dsn2, "SELECT count(*) FROM partman.part_config"), 0);
    Status dropped = env::DropScratchDatabase(SharedDsn(), db2);
    EXPECT_TRUE(dropped.ok()) << dropped.ToString();
  }

  // Back to the built-in maintenance: unregister, and it continues from the
  // partitions as they are.
  Sql(dsn_, "DELETE FROM partman.part_config WHERE parent_table = 'public.outbox_table'");
  ASSERT_TRUE(outbox::MaintainPartitions(dsn_, po, &mr).ok());
  EXPECT_EQ(mr.partitioner, "builtin");
  EXPECT_TRUE(mr.errors.empty()) << mr.ToText();
  now = NowUs(dsn_);
  EXPECT_CONTIGUOUS(dsn_, now - 4 * kMin, now + 2 * kMin);

  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  {
    RelayThread relay(Relay(outbox::Strategy::kSkipLocked), rn);
    EXPECT_TRUE(relay.Join().drained);
  }
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, 1200u);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

// Not skipped without pg_partman: then the error names the package instead.
class PartmanErrorTest : public ::testing::Test {};

TEST_F(PartmanErrorTest, ExtensionThatCannotBeCreatedIsOneLineAndNonZeroExit) {
  const std::string shared = SharedDsn();
  ASSERT_FALSE(shared.empty());
  const std::string role = "dw_partman_plain";
  const std::string db = TestDatabaseName("dwo");
  auto cleanup = [&] {
    Sql(shared, "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
    Sql(shared, "DROP ROLE IF EXISTS " + role);
  };
  cleanup();
  // A role that owns its database but is no superuser: pg_partman is not a
  // trusted extension, so it may not create it.
  Sql(shared, "CREATE ROLE " + role + " LOGIN NOSUPERUSER");
  Sql(shared, "CREATE DATABASE " + db + " OWNER " + role);
  std::string dsn = WithDatabase(shared, db);
  dsn = std::regex_replace(dsn, std::regex("user=[^ ]*"), "user=" + role);
  const bool available = PartmanAvailable(shared);

  for (const char* cmd : {"maintain", "relay"}) {
    std::vector<std::string> argv = {DualwriteBinary(), "outbox", cmd, "--dsn", dsn,
                                     "--partitioner",   "partman"};
    if (std::string(cmd) == "relay") {
      argv.insert(argv.end(), {"--strategy", "skip-locked", "--until-drained", "--broker",
                               "http://127.0.0.1:1"});
    }
    std::string out;
    Status s = RunCommand(argv, &out);
    EXPECT_FALSE(s.ok()) << cmd << ": " << out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    EXPECT_EQ(out.find('\n'), std::string::npos) << cmd << ": not one line:\n" << out;
    EXPECT_TRUE(out.starts_with("dualwrite: error: ")) << out;
    EXPECT_NE(out.find(available ? "permission denied to create extension" : "-partman"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("pg_partman"), std::string::npos) << out;
  }
  cleanup();
}

}  // namespace
}  // namespace dw::testing
