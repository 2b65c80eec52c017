#include "outbox/relay_runner.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include <pqxx/pqxx>

#include "common/backoff.h"
#include "outbox/key_partitions.h"
#include "outbox/pg_util.h"
#include "outbox/schema.h"

namespace dw::outbox {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kHousekeepingInterval = std::chrono::seconds(1);
// Waits are cut into slices so a stop request is noticed quickly.
constexpr auto kWaitSlice = std::chrono::milliseconds(250);

const char* const kWritersSql =
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND classid = 0 AND objid = $1::bigint::oid AND objsubid = 1)";

// One line at a time to the log, at most one error line per instance per second.
class Log {
 public:
  explicit Log(std::ostream* out) : out_(out) {}
  void Line(const std::string& s) {
    if (!out_) return;
    std::lock_guard<std::mutex> l(mu_);
    *out_ << s << "\n";
    out_->flush();
  }

 private:
  std::ostream* out_;
  std::mutex mu_;
};

class Stopper {
 public:
  Stopper(const RunnerOptions& o) : opts_(o), start_(Clock::now()) {}
  bool Stopped() const {
    if (opts_.stop && opts_.stop->load()) return true;
    if (done_.load()) return true;
    return opts_.max_run.count() > 0 && Clock::now() - start_ >= opts_.max_run;
  }
  void Finish() { done_ = true; }
  void Sleep(std::chrono::milliseconds d) {
    auto end = Clock::now() + d;
    while (!Stopped()) {
      auto now = Clock::now();
      if (now >= end) return;
      std::this_thread::sleep_for(std::min<Clock::duration>(end - now, kWaitSlice));
    }
  }

 private:
  const RunnerOptions& opts_;
  Clock::time_point start_;
  std::atomic<bool> done_{false};
};

struct InstanceResult {
  RelayCounters counters;
  uint64_t errors = 0;
  bool drained = false;
  std::string last_error;
};

void RunInstance(const RelayOptions& ro, const RunnerOptions& opts, int index, Stopper* stopper,
                 Log* log, InstanceResult* result) {
  const std::string tag =
      "[relay " + std::string(StrategyName(ro.strategy)) + "#" + std::to_string(index) + "] ";
  std::unique_ptr<Relay> relay;
  Status s = CreateRelay(ro, &relay);
  if (!s.ok()) {
    result->last_error = s.ToString();
    ++result->errors;
    log->Line(tag + s.ToString());
    return;
  }
  Backoff backoff;
  bool started = false;
  auto last_housekeeping = Clock::now();
  auto last_error_log = Clock::time_point{};
  uint64_t suppressed = 0;
  auto on_error = [&](const Status& st) {
    ++result->errors;
    result->last_error = st.ToString();
    auto now = Clock::now();
    if (now - last_error_log >= std::chrono::seconds(1)) {
      std::string extra =
          suppressed ? " (" + std::to_string(suppressed) + " more errors not shown)" : "";
      log->Line(tag + st.ToString() + extra + "; retrying");
      last_error_log = now;
      suppressed = 0;
    } else {
      ++suppressed;
    }
    stopper->Sleep(backoff.Next());
  };

  while (!stopper->Stopped()) {
    if (!started) {
      s = relay->Start();
      if (!s.ok()) {
        on_error(s);
        continue;
      }
      started = true;
    }
    int64_t moved = 0;
    s = relay->Step(&moved);
    if (!s.ok()) {
      on_error(s);
      continue;
    }
    backoff.Reset();
    if (Clock::now() - last_housekeeping >= kHousekeepingInterval) {
      last_housekeeping = Clock::now();
      std::string warning;
      s = relay->Housekeeping(&warning);
      if (!warning.empty()) log->Line(tag + warning);
      if (!s.ok()) on_error(s);
    }
    if (moved >= ro.batch) continue;
    if (opts.until_drained && moved == 0) {
      bool writers = true;
      s = WritersRunning(ro.dsn, &writers);
      if (!s.ok()) {
        on_error(s);
        continue;
      }
      if (!writers) {
        bool drained = false;
        s = relay->Drained(&drained);
        if (!s.ok()) {
          on_error(s);
          continue;
        }
        if (drained) {
          result->drained = true;
          break;
        }
      }
    }
    // Wait for a wake-up, or the poll interval, in slices.
    auto end = Clock::now() + ro.poll_interval;
    while (!stopper->Stopped()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      if (left.count() <= 0) break;
      if (relay->WaitForWork(std::min(left, std::chrono::milliseconds(kWaitSlice)))) break;
      if (opts.until_drained) break;  // re-check the drain condition often
    }
  }
  result->counters = relay->counters();
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out;
}

}  // namespace

nlohmann::json RelayReport::ToJson() const {
  nlohmann::json j = {{"strategy", strategy},
                      {"instances", instances},
                      {"published", published},
                      {"batches", steps},
                      {"errors", errors},
                      {"elapsed_s", elapsed_s},
                      {"rate_per_s", elapsed_s > 0 ? published / elapsed_s : 0.0},
                      {"drained", drained},
                      {"table_stats", table_stats},
                      {"maintenance", maintenance}};
  if (strategy == "status") j["reaped"] = reaped;
  if (!last_error.empty()) j["last_error"] = last_error;
  return j;
}

std::string RelayReport::ToText() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "relay %s x%d: published %llu in %llu batches, %.2f s (%.0f events/s), "
                "errors %llu%s\n",
                strategy.c_str(), instances, static_cast<unsigned long long>(published),
                static_cast<unsigned long long>(steps), elapsed_s,
                elapsed_s > 0 ? published / elapsed_s : 0.0,
                static_cast<unsigned long long>(errors), drained ? ", drained" : "");
  std::string out = buf;
  if (strategy == "status") out += "reaped: " + std::to_string(reaped) + "\n";
  if (!table_stats.empty()) out += "outbox_table stats: " + table_stats.dump() + "\n";
  if (!maintenance.empty()) out += "partition maintenance: " + maintenance.dump() + "\n";
  if (!last_error.empty()) out += "last error: " + last_error + "\n";
  return out;
}

Status WritersRunning(const std::string& dsn, bool* running) {
  return WithConnection(dsn, "looking for running writers", [&](pqxx::connection& c) {
    pqxx::nontransaction tx{c};
    *running = tx.exec_params(kWritersSql, kWriterLockKey)[0][0].as<bool>();
  });
}

Status OutboxTableStats(const std::string& dsn, nlohmann::json* out) {
  return WithConnection(dsn, "reading outbox_table statistics", [&](pqxx::connection& c) {
    pqxx::nontransaction tx{c};
    auto r = tx.exec1(
        "SELECT COALESCE(sum(n_live_tup), 0)::bigint, COALESCE(sum(n_dead_tup), 0)::bigint,"
        " COALESCE(sum(n_tup_ins), 0)::bigint, COALESCE(sum(n_tup_upd), 0)::bigint,"
        " COALESCE(sum(n_tup_hot_upd), 0)::bigint, COALESCE(sum(n_tup_del), 0)::bigint,"
        " COALESCE(sum(vacuum_count), 0)::bigint, COALESCE(sum(autovacuum_count), 0)::bigint,"
        " COALESCE(sum(autoanalyze_count), 0)::bigint, count(*)"
        " FROM pg_stat_user_tables s JOIN pg_inherits i ON i.inhrelid = s.relid"
        " WHERE i.inhparent = to_regclass('outbox_table')");
    *out = {{"n_live_tup", r[0].as<int64_t>()},        {"n_dead_tup", r[1].as<int64_t>()},
            {"n_tup_ins", r[2].as<int64_t>()},         {"n_tup_upd", r[3].as<int64_t>()},
            {"n_tup_hot_upd", r[4].as<int64_t>()},     {"n_tup_del", r[5].as<int64_t>()},
            {"vacuum_count", r[6].as<int64_t>()},      {"autovacuum_count", r[7].as<int64_t>()},
            {"autoanalyze_count", r[8].as<int64_t>()}, {"partitions", r[9].as<int64_t>()}};
  });
}

Status RunRelays(const RelayOptions& relay, const RunnerOptions& opts, RelayReport* report) {
  *report = RelayReport{};
  report->strategy = StrategyName(relay.strategy);
  report->instances = opts.instances;
  if (opts.instances < 1) return Status::InvalidArgument("instances must be >= 1");
  if (relay.strategy == Strategy::kCdc && opts.instances != 1) {
    return Status::InvalidArgument(
        "cdc runs one instance per replication slot (Postgres allows one consumer per slot)");
  }
  if (relay.strategy == Strategy::kPgq && opts.instances != 1) {
    return Status::InvalidArgument(
        "pgq runs one instance: a PgQ consumer reads its batches one at a time");
  }
  if (opts.partition_by_key && relay.strategy != Strategy::kSkipLocked) {
    return Status::InvalidArgument("--partition-by key is for --strategy skip-locked only");
  }
  Status s = EnsureSchema(relay.dsn);
  if (!s.ok()) return s;
  // Once, before the instances race to add it.
  if (opts.partition_by_key) {
    s = EnsureKeyPartitionIndex(relay.dsn, opts.instances, relay.mark_sent);
  }
  if (!s.ok()) return s;

  Log log(opts.log);
  Stopper stopper(opts);
  const auto t0 = Clock::now();

  // Partition maintenance: a first pass now (so writers find partitions),
  // then every maintain_interval until the instances are done.
  PartitionOptions po = opts.partitions;
  po.unsent_predicate = UnsentPredicate(relay);
  int created = 0, dropped = 0;
  std::string partitioner = PartitionerName(po.partitioner);  // what the passes found
  auto maintain = [&] {
    MaintenanceReport mr;
    Status ms = MaintainPartitions(relay.dsn, po, &mr);
    if (!ms.ok()) {
      log.Line("[maintenance] " + ms.ToString());
      return;
    }
    if (!mr.skipped) partitioner = mr.partitioner;
    created += static_cast<int>(mr.created.size());
    dropped += static_cast<int>(mr.dropped.size());
    if (!mr.created.empty()) log.Line("[maintenance] created " + Join(mr.created));
    if (!mr.dropped.empty()) log.Line("[maintenance] dropped " + Join(mr.dropped));
    for (const auto& e : mr.errors) log.Line("[maintenance] " + e);
  };
  std::mutex mu;
  std::condition_variable cv;
  bool instances_done = false;
  std::thread maintainer;
  if (opts.maintain) {
    maintain();
    maintainer = std::thread([&] {
      std::unique_lock<std::mutex> l(mu);
      for (;;) {
        cv.wait_for(l, opts.maintain_interval, [&] { return instances_done; });
        if (instances_done) return;
        l.unlock();
        maintain();
        l.lock();
      }
    });
  }

  std::vector<InstanceResult> results(opts.instances);
  std::vector<std::thread> threads;
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  for (int i = 0; i < opts.instances; ++i) {
    RelayOptions ro = relay;
    ro.instance_name = std::string(host) + ":" + std::to_string(getpid()) + ":" + std::to_string(i);
    if (opts.partition_by_key) {
      ro.key_partitions = opts.instances;
      ro.key_partition = i;
    }
    threads.emplace_back(RunInstance, ro, std::cref(opts), i, &stopper, &log, &results[i]);
  }
  for (auto& t : threads) t.join();
  {
    std::lock_guard<std::mutex> l(mu);
    instances_done = true;
  }
  cv.notify_all();
  if (maintainer.joinable()) maintainer.join();

  report->elapsed_s = std::chrono::duration<double>(Clock::now() - t0).count();
  report->drained = true;
  for (const auto& r : results) {
    report->published += r.counters.published;
    report->steps += r.counters.steps;
    report->reaped += r.counters.reaped;
    report->errors += r.errors;
    report->drained = report->drained && r.drained;
    if (!r.last_error.empty()) report->last_error = r.last_error;
  }
  if (opts.maintain) {
    report->maintenance = {
        {"created", created}, {"dropped", dropped}, {"partitioner", partitioner}};
  }
  nlohmann::json stats;
  if (OutboxTableStats(relay.dsn, &stats).ok()) report->table_stats = stats;
  return Status::OK();
}

}  // namespace dw::outbox
