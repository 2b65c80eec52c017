// CdcWatermark: which outbox rows the cdc relay has sent, for partition
// maintenance (UnsentPredicate in relay.h: a row whose txid is below the
// relay's outbox_counter.counter_xid is sent, and its partition may go).
//
// A slot confirms WAL positions, not transaction ids, so the relay samples
// (pg_snapshot_xmin(pg_current_snapshot()), pg_current_wal_lsn()) every few
// seconds. Every transaction below a sample's xmin had ended before that
// LSN, so once the position confirmed to the server passes the LSN, those
// transactions were streamed and acknowledged: counter_xid moves to that
// xmin. At most kMaxSamples are kept: a relay that confirms nothing stops
// taking more.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "common/status.h"

namespace dw {
class PgPool;
}

namespace dw::outbox {

class CdcWatermark {
 public:
  // Moves `counter_key`'s counter_xid to the newest sample at or below
  // `confirmed`, and takes a new sample; one transaction.
  Status Advance(PgPool* pool, const std::string& counter_key, uint64_t confirmed);

 private:
  static constexpr size_t kMaxSamples = 64;
  struct Sample {
    std::string xmin;
    uint64_t lsn;
  };
  std::deque<Sample> samples_;
};

}  // namespace dw::outbox
