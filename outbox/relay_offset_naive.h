// offset-naive: the seed's "sending by offset" with outbox_counter. One
// transaction per batch:
//   SELECT counter_value FROM outbox_counter WHERE counter_key = $k
//     FOR UPDATE SKIP LOCKED;             -- one relay at a time; others idle
//   SELECT ... FROM outbox_table WHERE id > $pos ORDER BY id LIMIT $B;
//       (--by time: created_dttm > $pos ORDER BY created_dttm, id)
//   -- publish
//   UPDATE outbox_counter SET counter_value = <last id or created_dttm µs>;
//   COMMIT;
// KNOWN TO LOSE MESSAGES, on purpose: ids (and now() timestamps) are taken
// when a transaction inserts, not when it commits. When a transaction with
// id 5 commits after one with id 6 has been relayed, the counter is already
// past 5 and row 5 is never read. --by time adds clock trouble on top
// (timestamps from different clocks, clock steps, rows of one instant split
// across batches). tests/outbox_offset_test.cc reproduces the loss
// deterministically; offset-safe is the fix.
#pragma once

#include <memory>

#include "outbox/relay.h"

namespace dw::outbox {

std::unique_ptr<Relay> NewOffsetNaiveRelay(const RelayOptions& opts);

}  // namespace dw::outbox
