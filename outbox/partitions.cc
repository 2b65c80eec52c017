#include "outbox/partitions.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include <pqxx/pqxx>

#include "outbox/partman.h"
#include "outbox/pg_util.h"
#include "outbox/schema.h"
#include "participants/pg_pool.h"

namespace dw::outbox {
namespace {

// 'YYYY-MM-DD HH:MM:SS+00': a timestamptz literal that means the same
// instant whatever the session's TimeZone.
std::string UtcLiteral(int64_t us) {
  time_t t = static_cast<time_t>(us / kUsPerS);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d+00", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

const char* const kListSql =
    "SELECT c.relname, i.inhdetachpending,"
    " (extract(epoch FROM (m[1])::timestamptz) * 1000000)::bigint,"
    " (extract(epoch FROM (m[2])::timestamptz) * 1000000)::bigint"
    " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " LEFT JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid),"
    "   'FROM \\(''([^'']*)''\\) TO \\(''([^'']*)''\\)') m ON true"
    " WHERE i.inhparent = 'outbox_table'::regclass"
    " ORDER BY 3 NULLS LAST, 1";

std::vector<PartitionInfo> ReadPartitions(pqxx::transaction_base& tx) {
  std::vector<PartitionInfo> out;
  for (const auto& r : tx.exec(kListSql)) {
    PartitionInfo p;
    p.name = r[0].as<std::string>();
    p.detach_pending = r[1].as<bool>();
    p.parsed = !r[2].is_null() && !r[3].is_null();
    if (p.parsed) {
      p.from_us = r[2].as<int64_t>();
      p.to_us = r[3].as<int64_t>();
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::string FirstLine(const std::string& s) {
  size_t e = s.find('\n');
  return e == std::string::npos ? s : s.substr(0, e);
}

std::string Json(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out;
}

}  // namespace

nlohmann::json MaintenanceReport::ToJson() const {
  nlohmann::json j = {{"skipped", skipped}, {"partitioner", partitioner},
                      {"created", created}, {"dropped", dropped},
                      {"kept", kept},       {"finalized", finalized},
                      {"errors", errors},   {"partitions", partitions}};
  if (partitioner == "partman") {
    j["registered"] = registered;
    j["renamed"] = renamed;
    j["notes"] = notes;
  }
  return j;
}

std::string MaintenanceReport::ToText() const {
  if (skipped) return "maintenance skipped: another session holds the maintenance lock\n";
  std::string out =
      "partitions: " + std::to_string(partitions) + " (partitioner " + partitioner + ")\n";
  if (registered) out += "registered outbox_table with pg_partman\n";
  if (!renamed.empty()) out += "renamed: " + Json(renamed) + "\n";
  for (const auto& n : notes) out += "note: " + n + "\n";
  if (!created.empty()) out += "created: " + Json(created) + "\n";
  if (!dropped.empty()) out += "dropped: " + Json(dropped) + "\n";
  if (!kept.empty()) out += "kept (unsent rows): " + Json(kept) + "\n";
  if (!finalized.empty()) out += "finalized detach: " + Json(finalized) + "\n";
  for (const auto& e : errors) out += "error: " + e + "\n";
  return out;
}

const char* PartitionerName(Partitioner p) {
  return p == Partitioner::kPartman ? "partman" : "builtin";
}

Status ParsePartitioner(std::string_view text, Partitioner* out) {
  if (text == "builtin") {
    *out = Partitioner::kBuiltin;
  } else if (text == "partman") {
    *out = Partitioner::kPartman;
  } else {
    return Status::InvalidArgument("bad partitioner '" + std::string(text) +
                                   "' (builtin or partman)");
  }
  return Status::OK();
}

Status ParseWidth(std::string_view text, std::chrono::seconds* out) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > 9) return Status::InvalidArgument("bad width '" + std::string(text) + "'");
  int64_t n = std::stoll(std::string(text.substr(0, i)));
  std::string unit(text.substr(i));
  int64_t mult;
  if (unit.empty() || unit == "s") {
    mult = 1;
  } else if (unit == "m" || unit == "min") {
    mult = 60;
  } else if (unit == "h") {
    mult = 3600;
  } else if (unit == "d") {
    mult = 86400;
  } else {
    return Status::InvalidArgument("bad width unit in '" + std::string(text) +
                                   "' (use s, m/min, h or d)");
  }
  int64_t s = n * mult;
  if (s < 1 || s > 7 * 86400) {
    return Status::InvalidArgument("width '" + std::string(text) + "' outside 1s .. 7d");
  }
  *out = std::chrono::seconds(s);
  return Status::OK();
}

std::string PartitionName(int64_t from_us) {
  time_t t = static_cast<time_t>(FloorDiv(from_us, kUsPerS));
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "outbox_table_p%04d%02d%02d_%02d%02d%02d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

Status ListPartitions(const std::string& dsn, std::vector<PartitionInfo>* out) {
  return WithConnection(dsn, "listing outbox partitions", [&](pqxx::connection& c) {
    pqxx::read_transaction tx{c};
    *out = ReadPartitions(tx);
  });
}

Status MaintainPartitions(const std::string& dsn, const PartitionOptions& opts,
                          MaintenanceReport* report) {
  *report = MaintenanceReport{};
  if (opts.width.count() < 1) return Status::InvalidArgument("partition width must be >= 1 s");
  const int64_t width_us = opts.width.count() * kUsPerS;
  const int64_t grace_us = opts.grace.count() * kUsPerS;
  try {
    pqxx::connection c{WithConnectTimeout(dsn)};
    {
      pqxx::nontransaction tx{c};
      tx.exec0("SET lock_timeout = " + std::to_string(opts.lock_timeout.count()));
      // DETACH CONCURRENTLY waits for every transaction that may still use
      // the partition: bound that too.
      tx.exec0("SET statement_timeout = 60000");
      // pg_partman names partitions with to_char() and truncates to days in
      // the session's TimeZone: UTC, so its names and bounds match the
      // built-in ones (also UTC) whatever the server's setting.
      tx.exec0("SET TimeZone = 'UTC'");
      if (!tx.exec1("SELECT to_regclass('outbox_table') IS NOT NULL")[0].as<bool>()) {
        throw pqxx::usage_error("outbox_table does not exist (run `outbox write` first)");
      }
      if (!tx.exec1("SELECT pg_try_advisory_lock(" + std::to_string(kMaintenanceLockKey) + ")")[0]
               .as<bool>()) {
        report->skipped = true;
        return Status::OK();
      }
    }
    // The registration decides; the option only picks for a table nobody
    // registered yet.
    PartmanState partman = ReadPartmanState(c);
    const bool use_partman = partman.registered || opts.partitioner == Partitioner::kPartman;
    if (use_partman && !partman.registered) {
      Status s = EnsurePartmanExtension(c, &partman);
      if (!s.ok()) return s;  // (closing the connection releases the lock)
    }
    report->partitioner = use_partman ? "partman" : "builtin";
    auto list = [&] {
      pqxx::read_transaction tx{c};
      auto parts = ReadPartitions(tx);
      tx.commit();
      return parts;
    };
    auto quote = [&](const std::string& name) { return c.quote_name(name); };
    auto note_error = [&](const std::string& what, const std::exception& e) {
      report->errors.push_back(what + ": " + FirstLine(e.what()));
    };
    auto has_unsent = [&](const std::string& name) {
      pqxx::read_transaction tx{c};
      bool any = tx.exec1("SELECT EXISTS (SELECT 1 FROM " + quote(name) + " o WHERE " +
                          opts.unsent_predicate + ")")[0]
                     .as<bool>();
      tx.commit();
      return any;
    };
    auto attach = [&](const PartitionInfo& p) {
      pqxx::work tx{c};
      tx.exec0("ALTER TABLE outbox_table ATTACH PARTITION " + quote(p.name) + " FOR VALUES FROM (" +
               tx.quote(UtcLiteral(p.from_us)) + ") TO (" + tx.quote(UtcLiteral(p.to_us)) + ")");
      tx.commit();
    };
    // A detached table that is not attached any more, examined and dropped or re-attached.
    auto settle_detached = [&](const PartitionInfo& p) {
      if (has_unsent(p.name)) {
        attach(p);
        report->kept.push_back(p.name);
      } else {
        pqxx::work tx{c};
        tx.exec0("DROP TABLE " + quote(p.name));
        tx.commit();
        report->dropped.push_back(p.name);
      }
    };

    // Tables our own detach left standalone (a re-attach that failed): their
    // bounds were written into the table comment before the detach.
    {
      std::vector<PartitionInfo> orphans;
      {
        pqxx::read_transaction tx{c};
        for (const auto& r : tx.exec(
                 "SELECT c.relname, split_part(d.description, ':', 2)::bigint,"
                 " split_part(d.description, ':', 3)::bigint"
                 " FROM pg_class c JOIN pg_description d"
                 "  ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0"
                 " WHERE c.relkind = 'r' AND NOT c.relispartition"
                 " AND c.relnamespace = (SELECT relnamespace FROM pg_class"
                 "   WHERE oid = 'outbox_table'::regclass)"
                 " AND d.description LIKE 'dw_outbox_bounds:%'")) {
          orphans.push_back(
              {r[0].as<std::string>(), r[1].as<int64_t>(), r[2].as<int64_t>(), false, true});
        }
        tx.commit();
      }
      for (const auto& p : orphans) {
        try {
          if (opts.drop) {
            settle_detached(p);
          } else {
            attach(p);
          }
        } catch (const pqxx::broken_connection&) {
          throw;
        } catch (const std::exception& e) {
          note_error("re-attach " + p.name, e);
        }
      }
    }

    std::vector<PartitionInfo> parts = list();

    // 2. Pending detaches (a DETACH CONCURRENTLY cancelled in its second transaction).
    for (const auto& p : parts) {
      if (!p.detach_pending) continue;
      try {
        pqxx::nontransaction tx{c};
        tx.exec0("ALTER TABLE outbox_table DETACH PARTITION " + quote(p.name) + " FINALIZE");
        report->finalized.push_back(p.name);
        if (p.parsed && opts.drop) settle_detached(p);
      } catch (const pqxx::broken_connection&) {
        throw;
      } catch (const std::exception& e) {
        note_error("finalize " + p.name, e);
      }
    }
    if (!report->finalized.empty()) parts = list();

    // 3. Create ahead: the built-in way or pg_partman's.
    int64_t now_us;
    {
      pqxx::read_transaction tx{c};
      now_us = tx.exec1("SELECT (extract(epoch FROM now()) * 1000000)::bigint")[0].as<int64_t>();
      tx.commit();
    }
    auto create_builtin = [&] {
      // From the partition holding now - grace: an older one would be a drop
      // candidate at once (created and dropped on every pass).
      const int64_t start = FloorDiv(now_us - grace_us, width_us) * width_us;
      const int64_t end = (FloorDiv(now_us, width_us) + 1 + std::max(0, opts.ahead)) * width_us;
      for (int64_t a = start; a < end; a += width_us) {
        // [a, a + width) minus what existing partitions cover.
        std::vector<std::pair<int64_t, int64_t>> pieces = {{a, a + width_us}};
        for (const auto& p : parts) {
          if (!p.parsed) continue;
          std::vector<std::pair<int64_t, int64_t>> next;
          for (auto [x, y] : pieces) {
            if (p.to_us <= x || p.from_us >= y) {
              next.push_back({x, y});
              continue;
            }
            if (p.from_us > x) next.push_back({x, p.from_us});
            if (p.to_us < y) next.push_back({p.to_us, y});
          }
          pieces = std::move(next);
        }
        for (auto [x, y] : pieces) {
          PartitionInfo p{PartitionName(x), x, y, false, true};
          try {
            pqxx::work tx{c};
            tx.exec0("CREATE TABLE " + quote(p.name) +
                     " (LIKE outbox_table INCLUDING DEFAULTS INCLUDING CONSTRAINTS)");
            tx.exec0("ALTER TABLE outbox_table ATTACH PARTITION " + quote(p.name) +
                     " FOR VALUES FROM (" + tx.quote(UtcLiteral(x)) + ") TO (" +
                     tx.quote(UtcLiteral(y)) + ")");
            tx.commit();
            report->created.push_back(p.name);
            parts.push_back(p);
          } catch (const pqxx::broken_connection&) {
            throw;
          } catch (const std::exception& e) {
            note_error("create " + p.name, e);
          }
        }
      }
    };
    if (use_partman) {
      bool ok = false;
      PartmanCreateAhead(c, opts, now_us, list, &partman, report, &ok);
      parts = list();  // pg_partman created and renamed on its own
      if (!ok && !partman.registered) {
        // Registration failed (a lock timeout, a refused handover): writers
        // still need partitions. The next pass renames these for partman.
        report->notes.push_back("pg_partman not registered: partitions created the built-in way");
        create_builtin();
      }
    } else {
      create_builtin();  // (keeps `parts` up to date itself)
    }
    bool has_default;  // (after step 3: registering with pg_partman drops its DEFAULT)
    {
      pqxx::read_transaction tx{c};
      has_default = tx.exec1(
                          "SELECT partdefid <> 0 FROM pg_partitioned_table"
                          " WHERE partrelid = 'outbox_table'::regclass")[0]
                        .as<bool>();
      tx.commit();
    }

    // 4. Drop old partitions whose rows are all sent. Under pg_partman the
    // newest partition is never dropped: run_maintenance continues the
    // series from it (and does nothing without one).
    const PartitionInfo* newest = nullptr;
    for (const auto& p : parts) {
      if (p.parsed && !p.detach_pending && (!newest || p.to_us > newest->to_us)) newest = &p;
    }
    if (opts.drop) {
      for (const auto& p : parts) {
        if (!p.parsed || p.detach_pending || p.to_us > now_us - grace_us) continue;
        if (use_partman && &p == newest) continue;
        try {
          if (has_unsent(p.name)) {
            report->kept.push_back(p.name);
            continue;
          }
          {
            pqxx::nontransaction tx{c};
            tx.exec0("COMMENT ON TABLE " + quote(p.name) + " IS " +
                     tx.quote("dw_outbox_bounds:" + std::to_string(p.from_us) + ":" +
                              std::to_string(p.to_us)));
            tx.exec0("ALTER TABLE outbox_table DETACH PARTITION " + quote(p.name) +
                     (has_default ? "" : " CONCURRENTLY"));
          }
          settle_detached(p);
        } catch (const pqxx::broken_connection&) {
          throw;
        } catch (const std::exception& e) {
          note_error("drop " + p.name, e);
        }
      }
    }
    parts = list();
    report->partitions = static_cast<int>(
        std::count_if(parts.begin(), parts.end(), [](const auto& p) { return !p.detach_pending; }));
    pqxx::nontransaction tx{c};
    tx.exec("SELECT pg_advisory_unlock(" + std::to_string(kMaintenanceLockKey) + ")");
  } catch (...) {
    return StatusFromPgException(nullptr, "partition maintenance");
  }
  return Status::OK();
}

}  // namespace dw::outbox
