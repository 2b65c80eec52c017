// Key partitions of the skip-locked relay (`outbox relay --instances K
// --partition-by key`): instance i of K claims only rows whose key hashes to
// i mod K, so every event of one key goes through one instance, in id order.
//
// The hash is a stored generated column of outbox_table, written with the
// row whoever inserts it (writer, capture trigger):
//   key_hash = hashtext(msg_key) & 1023     (1024 buckets)
// with an index on (key_hash, id). An instance claims
//   WHERE key_hash = ANY(its buckets)  ORDER BY id LIMIT B  FOR UPDATE
// so its claim reads its own rows only, and it WAITS for a locked row of its
// partition instead of skipping it (SKIP LOCKED would let a later event of a
// key overtake one whose publish is being retried). A failed publish rolls
// the batch back; the next claim starts with the same rows again.
//
// The column and index are added by the first partitioned relay
// (EnsureKeyHashColumn), so outboxes never relayed that way pay nothing.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace dw::outbox {

inline constexpr int kKeyBuckets = 1024;

// Adds key_hash and its index to outbox_table if absent. Idempotent; a table
// that has them costs one catalog read.
Status EnsureKeyHashColumn(const std::string& dsn);

// The buckets of partition `partition` of `partitions`, as a Postgres int[]
// literal: "{i, i+K, i+2K, ...}" below kKeyBuckets.
std::string KeyBucketsLiteral(int partition, int partitions);

// Which partition of `partitions` a key belongs to, computed as Postgres
// does (hashtext); for tests and logs, through the database.
Status KeyPartitionOf(const std::string& dsn, const std::string& key, int partitions,
                      int* partition);

}  // namespace dw::outbox
