// skip-locked: the seed's "pessimistic locking" selection. One transaction
// per batch:
//   BEGIN;
//   DELETE FROM outbox_table WHERE id = ANY(ARRAY(
//     SELECT id FROM outbox_table ORDER BY id LIMIT $B
//     FOR UPDATE SKIP LOCKED)) RETURNING ...;
//   -- publish to the broker
//   COMMIT;          (ROLLBACK when the publish failed: the rows come back)
// The row locks held during the publish are what make K relays correct
// (each skips the others' rows), and also the strategy's cost: a transaction
// as long as a broker round trip, and a dead tuple per row for vacuum.
// Every row in the table is unsent under this strategy (sent rows are gone).
// SKIP LOCKED does not keep a key's order with K instances: while one holds
// event 1 of a key another may claim and send event 2. `--partition-by key`
// (RelayOptions::key_partitions, key_partitions.h) keeps it: each key has one
// instance, which waits on its own locked rows instead of skipping them.
// RelayOptions::pipeline: the relay of relay_skip_locked_pipeline.h instead,
// which claims the next batch while this one is published.
#pragma once

#include <memory>

#include "outbox/relay.h"

namespace dw::outbox {

std::unique_ptr<Relay> NewSkipLockedRelay(const RelayOptions& opts);

// The claim statement, also run alone (no broker) as the drain baseline.
extern const char* const kSkipLockedClaimSql;
// The same claim in mark mode (RelayOptions::mark_sent).
extern const char* const kSkipLockedMarkSql;

}  // namespace dw::outbox
