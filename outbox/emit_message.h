// The outbox without a table: the writer emits the event into the WAL with
// pg_logical_emit_message(true, 'dw_outbox', content) inside the order's
// transaction, and the cdc relay reads it from its slot (pgoutput with
// messages 'true') between that transaction's Begin and Commit, in commit
// order. Nothing is stored in a table: nothing to delete, nothing to vacuum.
// A transactional message is decoded only if its transaction commits.
//
// The content is a JSON object {"event_id", "topic", "key", "payload"}
// (payload as text), built by Postgres from the statement's parameters.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "outbox/event.h"

namespace dw::outbox {

inline constexpr const char* kEmitPrefix = "dw_outbox";

// The writer's statement tail: the event of the order CTE `ord`, with
// $4 entity, $5 event id, $6 topic, $7 key, $8 payload.
std::string EmitMessageSql();

// The event carried by a message's `content`; its id is the message's LSN
// (unique, increasing in WAL order). Corruption when it is not our JSON.
Status DecodeEmitMessage(const std::string& content, uint64_t lsn, OutboxEvent* out);

}  // namespace dw::outbox
