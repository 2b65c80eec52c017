// status: the seed's status-column selection, in three short steps instead
// of one long transaction:
//   1. claim (its own transaction):
//        UPDATE outbox_table SET status = 'locked', locked_at = now(), locked_by = $me
//        WHERE id = ANY(ARRAY(SELECT id FROM outbox_table
//          WHERE status = 'new' ORDER BY created_dttm LIMIT $B FOR UPDATE SKIP LOCKED))
//        RETURNING ...
//   2. publish (no transaction open);
//   3. mark: UPDATE ... SET status = 'sent' WHERE id = ANY($ids).
// A failed publish returns the batch to 'new' at once. A relay that dies
// between 1 and 3 leaves rows 'locked': the reaper (every relay runs it in
// Housekeeping) returns rows locked longer than the lease to 'new', and they
// are published again (the broker deduplicates).
// Cost: two row versions per event (claim, mark), never HOT because status
// is in the partial index's predicate: dead tuples and autovacuum work,
// which the relay's report shows from pg_stat_user_tables.
#pragma once

#include <memory>

#include "outbox/relay.h"

namespace dw::outbox {

std::unique_ptr<Relay> NewStatusRelay(const RelayOptions& opts);

// Returns rows 'locked' for longer than `lease` to 'new'; *reaped = rows returned.
Status ReapExpiredLocks(const std::string& dsn, std::chrono::milliseconds lease, int64_t* reaped);

}  // namespace dw::outbox
