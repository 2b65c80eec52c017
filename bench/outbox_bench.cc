// The outbox, measured against raw SQL baselines in the same run
// (the machine is shared and noisy: only ratios within one run mean much):
//
//   pair/<strategy>/batch:B     PAIRED: a pre-filled outbox of R rows drained by
//                               `RunRelays --until-drained` (publishing to a
//                               broker of the benchmark's own, fsync batch),
//                               and the strategy's raw SQL baseline on the same
//                               R rows, alternately (drain first, then baseline
//                               first, ...), $DW_BENCH_REPEATS pairs for
//                               skip-locked (default 3), $DW_BENCH_OTHER_REPEATS
//                               for the others (default 1). Reports each pair's
//                               ratio and the median. Baselines (no broker):
//                               skip-locked: BEGIN; DELETE ... RETURNING; COMMIT
//                               status: claim UPDATE; mark-sent UPDATE
//                               offset: SELECT past the position; counter UPDATE
//                               (cdc is paired with the skip-locked baseline)
//   cleanup/delete/rows:R       DELETE of R rows of one partition
//   cleanup/drop/rows:R         DETACH CONCURRENTLY + DROP TABLE of that partition
//                               (time and WAL bytes; R = rows/4 and rows show
//                               that dropping stays flat while DELETE grows)
//   write/explicit|trigger/c:C  the writer, N orders at concurrency C: the
//                               explicit outbox insert vs the capture trigger;
//   write/pgbench/c:C           pgbench -M prepared running the same two inserts.
//   latency/<strategy>/traced:T end-to-end latency at a steady 1,000 orders/s
//                               (skip-locked with NOTIFY wake-ups, cdc): from the
//                               writer's commit acknowledgement (PlaceOrder
//                               returned) to a reader polling the broker seeing
//                               the message; also placed -> readable (an upper
//                               bound: it includes the order's own commit).
//                               traced:1 records the relay's steps (Trace) and
//                               splits the time into wake-up, claim, publish, read.
//   keepup/<strategy>/instances:K  the writer at C=16 flat out for
//                               $DW_BENCH_KEEPUP_SECONDS (default 15) with the
//                               relay running; every 500 ms the messages behind
//                               (rows written - messages at the broker) and, for
//                               cdc, the slot's lag in bytes; then the time to
//                               catch up once the writer stops.
//
// R = $DW_BENCH_OUTBOX_ROWS (default 200,000; the recorded run used 1,000,000).
// $DW_BENCH_PIPELINE=1: skip-locked relays run with RelayOptions::pipeline
// (`--pipeline`: the next batch is claimed while one is published).
// Postgres: $DW_BENCH_DSN, else an embedded environment (bench_util.h); a
// database dw_bench_outbox is recreated. Each benchmark is one Google
// Benchmark iteration (Iterations(1)); the pairs repeat inside it.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "bench/bench_util.h"
#include "common/histogram.h"
#include "common/process.h"
#include "common/trace.h"
#include "env/scratch_database.h"
#include "outbox/partitions.h"
#include "outbox/relay_runner.h"
#include "outbox/relay_skip_locked.h"
#include "outbox/schema.h"
#include "outbox/writer.h"
#include "workload/load_runner.h"
#include "workload/orders.h"

namespace dw::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::string g_dsn;
std::string g_dir;  // scratch files
std::unique_ptr<BrokerServer> g_broker;
int64_t g_rows = 200000;
// Pre-filled event ids ("order-<id>") never repeat across runs, since the
// broker must store each; they start far above the ids the writer's
// allocator hands out (orders_id_seq), which the broker would otherwise
// deduplicate against them.
int64_t g_next_id = 1000000000000;
std::mutex g_mu;
std::map<std::string, double> g_rate;                        // name -> rows/s (or orders/s)
std::map<std::string, std::pair<double, double>> g_cleanup;  // name -> (ms, WAL bytes)

void Check(const Status& s) {
  if (!s.ok()) throw std::runtime_error(s.ToString());
}

void Exec(const std::string& sql) {
  pqxx::connection c{g_dsn};
  pqxx::nontransaction tx{c};
  tx.exec(sql);
}

int64_t Int(pqxx::transaction_base& tx, const std::string& sql) {
  return tx.exec1(sql)[0].as<int64_t>();
}

// R rows of ~200-byte events into the outbox, ids never used before.
void Prefill(int64_t rows) {
  pqxx::connection c{g_dsn};
  pqxx::work tx{c};
  tx.exec("TRUNCATE outbox_table");
  tx.exec("DELETE FROM outbox_counter");
  const int64_t a = g_next_id, b = g_next_id + rows - 1;
  g_next_id += rows;
  tx.exec(
      "INSERT INTO outbox_table (entity_name, event_id, topic, msg_key, payload)"
      " SELECT 'order', 'order-' || g, 'orders', g::text,"
      " json_build_object('type', 'OrderPlaced', 'order_id', g, 'customer', 'customer-' || (g % "
      "1000), 'amount_cents', 100 + g % 100000, 'placed_at_us', 0)::text"
      " FROM generate_series(" +
      std::to_string(a) + ", " + std::to_string(b) + ") g");
  tx.commit();
  pqxx::nontransaction n{c};
  n.exec("VACUUM ANALYZE outbox_table");
}

void Keep(const std::string& name, double rate) {
  std::lock_guard<std::mutex> l(g_mu);
  g_rate[name] = rate;
}

// One drain of a freshly pre-filled outbox; rows/s (published / seconds) and
// the dead tuples it left.
double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int EnvInt(const char* name, int def) {
  const char* v = std::getenv(name);
  return v && std::atoi(v) > 0 ? std::atoi(v) : def;
}

// The Send and Reply events of a relay's trace, by batch id, in time order.
std::map<std::string, std::vector<Trace::Event>> MessagesByBatch(const Trace& trace) {
  std::map<std::string, std::vector<Trace::Event>> by_id;
  for (Trace::Event& e : trace.Events()) {
    if (e.kind != Trace::Kind::kNote) by_id[e.id].push_back(std::move(e));
  }
  return by_id;
}

bool IsSend(const Trace::Event& e) { return e.kind == Trace::Kind::kSend; }

// The first order id named "order-N" in `s`, or -1.
int64_t FirstOrderId(const std::string& s) {
  size_t p = s.find("order-");
  if (p == std::string::npos) return -1;
  return std::atoll(s.c_str() + p + 6);
}

// skip-locked drains are traced per batch (a few events per batch): where a
// batch's time goes, median ms per batch.
struct BatchParts {
  double claim = 0, publish = 0, settle = 0, other = 0;
  int64_t batches = 0;
};

// The relay options every benchmark uses: the bench database and broker,
// the bench's slot name (cdc).
outbox::RelayOptions BenchRelay(outbox::Strategy strategy, int batch) {
  outbox::RelayOptions ro;
  ro.dsn = g_dsn;
  ro.broker_url = g_broker->url();
  ro.strategy = strategy;
  ro.batch = batch;
  ro.slot = "dw_bench_outbox";
  ro.pipeline = strategy == outbox::Strategy::kSkipLocked && EnvInt("DW_BENCH_PIPELINE", 0) > 0;
  return ro;
}

outbox::RunnerOptions BenchRunner(int instances, bool until_drained) {
  outbox::RunnerOptions rn;
  rn.until_drained = until_drained;
  rn.maintain = false;
  rn.log = &std::cerr;
  rn.instances = instances;
  return rn;
}

// cdc only: creates the slot (one drained run) before rows are written, so
// that they are streamed from the WAL, not read by the slot's initial copy.
Status CreateSlotFirst(const outbox::RelayOptions& ro, outbox::RunnerOptions rn) {
  if (ro.strategy != outbox::Strategy::kCdc) return Status::OK();
  rn.until_drained = true;
  outbox::RelayReport report;
  return outbox::RunRelays(ro, rn, &report);
}

void DropSlot(outbox::Strategy strategy) {
  if (strategy == outbox::Strategy::kCdc) {
    Exec("SELECT pg_drop_replication_slot('dw_bench_outbox')");
  }
}

// A writer on the bench database; NOTIFY off unless `notify`.
std::unique_ptr<outbox::OutboxWriter> BenchWriter(int connections, bool notify,
                                                  bool trigger = false) {
  outbox::WriterOptions wo;
  wo.dsn = g_dsn;
  wo.connections = connections;
  wo.trigger = trigger;
  wo.seed = static_cast<uint64_t>(g_next_id);
  if (!notify) wo.notify = outbox::WriterOptions::NotifyMode::kOff;
  std::unique_ptr<outbox::OutboxWriter> w;
  Check(outbox::OutboxWriter::Open(wo, &w));
  return w;
}

std::unique_ptr<BrokerClient> BenchBrokerClient() {
  BrokerClient::Options bo;
  bo.url = g_broker->url();
  std::unique_ptr<BrokerClient> client;
  Check(BrokerClient::Create(bo, &client));
  return client;
}

Status DrainOnce(outbox::Strategy strategy, int batch, int instances, double* rate, double* dead,
                 BatchParts* parts) {
  outbox::RelayOptions ro = BenchRelay(strategy, batch);
  outbox::RunnerOptions rn = BenchRunner(instances, /*until_drained=*/true);
  Trace trace(10000000, "relay");
  if (strategy == outbox::Strategy::kSkipLocked) ro.trace = &trace;
  if (strategy == outbox::Strategy::kCdc) Exec("TRUNCATE outbox_table");
  Status s = CreateSlotFirst(ro, rn);
  if (!s.ok()) return s;
  Prefill(g_rows);
  outbox::RelayReport report;
  auto t0 = Clock::now();
  s = outbox::RunRelays(ro, rn, &report);
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  DropSlot(strategy);
  if (!s.ok()) return s;
  if (static_cast<int64_t>(report.published) < g_rows) {
    return Status::IOError("drain published " + std::to_string(report.published) + " of " +
                           std::to_string(g_rows) + " rows");
  }
  *rate = report.published / secs;
  *dead = report.table_stats.value("n_dead_tup", 0);
  if (ro.trace) {
    std::vector<double> claim, publish, settle, step;
    for (const auto& [bid, evs] : MessagesByBatch(trace)) {
      double cs = -1, cr = -1, ps = -1, pr = -1, ss = -1, sr = -1;
      for (const auto& e : evs) {
        const double ms = e.t_us / 1000.0;
        if (e.actor == "broker") {
          (IsSend(e) ? ps : pr) = ms;
        } else if (IsSend(e) && e.what.starts_with("BEGIN")) {
          cs = ms;
        } else if (!IsSend(e) && cr < 0 && cs >= 0) {
          cr = ms;
        } else if (IsSend(e) && e.what == "COMMIT") {
          ss = ms;
        } else if (!IsSend(e) && ss >= 0) {
          sr = ms;
        }
      }
      if (cs < 0 || cr < 0 || ps < 0 || pr < 0 || ss < 0 || sr < 0) continue;
      claim.push_back(cr - cs);
      publish.push_back(pr - ps);
      settle.push_back(sr - ss);
      step.push_back(sr - cs);
    }
    parts->claim = Median(claim);
    parts->publish = Median(publish);
    parts->settle = Median(settle);
    parts->other = Median(step) - parts->claim - parts->publish - parts->settle;
    parts->batches = static_cast<int64_t>(claim.size());
  }
  return Status::OK();
}

enum class Baseline { kSkipLocked, kStatus, kOffset };

const char* BaselineName(Baseline kind) {
  return kind == Baseline::kSkipLocked ? "skip-locked"
         : kind == Baseline::kStatus   ? "status"
                                       : "offset";
}

// The strategy's own statements looped over libpq on a freshly pre-filled
// outbox, no broker, ordinary (synchronous) commits; rows/s.
Status BaselineOnce(Baseline kind, int batch, double* rate) {
  Prefill(g_rows);
  try {
    pqxx::connection c{g_dsn};
    c.prepare("skip", outbox::kSkipLockedClaimSql);
    c.prepare("claim",
              "UPDATE outbox_table SET status = 'locked', locked_at = now(), locked_by = 'b'"
              " WHERE (id, created_dttm) IN (SELECT id, created_dttm FROM outbox_table"
              "  WHERE status = 'new' ORDER BY created_dttm LIMIT $1 FOR UPDATE SKIP LOCKED)"
              " RETURNING id, topic, event_id, msg_key, payload");
    c.prepare("mark",
              "UPDATE outbox_table SET status = 'sent', locked_at = NULL, locked_by = NULL"
              " WHERE id = ANY($1::bigint[]) AND status <> 'sent'");
    c.prepare("read",
              "SELECT id, topic, event_id, msg_key, payload FROM outbox_table WHERE id > $1"
              " ORDER BY id LIMIT $2");
    c.prepare("advance",
              "UPDATE outbox_counter SET counter_value = $1 WHERE counter_key = 'bench'");
    {
      pqxx::nontransaction tx{c};
      tx.exec("INSERT INTO outbox_counter (counter_key, counter_value) VALUES ('bench', 0)");
    }
    int64_t moved = 0, pos = 0;
    auto t0 = Clock::now();
    for (;;) {
      pqxx::work tx{c};
      pqxx::result r;
      if (kind == Baseline::kSkipLocked) {
        r = tx.exec_prepared("skip", batch);
      } else if (kind == Baseline::kStatus) {
        r = tx.exec_prepared("claim", batch);
        tx.commit();
        if (r.empty()) break;
        std::string ids = "{";
        for (size_t i = 0; i < r.size(); ++i) ids += (i ? "," : "") + r[i][0].as<std::string>();
        ids += "}";
        pqxx::work tx2{c};
        tx2.exec_prepared("mark", ids);
        tx2.commit();
        moved += r.size();
        continue;
      } else {
        tx.exec("SELECT counter_value FROM outbox_counter WHERE counter_key = 'bench' FOR UPDATE");
        r = tx.exec_prepared("read", pos, batch);
        if (!r.empty()) {
          pos = r[r.size() - 1][0].as<int64_t>();
          tx.exec_prepared("advance", pos);
        }
      }
      tx.commit();
      if (r.empty()) break;
      moved += r.size();
    }
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    *rate = moved / secs;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("baseline: ") + e.what());
  }
  return Status::OK();
}

struct PairResult {
  std::string baseline;
  std::vector<double> drain, base, ratio;  // per pair
  std::vector<bool> drain_first;
  double dead = 0;
  std::vector<BatchParts> parts;  // skip-locked, per pair
};
std::map<std::string, PairResult> g_pairs;  // "<strategy>/<batch>"

// Drain and baseline PAIRED: the disk's fsync latency flips between ~0.2 and
// ~4 ms from one minute to the next (README, "Why some benchmarks are
// paired"), so a drain and a baseline run minutes apart are not comparable.
// Each pair runs the two back to back, alternating which goes first, and the
// ratio is judged per pair and by its median over the pairs.
void BM_Pair(benchmark::State& state, outbox::Strategy strategy) {
  const int batch = static_cast<int>(state.range(0));
  const int instances = static_cast<int>(state.range(1));
  const Baseline kind =
      strategy == outbox::Strategy::kStatus ? Baseline::kStatus
      : strategy == outbox::Strategy::kOffsetNaive || strategy == outbox::Strategy::kOffsetSafe
          ? Baseline::kOffset
          : Baseline::kSkipLocked;
  const int repeats = strategy == outbox::Strategy::kSkipLocked
                          ? EnvInt("DW_BENCH_REPEATS", 3)
                          : EnvInt("DW_BENCH_OTHER_REPEATS", 1);
  for (auto _ : state) {
    PairResult pr;
    pr.baseline = BaselineName(kind);
    double total_s = 0;
    for (int r = 0; r < repeats; ++r) {
      const bool drain_first = r % 2 == 0;
      double d = 0, b = 0, dead = 0;
      BatchParts parts;
      for (int k = 0; k < 2; ++k) {
        Status s = (k == 0) == drain_first
                       ? DrainOnce(strategy, batch, instances, &d, &dead, &parts)
                       : BaselineOnce(kind, batch, &b);
        if (!s.ok()) {
          state.SkipWithError(s.ToString().c_str());
          return;
        }
      }
      total_s += g_rows / d + g_rows / b;
      pr.drain.push_back(d);
      pr.base.push_back(b);
      pr.ratio.push_back(d / b);
      pr.drain_first.push_back(drain_first);
      pr.dead = dead;
      pr.parts.push_back(parts);
      std::fprintf(stderr,
                   "  pair %d/%d %s batch %d x%d: drain %.0f rows/s, baseline %.0f, %.2fx;"
                   " per batch (median ms): claim %.2f publish %.2f settle %.2f other %.2f\n",
                   r + 1, repeats, outbox::StrategyName(strategy), batch, instances, d, b, d / b,
                   parts.claim, parts.publish, parts.settle, parts.other);
    }
    state.SetIterationTime(total_s);
    state.counters["drain_rows_per_s"] = Median(pr.drain);
    state.counters["baseline_rows_per_s"] = Median(pr.base);
    state.counters["ratio_median"] = Median(pr.ratio);
    for (size_t i = 0; i < pr.ratio.size(); ++i) {
      state.counters["ratio_" + std::to_string(i + 1)] = pr.ratio[i];
    }
    state.counters["dead_tup"] = pr.dead;
    state.counters["pairs"] = repeats;
    std::lock_guard<std::mutex> l(g_mu);
    g_pairs[std::string(outbox::StrategyName(strategy)) + "/" + std::to_string(batch) +
            (instances > 1 ? "/x" + std::to_string(instances) : "")] = pr;
  }
}

// DELETE vs DROP of one partition holding `rows` rows (a range in 2000, far
// from the live partitions).
void BM_Cleanup(benchmark::State& state, bool drop) {
  const int64_t rows = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    pqxx::connection c{g_dsn};
    {
      pqxx::work tx{c};
      tx.exec("DROP TABLE IF EXISTS outbox_table_bench_old");
      tx.exec("CREATE TABLE outbox_table_bench_old (LIKE outbox_table INCLUDING DEFAULTS)");
      tx.exec(
          "ALTER TABLE outbox_table ATTACH PARTITION outbox_table_bench_old"
          " FOR VALUES FROM ('2000-01-01 00:00:00+00') TO ('2000-01-02 00:00:00+00')");
      tx.exec(
          "INSERT INTO outbox_table (entity_name, event_id, topic, msg_key, payload,"
          " created_dttm, status) SELECT 'order', 'order-' || g, 'orders', g::text,"
          " repeat('x', 180), '2000-01-01 12:00:00+00', 'sent'"
          " FROM generate_series(1, " +
          std::to_string(rows) + ") g");
      tx.commit();
    }
    {
      pqxx::nontransaction n{c};
      n.exec("CHECKPOINT");
    }
    std::string lsn0;
    {
      pqxx::nontransaction n{c};
      lsn0 = n.exec1("SELECT pg_current_wal_insert_lsn()::text")[0].as<std::string>();
    }
    state.ResumeTiming();
    auto t0 = Clock::now();
    if (drop) {
      pqxx::nontransaction n{c};
      n.exec("ALTER TABLE outbox_table DETACH PARTITION outbox_table_bench_old CONCURRENTLY");
      n.exec("DROP TABLE outbox_table_bench_old");
    } else {
      pqxx::work tx{c};
      tx.exec("DELETE FROM outbox_table WHERE created_dttm < '2000-01-02 00:00:00+00'");
      tx.commit();
    }
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    state.SetIterationTime(secs);
    double wal;
    {
      pqxx::nontransaction n{c};
      wal = static_cast<double>(
          Int(n, "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '" + lsn0 + "')::bigint"));
      n.exec("DROP TABLE IF EXISTS outbox_table_bench_old");
    }
    state.counters["wal_bytes"] = wal;
    std::lock_guard<std::mutex> l(g_mu);
    g_cleanup[std::string(drop ? "drop" : "delete") + "/" + std::to_string(rows)] = {secs * 1000,
                                                                                     wal};
  }
}

void BM_Write(benchmark::State& state, bool trigger) {
  const int c = static_cast<int>(state.range(0));
  const int64_t n = std::max<int64_t>(2000, g_rows / 20);
  for (auto _ : state) {
    state.PauseTiming();
    if (trigger) {
      Check(outbox::InstallCaptureTrigger(g_dsn));
    } else {
      Check(outbox::RemoveCaptureTrigger(g_dsn));
    }
    Exec("TRUNCATE outbox_table");
    std::unique_ptr<outbox::OutboxWriter> w = BenchWriter(c, /*notify=*/false, trigger);
    state.ResumeTiming();
    workload::LoadOptions lo;
    lo.transactions = n;
    lo.concurrency = c;
    lo.progress = false;
    auto sum = workload::RunLoad(lo, [&](int worker, int64_t i) {
      int64_t id;
      return w->PlaceOrder(worker, i, &id).ok() ? workload::Outcome::kCommitted
                                                : workload::Outcome::kFailed;
    });
    state.SetIterationTime(sum.elapsed_s);
    state.counters["orders_per_s"] = sum.throughput_per_s;
    state.counters["p50_us"] = static_cast<double>(sum.latency.Percentile(0.5));
    Keep(std::string("write/") + (trigger ? "trigger" : "explicit") + "/" + std::to_string(c),
         sum.throughput_per_s);
  }
  Check(outbox::RemoveCaptureTrigger(g_dsn));
}

struct LatencyResult {
  double ack_p50 = 0, ack_p99 = 0, placed_p50 = 0, placed_p99 = 0;  // ms
  int64_t samples = 0;
  // Segment name -> (p50, p99) ms, from the traced run.
  std::vector<std::pair<std::string, std::pair<double, double>>> parts;
};
std::map<std::string, LatencyResult> g_latency;  // "<strategy>" or "<strategy>/traced"

std::pair<double, double> P50P99Ms(std::vector<double> v) {
  if (v.empty()) return {0, 0};
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)] / 1000.0;
  };
  return {at(0.5), at(0.99)};
}

// End-to-end latency at a steady 1,000 orders/s for 10 s. The relay runs
// in-process as a long-running relay does (no --until-drained, which would
// make it check for writers with a new connection whenever it idles), with
// NOTIFY after-commit wake-ups for skip-locked. Measured per order, matched by
// order id: from the moment PlaceOrder returned (the writer's commit
// acknowledgement) to the moment a reader polling the broker sees the
// message; and from placed_at_us in the payload (taken just BEFORE the
// order's transaction, so it includes the order's own commit: an upper bound).
void BM_Latency(benchmark::State& state, outbox::Strategy strategy) {
  const bool traced = state.range(0) != 0;
  const int64_t n = EnvInt("DW_BENCH_LATENCY_ORDERS", 10000);
  for (auto _ : state) {
    state.PauseTiming();
    Exec("TRUNCATE outbox_table");
    outbox::RelayOptions ro = BenchRelay(strategy, 100);
    outbox::RunnerOptions rn = BenchRunner(1, /*until_drained=*/false);
    Check(CreateSlotFirst(ro, rn));
    std::unique_ptr<BrokerClient> reader = BenchBrokerClient();
    uint64_t from = 0;
    for (;;) {  // start after what earlier benchmarks published
      std::vector<BrokerMessage> ms;
      uint64_t next = from;
      Check(reader->Read("orders", from, 10000, &ms, &next));
      if (ms.empty()) break;
      from = next;
    }
    // cdc needs no wake-up: nobody listens.
    std::unique_ptr<outbox::OutboxWriter> w =
        BenchWriter(4, /*notify=*/strategy != outbox::Strategy::kCdc);
    Trace trace(1000000, "relay");
    const auto t0 = Clock::now();  // the trace's origin, within a microsecond
    auto since = [&] {
      return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    };
    if (traced) ro.trace = &trace;
    std::atomic<bool> stop{false};
    rn.stop = &stop;
    outbox::RelayReport report;
    // A relay that fails shows as messages that never arrive, which the
    // reader's deadline bounds.
    std::thread relay([&] { (void)outbox::RunRelays(ro, rn, &report); });
    // Per order index: id and acknowledgement time (µs since t0).
    std::vector<int64_t> ids(n, -1);
    std::vector<double> acked(n, 0);
    // Per order id seen at the broker: (µs since t0, unix µs seen - placed_at_us).
    std::unordered_map<int64_t, std::pair<double, int64_t>> seen;
    std::thread rd([&] {
      int64_t count = 0;
      auto deadline = Clock::now() + std::chrono::seconds(60 + n / 1000);
      while (count < n && Clock::now() < deadline) {
        std::vector<BrokerMessage> ms;
        uint64_t next = from;
        if (!reader->Read("orders", from, 1000, &ms, &next).ok() || ms.empty()) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          continue;
        }
        const double at = since();
        const int64_t now = workload::NowMicros();
        for (const auto& m : ms) {
          auto j = nlohmann::json::parse(m.payload, nullptr, false);
          if (!j.is_object() || !j.contains("order_id")) continue;
          seen[j["order_id"].get<int64_t>()] = {at, now - j.value("placed_at_us", now)};
        }
        count += static_cast<int64_t>(ms.size());
        from = next;
      }
    });
    state.ResumeTiming();
    workload::LoadOptions lo;
    lo.transactions = n;
    lo.concurrency = 4;
    lo.rate = 1000;
    lo.progress = false;
    auto sum = workload::RunLoad(lo, [&](int worker, int64_t i) {
      int64_t id;
      if (!w->PlaceOrder(worker, i, &id).ok()) return workload::Outcome::kFailed;
      acked[i] = since();
      ids[i] = id;
      return workload::Outcome::kCommitted;
    });
    rd.join();
    stop = true;
    relay.join();
    w.reset();
    state.SetIterationTime(sum.elapsed_s);

    std::unordered_map<int64_t, double> ack_of;
    std::vector<double> ack_lat, placed_lat;
    for (int64_t i = 0; i < n; ++i) {
      if (ids[i] < 0) continue;
      ack_of[ids[i]] = acked[i];
      auto it = seen.find(ids[i]);
      if (it == seen.end()) continue;
      ack_lat.push_back(it->second.first - acked[i]);
      placed_lat.push_back(static_cast<double>(it->second.second));
    }
    LatencyResult res;
    std::tie(res.ack_p50, res.ack_p99) = P50P99Ms(ack_lat);
    std::tie(res.placed_p50, res.placed_p99) = P50P99Ms(placed_lat);
    res.samples = static_cast<int64_t>(ack_lat.size());
    if (traced) {
      // Where the time goes, per relay batch, for the batch's first message:
      //   skip-locked: wake-up (ack -> the claim is sent: NOTIFY, LISTEN,
      //   relay loop), claim (BEGIN + DELETE ... RETURNING), publish (the
      //   broker's batch request, its fsync included), read (broker reply ->
      //   the reader saw it: the reader's polling), settle (COMMIT; off the
      //   visibility path).
      //   cdc: wal (ack -> the first XLogData of the batch arrives: the WAL
      //   sender's wake-up, decoding, transfer; negative when it beats the
      //   writer's own ack), buffer (-> publish sent), publish, read.
      std::map<std::string, std::vector<double>> seg;
      for (const auto& [bid, evs] : MessagesByBatch(trace)) {
        double claim_s = -1, claim_r = -1, pub_s = -1, pub_r = -1, set_s = -1, set_r = -1,
               first = -1;
        int64_t order = -1;
        for (const auto& e : evs) {
          const double us = static_cast<double>(e.t_us);
          if (first < 0) first = us;
          if (e.actor == "broker") {
            if (IsSend(e) && pub_s < 0) {
              pub_s = us;
              order = FirstOrderId(e.what);
            } else if (!IsSend(e)) {
              pub_r = us;
            }
          } else if (e.actor == "postgres") {
            if (IsSend(e) && e.what.starts_with("BEGIN")) claim_s = us;
            if (!IsSend(e) && claim_r < 0 && claim_s >= 0) claim_r = us;
            if (IsSend(e) && e.what == "COMMIT") set_s = us;
            if (!IsSend(e) && set_s >= 0) set_r = us;
          }
        }
        if (order < 0 || pub_r < 0) continue;
        auto a = ack_of.find(order);
        auto sn = seen.find(order);
        if (a == ack_of.end() || sn == seen.end()) continue;
        if (strategy == outbox::Strategy::kCdc) {
          seg["wal"].push_back(first - a->second);
          seg["buffer"].push_back(pub_s - first);
        } else {
          if (claim_s < 0 || claim_r < 0) continue;
          seg["wake-up"].push_back(claim_s - a->second);
          seg["claim"].push_back(claim_r - claim_s);
          seg["broker gap"].push_back(pub_s - claim_r);
          if (set_r >= 0) seg["settle"].push_back(set_r - set_s);
        }
        seg["publish"].push_back(pub_r - pub_s);
        seg["read"].push_back(sn->second.first - pub_r);
        seg["total"].push_back(sn->second.first - a->second);
      }
      for (const char* k : {"wake-up", "wal", "claim", "buffer", "broker gap", "publish", "read",
                            "settle", "total"}) {
        if (seg.count(k)) res.parts.push_back({k, P50P99Ms(seg[k])});
      }
    }
    state.counters["ack_p50_ms"] = res.ack_p50;
    state.counters["ack_p99_ms"] = res.ack_p99;
    state.counters["placed_p50_ms"] = res.placed_p50;
    state.counters["placed_p99_ms"] = res.placed_p99;
    state.counters["samples"] = static_cast<double>(res.samples);
    state.counters["writer_p50_ms"] = sum.latency.Percentile(0.5) / 1000.0;
    for (const auto& [k, v] : res.parts) {
      std::string key = k;
      std::replace(key.begin(), key.end(), ' ', '_');
      state.counters[key + "_p50_ms"] = v.first;
      state.counters[key + "_p99_ms"] = v.second;
    }
    {
      std::lock_guard<std::mutex> l(g_mu);
      g_latency[std::string(outbox::StrategyName(strategy)) + (traced ? "/traced" : "")] = res;
    }
    DropSlot(strategy);
  }
}

// Messages stored in the broker's `orders` topic (its /metrics gauge).
Status BrokerOrders(BrokerClient* client, double* out) {
  Status s = ReadMetric(client, "dw_broker_topic_messages{topic=\"orders\"}", out);
  if (s.IsNotFound()) {  // no such topic yet: nothing published to it
    *out = 0;
    return Status::OK();
  }
  return s;
}

struct KeepupSample {
  double t_s;        // since the writer started
  double written;    // orders committed
  double behind;     // written - messages at the broker (from this run)
  double lag_bytes;  // cdc: pg_current_wal_lsn() - confirmed_flush_lsn; -1 otherwise
};

struct KeepupResult {
  double write_s = 0, writer_rate = 0;
  double max_behind = 0, behind_at_end = 0, behind_slope = 0;  // slope: messages/s, last half
  double relay_rate_last_half = 0, writer_rate_last_half = 0;
  double max_lag = -1, lag_at_end = -1, lag_slope = 0;  // bytes, bytes/s (cdc)
  double catch_up_s = -1;                               // -1: not within the limit
  std::vector<KeepupSample> samples;
};
std::map<std::string, KeepupResult> g_keepup;  // "<strategy>/<instances>"

// Least-squares slope of y over t for samples in [t_from, t_to].
double Slope(const std::vector<KeepupSample>& v, double t_from, double t_to,
             double KeepupSample::*y) {
  double n = 0, st = 0, sy = 0, stt = 0, sty = 0;
  for (const auto& s : v) {
    if (s.t_s < t_from || s.t_s > t_to) continue;
    n += 1;
    st += s.t_s;
    sy += s.*y;
    stt += s.t_s * s.t_s;
    sty += s.t_s * (s.*y);
  }
  double d = n * stt - st * st;
  return n >= 2 && d != 0 ? (n * sty - st * sy) / d : 0;
}

// Does the relay keep up with the writer's maximum rate? The writer runs at
// C=16 closed loop (flat out) for $DW_BENCH_KEEPUP_SECONDS with the relay(s)
// running, as `outbox write` and `outbox relay` would; a sampler notes every
// 500 ms how far the broker is behind, then how long the relay takes to catch
// up once the writer stops. Bounded lag: the backlog's slope over the last
// half of the write phase is close to zero (see PrintSummary's verdict).
void BM_Keepup(benchmark::State& state, outbox::Strategy strategy) {
  const int instances = static_cast<int>(state.range(0));
  const auto write_for = std::chrono::seconds(EnvInt("DW_BENCH_KEEPUP_SECONDS", 15));
  const bool cdc = strategy == outbox::Strategy::kCdc;
  for (auto _ : state) {
    state.PauseTiming();
    Exec("TRUNCATE outbox_table");
    outbox::RelayOptions ro = BenchRelay(strategy, 1000);
    outbox::RunnerOptions rn = BenchRunner(instances, /*until_drained=*/false);
    Check(CreateSlotFirst(ro, rn));
    std::unique_ptr<BrokerClient> client = BenchBrokerClient();
    double at_broker0 = 0;
    Check(BrokerOrders(client.get(), &at_broker0));
    std::unique_ptr<outbox::OutboxWriter> w =
        BenchWriter(16, /*notify=*/!cdc);  // cdc: nobody listens
    std::atomic<bool> stop{false};
    rn.stop = &stop;
    outbox::RelayReport report;
    // A relay that fails shows as messages that never arrive, which the
    // reader's deadline bounds.
    std::thread relay([&] { (void)outbox::RunRelays(ro, rn, &report); });
    std::atomic<int64_t> written{0};
    std::atomic<bool> writing{true};
    KeepupResult res;
    const auto t0 = Clock::now();
    std::atomic<double> write_end_s{-1};
    std::thread sampler([&] {
      pqxx::connection c{g_dsn};
      auto next = t0;
      const auto limit = std::chrono::seconds(180);
      for (;;) {
        // Every 500 ms while writing; from the writer's end on every 100 ms,
        // for the catch-up time.
        const bool was_writing = writing.load();
        next += std::chrono::milliseconds(was_writing ? 500 : 100);
        while (Clock::now() < next) {
          if (was_writing && !writing.load()) {
            next = Clock::now();
            break;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        KeepupSample s;
        s.t_s = std::chrono::duration<double>(Clock::now() - t0).count();
        s.written = static_cast<double>(written.load());
        double at = 0;
        if (!BrokerOrders(client.get(), &at).ok()) continue;
        s.behind = s.written - (at - at_broker0);
        s.lag_bytes = -1;
        if (cdc) {
          try {
            pqxx::nontransaction tx{c};
            auto r = tx.exec(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8"
                " FROM pg_replication_slots WHERE slot_name = 'dw_bench_outbox'");
            if (!r.empty() && !r[0][0].is_null()) s.lag_bytes = r[0][0].as<double>();
          } catch (const std::exception&) {
          }
        }
        res.samples.push_back(s);
        const double end = write_end_s.load();
        if (!writing.load() && end >= 0 && s.behind <= 0) {
          res.catch_up_s = s.t_s - end;
          return;
        }
        if (Clock::now() - t0 > write_for + limit) return;
      }
    });
    state.ResumeTiming();
    workload::LoadOptions lo;
    lo.transactions = 0;
    lo.duration = write_for;
    lo.concurrency = 16;
    lo.progress = false;
    auto sum = workload::RunLoad(lo, [&](int worker, int64_t i) {
      int64_t id;
      if (!w->PlaceOrder(worker, i, &id).ok()) return workload::Outcome::kFailed;
      written.fetch_add(1);
      return workload::Outcome::kCommitted;
    });
    write_end_s = std::chrono::duration<double>(Clock::now() - t0).count();
    writing = false;
    w.reset();
    sampler.join();
    stop = true;
    relay.join();
    state.SetIterationTime(sum.elapsed_s);

    res.write_s = write_end_s.load();
    res.writer_rate = sum.throughput_per_s;
    const double half = res.write_s / 2;
    const KeepupSample* at_half = nullptr;
    const KeepupSample* at_end = nullptr;
    for (const auto& s : res.samples) {
      if (s.t_s <= res.write_s) {
        res.max_behind = std::max(res.max_behind, s.behind);
        res.max_lag = std::max(res.max_lag, s.lag_bytes);
        if (!at_half && s.t_s >= half) at_half = &s;
        at_end = &s;
      }
    }
    if (at_end) {
      res.behind_at_end = at_end->behind;
      res.lag_at_end = at_end->lag_bytes;
    }
    if (at_half && at_end && at_end->t_s > at_half->t_s) {
      const double dt = at_end->t_s - at_half->t_s;
      res.writer_rate_last_half = (at_end->written - at_half->written) / dt;
      res.relay_rate_last_half =
          ((at_end->written - at_end->behind) - (at_half->written - at_half->behind)) / dt;
    }
    res.behind_slope = Slope(res.samples, half, res.write_s, &KeepupSample::behind);
    if (cdc) res.lag_slope = Slope(res.samples, half, res.write_s, &KeepupSample::lag_bytes);
    state.counters["writer_orders_per_s"] = res.writer_rate;
    state.counters["max_behind"] = res.max_behind;
    state.counters["behind_at_end"] = res.behind_at_end;
    state.counters["behind_slope_per_s"] = res.behind_slope;
    state.counters["relay_rate_last_half"] = res.relay_rate_last_half;
    state.counters["catch_up_s"] = res.catch_up_s;
    if (cdc) {
      state.counters["max_lag_bytes"] = res.max_lag;
      state.counters["lag_at_end_bytes"] = res.lag_at_end;
      state.counters["lag_slope_bytes_per_s"] = res.lag_slope;
    }
    for (const auto& s : res.samples) {
      std::fprintf(stderr, "  keepup %s x%d t=%5.1f s written %8.0f behind %7.0f lag %10.0f\n",
                   outbox::StrategyName(strategy), instances, s.t_s, s.written, s.behind,
                   s.lag_bytes);
    }
    {
      std::lock_guard<std::mutex> l(g_mu);
      g_keepup[std::string(outbox::StrategyName(strategy)) + "/" + std::to_string(instances)] = res;
    }
    DropSlot(strategy);
  }
}

// pgbench running the writer's two inserts (`-M prepared`, BEGIN/INSERT/
// INSERT/END) at the same concurrency: the reference for the writer.
void BM_Pgbench(benchmark::State& state) {
  const int c = static_cast<int>(state.range(0));
  const int64_t per_client = std::max<int64_t>(2000, g_rows / 20) / c;
  for (auto _ : state) {
    state.PauseTiming();
    Check(outbox::RemoveCaptureTrigger(g_dsn));
    Exec("TRUNCATE outbox_table");
    std::string script = g_dir + "/outbox.sql";
    {
      FILE* f = std::fopen(script.c_str(), "w");
      if (!f) {
        state.SkipWithError("cannot write the pgbench script");
        return;
      }
      std::fprintf(
          f,
          "\\set id random(1000000000, 9000000000000)\n"
          "BEGIN;\n"
          "INSERT INTO orders (id, customer, amount_cents) VALUES (-1 * :id::bigint, 'customer-1', "
          "100);\n"
          "INSERT INTO outbox_table (entity_name, event_id, topic, msg_key, payload) "
          "VALUES ('order', 'order-' || (-1 * :id::bigint), 'orders', (-1 * :id::bigint)::text, "
          "'{\"type\":\"OrderPlaced\",\"order_id\":1,\"customer\":\"customer-1\","
          "\"amount_cents\":100,\"placed_at_us\":0}');\n"
          "END;\n");
      std::fclose(f);
    }
    state.ResumeTiming();
    std::string out;
    Status st = RunCommand({"pgbench", "-n", "-M", "prepared", "-c", std::to_string(c), "-j", "2",
                            "-t", std::to_string(per_client), "-f", script, g_dsn},
                           &out);
    if (!st.ok()) {
      state.SkipWithError(("pgbench: " + st.ToString()).c_str());
      return;
    }
    double tps = 0;
    auto pos = out.find("tps = ");
    if (pos != std::string::npos) tps = std::atof(out.c_str() + pos + 6);
    state.SetIterationTime(tps > 0 ? per_client * c / tps : 1);
    state.counters["tps"] = tps;
    Keep("write/pgbench/" + std::to_string(c), tps);
  }
}

Status SetUp(BenchEnvironment* env) {
  if (const char* r = std::getenv("DW_BENCH_OUTBOX_ROWS")) g_rows = std::atoll(r);
  Status s = env->Open();
  if (!s.ok()) return s;
  // A fresh database, so every run starts from the same empty tables (the
  // cdc slot of an interrupted run is dropped with it).
  s = env::RecreateScratchDatabase(env->dsn(), "dw_bench_outbox");
  if (!s.ok()) return s;
  s = WithDatabase(env->dsn(), "dw_bench_outbox", &g_dsn);
  if (!s.ok()) return s;
  s = workload::EnsureOrdersSchema(g_dsn);
  if (!s.ok()) return s;
  s = outbox::EnsureSchema(g_dsn);
  if (!s.ok()) return s;
  outbox::MaintenanceReport mr;
  s = outbox::MaintainPartitions(g_dsn, outbox::PartitionOptions{}, &mr);
  if (!s.ok()) return s;
  std::string dir;
  s = MakeTempDir("outbox-broker", &dir);
  if (!s.ok()) return s;
  g_dir = dir;
  g_broker = std::make_unique<BrokerServer>(dir + "/broker", "batch");
  return g_broker->Start();
}

void PrintSummary() {
  std::lock_guard<std::mutex> l(g_mu);
  std::printf("\nsummary (same run, %lld rows per drain):\n", static_cast<long long>(g_rows));
  auto rate = [&](const std::string& k) {
    auto it = g_rate.find(k);
    return it == g_rate.end() ? 0.0 : it->second;
  };
  for (int b : {100, 1000}) {
    for (const char* st : {"skip-locked", "skip-locked x2", "skip-locked x3", "status",
                           "offset-naive", "offset-safe", "cdc"}) {
      std::string key = st;
      if (key == "skip-locked x2" || key == "skip-locked x3") {
        key = "skip-locked/" + std::to_string(b) + "/" + key.substr(key.size() - 2);
      } else {
        key += "/" + std::to_string(b);
      }
      auto it = g_pairs.find(key);
      if (it == g_pairs.end()) continue;
      const PairResult& p = it->second;
      std::string pairs;
      for (size_t i = 0; i < p.ratio.size(); ++i) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "%s%.0f/%.0f=%.2fx%s", i ? ", " : "", p.drain[i], p.base[i],
                      p.ratio[i], p.drain_first[i] ? "" : "(b first)");
        pairs += buf;
      }
      std::printf(
          "  batch %-5d %-13s drain %8.0f rows/s  baseline (%s) %8.0f  median ratio %.2fx  "
          "pairs: %s  dead_tup %.0f\n",
          b, st, Median(p.drain), p.baseline.c_str(), Median(p.base), Median(p.ratio),
          pairs.c_str(), p.dead);
      for (size_t i = 0; i < p.parts.size(); ++i) {
        const BatchParts& bp = p.parts[i];
        if (bp.batches == 0) continue;
        std::printf(
            "      pair %zu, per batch (median of %lld): claim %.2f ms, publish %.2f ms,"
            " settle %.2f ms, other %.2f ms\n",
            i + 1, static_cast<long long>(bp.batches), bp.claim, bp.publish, bp.settle, bp.other);
      }
    }
  }
  for (const auto& [k, v] : g_cleanup) {
    std::printf("  cleanup %-16s %9.1f ms  %12.0f WAL bytes\n", k.c_str(), v.first, v.second);
  }
  for (const auto& [k, v] : g_latency) {
    std::printf(
        "  e2e latency at 1000/s %-19s commit ack -> readable p50 %.2f ms p99 %.2f ms;"
        "  placed -> readable p50 %.2f ms p99 %.2f ms  (%lld orders)\n",
        k.c_str(), v.ack_p50, v.ack_p99, v.placed_p50, v.placed_p99,
        static_cast<long long>(v.samples));
    for (const auto& [part, pv] : v.parts) {
      std::printf("      %-11s p50 %7.3f ms  p99 %7.3f ms\n", part.c_str(), pv.first, pv.second);
    }
  }
  for (const auto& [k, v] : g_keepup) {
    // Bounded: over the last half of the write phase the backlog grew by less
    // than 2% of what the writer wrote meanwhile.
    const bool bounded = v.behind_slope < 0.02 * v.writer_rate;
    std::printf(
        "  keepup %-15s writer %.0f orders/s for %.1f s; behind: max %.0f, at end of writes "
        "%.0f, slope over the last half %+.0f msgs/s (%s); relay %.0f vs writer %.0f msgs/s "
        "over the last half; caught up %s%.1f s after the writer stopped",
        k.c_str(), v.writer_rate, v.write_s, v.max_behind, v.behind_at_end, v.behind_slope,
        bounded ? "bounded" : "GROWING", v.relay_rate_last_half, v.writer_rate_last_half,
        v.catch_up_s < 0 ? "NOT (limit) " : "", v.catch_up_s);
    if (v.max_lag >= 0) {
      std::printf("; slot lag: max %.0f kB, at end %.0f kB, slope %+.0f kB/s", v.max_lag / 1024,
                  v.lag_at_end / 1024, v.lag_slope / 1024);
    }
    std::printf("\n");
  }
  for (int c : {1, 16}) {
    double e = rate("write/explicit/" + std::to_string(c));
    double t = rate("write/trigger/" + std::to_string(c));
    double pg = rate("write/pgbench/" + std::to_string(c));
    if (e > 0 && pg > 0) {
      std::printf(
          "  writer C=%-3d explicit %7.0f orders/s   pgbench same inserts %7.0f tps   "
          "writer/pgbench %.2fx\n",
          c, e, pg, e / pg);
    }
    if (e > 0 && t > 0) {
      std::printf(
          "  writer C=%-3d explicit %7.0f orders/s   trigger %7.0f orders/s   "
          "trigger/explicit %.2fx\n",
          c, e, t, t / e);
    }
  }
}

}  // namespace
}  // namespace dw::bench

int main(int argc, char** argv) {
  using namespace dw::bench;
  benchmark::Initialize(&argc, argv);
  BenchEnvironment env;
  dw::Status s = SetUp(&env);
  if (!s.ok()) {
    std::cerr << "outbox_bench: " << s.ToString() << "\n";
    return 1;
  }
  auto reg = [](benchmark::internal::Benchmark* b) {
    b->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
  };
  using dw::outbox::Strategy;
  for (int b : {100, 1000}) {
    for (Strategy st : {Strategy::kSkipLocked, Strategy::kStatus, Strategy::kOffsetNaive,
                        Strategy::kOffsetSafe, Strategy::kCdc}) {
      reg(benchmark::RegisterBenchmark(
              (std::string("pair/") + dw::outbox::StrategyName(st)).c_str(), BM_Pair, st)
              ->Args({b, 1})
              ->ArgNames({"batch", "instances"}));
    }
    if (b == 1000) {  // more relays overlap one's broker write with another's claim
      for (int k : {2, 3}) {
        reg(benchmark::RegisterBenchmark("pair/skip-locked", BM_Pair, Strategy::kSkipLocked)
                ->Args({b, k})
                ->ArgNames({"batch", "instances"}));
      }
    }
  }
  for (int64_t r : {g_rows / 4, g_rows}) {
    for (bool drop : {false, true}) {
      reg(benchmark::RegisterBenchmark(drop ? "cleanup/drop" : "cleanup/delete", BM_Cleanup, drop)
              ->Arg(r)
              ->ArgName("rows"));
    }
  }
  for (int c : {1, 16}) {
    reg(benchmark::RegisterBenchmark("write/pgbench", BM_Pgbench)->Arg(c)->ArgName("c"));
    for (bool trig : {false, true}) {
      reg(benchmark::RegisterBenchmark(trig ? "write/trigger" : "write/explicit", BM_Write, trig)
              ->Arg(c)
              ->ArgName("c"));
    }
  }
  for (Strategy st : {Strategy::kSkipLocked, Strategy::kCdc}) {
    for (int traced : {0, 1}) {
      reg(benchmark::RegisterBenchmark(
              (std::string("latency/") + dw::outbox::StrategyName(st)).c_str(), BM_Latency, st)
              ->Arg(traced)
              ->ArgName("traced"));
    }
  }
  reg(benchmark::RegisterBenchmark("keepup/cdc", BM_Keepup, Strategy::kCdc)
          ->Arg(1)
          ->ArgName("instances"));
  for (int k : {1, 2}) {
    reg(benchmark::RegisterBenchmark("keepup/skip-locked", BM_Keepup, Strategy::kSkipLocked)
            ->Arg(k)
            ->ArgName("instances"));
  }
  try {
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& e) {  // a setup step failed (Check): still clean up
    std::cerr << "outbox_bench: " << e.what() << "\n";
    if (g_broker) (void)g_broker->Stop();
    return 1;
  }
  PrintSummary();
  if (g_broker) (void)g_broker->Stop();
  std::error_code ec;
  if (!g_dir.empty()) std::filesystem::remove_all(g_dir, ec);  // the broker's data and scripts
  return 0;
}
