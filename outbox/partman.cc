#include "outbox/partman.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>

#include "common/one_line.h"
#include "outbox/pg_util.h"
#include "participants/pg_pool.h"

namespace dw::outbox {
namespace {

using Renames = std::vector<std::pair<std::string, std::string>>;  // (old name, new name)

// A timestamptz from unix µs, exact whatever the session's TimeZone.
const char* const kTs = "('epoch'::timestamptz + $%d::bigint * interval '1 microsecond')";

std::string Ts(int n) {
  char buf[96];
  std::snprintf(buf, sizeof buf, kTs, n);
  return buf;
}

// Partitions whose name is not partman's for their lower bound: (old, new).
// Throws when two would get the same name (the handover is refused).
Renames PlanRenames(pqxx::transaction_base& tx, const PartmanState& st,
                    const std::string& datetime_string, const std::vector<PartitionInfo>& parts) {
  const std::string table = st.parent.substr(st.parent.find('.') + 1);
  std::set<std::string> names;
  for (const auto& p : parts) names.insert(p.name);
  std::map<std::string, std::string> owner;  // new name -> partition getting it
  Renames out;
  for (const auto& p : parts) {
    if (!p.parsed || p.detach_pending) continue;
    std::string want =
        tx.exec_params1("SELECT " + tx.quote_name(st.schema) + ".check_name_length($1, to_char(" +
                            Ts(2) + ", $3), true)",
                        table, p.from_us, datetime_string)[0]
            .as<std::string>();
    auto [it, fresh] = owner.emplace(want, p.name);
    if (!fresh) {
      throw std::runtime_error(
          "partitions " + it->second + " and " + p.name + " would both be named " + want +
          " under pg_partman (datetime_string " + datetime_string +
          "): drop the narrower partitions first (`dualwrite outbox maintain --grace-s 0` once "
          "their rows are sent), or use a width under a day");
    }
    if (want == p.name) continue;
    bool taken =
        names.count(want) > 0 ||
        !tx.exec_params1("SELECT to_regclass(quote_ident($1)) IS NULL", want)[0].as<bool>();
    if (taken) {
      throw std::runtime_error("cannot rename partition " + p.name + " to pg_partman's name " +
                               want + ": a table of that name exists");
    }
    out.emplace_back(p.name, want);
  }
  return out;
}

// ALTER TABLE ... RENAME takes ACCESS EXCLUSIVE on that partition only, for
// an instant: an insert into it waits that long.
void Rename(pqxx::transaction_base& tx, const Renames& rn) {
  for (const auto& [from, to] : rn) {
    tx.exec0("ALTER TABLE " + tx.quote_name(from) + " RENAME TO " + tx.quote_name(to));
  }
}

// After the commit: the report says only what happened.
void NoteRenames(const Renames& rn, MaintenanceReport* report) {
  for (const auto& [from, to] : rn) report->renamed.push_back(from + " -> " + to);
}

// partman's name format for a width, as create_parent picks it when given
// p_date_trunc_interval (which we always pass).
std::string DatetimeStringFor(std::chrono::seconds width) {
  return width >= std::chrono::seconds(86400) ? "YYYY_MM_DD" : "YYYY_MM_DD_HH24MISS";
}

void Register(pqxx::connection& c, const PartitionOptions& opts, int64_t now_us,
              const std::function<std::vector<PartitionInfo>()>& list, PartmanState* st,
              MaintenanceReport* report) {
  const std::string S = c.quote_name(st->schema);
  const int64_t width_us = opts.width.count() * kUsPerS;
  const std::string fmt = DatetimeStringFor(opts.width);
  std::vector<PartitionInfo> parts = list();
  pqxx::work tx{c};
  // The parent first: writers lock it before the partition they insert into,
  // so taking a partition first (the renames) could deadlock with them.
  tx.exec0("LOCK TABLE outbox_table IN ACCESS EXCLUSIVE MODE");
  const Renames renames = PlanRenames(tx, *st, fmt, parts);
  Rename(tx, renames);
  int64_t start = FloorDiv(now_us - opts.grace.count() * kUsPerS, width_us) * width_us;
  for (const auto& p : parts) {
    if (p.parsed && !p.detach_pending) start = std::max(start, p.to_us);
  }
  const bool had_default = tx.exec1(
                                 "SELECT partdefid <> 0 FROM pg_partitioned_table"
                                 " WHERE partrelid = 'outbox_table'::regclass")[0]
                               .as<bool>();
  // The interval in hours:minutes:seconds ('24:00:00', not '1 day'): a
  // session in a TimeZone with DST would make '1 day' 23 or 25 hours long.
  tx.exec_params("SELECT " + S +
                     ".create_parent(p_parent_table := $1, p_control := 'created_dttm',"
                     " p_type := 'native', p_interval := make_interval(secs => $2)::text,"
                     " p_premake := $3, p_automatic_maintenance := 'off',"
                     " p_start_partition := " +
                     Ts(4) +
                     "::text, p_jobmon := false,"
                     " p_date_trunc_interval := 'second')",
                 st->parent, static_cast<int64_t>(opts.width.count()), std::max(1, opts.ahead),
                 start);
  if (!had_default) {
    auto r = tx.exec(
        "SELECT partdefid::regclass::text FROM pg_partitioned_table"
        " WHERE partrelid = 'outbox_table'::regclass AND partdefid <> 0");
    if (!r.empty()) {
      // Empty: the table was locked since before it existed.
      tx.exec0("DROP TABLE " + r[0][0].as<std::string>());
    }
  }
  auto cfg = tx.exec_params1("UPDATE " + S +
                                 ".part_config SET infinite_time_partitions = true"
                                 " WHERE parent_table = $1 RETURNING datetime_string",
                             st->parent);
  if (cfg[0].as<std::string>() != fmt) {
    // The renames above assumed this format: refuse rather than leave names
    // partman cannot order.
    throw std::runtime_error("pg_partman chose datetime_string " + cfg[0].as<std::string>() +
                             ", expected " + fmt + " (unsupported pg_partman version?)");
  }
  tx.commit();
  NoteRenames(renames, report);
  st->registered = true;
  report->registered = true;
}

}  // namespace

PartmanState ReadPartmanState(pqxx::connection& c) {
  PartmanState st;
  pqxx::nontransaction tx{c};
  auto r = tx.exec(
      "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
      " WHERE e.extname = 'pg_partman'");
  st.installed = !r.empty();
  if (st.installed) st.schema = r[0][0].as<std::string>();
  st.parent = tx.exec1(
                    "SELECT COALESCE((SELECT n.nspname || '.' || c.relname FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE c.oid = to_regclass('outbox_table')), '')")[0]
                  .as<std::string>();
  if (st.installed && !st.parent.empty()) {
    st.registered = tx.exec_params1("SELECT EXISTS (SELECT 1 FROM " + tx.quote_name(st.schema) +
                                        ".part_config WHERE parent_table = $1)",
                                    st.parent)[0]
                        .as<bool>();
  }
  return st;
}

Status EnsurePartmanExtension(pqxx::connection& c, PartmanState* st) {
  if (st->installed) return Status::OK();
  try {
    bool available;
    std::string major, db, role;
    {
      pqxx::nontransaction tx{c};
      auto r = tx.exec1(
          "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman'),"
          " current_setting('server_version_num')::int / 10000, current_database(), current_user");
      available = r[0].as<bool>();
      major = r[1].as<std::string>();
      db = r[2].as<std::string>();
      role = r[3].as<std::string>();
    }
    if (!available) {
      return Status::FailedPrecondition(
          "--partitioner partman: the pg_partman extension is not installed on the Postgres "
          "server (Debian: apt-get install postgresql-" +
          major + "-partman), or use --partitioner builtin");
    }
    std::string error;
    try {
      pqxx::work w{c};
      w.exec0("CREATE SCHEMA IF NOT EXISTS partman");
      w.exec0("CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman");
      w.commit();
    } catch (const pqxx::sql_error& e) {
      error = OneLine(e.what(), OneLineMode::kFirstLine);
    }
    *st = ReadPartmanState(c);
    // (A failure with the extension there: another session created it meanwhile.)
    if (!st->installed) {
      return Status::FailedPrecondition(
          "--partitioner partman: cannot create the pg_partman extension in database " + db +
          " as role " + role + ": " + error +
          " (a superuser must run: CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA "
          "partman)");
    }
  } catch (...) {
    return StatusFromPgException(nullptr, "setting up pg_partman");
  }
  return Status::OK();
}

Status EnsurePartmanExtension(const std::string& dsn) {
  Status result;
  Status s = WithConnection(dsn, "setting up pg_partman", [&](pqxx::connection& c) {
    PartmanState st = ReadPartmanState(c);
    result = EnsurePartmanExtension(c, &st);
  });
  return s.ok() ? result : s;
}

void PartmanCreateAhead(pqxx::connection& c, const PartitionOptions& opts, int64_t now_us,
                        const std::function<std::vector<PartitionInfo>()>& list, PartmanState* st,
                        MaintenanceReport* report, bool* ok_out) {
  *ok_out = false;
  auto fail = [&](const std::string& what, const std::exception& e) {
    report->errors.push_back("pg_partman " + what + ": " +
                             OneLine(e.what(), OneLineMode::kFirstLine));
  };
  const std::string S = c.quote_name(st->schema);
  std::vector<PartitionInfo> before = list();
  if (!st->registered) {
    try {
      Register(c, opts, now_us, list, st, report);
    } catch (const pqxx::broken_connection&) {
      throw;
    } catch (const std::exception& e) {
      fail("registration of " + st->parent, e);
      return;
    }
  }
  int64_t interval_us = 0;  // 0: not a fixed length (months): no catch-up jump
  try {
    // The table's configuration, made safe for an outbox each pass (someone
    // may have changed it by hand), and partitions named another way (a
    // partition our drop step re-attached, a writer of an older build)
    // renamed.
    std::vector<PartitionInfo> parts = list();  // (one transaction at a time per connection)
    pqxx::work tx{c};
    auto cfg = tx.exec_params1(
        "SELECT retention, infinite_time_partitions, datetime_string,"
        " CASE WHEN extract(month FROM partition_interval::interval) = 0"
        "  AND extract(year FROM partition_interval::interval) = 0"
        " THEN (extract(epoch FROM partition_interval::interval) * 1000000)::bigint"
        " ELSE 0 END"
        " FROM " +
            S + ".part_config WHERE parent_table = $1",
        st->parent);
    if (!cfg[0].is_null()) {
      report->notes.push_back(
          "pg_partman retention '" + cfg[0].as<std::string>() +
          "' was set on outbox_table and is cleared: it drops partitions by age alone, unsent "
          "rows too; dualwrite drops a partition only once every row in it is sent");
    }
    if (!cfg[0].is_null() || !cfg[1].as<bool>()) {
      tx.exec_params0("UPDATE " + S +
                          ".part_config SET retention = NULL, infinite_time_partitions = true"
                          " WHERE parent_table = $1",
                      st->parent);
    }
    interval_us = cfg[3].as<int64_t>();
    const Renames renames = PlanRenames(tx, *st, cfg[2].as<std::string>(), parts);
    Rename(tx, renames);
    tx.commit();
    NoteRenames(renames, report);
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const std::exception& e) {
    fail("configuration check", e);
    return;
  }
  std::set<std::string> had;
  for (const auto& p : before) had.insert(p.name);
  for (const auto& r : report->renamed) had.insert(r.substr(r.find(" -> ") + 4));
  try {
    // After a long stop the newest partition may lie far in the past:
    // run_maintenance would create every partition since (thousands at a
    // one-minute width), all of them empty and dropped again at once. Start
    // partman's series at the partition holding now - grace instead, on its
    // own grid (the newest partition's start + k * interval).
    const int64_t floor_us = now_us - opts.grace.count() * kUsPerS;
    const PartitionInfo* newest = nullptr;
    std::vector<PartitionInfo> parts = list();
    for (const auto& p : parts) {
      if (p.parsed && !p.detach_pending && (!newest || p.to_us > newest->to_us)) newest = &p;
    }
    if (interval_us > 0 && (!newest || newest->to_us <= floor_us)) {
      int64_t slot =
          newest ? newest->from_us + FloorDiv(floor_us - newest->from_us, interval_us) * interval_us
                 : FloorDiv(floor_us, interval_us) * interval_us;
      pqxx::work tx{c};
      tx.exec_params("SELECT " + S + ".create_partition_time($1, ARRAY[" + Ts(2) + "], false)",
                     st->parent, slot);
      tx.commit();
    }
    pqxx::work tx{c};
    tx.exec_params("SELECT " + S + ".run_maintenance(p_parent_table := $1, p_jobmon := false)",
                   st->parent);
    tx.commit();
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const std::exception& e) {
    fail("run_maintenance", e);
    return;
  }
  for (const auto& p : list()) {
    if (!had.count(p.name)) report->created.push_back(p.name);
  }
  *ok_out = true;
}

}  // namespace dw::outbox
