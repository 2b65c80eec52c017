#include "outbox/emit_message.h"

#include <nlohmann/json.hpp>

namespace dw::outbox {

std::string EmitMessageSql() {
  return std::string("SELECT pg_logical_emit_message(true, '") + kEmitPrefix +
         "', json_build_object('event_id', $5::text, 'topic', $6::text, 'key', $7::text,"
         " 'payload', $8::text, 'entity', $4::text)::text) FROM ord";
}

Status DecodeEmitMessage(const std::string& content, uint64_t lsn, OutboxEvent* out) {
  auto j = nlohmann::json::parse(content, nullptr, /*allow_exceptions=*/false);
  auto text = [&](const char* k, std::string* v) {
    if (!j.contains(k) || !j[k].is_string()) return false;
    *v = j[k].get<std::string>();
    return true;
  };
  if (j.is_discarded() || !j.is_object() || !text("event_id", &out->event_id) ||
      !text("topic", &out->topic) || !text("key", &out->key) || !text("payload", &out->payload)) {
    return Status::Corruption("cdc: a '" + std::string(kEmitPrefix) +
                              "' logical message that is not an outbox event");
  }
  out->id = static_cast<int64_t>(lsn);
  return Status::OK();
}

}  // namespace dw::outbox
