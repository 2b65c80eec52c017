// The outbox (issue 4), measured against raw SQL baselines in the same run
// (the machine is shared and noisy: only ratios within one run mean much):
//
//   drain/<strategy>/batch:B    a pre-filled outbox of R rows drained by
//                               `RunRelays --until-drained` (publishing to a
//                               broker of the benchmark's own, fsync batch).
//   baseline/<kind>/batch:B     the strategy's own claim/settle statements
//                               looped over libpq, no broker:
//                               skip-locked: BEGIN; DELETE ... RETURNING; COMMIT
//                               status: claim UPDATE; mark-sent UPDATE
//                               offset: SELECT past the position; counter UPDATE
//   cleanup/delete/rows:R       DELETE of R rows of one partition
//   cleanup/drop/rows:R         DETACH CONCURRENTLY + DROP TABLE of that partition
//                               (time and WAL bytes; R = rows/4 and rows show
//                               that dropping stays flat while DELETE grows)
//   write/explicit|trigger/c:C  the writer, N orders at concurrency C: the
//                               explicit outbox insert vs the capture trigger.
//   latency/<strategy>          placed -> readable at the broker at a steady
//                               1,000 orders/s (skip-locked with NOTIFY, cdc).
//
// R = $DW_BENCH_OUTBOX_ROWS (default 200,000; the figure is 1,000,000).
// Postgres: $DW_BENCH_DSN, else an embedded environment (bench_util.h); a
// database dw_bench_outbox is recreated. Each benchmark is one run (Iterations(1)).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "bench/bench_util.h"
#include "common/histogram.h"
#include "common/process.h"
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
int64_t g_next_id = 1;  // event ids never repeat across runs: the broker must store each
std::mutex g_mu;
std::map<std::string, double> g_rate;                        // name -> rows/s (or orders/s)
std::map<std::string, std::pair<double, double>> g_cleanup;  // name -> (ms, WAL bytes)
std::map<std::string, std::pair<double, double>> g_latency;  // strategy -> (p50, p99 ms)

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

void BM_Drain(benchmark::State& state, outbox::Strategy strategy) {
  const int batch = static_cast<int>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    outbox::RelayOptions ro;
    ro.dsn = g_dsn;
    ro.broker_url = g_broker->url();
    ro.strategy = strategy;
    ro.batch = batch;
    ro.slot = "dw_bench_outbox";
    outbox::RunnerOptions rn;
    rn.until_drained = true;
    rn.maintain = false;
    rn.log = &std::cerr;
    outbox::RelayReport report;
    if (strategy == outbox::Strategy::kCdc) {
      // The slot must exist before the rows are written, so that they are
      // streamed from the WAL (not read by the slot's initial copy).
      Exec("TRUNCATE outbox_table");
      Check(outbox::RunRelays(ro, rn, &report));
    }
    Prefill(g_rows);
    state.ResumeTiming();
    auto t0 = Clock::now();
    Status s = outbox::RunRelays(ro, rn, &report);
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    state.SetIterationTime(secs);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
    double rate = report.published / secs;
    state.counters["rows_per_s"] = rate;
    state.counters["dead_tup"] = report.table_stats.value("n_dead_tup", 0);
    Keep(std::string("drain/") + outbox::StrategyName(strategy) + "/" + std::to_string(batch),
         rate);
    if (strategy == outbox::Strategy::kCdc) {
      Exec("SELECT pg_drop_replication_slot('dw_bench_outbox')");
    }
  }
}

enum class Baseline { kSkipLocked, kStatus, kOffset };

void BM_Baseline(benchmark::State& state, Baseline kind) {
  const int batch = static_cast<int>(state.range(0));
  const char* name = kind == Baseline::kSkipLocked ? "skip-locked"
                     : kind == Baseline::kStatus   ? "status"
                                                   : "offset";
  for (auto _ : state) {
    state.PauseTiming();
    Prefill(g_rows);
    state.ResumeTiming();
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
    state.SetIterationTime(secs);
    state.counters["rows_per_s"] = moved / secs;
    Keep(std::string("baseline/") + name + "/" + std::to_string(batch), moved / secs);
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
    outbox::WriterOptions wo;
    wo.dsn = g_dsn;
    wo.connections = c;
    wo.trigger = trigger;
    wo.notify = outbox::WriterOptions::NotifyMode::kOff;
    std::unique_ptr<outbox::OutboxWriter> w;
    Check(outbox::OutboxWriter::Open(wo, &w));
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
  outbox::RemoveCaptureTrigger(g_dsn);
}

// End-to-end latency at a steady 1,000 orders/s for 5 s: from the order's
// placed_at_us (taken just before its transaction, so this is an upper bound
// of commit -> readable) to the moment a reader polling the broker sees the
// message. The relay runs in-process with NOTIFY wake-ups (after-commit).
void BM_Latency(benchmark::State& state, outbox::Strategy strategy) {
  const int64_t n = 5000;
  for (auto _ : state) {
    state.PauseTiming();
    Exec("TRUNCATE outbox_table");
    outbox::RelayOptions ro;
    ro.dsn = g_dsn;
    ro.broker_url = g_broker->url();
    ro.strategy = strategy;
    ro.batch = 100;
    ro.slot = "dw_bench_outbox";
    outbox::RunnerOptions rn;
    rn.maintain = false;
    rn.until_drained = true;
    rn.log = &std::cerr;
    if (strategy == outbox::Strategy::kCdc) {  // the slot first: stream, no initial copy
      outbox::RelayReport r0;
      Check(outbox::RunRelays(ro, rn, &r0));
    }
    std::unique_ptr<BrokerClient> reader;
    BrokerClient::Options bo;
    bo.url = g_broker->url();
    Check(BrokerClient::Create(bo, &reader));
    uint64_t from = 0;
    {  // start after what earlier benchmarks published
      for (;;) {
        std::vector<BrokerMessage> ms;
        uint64_t next = from;
        Check(reader->Read("orders", from, 10000, &ms, &next));
        if (ms.empty()) break;
        from = next;
      }
    }
    outbox::WriterOptions wo;
    wo.dsn = g_dsn;
    wo.connections = 4;
    wo.seed = static_cast<uint64_t>(g_next_id);
    std::unique_ptr<outbox::OutboxWriter> w;
    Check(outbox::OutboxWriter::Open(wo, &w));
    std::atomic<bool> stop{false};
    rn.stop = &stop;
    outbox::RelayReport report;
    std::thread relay([&] { outbox::RunRelays(ro, rn, &report); });
    Histogram lat;
    std::thread rd([&] {
      int64_t seen = 0;
      auto deadline = Clock::now() + std::chrono::seconds(60);
      while (seen < n && Clock::now() < deadline) {
        std::vector<BrokerMessage> ms;
        uint64_t next = from;
        if (!reader->Read("orders", from, 1000, &ms, &next).ok() || ms.empty()) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          continue;
        }
        int64_t now = workload::NowMicros();
        for (const auto& m : ms) {
          auto j = nlohmann::json::parse(m.payload, nullptr, false);
          if (j.is_object() && j.contains("placed_at_us")) {
            lat.Record(now - j["placed_at_us"].get<int64_t>());
          }
        }
        seen += static_cast<int64_t>(ms.size());
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
      return w->PlaceOrder(worker, i, &id).ok() ? workload::Outcome::kCommitted
                                                : workload::Outcome::kFailed;
    });
    w.reset();
    rd.join();
    relay.join();
    state.SetIterationTime(sum.elapsed_s);
    state.counters["p50_ms"] = lat.Percentile(0.5) / 1000.0;
    state.counters["p99_ms"] = lat.Percentile(0.99) / 1000.0;
    state.counters["samples"] = static_cast<double>(lat.count());
    std::lock_guard<std::mutex> l(g_mu);
    g_latency[outbox::StrategyName(strategy)] = {lat.Percentile(0.5) / 1000.0,
                                                 lat.Percentile(0.99) / 1000.0};
    if (strategy == outbox::Strategy::kCdc) {
      Exec("SELECT pg_drop_replication_slot('dw_bench_outbox')");
    }
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
  try {
    pqxx::connection c{env->dsn()};
    pqxx::nontransaction tx{c};
    tx.exec(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
        " WHERE slot_name = 'dw_bench_outbox'");
    tx.exec("DROP DATABASE IF EXISTS dw_bench_outbox WITH (FORCE)");
    tx.exec("CREATE DATABASE dw_bench_outbox");
  } catch (const std::exception& e) {
    return Status::IOError(std::string("creating dw_bench_outbox: ") + e.what());
  }
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
    const std::string bs = std::to_string(b);
    struct Row {
      const char* strategy;
      const char* baseline;
    };
    for (Row r :
         {Row{"skip-locked", "skip-locked"}, Row{"status", "status"}, Row{"offset-naive", "offset"},
          Row{"offset-safe", "offset"}, Row{"cdc", "skip-locked"}}) {
      double d = rate(std::string("drain/") + r.strategy + "/" + bs);
      double base = rate(std::string("baseline/") + r.baseline + "/" + bs);
      if (d == 0) continue;
      std::printf("  batch %-5d %-13s %9.0f rows/s   baseline (%s) %9.0f rows/s   ratio %.2fx\n", b,
                  r.strategy, d, r.baseline, base, base > 0 ? d / base : 0.0);
    }
  }
  for (const auto& [k, v] : g_cleanup) {
    std::printf("  cleanup %-16s %9.1f ms  %12.0f WAL bytes\n", k.c_str(), v.first, v.second);
  }
  for (const auto& [k, v] : g_latency) {
    std::printf("  e2e latency at 1000/s %-12s p50 %.2f ms  p99 %.2f ms\n", k.c_str(), v.first,
                v.second);
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
    reg(benchmark::RegisterBenchmark("baseline/skip-locked", BM_Baseline, Baseline::kSkipLocked)
            ->Arg(b)
            ->ArgName("batch"));
    reg(benchmark::RegisterBenchmark("baseline/status", BM_Baseline, Baseline::kStatus)
            ->Arg(b)
            ->ArgName("batch"));
    reg(benchmark::RegisterBenchmark("baseline/offset", BM_Baseline, Baseline::kOffset)
            ->Arg(b)
            ->ArgName("batch"));
    for (Strategy st : {Strategy::kSkipLocked, Strategy::kStatus, Strategy::kOffsetNaive,
                        Strategy::kOffsetSafe, Strategy::kCdc}) {
      reg(benchmark::RegisterBenchmark(
              (std::string("drain/") + dw::outbox::StrategyName(st)).c_str(), BM_Drain, st)
              ->Arg(b)
              ->ArgName("batch"));
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
    reg(benchmark::RegisterBenchmark(
        (std::string("latency/") + dw::outbox::StrategyName(st)).c_str(), BM_Latency, st));
  }
  benchmark::RunSpecifiedBenchmarks();
  PrintSummary();
  if (g_broker) g_broker->Stop();
  return 0;
}
