#include "outbox/key_partitions.h"

#include <pqxx/pqxx>

#include "outbox/pg_util.h"
#include "participants/pg_schema.h"

namespace dw::outbox {

Status EnsureKeyPartitionIndex(const std::string& dsn, int partitions, bool mark_sent) {
  if (partitions < 1) return Status::InvalidArgument("key partitions must be at least 1");
  const std::string k = std::to_string(partitions);
  const std::string index = "outbox_table_key_part" + k + (mark_sent ? "_new" : "") + "_idx";
  // Looked up first: ALTER TABLE takes an ACCESS EXCLUSIVE lock and CREATE
  // INDEX a SHARE lock even when IF NOT EXISTS then finds nothing to do, and
  // either would queue behind the other instances' claims and block writers.
  bool has_column = false, has_index = false;
  Status s = WithConnection(dsn, "looking for outbox_table.key_hash", [&](pqxx::connection& c) {
    pqxx::read_transaction tx{c};
    has_column = tx.exec1(
                       "SELECT count(*) > 0 FROM pg_attribute"
                       " WHERE attrelid = 'outbox_table'::regclass AND attname = 'key_hash'"
                       " AND NOT attisdropped")[0]
                     .as<bool>();
    has_index = tx.exec_params1("SELECT to_regclass($1) IS NOT NULL", index)[0].as<bool>();
  });
  if (!s.ok() || (has_column && has_index)) return s;
  // hashtext is immutable, as a generated column and an index expression
  // require; the mask keeps the value non-negative, so % K is a partition.
  // Adding the column rewrites the table once.
  return ApplyDdl(dsn, 0x64770005,
                  {"ALTER TABLE outbox_table ADD COLUMN IF NOT EXISTS key_hash integer"
                   " GENERATED ALWAYS AS (hashtext(msg_key) & " +
                       std::to_string(kKeyHashMask) + ") STORED",
                   "CREATE INDEX IF NOT EXISTS " + index + " ON outbox_table ((key_hash % " + k +
                       "), id)" + (mark_sent ? " WHERE status = 'new'" : "")},
                  "outbox key partitions");
}

std::string KeyPartitionCondition(int partition, int partitions) {
  return "key_hash % " + std::to_string(partitions) + " = " + std::to_string(partition);
}

Status KeyPartitionOf(const std::string& dsn, const std::string& key, int partitions,
                      int* partition) {
  return WithConnection(dsn, "hashing a key", [&](pqxx::connection& c) {
    pqxx::read_transaction tx{c};
    *partition =
        tx.exec_params1("SELECT (hashtext($1) & $2) % $3", key, kKeyHashMask, partitions)[0]
            .as<int>();
  });
}

}  // namespace dw::outbox
