#include "outbox/relay.h"

#include "outbox/relay_cdc.h"
#include "outbox/relay_offset_naive.h"
#include "outbox/relay_offset_safe.h"
#include "outbox/relay_pgq.h"
#include "outbox/relay_skip_locked.h"
#include "outbox/relay_status.h"

namespace dw::outbox {

const char* StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kSkipLocked:
      return "skip-locked";
    case Strategy::kStatus:
      return "status";
    case Strategy::kOffsetNaive:
      return "offset-naive";
    case Strategy::kOffsetSafe:
      return "offset-safe";
    case Strategy::kCdc:
      return "cdc";
    case Strategy::kPgq:
      return "pgq";
  }
  return "?";
}

Status ParseStrategy(std::string_view name, Strategy* out) {
  for (Strategy s : {Strategy::kSkipLocked, Strategy::kStatus, Strategy::kOffsetNaive,
                     Strategy::kOffsetSafe, Strategy::kCdc, Strategy::kPgq}) {
    if (name == StrategyName(s)) {
      *out = s;
      return Status::OK();
    }
  }
  return Status::InvalidArgument("unknown strategy '" + std::string(name) +
                                 "' (skip-locked, status, offset-naive, offset-safe, cdc, pgq)");
}

std::string CounterKey(const RelayOptions& opts) {
  switch (opts.strategy) {
    case Strategy::kOffsetNaive:
      return opts.by_time ? "offset-naive:time" : "offset-naive:id";
    case Strategy::kOffsetSafe:
      return "offset-safe";
    case Strategy::kCdc:
      return "cdc";
    default:
      return "";
  }
}

std::string UnsentPredicate(const RelayOptions& opts) {
  const std::string key = "'" + CounterKey(opts) + "'";
  switch (opts.strategy) {
    case Strategy::kPgq:
      return "true";  // the events live in PgQ's tables: outbox_table has none of its rows
    case Strategy::kSkipLocked:
      return opts.mark_sent ? "o.status <> 'sent'" : "true";  // else a sent row is deleted
    case Strategy::kStatus:
      return "o.status <> 'sent'";
    case Strategy::kOffsetNaive:
      if (opts.by_time) {
        return "NOT EXISTS (SELECT 1 FROM outbox_counter c WHERE c.counter_key = " + key +
               " AND o.created_dttm <= 'epoch'::timestamptz"
               " + c.counter_value * interval '1 microsecond')";
      }
      return "NOT EXISTS (SELECT 1 FROM outbox_counter c WHERE c.counter_key = " + key +
             " AND o.id <= c.counter_value)";
    case Strategy::kOffsetSafe:
      return "NOT EXISTS (SELECT 1 FROM outbox_counter c WHERE c.counter_key = " + key +
             " AND (o.txid, o.id) <= (COALESCE(c.counter_xid, '0'), c.counter_value))";
    case Strategy::kCdc:
      // The watermark: every transaction below counter_xid was streamed and
      // acknowledged (see relay_cdc.h).
      return "NOT EXISTS (SELECT 1 FROM outbox_counter c WHERE c.counter_key = " + key +
             " AND o.txid < c.counter_xid)";
  }
  return "true";
}

bool ValidReplicationName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

Status CreateRelay(const RelayOptions& opts, std::unique_ptr<Relay>* out) {
  if (opts.batch < 1) return Status::InvalidArgument("batch must be >= 1");
  // The replication protocol's commands take no parameters: the cdc relay
  // writes these names into START_REPLICATION / CREATE_REPLICATION_SLOT.
  if (!opts.slot.empty() && !ValidReplicationName(opts.slot)) {
    return Status::InvalidArgument("'" + opts.slot + "' is not a slot name: want [a-z0-9_]{1,63}");
  }
  if (!ValidReplicationName(opts.publication)) {
    return Status::InvalidArgument("'" + opts.publication +
                                   "' is not a publication name: want [a-z0-9_]{1,63}");
  }
  if (opts.key_partitions > 0 && opts.strategy != Strategy::kSkipLocked) {
    return Status::InvalidArgument("--partition-by key is for --strategy skip-locked only");
  }
  if (opts.pipeline && (opts.strategy != Strategy::kSkipLocked || opts.key_partitions > 0)) {
    // A partitioned claim waits on its own locked rows: the batch claimed
    // ahead would wait for the one being published.
    return Status::InvalidArgument(
        "--pipeline is for --strategy skip-locked without --partition-by key");
  }
  if (opts.key_partitions < 0 || opts.key_partition < 0 ||
      (opts.key_partitions > 0 && opts.key_partition >= opts.key_partitions)) {
    return Status::InvalidArgument("key partition out of range");
  }
  if (opts.dsn.empty()) return Status::InvalidArgument("no Postgres DSN");
  if (opts.broker_url.empty() && opts.nats_url.empty() && opts.amqp_url.empty()) {
    return Status::InvalidArgument("no broker URL");
  }
  switch (opts.strategy) {
    case Strategy::kSkipLocked:
      *out = NewSkipLockedRelay(opts);
      break;
    case Strategy::kStatus:
      *out = NewStatusRelay(opts);
      break;
    case Strategy::kOffsetNaive:
      *out = NewOffsetNaiveRelay(opts);
      break;
    case Strategy::kOffsetSafe:
      *out = NewOffsetSafeRelay(opts);
      break;
    case Strategy::kCdc:
      *out = NewCdcRelay(opts);
      break;
    case Strategy::kPgq:
      *out = NewPgqRelay(opts);
      break;
  }
  return Status::OK();
}

}  // namespace dw::outbox
