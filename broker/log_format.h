// The records of the broker's log (DIR/broker.log), and their byte encoding.
//
// The log is a RecordFile (common/record_file.h: length + CRC-32C frames);
// this file defines what goes inside one frame. Every change of broker state
// is exactly one record, so replaying the records in order rebuilds the state
// (see store.h). Records carry every value the sequencer decided (offsets,
// timestamps), never "what to do": replay must not re-decide anything.
//
// Payload encoding (compact binary; strings are length-prefixed so ids, keys
// and payloads may hold any bytes, NUL included, and round-trip exactly):
//   u8 type, then by type:
//   kPublish: str topic, var first_offset, var ts_ms, var n, n x (str id, str key, str payload)
//             (the messages get offsets first_offset, first_offset+1, ...)
//   kPrepare: str gid, var prepared_at_ms, var n,
//             n x (str topic, str id, str key, str payload)
//   kCommit:  str gid, var ts_ms, var n, n x var offset   (one per staged message, in order)
//   kAbort:   str gid
//   kPrecommit: str gid   (a prepared gid moves to "precommitted": three-phase
//             commit's durable "every participant voted yes" mark; its staged
//             messages stay where the kPrepare record put them)
// var = unsigned LEB128 varint (at most 10 bytes), str = var length + bytes.
// Decoding rejects (Corruption) anything malformed or with trailing bytes; it
// never trusts a count or length beyond the bytes actually present.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace dw::broker {

// The part of a message its producer chose. An empty id means "no
// idempotency key": such messages are never deduplicated.
struct MessageData {
  std::string id;
  std::string key;
  std::string payload;

  bool operator==(const MessageData&) const = default;
};

// A message staged by a prepared transaction: it names its topic.
struct StagedMessage {
  std::string topic;
  MessageData data;

  bool operator==(const StagedMessage&) const = default;
};

struct Record {
  enum class Type : uint8_t { kPublish = 1, kPrepare = 2, kCommit = 3, kAbort = 4, kPrecommit = 5 };

  Type type = Type::kPublish;
  std::string topic;          // kPublish
  uint64_t first_offset = 0;  // kPublish
  std::string gid;            // kPrepare, kCommit, kAbort, kPrecommit
  // kPublish/kCommit: the messages' "ts" (unix ms, taken by the sequencer
  // just before the write; they become visible once it is durable);
  // kPrepare: prepared_at.
  int64_t ts_ms = 0;
  std::vector<MessageData> messages;  // kPublish
  std::vector<StagedMessage> staged;  // kPrepare
  std::vector<uint64_t> offsets;      // kCommit

  bool operator==(const Record&) const = default;
};

const char* RecordTypeName(Record::Type t);

// Appends the encoding of `r` to *out.
void EncodeRecord(const Record& r, std::string* out);

// Parses one record payload. Any malformation -> Corruption; *out is then unspecified.
Status DecodeRecord(std::string_view in, Record* out);

}  // namespace dw::broker
