#include "outbox/cdc_watermark.h"

#include <pqxx/pqxx>

#include "outbox/pgoutput.h"
#include "participants/pg_pool.h"

namespace dw::outbox {

Status CdcWatermark::Advance(PgPool* pool, const std::string& counter_key, uint64_t confirmed) {
  PgPool::Lease lease;
  Status s = pool->Acquire(&lease);
  if (!s.ok()) return s;
  try {
    pqxx::work tx{lease.conn()};
    std::string best;
    while (!samples_.empty() && samples_.front().lsn <= confirmed) {
      best = samples_.front().xmin;
      samples_.pop_front();
    }
    if (!best.empty()) {
      tx.exec_params(
          "UPDATE outbox_counter SET counter_xid = $2::xid8, update_dttm = now()"
          " WHERE counter_key = $1",
          counter_key, best);
    }
    if (samples_.size() < kMaxSamples) {
      auto r = tx.exec1(
          "SELECT pg_snapshot_xmin(pg_current_snapshot())::text, pg_current_wal_lsn()::text");
      Sample smp;
      smp.xmin = r[0].as<std::string>();
      if (pgoutput::ParseLsn(r[1].as<std::string>(), &smp.lsn)) samples_.push_back(smp);
    }
    tx.commit();
  } catch (...) {
    return StatusFromPgException(&lease, "cdc: watermark");
  }
  return Status::OK();
}

}  // namespace dw::outbox
