// HttpTransport: the client end of the broker's HTTP(S) link, the one layer
// every client of the broker sends through (BrokerClient for the typed API,
// env's HttpGet for probes): the URL, the credentials (options, else the
// environment), TLS, a pool of keep-alive connections, the deadline of each
// request, and what a transport failure means. It knows nothing of routes or
// JSON (that is api.h and BrokerClient). Thread-safe.
//
// Transport failures:
//   connection refused, or lost before the request was sent  -> Unavailable
//     (nothing reached the broker)
//   connection lost after the request was sent, no response   -> InDoubt
//   no response before the deadline                           -> Timeout
//     (both: the broker may or may not have applied it)
// Any response, whatever its HTTP status, is OK here: the caller reads it
// (api.h's table turns a status into a code).
//
// Connections: each pooled connection owns a small io_context and a
// beast::tcp_stream. Connecting, and every step over TLS, are async
// operations run from the calling thread, because Beast's deadlines
// (expires_at) apply to async operations only; a plain http:// request and
// its response go through send/poll/recv with the same deadline
// (plain_http_io.h, which says why). A connection that timed out or failed is discarded, never
// reused. An idle connection the broker has closed (restart, idle timeout) is noticed before reuse,
// or, if it closes during our write, the request is retried once on a new connection (the broker
// had not read it). With max_idle_connections 0 nothing is pooled and every request says
// "Connection: close".
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
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace dw {

struct HttpResponse {
  int status = 0;
  std::string body;
};

namespace broker {

class HttpTransport {
  struct Impl;
  struct Call;

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
    // A token file that cannot be read (or is empty): false, Create fails
    // with InvalidArgument; true, no token is sent (a readiness probe must
    // not fail on it: the real client reports the file).
    bool token_file_optional = false;
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
  // CA file, or an unreadable / malformed credential file; Unavailable when
  // the host does not resolve.
  static Status Create(const Options& opts, std::unique_ptr<HttpTransport>* out);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // One request and its response. `method` is an HTTP method ("GET",
  // "POST", ...), `target` starts with '/'; a non-empty body is sent as
  // application/json. InvalidArgument for an unknown method or a bad
  // target; transport failures as above.
  Status Exchange(const std::string& method, const std::string& target, const std::string& body,
                  HttpResponse* resp);

  // A request that has been written and whose response has not been read.
  class Pending {
   public:
    ~Pending();  // an unfinished one closes its connection (it is not reused)
    // Reads the response, within the deadline that started with the
    // request; what Exchange returns, transport failures included (a
    // failure Start met is returned here).
    Status Finish(HttpResponse* resp);

   private:
    friend class HttpTransport;
    Pending(Impl* impl, std::unique_ptr<Call> call);
    Impl* impl_;
    std::unique_ptr<Call> call_;
    // Finish comes after other work (true, Start's callers) or at once
    // (Exchange): whether the answer is worth a read before a wait.
    bool late_ = true;
  };

  // Exchange in two halves: Start connects if it must and writes the
  // request, then returns, so that the caller can do other work (another
  // participant's call) on the same thread while the broker answers;
  // Pending::Finish reads the answer. Exchange is Start + Finish. Only the
  // argument checks of Exchange fail here; everything else is Finish's.
  // The Pending must not outlive this transport.
  Status Start(const std::string& method, const std::string& target, std::string body,
               std::unique_ptr<Pending>* out);

  Stats stats() const;

 private:
  explicit HttpTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace broker
}  // namespace dw
