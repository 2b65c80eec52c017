// BrokerClient: the HTTP/1.1 client for the broker's API (see README, "Broker
// HTTP API"). Thread-safe: it keeps a pool of keep-alive connections and
// every request has a deadline. Used by the broker participant (2PC), the
// outbox relays, `verify` and the tests.
//
// Error mapping: connection refused / reset before a response -> Unavailable;
// no response before the deadline -> Timeout (outcome unknown); 4xx -> the
// matching Status (404 NotFound, 409 Aborted, 400/413 InvalidArgument,
// 507 NoSpace); 5xx -> IOError.
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
    std::string url;  // http://127.0.0.1:PORT
    std::chrono::milliseconds timeout{5000};
    int max_idle_connections = 64;
    std::string bearer_token;  // empty: none
  };

  static Status Create(const Options& opts, std::unique_ptr<BrokerClient>* out);
  ~BrokerClient();

  // POST /topics/{topic}/messages. *created is false when the id was a duplicate.
  Status Publish(const std::string& topic, const OutMessage& m, uint64_t* offset,
                 bool* created = nullptr);
  // POST /topics/{topic}/batch: one durable write on the broker for all of them.
  Status PublishBatch(const std::string& topic, const std::vector<OutMessage>& ms,
                      std::vector<uint64_t>* offsets);
  // GET /topics/{topic}/messages?from=&limit=
  Status Read(const std::string& topic, uint64_t from, size_t limit,
              std::vector<BrokerMessage>* out, uint64_t* next);

  Status Prepare(const std::string& gid, const std::vector<OutMessage>& ms);
  Status Commit(const std::string& gid);
  Status Abort(const std::string& gid);
  Status ListPrepared(std::vector<BrokerPrepared>* out);

  Status Health();
  // Raw request, for admin endpoints and tests (bad input, /metrics, /admin/faults).
  Status Request(const std::string& method, const std::string& target, const std::string& body,
                 HttpResponse* resp);

  const std::string& url() const;

 private:
  struct Impl;
  explicit BrokerClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dw
