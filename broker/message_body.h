// The request bodies that carry messages: POST /topics/{t}/messages (one),
// POST /topics/{t}/batch and POST /transactions/{gid}/prepare (a list).
//
// They are parsed with simdjson, not with the nlohmann DOM used for every
// other body: a relay's batch is one body of 1000 messages, and building a
// DOM of it (a std::map per message, the text copied byte by byte) cost the
// broker more CPU than sequencing and writing the batch together
// (bench/broker_bench.cc, publish_batch).
//
// Contract (what clients see in {"error": ...} with a 400):
//   - the body must be valid JSON (UTF-8, numbers within a double's range)
//     and an object: "malformed JSON body" / "JSON body must be an object";
//   - a message is an object with "payload" (a string, required) and "id",
//     "key" (strings; missing or null means ""); other fields are ignored;
//     when a key repeats, its last value counts;
//   - a list body is {"messages": [ ... ]}; an error in element i is
//     reported as "messages[i]: <reason>";
//   - a staged message (prepare) also needs "topic", a valid name (names.h);
//   - several prepares (POST /transactions/prepare) are {"transactions":
//     [{"gid": ..., "messages": [...]}, ...]}, several commits
//     (POST /transactions/commit) {"gids": [...]}: each gid a valid name,
//     none twice, at most api::kMaxManyTransactions; an error names its
//     place ("transactions[2]: messages[0]: ...").
// Thread-safe: each thread parses with a parser of its own.
//
// The answer to a read (GET /topics/{t}/messages) carries up to 10,000
// messages and is written straight into its buffer for the same reason:
// {"messages":[{"id":..,"key":..,"offset":..,"payload":..,"ts":..},...],
//  "next":N}, the bytes nlohmann's dump() of the same object would give
// (its keys in that sorted order, no spaces).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "broker/log_format.h"
#include "broker/store.h"

namespace dw::broker {

bool ParseMessageBody(const std::string& body, MessageData* out, std::string* err);
bool ParseBatchBody(const std::string& body, std::vector<MessageData>* out, std::string* err);
bool ParsePrepareBody(const std::string& body, std::vector<StagedMessage>* out, std::string* err);

// One transaction of a several-prepare body.
struct PrepareItem {
  std::string gid;
  std::vector<StagedMessage> staged;
};
bool ParsePrepareManyBody(const std::string& body, std::vector<PrepareItem>* out, std::string* err);
bool ParseGidsBody(const std::string& body, std::vector<std::string>* out, std::string* err);

// The read answer for `msgs`, whose next offset is `next`. A string that is
// not valid UTF-8 (none should be: every stored message passed the parsers
// above) is written with U+FFFD in place of its bad bytes, never thrown on.
std::string ReadBody(const std::vector<StoredMessage>& msgs, uint64_t next);

}  // namespace dw::broker
