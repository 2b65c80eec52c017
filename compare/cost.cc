#include "compare/cost.h"

#include <pqxx/pqxx>

namespace dw::compare {

Status TakeCost(const std::string& cell_dsn, CostSnapshot* out) {
  try {
    pqxx::connection c{cell_dsn};
    pqxx::nontransaction tx{c};
    auto w = tx.exec1(
        "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint, wal_write, wal_sync"
        " FROM pg_stat_wal");
    out->wal_bytes = w[0].as<uint64_t>();
    out->wal_writes = w[1].as<uint64_t>();
    out->wal_syncs = w[2].as<uint64_t>();
    auto t = tx.exec1(
        "SELECT COALESCE(sum(n_tup_upd + n_tup_del), 0)::bigint,"
        " COALESCE(sum(autovacuum_count), 0)::bigint FROM pg_stat_user_tables");
    out->dead_tuples = t[0].as<uint64_t>();
    out->autovacuum_runs = t[1].as<uint64_t>();
  } catch (const std::exception& e) {
    return Status::IOError(std::string("reading cost counters: ") + e.what());
  }
  return Status::OK();
}

results::Cost CostPerOp(const CostSnapshot& b, const CostSnapshot& a, uint64_t ops, bool broker) {
  using results::Field;
  auto per = [ops](uint64_t before, uint64_t after) -> Field<double> {
    if (ops == 0 || after < before) return nullptr;
    return static_cast<double>(after - before) / static_cast<double>(ops);
  };
  results::Cost c;
  c.wal_bytes_per_op = per(b.wal_bytes, a.wal_bytes);
  c.wal_syncs_per_op = per(b.wal_syncs, a.wal_syncs);
  c.wal_writes_per_op = per(b.wal_writes, a.wal_writes);
  c.dead_tuples_per_op = per(b.dead_tuples, a.dead_tuples);
  c.autovacuum_runs = a.autovacuum_runs >= b.autovacuum_runs
                          ? Field<int64_t>(a.autovacuum_runs - b.autovacuum_runs)
                          : Field<int64_t>(nullptr);
  c.broker_fsyncs_per_op = broker ? per(b.broker_fsyncs, a.broker_fsyncs) : nullptr;
  return c;
}

}  // namespace dw::compare
