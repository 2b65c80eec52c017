// BrokerClient: the HTTP/1.1 client for the broker's API (see README, "Broker
// HTTP API"). Thread-safe: it keeps a pool of keep-alive connections and
// every request has a deadline. Used by the broker participant (2PC), the
// outbox relays, `verify` and the tests.
//
// The connection, TLS, deadline and credential handling (options, else the
// DUALWRITE_BROKER_* environment) is the shared transport's:
// broker/http_transport.h, which also says how transport failures map
// (Unavailable: nothing reached the broker; InDoubt / Timeout: it may have
// applied the request). An HTTP error status maps by broker/api.h's table,
// the same table the broker answers by: 404 NotFound, 409 Aborted (a vote
// abort), 412 FailedPrecondition (the gid's outcome went the other way),
// 401/403 FailedPrecondition, 422 Aborted (a publish refused), 400/405/413/
// other 4xx InvalidArgument, 503 Unavailable, 507 NoSpace, 500/other 5xx
// IOError; a response that is not the JSON we expect -> IOError. Error
// messages carry the broker's {"error": "..."} text when it sent one.
//
// Payloads: message ids, keys and payloads travel as JSON strings, so they
// must be valid UTF-8 (NUL bytes are fine: JSON escapes them as \u0000 and
// they round-trip byte-exact). Invalid UTF-8 is refused with InvalidArgument
// before anything is sent; binary data must be encoded by the caller
// (e.g. base64).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "broker/http_transport.h"
#include "common/status.h"
#include "participants/participant.h"

namespace dw {

struct BrokerMessage {
  uint64_t offset = 0;
  std::string id;
  std::string key;
  std::string payload;
  int64_t ts_ms = 0;  // when the broker made it visible (unix ms)
};

struct BrokerPrepared {
  std::string gid;
  std::chrono::system_clock::time_point prepared_at;
  std::vector<OutMessage> messages;
  bool precommitted = false;  // three-phase commit pre-committed it (still undecided)
};

class BrokerClient {
 public:
  // The transport's (broker/http_transport.h): URL, timeout, pool size,
  // credentials (else the environment), response size limit.
  using Options = broker::HttpTransport::Options;
  using Stats = broker::HttpTransport::Stats;

  // Parses the URL, resolves its host, reads the credentials (files and
  // environment, see above) and, for https, loads the TLS files; opens no
  // connection yet. InvalidArgument for a bad URL, an https URL without a
  // CA file, or an unreadable / malformed credential file; Unavailable when
  // the host does not resolve.
  static Status Create(const Options& opts, std::unique_ptr<BrokerClient>* out);
  ~BrokerClient();
  BrokerClient(const BrokerClient&) = delete;
  BrokerClient& operator=(const BrokerClient&) = delete;

  // POST /topics/{topic}/messages. *created is false when the id was a duplicate.
  Status Publish(const std::string& topic, const OutMessage& m, uint64_t* offset,
                 bool* created = nullptr);
  // POST /topics/{topic}/batch: one durable write on the broker for all of them.
  // The messages' own topic fields are ignored.
  Status PublishBatch(const std::string& topic, const std::vector<OutMessage>& ms,
                      std::vector<uint64_t>* offsets);
  // GET /topics/{topic}/messages?from=&limit=
  Status Read(const std::string& topic, uint64_t from, size_t limit,
              std::vector<BrokerMessage>* out, uint64_t* next);

  // POST /transactions/{gid}/prepare: OK = voted commit; Aborted(reason) = voted abort.
  Status Prepare(const std::string& gid, const std::vector<OutMessage>& ms);
  // POST /transactions/{gid}/commit: NotFound for an unknown gid. Idempotent.
  // `offsets` (may be null) receives the committed messages' offsets.
  Status Commit(const std::string& gid, std::vector<uint64_t>* offsets = nullptr);
  // POST /transactions/{gid}/abort: OK also for an unknown gid.
  Status Abort(const std::string& gid);
  // POST /transactions/{gid}/precommit (three-phase commit): OK also when it
  // was precommitted or committed before; NotFound for a gid never prepared,
  // FailedPrecondition for an aborted one.
  Status Precommit(const std::string& gid);

  // Prepare, Commit and Abort in two halves (HttpTransport::Start): the
  // request has been written when these return, and the call's Finish reads
  // the answer and returns what Prepare, Commit (without offsets) or Abort
  // returns. A bad gid or message is returned by Finish.
  std::unique_ptr<StartedCall> StartPrepare(const std::string& gid,
                                            const std::vector<OutMessage>& ms);
  std::unique_ptr<StartedCall> StartCommit(const std::string& gid);
  std::unique_ptr<StartedCall> StartAbort(const std::string& gid);
  // Several transactions' prepares (commits) as ONE request, POST
  // /transactions/prepare (/transactions/commit): the broker makes them
  // durable with one write. One call per gid, in order (1 to
  // broker::api::kMaxManyTransactions gids, none twice); each call's Finish
  // returns what that gid's StartPrepare (StartCommit) call would have: its
  // result in the answer, or the request's own failure (the transport's, a
  // non-2xx answer), the same for every gid in it. A gid or message that
  // fails the client's checks fails alone: it is left out of the request and
  // its call returns the InvalidArgument. The first Finish reads the answer:
  // finish the calls of one request on one thread.
  std::vector<std::unique_ptr<StartedCall>> StartPrepareMany(
      const std::vector<std::string>& gids,
      const std::vector<const std::vector<OutMessage>*>& messages);
  std::vector<std::unique_ptr<StartedCall>> StartCommitMany(const std::vector<std::string>& gids);
  // GET /transactions?state=prepared (precommitted ones included, flagged)
  Status ListPrepared(std::vector<BrokerPrepared>* out);

  Status Health();
  // Raw request, for admin endpoints and tests (bad input, /metrics,
  // /admin/faults). OK whenever a response arrived, whatever its status
  // code (in resp->status); transport failures map as above.
  Status Request(const std::string& method, const std::string& target, const std::string& body,
                 HttpResponse* resp);

  const std::string& url() const;
  Stats stats() const;

 private:
  struct Impl;
  explicit BrokerClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dw
