// BrokerService: the whole `dualwrite broker serve` process - data dir, log
// replay, writer thread, router, HTTP server, signals and clean shutdown.
//
// Data dir layout: DIR/broker.log (the record log, see log_format.h) and
// DIR/broker.lock (flock'ed while a broker owns the dir, so two brokers never
// append to one log).
//
// Shutdown (SIGTERM/SIGINT or Shutdown()): stop accepting, let every request
// already read finish - its write made durable and its answer sent - for up
// to 5 s, stop the writer (anything still queued is written and answered),
// stop the threads. Run() then returns OK (exit code 0).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "broker/faults.h"
#include "broker/server.h"
#include "broker/writer.h"
#include "common/record_file.h"
#include "common/status.h"

namespace dw::broker {

struct ServiceOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 7070;  // 0: any free port (see StartupLine for the one taken)
  std::string data_dir;
  FsyncPolicy fsync = FsyncPolicy::kBatch;
  int threads = 2;
  FaultConfig faults;
  std::string token;  // bearer token; empty: no authentication
  HttpServerOptions http;
};

class BrokerService {
 public:
  // Locks the data dir, replays the log, binds the port. Errors: unusable data
  // dir (IOError), dir used by another broker (FailedPrecondition), corrupt
  // log (Corruption), port in use (Unavailable), bad options (InvalidArgument).
  static Status Open(const ServiceOptions& opts, std::unique_ptr<BrokerService>* out);
  ~BrokerService();

  // "dualwrite broker: listening on 127.0.0.1:7070, data dir D, fsync batch,
  //  replayed N records (M messages, P prepared), truncated T torn bytes"
  std::string StartupLine() const;
  tcp::endpoint endpoint() const;

  // Serves until SIGTERM/SIGINT or Shutdown(), then shuts down cleanly.
  Status Run();
  void Shutdown();  // thread-safe, async-signal-unsafe

 private:
  BrokerService() = default;
  struct Parts;
  std::unique_ptr<Parts> p_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace dw::broker
