// Key partitions of the skip-locked relay (`outbox relay --instances K
// --partition-by key`): instance i of K claims only rows whose key hashes to
// i mod K, so every event of one key goes through one instance, in id order.
//
// The hash is a stored generated column of outbox_table, written with the
// row whoever inserts it (writer, capture trigger):
//   key_hash = hashtext(msg_key) & 1023     (never negative)
// and for each K in use an expression index on ((key_hash % K), id), so that
// instance i's claim
//   WHERE key_hash % K = i  ORDER BY id LIMIT B  FOR UPDATE
// is one index range read in id order (merged across the table's partitions):
// it reads its own rows only and stops after B of them. (An index on
// (key_hash, id) with `key_hash = ANY(the instance's buckets)` cannot give id
// order: Postgres 15 fetches every row of the partition's backlog and sorts
// it for each batch.)
// The claim WAITS for a locked row of its partition instead of skipping it
// (SKIP LOCKED would let a later event of a key overtake one whose publish is
// being retried). A failed publish rolls the batch back; the next claim
// starts with the same rows again.
//
// The column and the index of K are added by the first partitioned relay of
// that K (EnsureKeyPartitionIndex), so outboxes never relayed that way pay
// nothing, and one relayed with K = 3 pays for one more index on insert.
#pragma once

#include <string>

#include "common/status.h"

namespace dw::outbox {

inline constexpr int kKeyHashMask = 1023;

// Adds key_hash to outbox_table if absent, and the index serving the claim of
// `partitions` instances (only the unsent rows, status = 'new', when
// `mark_sent`: the sent rows stay in the table then). Idempotent.
Status EnsureKeyPartitionIndex(const std::string& dsn, int partitions, bool mark_sent);

// The claim's condition for instance `partition` of `partitions`, in the
// form the index of EnsureKeyPartitionIndex serves: "key_hash % K = i".
std::string KeyPartitionCondition(int partition, int partitions);

// Which partition of `partitions` a key belongs to, computed as Postgres
// does (hashtext); for tests and logs, through the database.
Status KeyPartitionOf(const std::string& dsn, const std::string& key, int partitions,
                      int* partition);

}  // namespace dw::outbox
