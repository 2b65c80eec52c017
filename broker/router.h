// Router: one HTTP request in, one response out - the broker's whole HTTP API,
// free of sockets, so it can be driven directly by tests and fuzzers. Its
// paths, JSON keys and the Status <-> HTTP table are the wire contract in
// api.h, shared with the clients; this is the server's side of it:
//
//   POST /topics/{topic}/messages      {"id"?, "key"?, "payload"}  -> 201 {"offset"} | 200 dup
//                                                                   | 422 rejected (reject_prob)
//   POST /topics/{topic}/batch         {"messages": [...]}         -> 200 {"offsets": [...]}
//   GET  /topics/{topic}/messages?from=&limit=                     -> 200 {"messages", "next"}
//   POST /transactions/{gid}/prepare   {"messages": [{"topic",...}]} -> 200 {"vote":"commit"}
//                                                                   | 409 {"vote":"abort","reason"}
//   POST /transactions/{gid}/commit    -> 200 {"offsets"} | 404 unknown | 412 aborted
//   POST /transactions/{gid}/abort     -> 200 {} (also unknown gid) | 412 committed
//   POST /transactions/{gid}/precommit -> 200 {"state":"precommitted"} (also again, and after
//                                         its commit) | 404 never prepared | 412 aborted
//   POST /transactions/prepare         {"transactions": [{"gid", "messages"}, ...]}
//   POST /transactions/commit          {"gids": [...]}
//                                      -> 200 {"results": [{"gid", "status", ...}, ...]}:
//                                         per gid, in order, the status and body its own
//                                         request would have had; one durable write for
//                                         all (each its own with --fsync always)
//   GET  /transactions?state=prepared|precommitted
//                                      -> 200 {"transactions":
//                                      [{"gid","state","prepared_at","messages"}]}
//   GET  /healthz, GET /metrics, GET|POST /admin/faults
// Errors are {"error": "..."}: 400 bad input, 401 bad token, 404 unknown
// route, 405 wrong method, 503 shutting down, 507 disk full, 500 I/O error.
//
// Thread-safe. Handle() never throws; `done` is called exactly once, either
// before Handle returns (reads, errors) or later on the writer thread
// (mutations, once durable).
#pragma once

#include <functional>
#include <string>

#include "broker/faults.h"
#include "broker/metrics.h"
#include "broker/store.h"
#include "broker/writer.h"

namespace dw::broker {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path + optional query
  std::string body;
  std::string authorization;  // the Authorization header, if any
};

struct HttpResult {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;              // for 405
  std::string route = "unknown";  // metrics label
};

class Router {
 public:
  using Done = std::function<void(HttpResult)>;

  // Pointers are not owned. An empty `token` disables authentication;
  // otherwise every route but /healthz needs "Authorization: Bearer <token>".
  Router(Store* store, Writer* writer, Faults* faults, Metrics* metrics, std::string token = "");

  void Handle(const HttpRequest& req, Done done);

  // Whether injected latency applies to this target (not for /healthz,
  // /metrics, /admin/*).
  static bool AddsLatency(const std::string& target);

 private:
  void Dispatch(const HttpRequest& req, const Done& done);

  Store* store_;
  Writer* writer_;
  Faults* faults_;
  Metrics* metrics_;
  std::string token_;
};

}  // namespace dw::broker
