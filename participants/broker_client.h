// BrokerClient: the HTTP/1.1 client for the broker's API (see README, "Broker
// HTTP API"). Thread-safe: it keeps a pool of keep-alive connections and
// every request has a deadline. Used by the broker participant (2PC), the
// outbox relays, `verify` and the tests.
//
// Error mapping (typed calls):
//   connection refused, or lost before the request was sent  -> Unavailable
//     (nothing reached the broker)
//   connection lost after the request was sent, no response   -> InDoubt
//   no response before the deadline                           -> Timeout
//     (both: the broker may or may not have applied it)
//   an HTTP error status -> the code broker/api.h's table gives it (the
//     same table the broker answers by): 404 NotFound, 409 Aborted (a vote
//     abort), 412 FailedPrecondition (the gid's outcome went the other way),
//     401/403 FailedPrecondition, 422 Aborted (a publish refused),
//     400/405/413/other 4xx InvalidArgument, 503 Unavailable, 507 NoSpace,
//     500/other 5xx IOError;
//   a response that is not the JSON we expect                 -> IOError.
// Error messages carry the broker's {"error": "..."} text when it sent one.
//
// Connections: each pooled connection owns a small io_context and a
// beast::tcp_stream, and runs async operations on it from the calling
// thread, because Beast's deadlines (expires_at) apply to async operations
// only. A connection that timed out or failed is discarded, never reused. An
// idle connection the broker has closed (restart, idle timeout) is noticed
// before reuse, or, if it closes during our write, the request is retried
// once on a new connection (the broker had not read it).
//
// TLS: an https:// URL speaks HTTP over TLS 1.2+ (tls_context.h): the
// broker's certificate must chain to `ca_file` and carry the URL's host in
// its subjectAltName (a DNS name, or an IP address for 127.0.0.1 and other
// literals; SNI is sent for names). cert_file + key_file are the client
// certificate the broker asks for under mutual TLS. Pooled connections keep
// their TLS session; a new connection resumes the last session when the
// broker allows it (no full handshake). A refused handshake (no or untrusted
// certificate on either side) is Unavailable: the broker never saw a request.
//
// Credentials from the environment (the way libpq reads PGSSLROOTCERT and
// PGSSLCERT): each of these Options fields that is empty is taken from
//   ca_file       DUALWRITE_BROKER_CA
//   cert_file     DUALWRITE_BROKER_CERT
//   key_file      DUALWRITE_BROKER_KEY
//   bearer_token  the first line of the file named by DUALWRITE_BROKER_TOKEN_FILE
// so every command and every child process it starts uses them without
// plumbing. Precedence: a field set by the caller > the variable (which the
// CLI's global --broker-ca/--broker-cert/--broker-key/--broker-token-file
// flags overwrite) > nothing. The TLS files are ignored for http:// URLs;
// the token is sent over both (over http:// anyone on the path can read it).
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
};

struct HttpResponse {
  int status = 0;
  std::string body;
};

class BrokerClient {
 public:
  struct Options {
    std::string url;  // http[s]://HOST:PORT (http:// if no scheme); a path prefixes every target
    std::chrono::milliseconds timeout{5000};  // per request, connect included
    int max_idle_connections = 64;            // kept open for reuse; more may be in use
    std::string bearer_token;                 // empty: $DUALWRITE_BROKER_TOKEN_FILE, else none
    // https:// only; empty: the environment (see above).
    std::string ca_file;    // PEM CA(s) the broker's certificate must chain to (required)
    std::string cert_file;  // PEM client certificate (chain) for mutual TLS; needs key_file
    std::string key_file;   // its PEM private key (unencrypted)
    uint64_t max_response_bytes = 256ull << 20;
  };

  struct Stats {
    uint64_t requests = 0;            // requests that got a response
    uint64_t connections_opened = 0;  // TCP connections ever established (TLS: and handshaken)
    uint64_t tls_resumed = 0;         // of those, TLS handshakes that resumed a session
    uint64_t idle = 0;                // connections idle in the pool now
  };

  // Parses the URL, resolves its host, reads the credentials (files and
  // environment, see above) and, for https, loads the TLS files; opens no
  // connection yet. InvalidArgument for a bad URL, an https URL without a
  // CA file, or an unreadable / malformed credential file.
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
  // GET /transactions?state=prepared
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
