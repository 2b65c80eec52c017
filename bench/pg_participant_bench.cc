// pg_participant_bench: the cost of two-phase commit on ONE Postgres
// participant, i.e. what the same orders insert costs as a plain local
// commit and as PREPARE TRANSACTION + COMMIT PREPARED, measured in the same
// run through the same PostgresParticipant and connection pool:
//
//   local_commit    CommitOnePhase: BEGIN; INSERT INTO orders (server-side
//                   prepared statement); COMMIT            -> 1 WAL flush
//   prepare_commit  Prepare: BEGIN; INSERT; PREPARE TRANSACTION 'gid';
//                   (libpqxx's COMMIT, a no-op); then Commit: COMMIT PREPARED
//                   'gid' on a connection from the pool    -> 2 WAL flushes
//
//   paired          each thread alternates one of each (see BM_Paired: the
//                   ratio that survives a noisy shared disk)
//
// at 1 and 4 client threads. Counters: p50_us, p99_us, mean_us (per
// operation, all threads), prepare_p50_us / commit_p50_us (the two phases of
// prepare_commit), wal_bytes_per_op (pg_current_wal_lsn() delta / operations;
// exact on a cluster nobody else writes to) and items_per_second; paired:
// local_p50_us, twopc_p50_us, ratio_p50, ratio_mean. A ratio table follows.
//
// Postgres: $DW_BENCH_DSN when set (nothing is started), else an embedded
// environment brought up with `dualwrite up` in $DW_BENCH_STATE_DIR or a
// fresh /tmp folder and removed with `dualwrite down --purge` at the end.
// Either way the benchmark works in its own database `dw_bench_pg`,
// (re)created at the start and dropped at the end.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <pqxx/pqxx>

#include "bench/bench_util.h"
#include "env/scratch_database.h"
#include "participants/pg_pool.h"
#include "participants/postgres_participant.h"
#include "workload/orders.h"

namespace dw::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kDatabase[] = "dw_bench_pg";
constexpr char kGidPrefix[] = "bpg-";

// What every benchmark shares; per-run fields are owned by thread 0 (see
// bench_util.h for the thread model).
struct Fixture {
  std::string dsn;  // database dw_bench_pg
  std::unique_ptr<PostgresParticipant> participant;
  std::unique_ptr<workload::OrderIdAllocator> ids;
  std::unique_ptr<pqxx::connection> probe;  // WAL position reads, outside the pool
  std::atomic<int64_t> order_index{0};
  LatencyRecorder rec, prepare_rec, commit_rec;
  LatencyRecorder local_rec, twopc_rec;  // paired
  std::string lsn_before;
};
Fixture* g_fx = nullptr;

// One order insert, as the approaches of the project issue it.
Status NextWork(Work* w) {
  int64_t id = 0;
  Status s = g_fx->ids->Next(&id);
  if (!s.ok()) return s;
  workload::Order o = workload::MakeOrder(id, g_fx->order_index.fetch_add(1), 42);
  w->statements = {workload::InsertOrderStatement(o)};
  return Status::OK();
}

Status CurrentLsn(std::string* out) {
  try {
    pqxx::nontransaction tx(*g_fx->probe);
    *out = tx.exec1("SELECT pg_current_wal_lsn()::text")[0].as<std::string>();
  } catch (const std::exception& e) {
    return Status::IOError(std::string("reading the WAL position: ") + e.what());
  }
  return Status::OK();
}

Status WalBytesSince(const std::string& lsn, double* out) {
  try {
    pqxx::nontransaction tx(*g_fx->probe);
    *out =
        tx.exec_params1("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8", lsn)[0]
            .as<double>();
  } catch (const std::exception& e) {
    return Status::IOError(std::string("reading the WAL position: ") + e.what());
  }
  return Status::OK();
}

void BeginRun(benchmark::State& state) {
  if (state.thread_index() != 0) return;
  g_fx->rec.Reset(state.threads());
  g_fx->prepare_rec.Reset(state.threads());
  g_fx->commit_rec.Reset(state.threads());
  Status s = CurrentLsn(&g_fx->lsn_before);
  if (!s.ok()) state.SkipWithError(s.ToString().c_str());
}

void EndRun(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() != 0 || state.error_occurred()) return;
  const size_t ops = ReportLatency(state, g_fx->rec);
  double wal = 0;
  Status s = WalBytesSince(g_fx->lsn_before, &wal);
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  if (ops > 0) state.counters["wal_bytes_per_op"] = wal / static_cast<double>(ops);
}

void BM_LocalCommit(benchmark::State& state) {
  BeginRun(state);
  const int me = state.thread_index();
  Work w;
  for (auto _ : state) {
    // Ids come in blocks of 1000 (one round trip per block): inside the
    // wall time, that is about 0.1% of it; outside the recorded latency.
    Status s = NextWork(&w);
    if (!s.ok()) {
      state.SkipWithError(("allocating an order id: " + s.ToString()).c_str());
      break;
    }
    auto t0 = Clock::now();
    s = g_fx->participant->CommitOnePhase(w);
    g_fx->rec.Record(me, Clock::now() - t0);
    if (!s.ok()) {
      state.SkipWithError(("local commit: " + s.ToString()).c_str());
      break;
    }
  }
  EndRun(state);
}

void BM_PrepareCommit(benchmark::State& state) {
  BeginRun(state);
  const int me = state.thread_index();
  Work w;
  for (auto _ : state) {
    Status s = NextWork(&w);
    if (!s.ok()) {
      state.SkipWithError(("allocating an order id: " + s.ToString()).c_str());
      break;
    }
    const std::string gid = kGidPrefix + w.statements[0].params[0].value();
    auto t0 = Clock::now();
    s = g_fx->participant->Prepare(gid, w);
    auto t1 = Clock::now();
    if (s.ok()) s = g_fx->participant->Commit(gid);
    auto t2 = Clock::now();
    g_fx->rec.Record(me, t2 - t0);
    g_fx->prepare_rec.Record(me, t1 - t0);
    g_fx->commit_rec.Record(me, t2 - t1);
    if (!s.ok()) {
      state.SkipWithError(("prepare + commit " + gid + ": " + s.ToString()).c_str());
      break;
    }
  }
  EndRun(state);
  if (state.thread_index() == 0 && !state.error_occurred()) {
    state.counters["prepare_p50_us"] = Percentile(g_fx->prepare_rec.Sorted(), 0.5) / 1e3;
    state.counters["commit_p50_us"] = Percentile(g_fx->commit_rec.Sorted(), 0.5) / 1e3;
  }
}

// The ratio, measured paired. Every WAL flush is an fdatasync on a disk
// whose latency swings between ~0.15 ms and ~4 ms from one second to the
// next (shared with other processes), so two benchmarks run seconds apart
// can differ more than 2PC does. Here every thread alternates one local
// commit and one prepare + commit (order flipping each iteration), so both
// sample the same moments. Counters: local_p50_us, twopc_p50_us, ratio_p50
// and ratio_mean (twopc / local).
void BM_Paired(benchmark::State& state) {
  const int me = state.thread_index();
  if (me == 0) {
    g_fx->local_rec.Reset(state.threads());
    g_fx->twopc_rec.Reset(state.threads());
  }
  Work w;
  uint64_t n = 0;
  for (auto _ : state) {
    Status s;
    for (int half = 0; half < 2 && s.ok(); ++half) {
      s = NextWork(&w);
      if (!s.ok()) break;
      auto t0 = Clock::now();
      if ((n + half) % 2 == 0) {
        s = g_fx->participant->CommitOnePhase(w);
        g_fx->local_rec.Record(me, Clock::now() - t0);
      } else {
        const std::string gid = kGidPrefix + w.statements[0].params[0].value();
        s = g_fx->participant->Prepare(gid, w);
        if (s.ok()) s = g_fx->participant->Commit(gid);
        g_fx->twopc_rec.Record(me, Clock::now() - t0);
      }
    }
    ++n;
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (me != 0 || state.error_occurred()) return;
  const std::vector<int64_t> l = g_fx->local_rec.Sorted(), p = g_fx->twopc_rec.Sorted();
  if (l.empty() || p.empty()) return;
  auto mean = [](const std::vector<int64_t>& v) {
    double sum = 0;
    for (int64_t x : v) sum += static_cast<double>(x);
    return sum / static_cast<double>(v.size());
  };
  const double l50 = Percentile(l, 0.5) / 1e3, p50 = Percentile(p, 0.5) / 1e3;
  state.counters["local_p50_us"] = l50;
  state.counters["twopc_p50_us"] = p50;
  state.counters["ratio_p50"] = p50 / l50;
  state.counters["ratio_mean"] = mean(p) / mean(l);
}

// (Re)creates database dw_bench_pg from the admin DSN (an interrupted run's
// prepared transactions there are rolled back first); *dsn points at it.
Status CreateDatabase(const std::string& admin_dsn, std::string* dsn) {
  Status s = env::RecreateScratchDatabase(admin_dsn, kDatabase);
  if (!s.ok()) return s;
  return WithDatabase(admin_dsn, kDatabase, dsn);
}

Status DropDatabase(const std::string& admin_dsn) {
  return env::DropScratchDatabase(admin_dsn, kDatabase);
}

Status SetUp(const std::string& admin_dsn, Fixture* fx) {
  Status s = CreateDatabase(admin_dsn, &fx->dsn);
  if (!s.ok()) return s;
  s = workload::EnsureOrdersSchema(fx->dsn);
  if (!s.ok()) return s;
  PgPool::Options po;
  po.dsn = fx->dsn;
  po.max_connections = 8;
  po.application_name = "dw-bench-pg";
  s = PostgresParticipant::Create(po, PostgresParticipant::Options{}, &fx->participant);
  if (!s.ok()) return s;
  fx->ids = std::make_unique<workload::OrderIdAllocator>(fx->dsn);
  try {
    fx->probe = std::make_unique<pqxx::connection>(fx->dsn);
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("connecting: ") + e.what());
  }
  // One of each before anything is timed: connects, declares the prepared
  // statement, takes the first block of order ids.
  Work w;
  s = NextWork(&w);
  if (s.ok()) s = fx->participant->CommitOnePhase(w);
  if (s.ok()) s = NextWork(&w);
  if (s.ok()) s = fx->participant->Prepare(kGidPrefix + std::string("warmup"), w);
  if (s.ok()) s = fx->participant->Commit(kGidPrefix + std::string("warmup"));
  return s;
}

// Rolls back anything a failed run left prepared (it would hold locks and
// the xmin horizon, and block the DROP DATABASE).
void AbortLeftovers(Fixture* fx) {
  if (!fx->participant) return;
  std::vector<InDoubtTxn> left;
  if (!fx->participant->ListInDoubt(kGidPrefix, &left).ok()) return;
  for (const auto& t : left) (void)fx->participant->Abort(t.gid);  // best-effort clean-up
  if (!left.empty())
    std::cerr << "pg_participant_bench: rolled back " << left.size()
              << " leftover prepared transactions\n";
}

std::string Name(const std::string& bench, int threads) {
  return bench + "/real_time/threads:" + std::to_string(threads);
}

double Counter(const std::optional<KeepingReporter::Result>& r, const std::string& k) {
  auto it = r->counters.find(k);
  return it == r->counters.end() ? 0 : it->second;
}

void PrintSummary(const KeepingReporter& rep) {
  std::printf(
      "\n| benchmark | threads | ns/op (wall/ops) | ops/s | p50 µs | p99 µs | WAL bytes/op |\n"
      "|---|---:|---:|---:|---:|---:|---:|\n");
  for (const char* b : {"local_commit", "prepare_commit"}) {
    for (int th : {1, 4}) {
      const auto r = rep.Find(Name(b, th));
      if (!r) continue;
      std::printf("| %s | %d | %.0f | %.0f | %.1f | %.1f | %.0f |\n", b, th, r->real_ns_per_op,
                  1e9 / r->real_ns_per_op, Counter(r, "p50_us"), Counter(r, "p99_us"),
                  Counter(r, "wal_bytes_per_op"));
    }
  }
  std::printf(
      "\nPaired (each thread alternates a local commit and a prepare + commit):\n\n"
      "| threads | local commit p50 µs | prepare + commit p50 µs | 2PC / local, p50 | "
      "2PC / local, mean |\n|---:|---:|---:|---:|---:|\n");
  for (int th : {1, 4}) {
    const auto r = rep.Find(Name("paired", th));
    if (!r) continue;
    std::printf("| %d | %.1f | %.1f | %.2f | %.2f |\n", th, Counter(r, "local_p50_us"),
                Counter(r, "twopc_p50_us"), Counter(r, "ratio_p50"), Counter(r, "ratio_mean"));
  }
  std::printf("\nCost of 2PC on one participant, ratios within this run:\n");
  for (int th : {1, 4}) {
    const auto r = rep.Find(Name("paired", th));
    const auto l = rep.Find(Name("local_commit", th));
    const auto p = rep.Find(Name("prepare_commit", th));
    if (r) {
      std::printf(
          "  %d client%s, paired: prepare + commit = %.2fx a local commit at p50 (%.2fx in "
          "means)\n",
          th, th == 1 ? "" : "s", Counter(r, "ratio_p50"), Counter(r, "ratio_mean"));
    }
    if (l && p) {
      std::printf(
          "  %d client%s, separate runs: 2PC latency %.2fx at p50, throughput %.2fx local's; "
          "2PC p50 = prepare %.3f ms + commit prepared %.3f ms\n",
          th, th == 1 ? "" : "s", Counter(p, "p50_us") / Counter(l, "p50_us"),
          l->real_ns_per_op / p->real_ns_per_op, Counter(p, "prepare_p50_us") / 1e3,
          Counter(p, "commit_p50_us") / 1e3);
    }
  }
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  BenchEnvironment env;
  Status s = env.Open();
  Fixture fx;
  g_fx = &fx;
  if (s.ok()) s = SetUp(env.dsn(), &fx);
  int rc = 0;
  if (!s.ok()) {
    std::cerr << "pg_participant_bench: setting up: " << s.ToString() << "\n";
    rc = 1;
  } else {
    benchmark::RegisterBenchmark("local_commit", BM_LocalCommit)
        ->UseRealTime()
        ->Threads(1)
        ->Threads(4);
    benchmark::RegisterBenchmark("prepare_commit", BM_PrepareCommit)
        ->UseRealTime()
        ->Threads(1)
        ->Threads(4);
    benchmark::RegisterBenchmark("paired", BM_Paired)->UseRealTime()->Threads(1)->Threads(4);
    KeepingReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
                                                   : benchmark::ConsoleReporter::OO_Tabular);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    PrintSummary(reporter);
  }
  AbortLeftovers(&fx);
  fx.probe.reset();
  fx.ids.reset();
  fx.participant.reset();  // closes the pool's connections before the DROP
  g_fx = nullptr;
  if (!env.dsn().empty()) {
    Status d = DropDatabase(env.dsn());
    if (!d.ok()) std::cerr << "pg_participant_bench: " << d.ToString() << "\n";
  }
  Status c = env.Close();
  if (!c.ok()) {
    std::cerr << "pg_participant_bench: " << c.ToString() << "\n";
    rc = 1;
  }
  benchmark::Shutdown();
  return rc;
}

}  // namespace
}  // namespace dw::bench

int main(int argc, char** argv) { return dw::bench::Main(argc, argv); }
