// The two-phase-commit coordinator against what it must be compared with,
// all measured in the same run on the same Postgres and broker (the machine
// is shared and noisy, so only ratios within one run mean something):
//
//   baseline   a minimal hand-written 2PC: raw libpq (BEGIN, INSERT,
//              PREPARE TRANSACTION), the broker's prepare, ONE fdatasync'd
//              record in a log file, COMMIT PREPARED, the broker's commit;
//              sequential, no framework, no recovery, no group commit.
//   2pc:*      the coordinator (file log, postgres log, --ack-after
//              decision, --lrco).
//   outbox     the outbox writer's local transaction (orders insert +
//              outbox insert, one commit), what 2PC competes with;
//              outbox-notify: the same plus the writer's after-commit NOTIFY wake-up.
//
// Each benchmark is one closed-loop run (workload::RunLoad) of N orders at
// concurrency C; it reports throughput, p50/p99 latency (from the run's
// histogram, Google Benchmark computes no percentiles) and decision-log
// fsyncs per transaction. The whole set runs $DW_BENCH_ROUNDS times (default
// 3), interleaved; a table of medians and their ratios follows.
//
// Environment: Postgres at $DW_BENCH_DSN, or else the embedded environment's
// in $DUALWRITE_STATE_DIR (default ./.dualwrite), brought up if needed; a
// database `dw_bench_coord` is (re)created in that cluster. The broker is
// $DW_BENCH_BROKER, or else a broker process of the benchmark's own
// (fsync batch, the broker's default).
// $DW_BENCH_SCALE multiplies the number of orders (default 1).
#include <fcntl.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>

#include <benchmark/benchmark.h>

#include "bench/bench_util.h"
#include "coordinator/coordinator.h"
#include "coordinator/file_decision_log.h"
#include "coordinator/participant_spec.h"
#include "coordinator/pg_decision_log.h"
#include "env/environment.h"
#include "env/scratch_database.h"
#include "outbox/writer.h"
#include "participants/broker_client.h"
#include "workload/load_runner.h"
#include "workload/orders.h"

namespace dw::bench {
namespace {

using std::chrono::milliseconds;

std::string g_dsn, g_broker, g_dir;
std::unique_ptr<BrokerServer> g_broker_server;
double g_scale = 1;

struct Result {
  double tps = 0, p50_ms = 0, p99_ms = 0, fsyncs_per_txn = 0;
  uint64_t committed = 0, failed = 0;
};
std::mutex g_mu;
std::map<std::string, std::vector<Result>> g_results;  // one per round

void Report(benchmark::State& state, const std::string& name, const workload::LoadSummary& s,
            uint64_t fsyncs) {
  Result r;
  r.tps = s.throughput_per_s;
  r.p50_ms = s.latency.Percentile(0.5) / 1000.0;
  r.p99_ms = s.latency.Percentile(0.99) / 1000.0;
  r.fsyncs_per_txn = s.committed ? static_cast<double>(fsyncs) / s.committed : 0;
  r.committed = s.committed;
  r.failed = s.failed + s.aborted;
  state.SetIterationTime(s.elapsed_s);
  state.counters["tps"] = r.tps;
  state.counters["p50_ms"] = r.p50_ms;
  state.counters["p99_ms"] = r.p99_ms;
  state.counters["fsyncs_per_txn"] = r.fsyncs_per_txn;
  state.counters["not_committed"] = static_cast<double>(r.failed);
  std::lock_guard<std::mutex> l(g_mu);
  g_results[name].push_back(r);
}

int64_t Orders(int concurrency) {
  int64_t n = concurrency == 1 ? 1500 : concurrency <= 16 ? 5000 : 8000;
  return std::max<int64_t>(100, static_cast<int64_t>(n * g_scale));
}

workload::LoadOptions Load(int c) {
  workload::LoadOptions lo;
  lo.transactions = Orders(c);
  lo.concurrency = c;
  lo.progress = false;
  return lo;
}

// --- The hand-written baseline ---------------------------------------------

struct Baseline {
  PGconn* pg = nullptr;
  int log_fd = -1;
  ~Baseline() {
    if (pg) PQfinish(pg);
    if (log_fd >= 0) close(log_fd);
  }
};

bool Exec(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) std::cerr << sql << ": " << PQerrorMessage(c);
  PQclear(r);
  return ok;
}

void BM_Baseline(benchmark::State& state) {
  const int c = static_cast<int>(state.range(0));
  std::vector<Baseline> w(c);
  for (int i = 0; i < c; ++i) {
    w[i].pg = PQconnectdb(g_dsn.c_str());
    std::string path = g_dir + "/baseline-" + std::to_string(i) + ".log";
    w[i].log_fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  }
  BrokerClient::Options bo;
  bo.url = g_broker;
  std::unique_ptr<BrokerClient> broker;
  if (!BrokerClient::Create(bo, &broker).ok()) state.SkipWithError("broker client");
  workload::OrderIdAllocator ids(g_dsn);
  std::atomic<uint64_t> fsyncs{0};
  static std::atomic<int64_t> gid_seq{0};
  for (auto _ : state) {
    auto s = workload::RunLoad(Load(c), [&](int worker, int64_t i) {
      Baseline& b = w[worker];
      int64_t id = 0;
      if (!ids.Next(&id).ok()) return workload::Outcome::kFailed;
      workload::Order o = workload::MakeOrder(id, i, 1);
      std::string gid = "bench:" + std::to_string(getpid()) + ":" + std::to_string(++gid_seq);
      if (!Exec(b.pg, "BEGIN")) return workload::Outcome::kFailed;
      std::string sid = std::to_string(o.id), amt = std::to_string(o.amount_cents);
      const char* params[] = {sid.c_str(), o.customer.c_str(), amt.c_str()};
      PGresult* r =
          PQexecParams(b.pg, "INSERT INTO orders (id, customer, amount_cents) VALUES ($1, $2, $3)",
                       3, nullptr, params, nullptr, nullptr, 0);
      bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      PQclear(r);
      if (!ok || !Exec(b.pg, "PREPARE TRANSACTION '" + gid + "'")) {
        Exec(b.pg, "ROLLBACK");
        return workload::Outcome::kFailed;
      }
      if (!broker->Prepare(gid, {workload::OrderPlacedMessage(o)}).ok()) {
        Exec(b.pg, "ROLLBACK PREPARED '" + gid + "'");
        return workload::Outcome::kAborted;
      }
      std::string rec = "C " + gid + "\n";
      if (write(b.log_fd, rec.data(), rec.size()) != static_cast<ssize_t>(rec.size()) ||
          fdatasync(b.log_fd) != 0) {
        return workload::Outcome::kFailed;
      }
      ++fsyncs;
      if (!Exec(b.pg, "COMMIT PREPARED '" + gid + "'")) return workload::Outcome::kFailed;
      if (!broker->Commit(gid).ok()) return workload::Outcome::kFailed;
      return workload::Outcome::kCommitted;
    });
    Report(state, "baseline/c" + std::to_string(c), s, fsyncs.load());
  }
}

// --- The coordinator ---------------------------------------------------------

void BM_Coordinator(benchmark::State& state, std::string mode) {
  const int c = static_cast<int>(state.range(0));
  static std::atomic<int> run{0};
  std::string id = "bench" + std::to_string(getpid()) + "x" + std::to_string(run++);
  std::vector<coord::ParticipantSpec> specs = {{coord::ParticipantSpec::Kind::kPostgres, g_dsn},
                                               {coord::ParticipantSpec::Kind::kBroker, g_broker}};
  coord::BuildOptions bo;
  bo.pg_connections = 2 * c + 4;
  coord::Built built;
  Status s = coord::BuildMembers(specs, bo, &built);
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  coord::GroupCommit::Options group;
  group.delay = std::chrono::microseconds(1000);
  group.siblings = 32;
  std::unique_ptr<coord::DecisionLog> log;
  if (mode == "file" || mode == "ack-decision") {
    coord::FileDecisionLog::Options fo;
    fo.path = g_dir + "/" + id + ".dlog";
    fo.group = group;
    std::unique_ptr<coord::FileDecisionLog> f;
    s = coord::FileDecisionLog::Open(fo, &f);
    log = std::move(f);
  } else {
    coord::PgDecisionLog::Options po;
    po.dsn = g_dsn;
    po.coordinator_id = id;
    po.group = group;
    std::unique_ptr<coord::PgDecisionLog> p;
    s = coord::PgDecisionLog::Open(po, &p);
    log = std::move(p);
  }
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  coord::CoordinatorOptions co;
  co.id = id;
  co.lrco = mode == "lrco";
  co.lrco_member = built.topology.shards[0];
  co.ack_after = mode == "ack-decision" ? coord::AckAfter::kDecision : coord::AckAfter::kPhase2;
  co.background_workers = std::max(2, c);
  co.background_capacity = std::min<size_t>(128, 4 * static_cast<size_t>(c) + 16);
  co.max_call_threads = 8 * c + 32;
  std::unique_ptr<coord::Coordinator> coordinator;
  s = coord::Coordinator::Create(co, built.members, std::move(log), &coordinator);
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  workload::OrderIdAllocator ids(g_dsn);
  for (auto _ : state) {
    uint64_t before = coordinator->stats().log_forced_writes;
    auto sum = workload::RunLoad(Load(c), [&](int, int64_t i) {
      int64_t oid = 0;
      if (!ids.Next(&oid).ok()) return workload::Outcome::kFailed;
      auto r = coordinator->Execute(
          coord::PlaceOrderWork(workload::MakeOrder(oid, i, 1), built.topology));
      return r.outcome == coord::TxnOutcome::kCommitted ? workload::Outcome::kCommitted
             : r.outcome == coord::TxnOutcome::kAborted ? workload::Outcome::kAborted
                                                        : workload::Outcome::kFailed;
    });
    coordinator->Drain(milliseconds(30000));
    Report(state, "2pc-" + mode + "/c" + std::to_string(c), sum,
           coordinator->stats().log_forced_writes - before);
  }
}

// --- The outbox writer --------------------------------------------------------

// `notify`: the writer's default also sends a NOTIFY to wake relays (after
// the commit, coalesced: outbox/writer.h). The reference here is the local
// transaction alone (orders + outbox insert, one commit), so "outbox" runs
// without it and "outbox-notify" shows its cost.
void BM_Outbox(benchmark::State& state, bool notify) {
  const int c = static_cast<int>(state.range(0));
  outbox::WriterOptions wo;
  wo.dsn = g_dsn;
  wo.connections = c;
  wo.notify = notify ? outbox::WriterOptions::NotifyMode::kAfterCommit
                     : outbox::WriterOptions::NotifyMode::kOff;
  std::unique_ptr<outbox::OutboxWriter> w;
  Status s = outbox::OutboxWriter::Open(wo, &w);
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  for (auto _ : state) {
    auto sum = workload::RunLoad(Load(c), [&](int worker, int64_t i) {
      int64_t id = 0;
      return w->PlaceOrder(worker, i, &id).ok() ? workload::Outcome::kCommitted
                                                : workload::Outcome::kFailed;
    });
    Report(state, std::string(notify ? "outbox-notify" : "outbox") + "/c" + std::to_string(c), sum,
           0);
  }
}

Status SetUpEnvironment() {
  const char* d = std::getenv("DW_BENCH_DSN");
  const char* b = std::getenv("DW_BENCH_BROKER");
  std::string dsn = d ? d : "", broker = b ? b : "";
  g_dir = std::filesystem::temp_directory_path() / ("dw-bench-coord-" + std::to_string(getpid()));
  std::filesystem::create_directories(g_dir);
  if (dsn.empty()) {
    const char* sd = std::getenv("DUALWRITE_STATE_DIR");
    setenv("DUALWRITE_BINARY", DW_BINARY, 0);
    env::UpOptions up;
    up.broker = false;
    env::Endpoints ep;
    Status s = env::Environment(sd && *sd ? sd : "./.dualwrite").Up(up, &ep, &std::cerr);
    if (!s.ok()) return s;
    dsn = ep.dsn;
  }
  if (broker.empty()) {
    // A broker of our own: its `orders` topic then holds only this run's
    // messages, and the environment's stays comparable with its database.
    g_broker_server = std::make_unique<BrokerServer>(g_dir + "/broker", "batch");
    Status s = g_broker_server->Start();
    if (!s.ok()) return s;
    broker = g_broker_server->url();
  }
  // A fresh database, so every run starts from the same empty tables.
  Status s = env::RecreateScratchDatabase(dsn, "dw_bench_coord");
  if (!s.ok()) return s;
  s = WithDatabase(dsn, "dw_bench_coord", &g_dsn);
  if (!s.ok()) return s;
  g_broker = broker;
  s = workload::EnsureOrdersSchema(g_dsn);
  if (!s.ok()) return s;
  const char* scale = std::getenv("DW_BENCH_SCALE");
  if (scale) g_scale = std::atof(scale);
  return Status::OK();
}

// Medians over the rounds: the rounds interleave the configurations, so a
// burst of load from another process hits all of them alike.
Result Median(std::vector<Result> v) {
  auto mid = [&](auto field) {
    std::vector<double> x;
    for (const auto& r : v) x.push_back(r.*field);
    std::sort(x.begin(), x.end());
    return x[x.size() / 2];
  };
  Result m;
  m.tps = mid(&Result::tps);
  m.p50_ms = mid(&Result::p50_ms);
  m.p99_ms = mid(&Result::p99_ms);
  m.fsyncs_per_txn = mid(&Result::fsyncs_per_txn);
  return m;
}

void PrintRatios() {
  std::lock_guard<std::mutex> l(g_mu);
  std::map<std::string, Result> med;
  size_t rounds = 0;
  for (const auto& [k, v] : g_results) {
    med[k] = Median(v);
    rounds = std::max(rounds, v.size());
  }
  std::printf("\nmedians over %zu round(s):\n", rounds);
  for (const auto& [k, r] : med) {
    std::printf("  %-22s %8.0f tps  p50 %7.3f ms  p99 %8.3f ms  fsyncs/txn %.3f\n", k.c_str(),
                r.tps, r.p50_ms, r.p99_ms, r.fsyncs_per_txn);
  }
  auto get = [&](const std::string& k) -> const Result* {
    auto it = med.find(k);
    return it == med.end() ? nullptr : &it->second;
  };
  std::printf("\nratios (medians, same run):\n");
  auto line = [&](const std::string& what, const std::string& a, const std::string& b) {
    const Result* x = get(a);
    const Result* y = get(b);
    if (!x || !y || y->tps == 0 || y->p50_ms == 0) return;
    std::printf("  %-44s throughput %.2fx  p50 latency %.2fx\n", what.c_str(), x->tps / y->tps,
                x->p50_ms / y->p50_ms);
  };
  line("2pc (file log) vs baseline, C=1", "2pc-file/c1", "baseline/c1");
  line("2pc (file log) vs baseline, C=16", "2pc-file/c16", "baseline/c16");
  for (std::string m : {"file", "postgres", "ack-decision", "lrco"}) {
    for (int c : {1, 16}) {
      std::string cs = std::to_string(c);
      line("2pc-" + m + " vs outbox writer, C=" + cs, "2pc-" + m + "/c" + cs, "outbox/c" + cs);
    }
  }
  if (const Result* g = get("2pc-file/c64")) {
    std::printf("  group commit at C=64 (file log): %.3f decision-log fsyncs per transaction\n",
                g->fsyncs_per_txn);
  }
}

}  // namespace
}  // namespace dw::bench

int main(int argc, char** argv) {
  using namespace dw::bench;
  benchmark::Initialize(&argc, argv);
  dw::Status s = SetUpEnvironment();
  if (!s.ok()) {
    std::cerr << "coordinator_bench: " << s.ToString() << "\n";
    return 1;
  }
  auto reg = [](benchmark::internal::Benchmark* b) {
    b->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
  };
  const char* rounds_env = std::getenv("DW_BENCH_ROUNDS");
  const int rounds = rounds_env ? std::max(1, std::atoi(rounds_env)) : 3;
  for (int round = 0; round < rounds; ++round) {
    for (int c : {1, 16}) {
      reg(benchmark::RegisterBenchmark("baseline", BM_Baseline)->Arg(c));
      reg(benchmark::RegisterBenchmark("outbox", BM_Outbox, false)->Arg(c));
      reg(benchmark::RegisterBenchmark("outbox-notify", BM_Outbox, true)->Arg(c));
      for (const char* m : {"file", "postgres", "ack-decision", "lrco"}) {
        reg(benchmark::RegisterBenchmark((std::string("2pc-") + m).c_str(), BM_Coordinator,
                                         std::string(m))
                ->Arg(c));
      }
    }
    reg(benchmark::RegisterBenchmark("2pc-file", BM_Coordinator, std::string("file"))->Arg(64));
  }
  benchmark::RunSpecifiedBenchmarks();
  PrintRatios();
  g_broker_server.reset();
  std::filesystem::remove_all(g_dir);
  return 0;
}
