#include "outbox/pgq_queue.h"

#include <pqxx/pqxx>

#include "outbox/pg_util.h"
#include "participants/pg_pool.h"

namespace dw::outbox {

namespace {

std::string Interval(std::chrono::milliseconds ms) {
  return std::to_string(ms.count()) + " milliseconds";
}

// One attempt; throws what libpqxx throws.
void SetUpPgqQueue(const std::string& dsn, const PgqTickerSettings* settings) {
  pqxx::connection c{WithConnectTimeout(dsn)};
  pqxx::work tx{c};
  // Several commands may ensure it at once: one at a time per database.
  tx.exec("SELECT pg_advisory_xact_lock(hashtext('dw_pgq_setup'))");
  tx.exec("CREATE EXTENSION IF NOT EXISTS pgq");
  tx.exec_params(
      "SELECT pgq.create_queue($1) WHERE NOT EXISTS"
      " (SELECT 1 FROM pgq.queue WHERE queue_name = $1)",
      kPgqQueue);
  // register_consumer is idempotent (0 when it exists already); a new
  // consumer starts at the queue's latest tick.
  tx.exec_params("SELECT pgq.register_consumer($1, $2)", kPgqQueue, kPgqConsumer);
  if (settings) {
    tx.exec_params("SELECT pgq.set_queue_config($1, 'ticker_max_count', $2)", kPgqQueue,
                   std::to_string(settings->max_count));
    tx.exec_params("SELECT pgq.set_queue_config($1, 'ticker_max_lag', $2)", kPgqQueue,
                   Interval(settings->max_lag));
    tx.exec_params("SELECT pgq.set_queue_config($1, 'ticker_idle_period', $2)", kPgqQueue,
                   Interval(settings->idle_period));
  }
  tx.commit();
}

}  // namespace

Status EnsurePgqQueue(const std::string& dsn, const PgqTickerSettings* settings) {
  // The advisory lock orders commands within one database only, but the
  // extension also creates cluster-wide roles (pgq_reader, pgq_writer,
  // pgq_admin) when they are missing: two databases of one cluster creating
  // it at once can collide on pg_authid's unique index. The loser tries
  // again and then finds the roles there.
  for (int attempt = 1;; ++attempt) {
    try {
      SetUpPgqQueue(dsn, settings);
      return Status::OK();
    } catch (const pqxx::unique_violation&) {
      if (attempt < 3) continue;
      return StatusFromPgException(nullptr, "setting up the PgQ queue");
    } catch (...) {
      return StatusFromPgException(nullptr,
                                   "setting up the PgQ queue (the pgq extension needs the "
                                   "postgresql-15-pgq3 package and a superuser)");
    }
  }
}

std::string DescribeTickerSettings(const PgqTickerSettings& settings) {
  return "ticker_max_count=" + std::to_string(settings.max_count) +
         " ticker_max_lag=" + std::to_string(settings.max_lag.count()) +
         "ms ticker_idle_period=" + std::to_string(settings.idle_period.count()) + "ms";
}

std::string PgqInsertSql() {
  return std::string("SELECT pgq.insert_event('") + kPgqQueue +
         "', $6, $8, $5, $7, $4, NULL) FROM ord";
}

}  // namespace dw::outbox
