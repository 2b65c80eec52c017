#include "compare/family_figures.h"

#include <pqxx/pqxx>

namespace dw::compare {

using json = nlohmann::json;
using results::Field;
using results::Percentiles;

Field<Percentiles> SagaPendingAge(const Rig& rig) {
  try {
    pqxx::connection c{rig.dsn};
    pqxx::nontransaction tx{c};
    // saga_orders.updated_at is set by the step that ended the pending state;
    // orders.created_at is T1's transaction start, the moment the row appeared.
    auto r = tx.exec_params1(
        "SELECT count(*),"
        " COALESCE(percentile_cont(0.5) WITHIN GROUP (ORDER BY age), 0),"
        " COALESCE(percentile_cont(0.99) WITHIN GROUP (ORDER BY age), 0),"
        " COALESCE(max(age), 0)"
        " FROM (SELECT extract(epoch FROM s.updated_at - o.created_at) * 1000 AS age"
        "       FROM saga_orders s JOIN orders o ON o.id = s.order_id"
        "       WHERE s.status <> 'pending' AND s.order_id BETWEEN $1 AND $2) a",
        rig.min_id, rig.max_id);
    const uint64_t n = r[0].as<uint64_t>();
    if (n == 0) return nullptr;
    Percentiles p;
    p.p50 = r[1].as<double>();
    p.p99 = r[2].as<double>();
    p.max = r[3].as<double>();
    p.count = n;
    return p;
  } catch (const std::exception&) {
    return nullptr;
  }
}

Field<results::DirtyReads> SagaDirtyReads(const Proc& load) {
  json j = json::parse(LastLine(load.out), nullptr, false);
  if (!j.is_object() || !j.contains("dirty_reads")) return nullptr;
  return results::ReadField<results::DirtyReads>(j["dirty_reads"]);
}

Field<Percentiles> ProjectionLag(const Proc& projector) {
  json j = json::parse(LastLine(projector.out), nullptr, false);
  if (!j.is_object() || !j.contains("lag_ms") || !j["lag_ms"].is_object()) return nullptr;
  const json& lag = j["lag_ms"];
  if (lag.value("count", 0) == 0) return nullptr;
  Percentiles p;
  p.p50 = lag.value("p50", 0.0);
  p.p99 = lag.value("p99", 0.0);
  p.max = lag.value("max", 0.0);
  p.count = lag.value("count", 0);
  return p;
}

}  // namespace dw::compare
