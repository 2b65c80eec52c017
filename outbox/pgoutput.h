// A decoder for the pgoutput logical replication protocol, version 1 (what
// `START_REPLICATION ... (proto_version '1', publication_names '...')`
// streams inside XLogData). Pure: no I/O, so it is unit-tested on bytes.
//
// Only what the cdc relay needs is decoded: Begin, Commit, Relation, Insert
// and logical messages (pg_logical_emit_message, streamed with the option
// messages 'true'). Other messages (Update, Delete, Truncate, Type, Origin)
// are reported as kOther and skipped; each XLogData carries exactly one
// message, so skipping needs no parsing.
// Reference: PostgreSQL docs, "Logical Replication Message Formats".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace dw::outbox::pgoutput {

struct Relation {
  uint32_t oid = 0;
  std::string nspname;
  std::string relname;
  std::vector<std::string> columns;
  // Index of `name` in columns, or -1.
  int ColumnIndex(std::string_view name) const;
};

struct Message {
  enum class Kind { kBegin, kCommit, kRelation, kInsert, kLogicalMessage, kOther };
  Kind kind = Kind::kOther;
  char type = 0;  // the raw message type byte
  // kBegin: final_lsn (the commit's LSN), xid. kCommit: commit_lsn, end_lsn.
  uint64_t final_lsn = 0;
  uint32_t xid = 0;
  uint64_t commit_lsn = 0;
  uint64_t end_lsn = 0;  // confirm this after the transaction is published
  // kRelation, kInsert: the relation (owned by the decoder).
  const Relation* relation = nullptr;
  // kInsert: the new tuple's columns in text form; nullopt = NULL (or an
  // unchanged TOAST value, which an insert never has).
  std::vector<std::optional<std::string>> values;
  // kLogicalMessage: emitted inside a transaction (true: it arrives between
  // that transaction's Begin and Commit, in commit order) or not; the LSN it
  // was written at; its prefix and content.
  bool transactional = false;
  uint64_t message_lsn = 0;
  std::string prefix;
  std::string content;
};

class Decoder {
 public:
  // Decodes one pgoutput message. Corruption on a truncated or malformed
  // message; InvalidArgument on an Insert for a relation never described.
  Status Decode(std::string_view bytes, Message* out);

 private:
  std::unordered_map<uint32_t, Relation> relations_;
};

// Big-endian helpers shared with the replication protocol framing.
uint64_t ReadU64(const char* p);
uint32_t ReadU32(const char* p);
void PutU64(std::string* out, uint64_t v);

// "16/B374D848" <-> 64-bit LSN.
std::string FormatLsn(uint64_t lsn);
bool ParseLsn(std::string_view text, uint64_t* lsn);

}  // namespace dw::outbox::pgoutput
