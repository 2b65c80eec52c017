#include "bench/sink_drain.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <stdexcept>
#include <vector>

#include <pqxx/pqxx>

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

double TimedDrain(outbox::RelayOptions ro, int instances, std::ostream* log,
                  outbox::RelayReport* report) {
  ro.strategy = outbox::Strategy::kSkipLocked;
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  rn.instances = instances;
  rn.log = log;
  const auto t0 = std::chrono::steady_clock::now();
  OrThrow(outbox::RunRelays(ro, rn, report));
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void RunPairs(int pairs, int64_t rows, const Pair& p) {
  std::vector<double> ratios;
  int64_t next = 1;
  for (int i = 0; i < pairs; ++i) {
    double drain = 0, base = 0;
    const std::string dt = "drain_" + std::to_string(i), bt = "baseline_" + std::to_string(i);
    auto run_drain = [&] { drain = p.drain(dt, next); };
    auto run_base = [&] { base = p.baseline(bt, next); };
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
  }
  if (ratios.empty()) return;
  std::sort(ratios.begin(), ratios.end());
  std::cout << "ratio drain/baseline: median " << std::setprecision(2) << ratios[ratios.size() / 2]
            << ", min " << ratios.front() << ", max " << ratios.back() << " (target >= 0.70)\n";
}

}  // namespace dw::bench::sink
