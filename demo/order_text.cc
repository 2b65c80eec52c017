#include "demo/order_text.h"

#include <nlohmann/json.hpp>

#include "outbox/schema.h"

namespace dw::demo {

std::string InsertOrderSql(Session& s, const workload::Order& o) {
  return "INSERT INTO orders (id, customer, amount_cents) VALUES (" + std::to_string(o.id) + ", " +
         s.Quote(o.customer) + ", " + std::to_string(o.amount_cents) + ")";
}

std::string OutboxWriteSql(Session& s, const workload::Order& o) {
  OutMessage m = workload::OrderPlacedMessage(o);
  return "WITH ord AS (" + InsertOrderSql(s, o) +
         " RETURNING id) INSERT INTO outbox_table (entity_name, event_id, topic, msg_key, "
         "payload) SELECT " +
         s.Quote(outbox::kOrderEntity) + ", " + s.Quote(m.id) + ", " + s.Quote(m.topic) + ", " +
         s.Quote(m.key) + ", " + s.Quote(m.payload) + " FROM ord";
}

std::string PrepareBody(const workload::Order& o) {
  OutMessage m = workload::OrderPlacedMessage(o);
  nlohmann::json j = {
      {"messages", {{{"topic", m.topic}, {"id", m.id}, {"key", m.key}, {"payload", m.payload}}}}};
  return j.dump();
}

}  // namespace dw::demo
