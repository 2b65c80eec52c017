// Lesson `vacuum`: the seed's "problems of queues in the database".
//  1. Frequent status updates make dead tuples: the status strategy updates
//     every row twice ('new' -> 'locked' -> 'sent'), skip-locked deletes it
//     once. Same load, counted in pg_stat_user_tables.n_dead_tup.
//  2. A long transaction - here a held PREPAREd one - keeps VACUUM from
//     removing dead tuples anywhere in the cluster: VACUUM VERBOSE reports
//     them "dead but not yet removable" until COMMIT PREPARED.
#include <regex>
#include <sstream>
#include <thread>

#include "demo/lessons.h"
#include "demo/order_text.h"
#include "outbox/partitions.h"
#include "outbox/schema.h"

namespace dw::demo {
namespace {

using std::chrono::milliseconds;

const char* const kStatsSql =
    "SELECT coalesce(sum(s.n_live_tup), 0)::bigint AS n_live_tup,"
    " coalesce(sum(s.n_dead_tup), 0)::bigint AS n_dead_tup,"
    " coalesce(sum(s.n_tup_ins), 0)::bigint AS n_tup_ins,"
    " coalesce(sum(s.n_tup_upd), 0)::bigint AS n_tup_upd,"
    " coalesce(sum(s.n_tup_hot_upd), 0)::bigint AS n_tup_hot_upd,"
    " coalesce(sum(s.n_tup_del), 0)::bigint AS n_tup_del,"
    " coalesce(sum(s.vacuum_count + s.autovacuum_count), 0)::bigint AS vacuums"
    " FROM pg_stat_user_tables s JOIN pg_inherits i ON i.inhrelid = s.relid"
    " WHERE i.inhparent = 'outbox_table'::regclass";

struct Stats {
  int64_t dead = 0, upd = 0, del = 0;
};

Stats ReadStats(Stage& st) {
  pqxx::connection c{st.dsn()};
  pqxx::nontransaction tx{c};
  pqxx::row r = tx.exec1(kStatsSql);
  return {r[1].as<int64_t>(), r[3].as<int64_t>(), r[5].as<int64_t>()};
}

// Statistics reach the views when the sessions that caused them report
// (at exit, or about once a second): wait until `done` holds or 10 s.
template <typename Pred>
Stats WaitStats(Stage& st, Pred done) {
  Stats s = ReadStats(st);
  for (int i = 0; i < 100 && !done(s); ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    s = ReadStats(st);
  }
  return s;
}

void ShowStats(Stage& st, const std::string& caption) {
  st.n().Show(st.Query(
      "postgres: pg_stat_user_tables over outbox_table's partitions (" + caption + ")", kStatsSql));
}

// VACUUM (VERBOSE) run by `s`, its INFO lines captured: per partition
// "tuples: R removed, N remain, D are dead but not yet removable".
struct VacuumCounts {
  int64_t removed = 0, not_removable = 0;
  std::vector<std::string> lines;
};

class Capture : public pqxx::errorhandler {
 public:
  explicit Capture(pqxx::connection_base& c) : pqxx::errorhandler(c) {}
  bool operator()(const char msg[]) noexcept override {
    try {
      text += msg;
    } catch (...) {
    }
    return false;  // do not also print it on stderr
  }
  std::string text;
};

VacuumCounts Vacuum(Session& s) {
  Capture cap(s.conn());
  s.Exec("VACUUM (VERBOSE) outbox_table");
  VacuumCounts v;
  static const std::regex kTuples(
      R"(tuples: (\d+) removed, (\d+) remain, (\d+) are dead but not yet removable)");
  static const std::regex kTable(R"(vacuuming \"([^\"]+)\")");
  std::string table;
  bool show = false;
  std::istringstream in(cap.text);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, kTable)) table = m[1];
    if (std::regex_search(line, m, kTuples)) {
      v.removed += std::stoll(m[1]);
      v.not_removable += std::stoll(m[3]);
      // Shown for the partitions that hold something (not the empty ones
      // ahead of time, nor their TOAST tables).
      show = std::stoll(m[1]) + std::stoll(m[2]) + std::stoll(m[3]) > 0;
      if (show) v.lines.push_back(table + ": " + m[0].str());
    }
    if (show && line.find("removable cutoff") != std::string::npos) {
      v.lines.push_back(table + ": " + OneLine(line.substr(line.find_first_not_of(' '))));
    }
  }
  return v;
}

void ShowVacuum(Narrator& n, const VacuumCounts& v) {
  for (const auto& l : v.lines) n.Output(l);
  n.Output("in all: " + std::to_string(v.removed) + " removed, " + std::to_string(v.not_removable) +
           " dead but not yet removable");
}

}  // namespace

Status LessonVacuum(Stage& st, Narrator& n, nlohmann::json& facts) {
  Status s = st.EnsureOutboxSchema();
  if (!s.ok()) return s;
  st.WarnForeignPrepared();
  const int kOrders = 300;

  Session admin(&n, "admin", st.dsn());
  n.Step("Keep autovacuum away from the outbox",
         "So that the counts we read are the load's, not what autovacuum left of them. (A "
         "partitioned table takes the setting per partition.)");
  pqxx::result parts = admin.Quiet(
      "SELECT inhrelid::regclass::text FROM pg_inherits"
      " WHERE inhparent = 'outbox_table'::regclass ORDER BY 1");
  for (const auto& p : parts) {
    admin.Exec("ALTER TABLE " + p[0].as<std::string>() + " SET (autovacuum_enabled = false)");
  }

  n.Step("skip-locked: " + std::to_string(kOrders) + " orders, relayed",
         "The relay DELETEs each row it publishes: one dead tuple per event.");
  RunResult w1 = st.Run({"outbox", "write", "-n", std::to_string(kOrders), "-c", "2", "--json"});
  st.ShowResult(w1, {"committed", "failed"});
  RunResult r1 = st.Run({"outbox", "relay", "--strategy", "skip-locked", "--until-drained",
                         "--json", "--no-maintain"});
  st.ShowResult(r1, {"published", "errors"});
  Stats skip = WaitStats(st, [&](const Stats& x) { return x.del >= kOrders; });
  ShowStats(st, "after skip-locked");
  const int64_t dead_skip = skip.dead;

  n.Step("VACUUM, to start the status strategy from zero", "");
  VacuumCounts v0 = Vacuum(admin);
  ShowVacuum(n, v0);
  n.Note(
      "(VACUUM may remove fewer than n_dead_tup said: reads that visit a page prune its dead "
      "tuples on the way. n_dead_tup counts what the load killed.)");
  Stats base = WaitStats(st, [](const Stats& x) { return x.dead == 0; });

  n.Step("status: the same " + std::to_string(kOrders) + " orders, relayed",
         "The relay UPDATEs each row twice ('new' -> 'locked', then -> 'sent') and keeps it: two "
         "dead tuples per event.");
  RunResult w2 = st.Run({"outbox", "write", "-n", std::to_string(kOrders), "-c", "2", "--json"});
  st.ShowResult(w2, {"committed", "failed"});
  RunResult r2 = st.Run(
      {"outbox", "relay", "--strategy", "status", "--until-drained", "--json", "--no-maintain"});
  st.ShowResult(r2, {"published", "errors"});
  Stats status = WaitStats(st, [&](const Stats& x) { return x.upd >= base.upd + 2 * kOrders; });
  ShowStats(st, "after status");
  const int64_t dead_status = status.dead - base.dead;
  VacuumCounts v1 = Vacuum(admin);
  ShowVacuum(n, v1);

  n.Step("Now hold a PREPAREd transaction",
         "A 2PC branch whose coordinator never comes back: it has an xid, and every row version "
         "that died after it started might still be needed by it.");
  Session holder(&n, "2pc-branch", st.dsn());
  const std::string gid = "dw:demo:held";
  holder.Exec("BEGIN");
  holder.Exec(InsertOrderSql(holder, workload::MakeOrder(1000000, 1, 1)));
  holder.Exec("PREPARE TRANSACTION " + holder.Quote(gid));
  st.ShowPrepared();

  n.Step("More status traffic while it is held",
         "200 orders through the status relay: 400 more dead tuples.");
  RunResult w3 = st.Run({"outbox", "write", "-n", "200", "-c", "2", "--json"});
  st.ShowResult(w3, {"committed", "failed"});
  Stats before3 = ReadStats(st);
  RunResult r3 = st.Run(
      {"outbox", "relay", "--strategy", "status", "--until-drained", "--json", "--no-maintain"});
  st.ShowResult(r3, {"published", "errors"});
  WaitStats(st, [&](const Stats& x) { return x.upd >= before3.upd + 400; });
  ShowStats(st, "with the prepared transaction held");

  n.Step("VACUUM while the prepared transaction is held", "");
  VacuumCounts held = Vacuum(admin);
  ShowVacuum(n, held);
  ShowStats(st, "after that VACUUM");

  n.Step("COMMIT PREPARED, then VACUUM again", "");
  admin.Exec("COMMIT PREPARED " + admin.Quote(gid));
  VacuumCounts after = Vacuum(admin);
  ShowVacuum(n, after);
  ShowStats(st, "after the last VACUUM");

  facts = {{"orders_per_strategy", kOrders},
           {"dead_tuples_skip_locked", dead_skip},
           {"dead_tuples_status", dead_status},
           {"status_relay_published", r2.Int("published")},
           {"skip_locked_relay_published", r1.Int("published")},
           {"removable_while_held", held.removed},
           {"dead_not_removable_while_held", held.not_removable},
           {"removed_after_commit_prepared", after.removed},
           {"not_removable_after_commit_prepared", after.not_removable}};

  n.Conclude(dead_status > dead_skip, "after the same " + std::to_string(kOrders) +
                                          " events the status strategy left " +
                                          std::to_string(dead_status) +
                                          " dead tuples, skip-locked " + std::to_string(dead_skip));
  n.Conclude(held.not_removable > 0 && held.removed == 0,
             "with a prepared transaction held, VACUUM removed " + std::to_string(held.removed) +
                 " and found " + std::to_string(held.not_removable) +
                 " dead but not yet removable");
  n.Conclude(after.removed >= held.not_removable && after.not_removable == 0,
             "after COMMIT PREPARED, VACUUM removed " + std::to_string(after.removed) + " (" +
                 std::to_string(after.not_removable) + " left not removable)");
  return Status::OK();
}

}  // namespace dw::demo
