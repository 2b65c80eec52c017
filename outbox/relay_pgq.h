// pgq: the relay as a PgQ consumer (outbox/pgq_queue.h). Each Step:
//   BEGIN; SELECT pgq.next_batch(queue, consumer);            -- batch id or NULL
//          SELECT ... FROM pgq.get_batch_events(batch); COMMIT;
//   -- publish, each event with its event id (ev_extra1)
//   BEGIN; SELECT pgq.finish_batch(batch); COMMIT;
// The batch belongs to the consumer from next_batch until finish_batch,
// across transactions and restarts: a relay that died (or whose publish
// failed) gets the same batch again from next_batch and publishes it again;
// the broker's dedupe absorbs the repeats. No transaction stays open during
// the publish, and nothing is updated or deleted per event.
//
// A batch holds what the ticks put in it, not --batch events: its size is
// set by the ticker (ticker_max_count, ticker_max_lag). Ticks come from pgqd
// (the default) or, with RelayOptions::pgq_self_tick, from the relay, which
// calls pgq.ticker(queue) when it finds no batch. One consumer is one
// reader: run one instance.
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
