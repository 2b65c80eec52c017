// CellBroker: the broker one cell talks to. Normally a fresh `dualwrite
// broker serve` process with its own log folder, so each cell starts from an
// empty topic and its own counters; with --broker, the user's broker, shared
// by every cell (cells then use disjoint order-id ranges).
//
// Counters (fsyncs, deduplicated publishes) are read from /metrics and
// accumulated across restarts of the process (a restart resets them): the
// own process is an env::BrokerProcess, which carries them over.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/status.h"
#include "env/broker_process.h"

namespace dw::compare {

class CellBroker {
 public:
  // Own process: `binary broker serve` on a free port, log in `dir`.
  static Status StartOwn(const std::string& binary, const std::string& dir, CellBroker* out);
  // The user's broker at `url`.
  static Status UseExternal(const std::string& url, CellBroker* out);

  CellBroker() = default;
  CellBroker(CellBroker&& o) noexcept;
  CellBroker& operator=(CellBroker&& o) noexcept;
  ~CellBroker();  // stops an own process

  const std::string& url() const { return url_; }
  // The own process's pid (changes with each restart); -1 for an external broker.
  pid_t pid() const { return own_ ? broker_.pid() : -1; }
  bool own() const { return own_; }

  // broker-down: SIGKILL (own) / down_for_ms (external), and back.
  Status Down(double seconds);
  Status Up();
  // broker-slow: the broker's own latency fault (POST /admin/faults).
  Status SetLatencyMs(double ms);
  // broker-reject: the business "no" (reject_prob): that fraction of
  // single-message publishes is answered 422 and nothing stored.
  Status SetRejectProb(double p);
  // broker-crash: arm the broker's crash point ("" disarms); it exits by itself there.
  Status SetCrashAt(const std::string& point);
  // False once an own broker process has exited (reaped).
  bool Alive();

  // Sum over the incarnations so far of a /metrics counter.
  Status Counter(const std::string& name, uint64_t* value);
  Status Stop();

 private:
  Status Admin(const std::string& body) const;

  bool own_ = false;
  env::BrokerProcess broker_;  // own_ only
  std::string url_;
};

}  // namespace dw::compare
