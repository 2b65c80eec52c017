#include "outbox/key_partitions.h"

#include <pqxx/pqxx>

#include "outbox/pg_util.h"
#include "participants/pg_schema.h"

namespace dw::outbox {

Status EnsureKeyHashColumn(const std::string& dsn) {
  bool present = false;
  Status s = WithConnection(dsn, "looking for outbox_table.key_hash", [&](pqxx::connection& c) {
    pqxx::read_transaction tx{c};
    present = tx.exec1(
                    "SELECT count(*) > 0 FROM pg_attribute"
                    " WHERE attrelid = 'outbox_table'::regclass AND attname = 'key_hash'"
                    " AND NOT attisdropped")[0]
                  .as<bool>();
  });
  if (!s.ok() || present) return s;
  // hashtext is immutable, as a generated column requires; the bucket is
  // its low ten bits, never negative.
  return ApplyDdl(dsn, 0x64770005,
                  {"ALTER TABLE outbox_table ADD COLUMN IF NOT EXISTS key_hash integer"
                   " GENERATED ALWAYS AS (hashtext(msg_key) & " +
                       std::to_string(kKeyBuckets - 1) + ") STORED",
                   "CREATE INDEX IF NOT EXISTS outbox_table_key_hash_idx"
                   " ON outbox_table (key_hash, id)"},
                  "outbox key partitions");
}

std::string KeyBucketsLiteral(int partition, int partitions) {
  std::string out = "{";
  for (int b = partition; partitions > 0 && b < kKeyBuckets; b += partitions) {
    if (out.size() > 1) out += ",";
    out += std::to_string(b);
  }
  return out + "}";
}

Status KeyPartitionOf(const std::string& dsn, const std::string& key, int partitions,
                      int* partition) {
  return WithConnection(dsn, "hashing a key", [&](pqxx::connection& c) {
    pqxx::read_transaction tx{c};
    *partition =
        tx.exec_params1("SELECT (hashtext($1) & $2) % $3", key, kKeyBuckets - 1, partitions)[0]
            .as<int>();
  });
}

}  // namespace dw::outbox
