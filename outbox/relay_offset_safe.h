// offset-safe: the counter idea without the loss. Every outbox row carries
// the xid8 of the transaction that wrote it (txid DEFAULT
// pg_current_xact_id()), and the relay reads only rows whose transaction is
// older than every transaction still running:
//   SELECT pg_snapshot_xmin(pg_current_snapshot());          -- $horizon
//   SELECT counter_xid, counter_value FROM outbox_counter
//     WHERE counter_key = 'offset-safe' FOR UPDATE SKIP LOCKED;
//   SELECT ... FROM outbox_table WHERE (txid, id) > ($xid, $id)
//     AND txid < $horizon ORDER BY txid, id LIMIT $B;
//   -- publish; store the last (txid, id); COMMIT.
// Why no loss: a transaction whose xid is below the horizon has finished,
// and every transaction that starts later gets a larger xid, so no row can
// ever appear behind the stored position.
// The price: the horizon is cluster-wide. One long-running transaction (in
// any database), or a PREPAREd one, holds it back and the relay STALLS
// until that transaction ends; Housekeeping names the culprit.
#pragma once

#include <memory>

#include "outbox/relay.h"

namespace dw::outbox {

std::unique_ptr<Relay> NewOffsetSafeRelay(const RelayOptions& opts);

}  // namespace dw::outbox
