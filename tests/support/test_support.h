// What tests share: the ctest-wide embedded environment (a real Postgres
// cluster and a real broker process, brought up by the `env_up` fixture),
// scratch databases so suites running in parallel do not see each other's
// rows, and broker processes a test owns and may SIGKILL and restart.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "env/broker_process.h"
#include "tests/support/temp_dir.h"

namespace dw::testing {

// The path of the dualwrite binary built with the tests.
std::string DualwriteBinary();

// The shared environment (DUALWRITE_STATE_DIR set by ctest for NEEDS_ENV tests).
// Fails the calling test (GTEST_SKIP is not used: a missing env is an error).
std::string SharedDsn();        // database `dualwrite` of the shared cluster
std::string SharedBrokerUrl();  // the shared broker

// Creates (dropping any previous one) database `name` in the shared cluster
// and returns a DSN for it. Use a name unique to the test suite.
std::string ScratchDatabase(const std::string& name);

// A database name for the running test: `prefix`, its suite and its name,
// lowercased, every other character '_'. At most 55 characters: a longer one
// keeps its first 45 and a hash of the whole, so two tests never share a
// database. ctest runs each test as a process of its own, maybe in parallel:
// a scratch database each.
std::string TestDatabaseName(const std::string& prefix);

// Replaces/sets dbname in a key=value DSN.
std::string WithDatabase(const std::string& dsn, const std::string& dbname);

// A broker process of the test's own: `dualwrite broker serve` on a free
// port, log in DATA_DIR/broker.out. env::BrokerProcess with the test's
// binary, failing the calling test (gtest) where that returns an error.
class BrokerProcess {
 public:
  // `extra` args are appended (e.g. {"--fsync", "batch"}). A broker serving
  // TLS (--tls-cert ... among `extra`) is probed over https:// with `tls`
  // (env::BrokerKind), and url() says https://.
  BrokerProcess(std::string data_dir, std::vector<std::string> extra = {}, env::TlsFiles tls = {});
  ~BrokerProcess();  // SIGKILLs it if still running

  // Starts it and waits until GET /healthz answers 200 (fails the test otherwise).
  void Start();
  void Kill9();     // SIGKILL, reaped
  void Stop();      // SIGTERM, waits for a clean exit (fails the test after 15 s)
  void Restart() {  // same port, same data dir
    Stop();
    Start();
  }
  bool Running() const;
  pid_t pid() const { return broker_.pid(); }
  int port() const { return broker_.port(); }
  std::string url() const { return broker_.url(); }
  const std::string& log_path() const { return broker_.log_path(); }

 private:
  mutable env::BrokerProcess broker_;
};

// Minimal raw HTTP/1.1 exchange over a fresh TCP connection (Connection: close),
// independent of the project's own client so tests can send malformed input.
// Returns the status code (0 if the connection failed) and fills *body.
int RawHttp(int port, const std::string& raw_request, std::string* body = nullptr,
            std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

}  // namespace dw::testing
