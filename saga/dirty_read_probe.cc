#include "saga/dirty_read_probe.h"

#include <exception>
#include <memory>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "participants/pg_array.h"

namespace dw::saga {

nlohmann::json DirtyReadReport::ToJson() const {
  return {{"interval_ms", interval_ms},
          {"polls", polls},
          {"orders_seen_pending", orders_seen_pending},
          {"then_placed", then_placed},
          {"then_cancelled", then_cancelled},
          {"still_pending", still_pending},
          {"errors", errors}};
}

DirtyReadProbe::DirtyReadProbe(std::string dsn, std::chrono::milliseconds interval)
    : dsn_(std::move(dsn)), interval_(interval) {}

DirtyReadProbe::~DirtyReadProbe() { Stop(); }

void DirtyReadProbe::Stop() {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
}

Status DirtyReadProbe::Start() {
  std::shared_ptr<pqxx::connection> conn;
  try {
    conn = std::make_shared<pqxx::connection>(dsn_);
    conn->prepare("dw_saga_pending", "SELECT saga_id FROM saga_log WHERE state = 'pending'");
  } catch (const std::exception& e) {
    return Status::IOError(std::string("dirty-read probe: cannot connect: ") + e.what());
  }
  poller_ = std::thread([this, conn] {
    while (!stop_.load()) {
      std::vector<int64_t> ids;
      bool ok = true;
      try {
        pqxx::nontransaction tx(*conn);
        for (const auto& row : tx.exec_prepared("dw_saga_pending")) {
          ids.push_back(row[0].as<int64_t>());
        }
      } catch (const std::exception&) {
        ok = false;  // Postgres restarting: counted, the next poll tries again
      }
      {
        std::lock_guard<std::mutex> l(mu_);
        ++polls_;
        if (!ok) ++errors_;
        seen_.insert(ids.begin(), ids.end());
      }
      std::this_thread::sleep_for(interval_);
    }
  });
  return Status::OK();
}

Status DirtyReadProbe::Finish(DirtyReadReport* out) {
  Stop();
  DirtyReadReport r;
  r.interval_ms = interval_.count();
  std::vector<int64_t> ids;
  {
    std::lock_guard<std::mutex> l(mu_);
    r.polls = polls_;
    r.errors = errors_;
    ids.assign(seen_.begin(), seen_.end());
  }
  r.orders_seen_pending = ids.size();
  if (!ids.empty()) {
    try {
      pqxx::connection c(dsn_);
      pqxx::nontransaction tx(c);
      for (const auto& row : tx.exec_params(
               "SELECT status, count(*) FROM saga_orders WHERE order_id = ANY($1::bigint[]) "
               "GROUP BY status",
               BigintArray(ids))) {
        const std::string status = row[0].as<std::string>();
        const auto n = row[1].as<uint64_t>();
        if (status == "placed") r.then_placed = n;
        if (status == "cancelled") r.then_cancelled = n;
        if (status == "pending") r.still_pending = n;
      }
    } catch (const std::exception& e) {
      *out = r;
      return Status::IOError(std::string("dirty-read probe: final statuses: ") + e.what());
    }
  }
  *out = r;
  return Status::OK();
}

}  // namespace dw::saga
