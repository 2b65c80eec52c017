// The broker's wire contract: everything both ends of the HTTP API must
// agree on - route paths, JSON field names, and the one table between Status
// codes and HTTP statuses. The server (router.cc) answers by it and the
// clients (participants/broker_client.cc, env/http_get.cc's callers) read by
// it, so the two ends cannot drift apart. The API is a public interface
// (README, "Broker HTTP API"): paths and keys are never renamed.
//
// Status <-> HTTP. Every code the broker sends has ONE HTTP status, and the
// client reads that status back as the same code:
//
//   code                HTTP  the broker sends it when
//   OK                  200   the request was applied (201: a publish stored
//                             a new message; every 2xx reads as OK)
//   InvalidArgument     400   bad JSON, name, query or fault value
//   NotFound            404   commit of a gid the broker does not hold
//                             prepared (resolved before, or never prepared),
//                             precommit of a gid never prepared; an unknown
//                             route
//   Aborted             409   a prepare voted abort ({"vote": "abort"}): the
//                             abort_prob fault, or a gid already aborted
//   FailedPrecondition  412   the gid's outcome was decided the other way:
//                             commit or precommit of an aborted gid, abort
//                             of a committed one (retrying cannot help; nothing changed)
//   IOError             500   the log write failed; an internal error
//   Unavailable         503   the broker is shutting down
//   NoSpace             507   the disk is full; nothing was written
//
// Codes that never travel: Timeout and InDoubt are the client's own verdict
// on a request without an answer, Corruption is the broker's verdict on its
// log at start. Handed to the server anyway, they go out as 500 (IOError).
//
// Statuses the broker sends with no Status behind them, and how a client
// reads them (one way only):
//   401, 403        FailedPrecondition  missing or wrong credentials: this
//                                       client is not set up for the broker
//   422             Aborted             the broker refused the work, like a
//                                       vote abort: a single-message publish
//                                       rejected by the reject_prob fault
//                                       (the business "no"; nothing stored)
//   405, 413, 431   InvalidArgument     wrong method, body or header too large
//   other 4xx       InvalidArgument
//   other 5xx, 1xx, 3xx  IOError
//
// Before this table the server sent 409 for FailedPrecondition too, and the
// client read it as Aborted: a commit refused because the gid was aborted
// looked like a vote, which the participant contract (participant.h) only
// defines for Prepare.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace dw::broker::api {

// ---- Status <-> HTTP ----

struct StatusRow {
  Status::Code code;
  int http;
};

// The codes that travel, each with its own HTTP status (see above).
inline constexpr StatusRow kStatusTable[] = {
    {Status::Code::kOk, 200},
    {Status::Code::kInvalidArgument, 400},
    {Status::Code::kNotFound, 404},
    {Status::Code::kAborted, 409},
    {Status::Code::kFailedPrecondition, 412},
    {Status::Code::kIOError, 500},
    {Status::Code::kUnavailable, 503},
    {Status::Code::kNoSpace, 507},
};

// The HTTP-only statuses (no Status behind them at the server) and the
// code a client reads from each.
inline constexpr StatusRow kHttpOnlyTable[] = {
    {Status::Code::kFailedPrecondition, 401},
    {Status::Code::kFailedPrecondition, 403},
    {Status::Code::kInvalidArgument, 405},
    {Status::Code::kInvalidArgument, 413},
    {Status::Code::kAborted, 422},
    {Status::Code::kInvalidArgument, 431},
};

inline constexpr int kHttpCreated = 201;           // a publish that stored a new message
inline constexpr int kHttpUnauthorized = 401;      // missing or wrong bearer token
inline constexpr int kHttpMethodNotAllowed = 405;  // with an Allow header
inline constexpr int kHttpRejected = 422;          // the reject_prob fault's "no"

// The HTTP status the broker sends for `code`. Total: codes that do not
// travel get 500.
constexpr int HttpStatusFor(Status::Code code) {
  for (const StatusRow& r : kStatusTable) {
    if (r.code == code) return r.http;
  }
  return 500;  // Timeout, InDoubt, Corruption: not on the wire
}

// The code a client reads from an HTTP status. Total: every status maps.
constexpr Status::Code CodeForHttp(int http) {
  if (http >= 200 && http < 300) return Status::Code::kOk;
  for (const StatusRow& r : kStatusTable) {
    if (r.http == http) return r.code;
  }
  for (const StatusRow& r : kHttpOnlyTable) {
    if (r.http == http) return r.code;
  }
  if (http >= 400 && http < 500) return Status::Code::kInvalidArgument;
  return Status::Code::kIOError;
}

// CodeForHttp(http) as a Status carrying `message` (OK carries none).
Status StatusForHttp(int http, std::string message);

// ---- Routes ----
//
//   POST /topics/{topic}/messages             kPublish
//   GET  /topics/{topic}/messages?from=&limit= kRead (same path as kPublish)
//   POST /topics/{topic}/batch                kBatch
//   GET  /transactions?state=prepared         kTransactions (precommitted ones too)
//   GET  /transactions?state=precommitted     kTransactions (only those)
//   POST /transactions/{gid}/prepare          kPrepare
//   POST /transactions/{gid}/precommit        kPrecommit (three-phase commit)
//   POST /transactions/{gid}/commit           kCommit
//   POST /transactions/{gid}/abort            kAbort
//   POST /transactions/prepare                kPrepareMany (several gids at once)
//   POST /transactions/commit                 kCommitMany
//   GET  /healthz, GET /metrics, GET|POST /admin/faults

enum class Route {
  kNone,
  kHealthz,
  kMetrics,
  kFaults,
  kMessages,  // publish (POST) and read (GET)
  kBatch,
  kTransactions,
  kPrepare,
  kCommit,
  kAbort,
  kPrecommit,
  kPrepareMany,
  kCommitMany
};

// The most transactions one kPrepareMany or kCommitMany request may carry.
inline constexpr size_t kMaxManyTransactions = 1000;

// The route of a path split at '/' (no leading empty segment, no query).
Route MatchRoute(const std::vector<std::string_view>& segments);

// Client side: the target of a route. `name` is the topic (kMessages,
// kBatch) or the gid (kPrepare, kCommit, kAbort, kPrecommit), ignored by the
// others; kTransactions carries ?state=prepared. The caller checks `name` first
// (common/names.h): it is not escaped.
std::string Path(Route route, std::string_view name = {});
// GET /topics/{topic}/messages?from=&limit=
std::string ReadPath(std::string_view topic, uint64_t from, uint64_t limit);

// Query parameters.
inline constexpr char kFromParam[] = "from";
inline constexpr char kLimitParam[] = "limit";
inline constexpr char kStateParam[] = "state";
inline constexpr char kStatePrepared[] = "prepared";
// A prepared transaction that three-phase commit pre-committed: every
// participant voted yes, and the broker holds that durably. Still undecided
// (listed under state=prepared too, with this as its "state").
inline constexpr char kStatePrecommitted[] = "precommitted";

// ---- JSON field names ----
namespace key {
// A message (publish body, batch and prepare elements, read results).
inline constexpr char kId[] = "id";
inline constexpr char kKey[] = "key";
inline constexpr char kPayload[] = "payload";
inline constexpr char kTopic[] = "topic";  // prepare elements and prepared listings
inline constexpr char kTs[] = "ts";        // read results: when it became visible (unix ms)
inline constexpr char kOffset[] = "offset";
// Bodies.
inline constexpr char kMessages[] = "messages";
inline constexpr char kOffsets[] = "offsets";
inline constexpr char kNext[] = "next";
inline constexpr char kVote[] = "vote";      // prepare: "commit" | "abort"
inline constexpr char kReason[] = "reason";  // prepare: why it voted abort
// abort: "aborted"; precommit: "precommitted"; listed transactions:
// "prepared" | "precommitted".
inline constexpr char kState[] = "state";
inline constexpr char kTransactions[] = "transactions";
inline constexpr char kGid[] = "gid";
inline constexpr char kPreparedAt[] = "prepared_at";  // unix ms
// kPrepareMany / kCommitMany: the request's "transactions" ([{gid,
// messages}]) or "gids", and the answer's "results", one per transaction in
// the request's order, each {"gid", "status" (the HTTP status the request of
// that gid alone would have had), and that answer's fields}.
inline constexpr char kGids[] = "gids";
inline constexpr char kResults[] = "results";
// healthz: "ok"; a result of kPrepareMany / kCommitMany: its HTTP status.
inline constexpr char kStatus[] = "status";
inline constexpr char kError[] = "error";  // every error answer
}  // namespace key

inline constexpr char kVoteCommit[] = "commit";
inline constexpr char kVoteAbort[] = "abort";
inline constexpr char kStateAborted[] = "aborted";
inline constexpr char kHealthOk[] = "ok";

}  // namespace dw::broker::api
