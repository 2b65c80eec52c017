#include "bench/sink_drain.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "env/proc_info.h"
#include "env/scratch_database.h"
#include "outbox/partitions.h"
#include "outbox/schema.h"

namespace dw::bench::sink {

void OrThrow(const Status& s) {
  if (!s.ok()) throw std::runtime_error(s.ToString());
}

int64_t EnvInt(const char* name, int64_t def) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoll(v) : def;
}

std::string Payload(int64_t g) {
  return "{\"type\":\"OrderPlaced\",\"order_id\":" + std::to_string(g) +
         ",\"customer\":\"customer-" + std::to_string(g % 1000) +
         "\",\"amount_cents\":" + std::to_string(100 + g % 100000) + ",\"placed_at_us\":0}";
}

void Prefill(const std::string& dsn, const std::string& topic, int64_t first, int64_t rows) {
  pqxx::connection c{dsn};
  pqxx::work tx{c};
  tx.exec("TRUNCATE outbox_table");
  // The payload of Payload(g), built by Postgres for every row at once.
  tx.exec(
      "INSERT INTO outbox_table (entity_name, event_id, topic, msg_key, payload)"
      " SELECT 'order', 'order-' || g, " +
      tx.quote(topic) +
      ", g::text, '{\"type\":\"OrderPlaced\",\"order_id\":' || g || ',\"customer\":\"customer-' "
      "|| (g % 1000) || '\",\"amount_cents\":' || (100 + g % 100000) || ',\"placed_at_us\":0}'"
      " FROM generate_series(" +
      std::to_string(first) + ", " + std::to_string(first + rows - 1) + ") g");
  tx.commit();
  pqxx::nontransaction n{c};
  n.exec("VACUUM ANALYZE outbox_table");
}

std::string OutboxDatabase(const BenchEnvironment& env, const std::string& name) {
  OrThrow(env::RecreateScratchDatabase(env.dsn(), name));
  std::string dsn;
  OrThrow(WithDatabase(env.dsn(), name, &dsn));
  OrThrow(outbox::EnsureSchema(dsn));
  outbox::MaintenanceReport mr;
  OrThrow(outbox::MaintainPartitions(dsn, outbox::PartitionOptions{}, &mr));
  return dsn;
}

CpuUse CpuMeter::Now() const {
  CpuUse u;
  rusage r{};
  if (getrusage(RUSAGE_SELF, &r) == 0) {
    auto secs = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
    u.process = secs(r.ru_utime) + secs(r.ru_stime);
  }
  if (server_ > 0) u.server = env::ProcessTreeCpuSeconds(server_);
  if (postmaster_ > 0) u.postgres = env::ProcessTreeCpuSeconds(postmaster_);
  return u;
}

void CpuMeter::Start() { start_ = Now(); }

CpuUse CpuMeter::Stop() {
  if (postmaster_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const CpuUse end = Now();
  auto diff = [](double a, double b) { return a >= 0 && b >= 0 ? b - a : -1.0; };
  return {diff(start_.process, end.process), diff(start_.server, end.server),
          diff(start_.postgres, end.postgres)};
}

double TimedDrain(outbox::RelayOptions ro, int instances, std::ostream* log,
                  outbox::RelayReport* report, CpuMeter* meter, CpuUse* cpu) {
  ro.strategy = outbox::Strategy::kSkipLocked;
  ro.pipeline = EnvInt("DW_BENCH_PIPELINE", 0) > 0;
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  rn.instances = instances;
  rn.log = log;
  if (meter) meter->Start();
  const auto t0 = std::chrono::steady_clock::now();
  OrThrow(outbox::RunRelays(ro, rn, report));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (meter && cpu) *cpu = meter->Stop();
  return secs;
}

namespace {

// µs per message of one party, or -1.
double PerMessage(double secs, int64_t rows) { return secs >= 0 ? secs / rows * 1e6 : -1; }

// The parties' figures that were read, summed; -1 when this process's was not.
double TotalPerMessage(const CpuUse& c, int64_t rows) {
  if (c.process < 0) return -1;
  double t = c.process;
  if (c.server > 0) t += c.server;
  if (c.postgres > 0) t += c.postgres;
  return PerMessage(t, rows);
}

void PrintCpu(const char* side, const CpuUse& c, int64_t rows) {
  auto party = [&](const char* name, double secs) {
    if (secs >= 0) std::cout << " " << name << " " << PerMessage(secs, rows);
  };
  std::cout << "  " << side << " CPU µs/msg:";
  party("server", c.server);
  party("postgres", c.postgres);
  party("this process", c.process);
  std::cout << ", total " << TotalPerMessage(c, rows) << "\n";
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

void RunPairs(int pairs, int64_t rows, const Pair& p) {
  std::vector<double> ratios, bounds;
  int64_t next = 1;
  for (int i = 0; i < pairs; ++i) {
    double drain = 0, base = 0;
    CpuUse drain_cpu, base_cpu;
    const std::string dt = "drain_" + std::to_string(i), bt = "baseline_" + std::to_string(i);
    auto run_drain = [&] { drain = p.drain(dt, next, &drain_cpu); };
    auto run_base = [&] { base = p.baseline(bt, next, &base_cpu); };
    if (i % 2 == 0) {
      run_drain();
      run_base();
    } else {
      run_base();
      run_drain();
    }
    if (p.after) p.after(dt, bt);
    next += rows;
    ratios.push_back(drain / base);
    std::cout << std::fixed << std::setprecision(0) << "pair " << i + 1 << ": drain " << drain
              << " rows/s, baseline " << base << " msgs/s, ratio " << std::setprecision(2)
              << drain / base << "\n";
    std::cout << std::setprecision(1);
    PrintCpu("drain   ", drain_cpu, rows);
    PrintCpu("baseline", base_cpu, rows);
    const double d = TotalPerMessage(drain_cpu, rows), b = TotalPerMessage(base_cpu, rows);
    if (d > 0 && b > 0) bounds.push_back(b / d);
  }
  if (ratios.empty()) return;
  std::sort(ratios.begin(), ratios.end());
  std::cout << "ratio drain/baseline: median " << std::setprecision(2) << Median(ratios) << ", min "
            << ratios.front() << ", max " << ratios.back() << " (target >= 0.70)\n";
  if (!bounds.empty()) {
    std::sort(bounds.begin(), bounds.end());
    std::cout << "CPU per message, baseline total / drain total: median " << Median(bounds)
              << ", min " << bounds.front() << ", max " << bounds.back()
              << " (the ratio two saturated cores allow the drain)\n";
  }
}

}  // namespace dw::bench::sink
