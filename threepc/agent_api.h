// The wire contract of three-phase commit's participant agents
// (`dualwrite 3pc agent`, threepc/agent.h): the routes the coordinator
// (`dualwrite 3pc run`) and the other agents call, their JSON, and which
// HTTP status means which Status. Both ends use these functions, so they
// cannot drift apart. The Status <-> HTTP table is the broker's
// (broker/api.h): a code means the same on every link of the lab.
//
//   POST /3pc/{gid}/cancommit  {"statements": [{"sql", "params": [text|null],
//                                               "expect_rows"?: n}],
//                               "messages": [{"topic", "id", "key", "payload"}]}
//                              -> 200 {"vote": "yes", "state": "uncertain"}
//                               | 409 {"vote": "no", "error"}
//   POST /3pc/{gid}/precommit  -> 200 {"state": "precommitted"} | 404 never prepared
//                               | 412 aborted
//   POST /3pc/{gid}/docommit   -> 200 {"state": "committed"} | 412 aborted
//   POST /3pc/{gid}/abort      -> 200 {"state": "aborted"} | 412 precommitted or committed
//   GET  /3pc/{gid}            -> 200 {"gid", "state", "frozen"}
//   POST /3pc/{gid}/freeze     -> 200 {"gid", "state"}: a recovery coordinator
//                                 collects the state; from then on this agent
//                                 refuses the coordinator's calls for the gid
//   POST /3pc/{gid}/terminate  -> 200 {"gid", "decision", "states": {"<id>": state},
//                                 "unreachable": [ids]}: run the termination
//                                 protocol here, as the recovery coordinator
//   ...?from=termination       on docommit and abort: the recovery
//                                 coordinator's decision, applied also to a
//                                 frozen gid
//   GET  /healthz              -> 200 {"id", "participant", "undecided"}
// Every agent takes the whole Work and does its part (participant.h): the
// Postgres agent runs the statements, the broker agent stages the messages.
// Errors are {"error": "..."}; 503 says the gid is frozen or being
// terminated (the caller is not the one deciding it now), 400 a bad gid or
// body, 404 an unknown route.
#pragma once

#include <string>

#include "common/status.h"
#include "participants/participant.h"

namespace dw::threepc::api {

enum class Route {
  kNone,
  kHealthz,
  kState,
  kCanCommit,
  kPrecommit,
  kDoCommit,
  kAbort,
  kFreeze,
  kTerminate
};

struct Target {
  Route route = Route::kNone;
  std::string gid;           // empty for kHealthz
  bool termination = false;  // ?from=termination
};

// Parses a request target; kNone for anything that is not a route above (a
// gid outside common/names.h's alphabet included).
Target ParseTarget(const std::string& target);
// The request target of `route` for `gid`.
std::string PathOf(Route route, const std::string& gid, bool termination = false);
// "GET" for kHealthz and kState, "POST" for the others.
const char* MethodOf(Route route);

std::string WorkToJson(const Work& w);
// InvalidArgument for a body that is not the JSON above.
Status WorkFromJson(const std::string& body, Work* out);

// {"error": message}
std::string ErrorBody(const std::string& message);
// The "error" of a reply body, else the body itself (cut short).
std::string ErrorOf(const std::string& body);

// The reply's HTTP status and body as the Status the caller reads.
Status StatusOfReply(int http, const std::string& body, const std::string& what);
// The HTTP status an agent answers `s` with.
int HttpStatusOf(const Status& s);

}  // namespace dw::threepc::api
