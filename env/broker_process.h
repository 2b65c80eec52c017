// BrokerProcess: a `dualwrite broker serve` of the caller's own (a test's, a
// benchmark's, a compare cell's, a lesson's) on a loopback port: the broker
// kind of ServerProcess, ready once GET /healthz answers 200.
//
// A broker serving TLS (its --tls-cert/--tls-key, and --tls-client-ca for
// mutual TLS, among the extra arguments) is probed over https:// by the
// same client code as everything else, presenting the TlsFiles it is given:
// under mutual TLS even /healthz needs a client certificate.
//
// The broker's /metrics counters start from zero in every incarnation, but
// whoever SIGKILLs and restarts it wants totals: Kill and Stop read /metrics
// just before and carry the counters over, and Counter adds them to the
// running incarnation's. A broker that exits by itself (a crash point) takes
// its counters with it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "env/http_get.h"
#include "env/server_process.h"

namespace dw::env {

// http://127.0.0.1:PORT
std::string BrokerUrl(int port);

// True when GET /healthz on 127.0.0.1:`port` answers 200 within `timeout`.
bool BrokerHealthy(int port, std::chrono::milliseconds timeout);
// The same for the broker at `url`, an https one with `tls`'s credentials.
bool BrokerHealthy(const std::string& url, const TlsFiles& tls, std::chrono::milliseconds timeout);

// The unlabelled samples ("name value") of GET `url`/metrics, any broker's.
Status ReadBrokerCounters(const std::string& url, std::map<std::string, uint64_t>* out,
                          const TlsFiles& tls = {});

// `binary broker serve --listen 127.0.0.1:PORT --data-dir DIR EXTRA...`,
// probed with BrokerHealthy (500 ms per try). With `tls` (its ca_file set)
// the broker serves https: url() says https:// and the probe presents `tls`.
ServerKind BrokerKind(std::string binary, std::vector<std::string> extra = {}, TlsFiles tls = {});

class BrokerProcess {
 public:
  BrokerProcess() = default;
  // `binary`: the dualwrite executable; `extra` goes after `broker serve`'s
  // own arguments (e.g. {"--fsync", "batch"}). The log defaults to
  // DATA_DIR/broker.out. `tls`: see BrokerKind; /metrics is read with it too.
  BrokerProcess(std::string binary, ServerOptions opts, std::vector<std::string> extra = {},
                TlsFiles tls = {});

  Status Start() { return server_.Start(); }
  // Carry the counters over, then SIGKILL / SIGTERM (see ServerProcess).
  Status Kill();
  Status Stop(std::chrono::milliseconds grace = std::chrono::seconds(10), bool* killed = nullptr);
  Status Restart(std::chrono::milliseconds grace = std::chrono::seconds(10));
  bool Running() { return server_.Running(); }

  // Off: Kill and Stop act at once, without reading /metrics first (a test
  // that SIGKILLs the broker at a chosen moment), and Counter counts only
  // the running incarnation.
  void set_carry_counters(bool on) { carry_counters_ = on; }

  // Sum over the incarnations so far of the unlabelled /metrics counter
  // `name` (0 when the broker does not report it). Reads the running one.
  Status Counter(const std::string& name, uint64_t* value);

  pid_t pid() const { return server_.pid(); }
  int port() const { return server_.port(); }
  std::string url() const { return server_.url(); }
  const std::string& data_dir() const { return server_.data_dir(); }
  const std::string& log_path() const { return server_.log_path(); }
  ServerProcess& server() { return server_; }

 private:
  void CarryCounters();

  ServerProcess server_;
  TlsFiles tls_;
  bool carry_counters_ = true;
  std::map<std::string, uint64_t> carried_;  // counters of ended incarnations
};

}  // namespace dw::env
