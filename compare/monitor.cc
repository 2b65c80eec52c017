#include "compare/monitor.h"

#include <chrono>
#include <memory>

#include <pqxx/pqxx>

#include "compare/broker_tail.h"
#include "participants/broker_client.h"
#include "workload/orders.h"
#include "workload/stock.h"

namespace dw::compare {

using std::chrono::milliseconds;

Status EnsureHotRow(const std::string& dsn) { return workload::EnsureStockTable(dsn, 1); }

Monitor::Monitor(Options opts) : opts_(std::move(opts)) {}

Monitor::~Monitor() { Stop(); }

void Monitor::Start() {
  threads_.emplace_back([this] { InDoubtLoop(); });
  threads_.emplace_back([this] { ProbeLoop(); });
  if (opts_.tail != nullptr) threads_.emplace_back([this] { BacklogLoop(); });
}

void Monitor::Stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Monitor::InDoubtLoop() {
  std::unique_ptr<pqxx::connection> c;
  std::unique_ptr<BrokerClient> broker;
  if (!opts_.broker_url.empty()) {
    BrokerClient::Options bo;
    bo.url = opts_.broker_url;
    bo.timeout = milliseconds(1000);
    (void)BrokerClient::Create(bo, &broker);
  }
  while (!stop_) {
    InDoubt now;
    bool pg_ok = false, broker_ok = broker == nullptr;
    try {
      if (!c) {
        c = std::make_unique<pqxx::connection>(opts_.dsn + " connect_timeout=2");
        pqxx::nontransaction t{*c};
        t.exec0("SET statement_timeout = 2000");
      }
      pqxx::nontransaction tx{*c};
      auto r = tx.exec1(
          "SELECT count(*), COALESCE(extract(epoch FROM now() - min(prepared)), 0)::float8"
          " FROM pg_prepared_xacts WHERE database = current_database()");
      now.count += r[0].as<uint64_t>();
      now.max_age_s = r[1].as<double>();
      pg_ok = true;
    } catch (const std::exception&) {
      c.reset();  // the server is down or restarting: try again next round
    }
    if (broker) {
      std::vector<BrokerPrepared> prepared;
      if (broker->ListPrepared(&prepared).ok()) {
        broker_ok = true;
        const auto t = std::chrono::system_clock::now();
        now.count += prepared.size();
        for (const auto& p : prepared) {
          now.max_age_s =
              std::max(now.max_age_s, std::chrono::duration<double>(t - p.prepared_at).count());
        }
      }
    }
    now.known = pg_ok && broker_ok;
    {
      std::lock_guard<std::mutex> l(mu_);
      current_ = now;
      max_in_doubt_ = std::max(max_in_doubt_, now.count);
      max_age_s_ = std::max(max_age_s_, now.max_age_s);
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
}

void Monitor::ProbeLoop() {
  std::unique_ptr<pqxx::connection> c;
  while (!stop_) {
    bool done = false;
    try {
      if (!c) c = std::make_unique<pqxx::connection>(opts_.dsn + " connect_timeout=2");
      {
        std::lock_guard<std::mutex> l(mu_);
        probe_started_us_ = workload::NowMicros();
      }
      pqxx::work tx{*c};
      // Bounded so that Stop() is never stuck behind a lock held for good.
      tx.exec0("SET LOCAL statement_timeout = 120000");
      tx.exec0("UPDATE stock SET reserved = reserved + 1 WHERE product = 1");
      tx.commit();
      done = true;
    } catch (const std::exception&) {
      c.reset();  // a dead server is not a lock wait: that attempt is not counted
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      if (done && probe_started_us_ != 0) {
        probe_max_ms_ = std::max(probe_max_ms_, (workload::NowMicros() - probe_started_us_) / 1e3);
      }
      probe_started_us_ = 0;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
}

void Monitor::BacklogLoop() {
  std::unique_ptr<pqxx::connection> c;
  while (!stop_) {
    try {
      if (!c) {
        c = std::make_unique<pqxx::connection>(opts_.dsn + " connect_timeout=2");
        pqxx::nontransaction t{*c};
        t.exec0("SET statement_timeout = 2000");
      }
      pqxx::nontransaction tx{*c};
      const int64_t at = workload::NowMicros();
      auto rows = tx.exec1("SELECT count(*) FROM orders")[0].as<int64_t>();
      const int64_t sent = static_cast<int64_t>(opts_.tail->unique());
      std::lock_guard<std::mutex> l(mu_);
      backlog_.emplace_back(at, std::max<int64_t>(0, rows - sent));
    } catch (const std::exception&) {
      c.reset();
    }
    std::this_thread::sleep_for(milliseconds(250));
  }
}

Monitor::InDoubt Monitor::Current() const {
  std::lock_guard<std::mutex> l(mu_);
  return current_;
}

uint64_t Monitor::max_in_doubt() const {
  std::lock_guard<std::mutex> l(mu_);
  return max_in_doubt_;
}

double Monitor::max_in_doubt_age_s() const {
  std::lock_guard<std::mutex> l(mu_);
  return max_age_s_;
}

double Monitor::probe_max_wait_ms() const {
  std::lock_guard<std::mutex> l(mu_);
  double in_flight = probe_started_us_ ? (workload::NowMicros() - probe_started_us_) / 1e3 : 0;
  return std::max(probe_max_ms_, in_flight);
}

std::vector<std::pair<int64_t, int64_t>> Monitor::backlog() const {
  std::lock_guard<std::mutex> l(mu_);
  return backlog_;
}

}  // namespace dw::compare
