// Cost counters read before and after a cell: WAL generated and flushed
// (cluster-wide: cells run one at a time), rows updated or deleted (each
// leaves a dead tuple for vacuum) and autovacuum runs in the cell's database.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "compare/results.h"

namespace dw::compare {

struct CostSnapshot {
  uint64_t wal_bytes = 0;        // pg_current_wal_lsn() - '0/0'
  uint64_t wal_writes = 0;       // pg_stat_wal.wal_write
  uint64_t wal_syncs = 0;        // pg_stat_wal.wal_sync
  uint64_t dead_tuples = 0;      // sum of n_tup_upd + n_tup_del over the database's tables
  uint64_t autovacuum_runs = 0;  // sum of autovacuum_count
  uint64_t broker_fsyncs = 0;
};

Status TakeCost(const std::string& cell_dsn, CostSnapshot* out);

// {wal_bytes_per_op, wal_syncs_per_op, wal_writes_per_op, dead_tuples_per_op,
//  autovacuum_runs, broker_fsyncs_per_op}; broker figures null when !broker.
results::Cost CostPerOp(const CostSnapshot& before, const CostSnapshot& after, uint64_t ops,
                        bool broker);

}  // namespace dw::compare
