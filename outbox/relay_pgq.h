// pgq: the relay as a PgQ consumer (outbox/pgq_queue.h). Each Step is one
// batch:
//   BEGIN; SELECT next batch (below);                          -- id or NULL
//          SELECT * FROM pgq.get_batch_cursor(batch, cursor, 1000);
//          FETCH 1000 FROM cursor ...;                         COMMIT;
//   -- each chunk of 1000 published (each event with its event id,
//   -- ev_extra1) on a worker thread while the next chunk is fetched
//   BEGIN; SELECT pgq.finish_batch(batch); COMMIT;             -- after the last ack
// The batch belongs to the consumer from next_batch until finish_batch,
// across transactions and restarts: a relay that died (or whose publish
// failed) gets the same batch again from next_batch and publishes it again;
// the broker's dedupe absorbs the repeats. The only transaction open during
// a publish is the batch's read-only one while its chunks are fetched; it
// commits before the last chunk's ack is awaited. Nothing is updated or
// deleted per event.
//
// What can overlap: PgQ gives a consumer one open batch at a time, and the
// batch may only be finished once the broker acknowledged all of it, so
// batch n+1 cannot be read while batch n is published. Inside a batch it can:
// the chunks. And a batch may span several ticks: pgq.next_batch_custom with
// a minimum event count (8,000) merges the ticks of a backlog into one batch,
// so next_batch, the cursor and finish_batch are paid once per 8,000 events
// instead of once per tick; with fewer events waiting, the next tick's batch
// is taken as it is (no added latency).
//
// A tick's size is set by the ticker (ticker_max_count, ticker_max_lag),
// not by --batch. Ticks come from pgqd (the default) or, with
// RelayOptions::pgq_self_tick, from the relay, which calls pgq.ticker(queue)
// when it finds no batch. One consumer is one reader: run one instance.
//
// Drained (--until-drained): no batch open, the consumer at the last tick,
// and no committed event that tick did not see. The last part reads the
// tick's snapshot: a transaction in progress at the tick that committed
// after it adds nothing to the queue's event counter (its event took its
// ev_id before the tick), and its event waits for the next tick.
#pragma once

#include <memory>

#include "outbox/relay.h"

namespace dw::outbox {

std::unique_ptr<Relay> NewPgqRelay(const RelayOptions& opts);

}  // namespace dw::outbox
