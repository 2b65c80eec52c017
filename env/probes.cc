#include "env/probes.h"

#include <chrono>

#include <pqxx/pqxx>

#include "broker/api.h"
#include "common/one_line.h"
#include "env/http_get.h"
#include "env/outbox_probes.h"

namespace dw::env {
namespace {

namespace api = broker::api;

// Items listed per section: enough to see what is stuck, bounded so that a
// runaway test does not turn `env` into a megabyte of JSON.
constexpr int kMaxItems = 100;

}  // namespace

Status ProbePreparedTransactions(const ProbeContext& ctx, nlohmann::json* section) {
  if (!ctx.postgres_running || ctx.dsn.empty()) return Status::OK();
  try {
    pqxx::connection c(ctx.dsn + " connect_timeout=5");
    // One transaction: now() is the same in both queries, so the summary
    // and the items agree on ages. pg_prepared_xacts lists every database's
    // prepared transactions, whichever database we are connected to.
    pqxx::read_transaction tx(c);
    pqxx::row summary = tx.exec1(
        "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(prepared)), 0)::float8 "
        "FROM pg_prepared_xacts");
    pqxx::result items = tx.exec(
        "SELECT gid, database, owner, prepared::text, "
        "EXTRACT(EPOCH FROM now() - prepared)::float8 "
        "FROM pg_prepared_xacts ORDER BY prepared LIMIT " +
        std::to_string(kMaxItems));
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : items) {
      list.push_back({{"gid", r[0].as<std::string>()},
                      {"database", r[1].as<std::string>()},
                      {"owner", r[2].as<std::string>()},
                      {"prepared_at", r[3].as<std::string>()},
                      {"age_s", r[4].as<double>()}});
    }
    int64_t count = summary[0].as<int64_t>();
    tx.commit();
    *section = {{"count", count},
                {"oldest_age_s", summary[1].as<double>()},
                {"items", list},
                {"truncated", count > kMaxItems}};
    return Status::OK();
  } catch (const std::exception& e) {
    return Status::Unavailable("pg_prepared_xacts: " + OneLine(e.what()));
  }
}

Status ProbeBrokerPrepared(const ProbeContext& ctx, nlohmann::json* section) {
  if (!ctx.broker_running || (ctx.broker_port <= 0 && ctx.broker_url.empty())) {
    return Status::OK();
  }
  HttpReply reply;
  const char* target = "/transactions?state=prepared";
  // The embedded broker by its port; a given one (--broker) by its URL,
  // https and the DUALWRITE_BROKER_* credentials included.
  Status s = ctx.broker_port > 0 ? HttpGet(ctx.broker_port, target, std::chrono::seconds(5), &reply)
                                 : HttpGet(ctx.broker_url, target, std::chrono::seconds(5), &reply);
  if (!s.ok()) return s;
  if (reply.status != 200) {
    return Status::IOError("GET /transactions?state=prepared answered " +
                           std::to_string(reply.status));
  }
  // {"transactions": [{"gid", "prepared_at", "messages"}]} (see the broker's router.h).
  auto body = nlohmann::json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object() || !body.contains(api::key::kTransactions) ||
      !body[api::key::kTransactions].is_array()) {
    return Status::Corruption("GET /transactions?state=prepared: unexpected body");
  }
  const auto& txs = body[api::key::kTransactions];
  nlohmann::json gids = nlohmann::json::array();
  double oldest_age_s = 0;
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  for (const auto& t : txs) {
    if (!t.is_object()) continue;
    if (static_cast<int>(gids.size()) < kMaxItems && t.contains(api::key::kGid) &&
        t[api::key::kGid].is_string()) {
      gids.push_back(t[api::key::kGid]);
    }
    // prepared_at: unix milliseconds.
    if (t.contains(api::key::kPreparedAt) && t[api::key::kPreparedAt].is_number()) {
      double age = (now_ms - t[api::key::kPreparedAt].get<double>()) / 1000.0;
      if (age > oldest_age_s) oldest_age_s = age;
    }
  }
  *section = {{"count", txs.size()},
              {"oldest_age_s", oldest_age_s},
              {"gids", gids},
              {"truncated", txs.size() > static_cast<size_t>(kMaxItems)}};
  return Status::OK();
}

std::vector<Probe> BuiltinProbes() {
  return {
      {"prepared_transactions", ProbePreparedTransactions},
      {"broker_prepared", ProbeBrokerPrepared},
      {"outbox", ProbeOutboxBacklog},
      {"replication_slots", ProbeReplicationSlots},
      {"pgq", ProbePgq},
  };
}

}  // namespace dw::env
