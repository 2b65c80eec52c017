#include "outbox/inbox.h"

#include <memory>
#include <pqxx/pqxx>

#include "rabbitmq/client.h"

namespace dw::outbox {

std::string InboxReport::ToText() const {
  return "consumed " + std::to_string(delivered) + " messages: " + std::to_string(applied) +
         " applied, " + std::to_string(absorbed) + " duplicates absorbed by the inbox";
}

nlohmann::json InboxReport::ToJson() const {
  return {{"delivered", delivered}, {"applied", applied}, {"absorbed", absorbed}};
}

Status EnsureInboxSchema(const std::string& dsn) {
  try {
    pqxx::connection c{dsn};
    pqxx::work tx{c};
    tx.exec0(
        "CREATE TABLE IF NOT EXISTS inbox (message_id text PRIMARY KEY,"
        " absorbed integer NOT NULL DEFAULT 0,"
        " received_at timestamptz NOT NULL DEFAULT now())");
    tx.exec0(
        "CREATE TABLE IF NOT EXISTS consumer_orders (order_key text PRIMARY KEY,"
        " events integer NOT NULL)");
    tx.commit();
  } catch (const pqxx::broken_connection& e) {
    return Status::Unavailable(std::string("cannot connect to Postgres: ") + e.what());
  } catch (const std::exception& e) {
    return Status::IOError(std::string("creating the inbox: ") + e.what());
  }
  return Status::OK();
}

Status ConsumeWithInbox(const InboxOptions& opts, InboxReport* r) {
  *r = InboxReport{};
  Status s = EnsureInboxSchema(opts.dsn);
  if (!s.ok()) return s;
  rabbitmq::ClientOptions co;
  co.url = opts.amqp_url;
  std::unique_ptr<rabbitmq::Client> client;
  s = rabbitmq::Client::Connect(co, &client);
  if (!s.ok()) return s;
  try {
    pqxx::connection c{opts.dsn};
    auto handle = [&](const rabbitmq::StoredMessage& m) -> Status {
      try {
        pqxx::work tx{c};
        if (opts.inbox && !m.id.empty()) {
          // The id and the work commit together or not at all.
          const int absorbed =
              tx.exec_params1(
                    "INSERT INTO inbox (message_id) VALUES ($1) ON CONFLICT (message_id)"
                    " DO UPDATE SET absorbed = inbox.absorbed + 1 RETURNING absorbed",
                    m.id)[0]
                  .as<int>();
          if (absorbed > 0) {
            tx.commit();
            ++r->absorbed;
            ++r->delivered;
            return Status::OK();
          }
        }
        tx.exec_params0(
            "INSERT INTO consumer_orders (order_key, events) VALUES ($1, 1)"
            " ON CONFLICT (order_key) DO UPDATE SET events = consumer_orders.events + 1",
            m.key);
        tx.commit();
        ++r->applied;
        ++r->delivered;
        return Status::OK();
      } catch (const std::exception& e) {
        return Status::IOError(std::string("inbox transaction: ") + e.what());
      }
    };
    uint64_t handled = 0;
    return client->Consume(opts.topic, opts.idle, handle, &handled);
  } catch (const pqxx::broken_connection& e) {
    return Status::Unavailable(std::string("cannot connect to Postgres: ") + e.what());
  }
}

}  // namespace dw::outbox
