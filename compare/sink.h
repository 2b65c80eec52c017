// Sink: the broker the outbox of a `compare --sink nats|rabbitmq` run
// publishes to instead of dualwrite's own. One real server for the whole
// run (a nats-server with JetStream, or a rabbitmq-server), started in the
// run's scratch folder as `dualwrite up --sinks` starts it in a state
// folder, and stopped at the end.
//
// Cells do not share messages: each cell empties the topic first (the
// JetStream stream or the quorum queue is deleted, and the relay declares it
// again). Disjoint order ids per cell would already keep the judges apart,
// as they do on a shared --broker, but verify and the e2e tail read a stream
// or a queue from its start: left to grow over the run, each cell would read
// every earlier cell's messages again.
//
// Only the outbox family and the floor run there: the other approaches need
// what only dualwrite's broker has (NotWithSink says what).
#pragma once

#include <sys/types.h>

#include <memory>
#include <ostream>
#include <string>

#include "common/status.h"
#include "compare/approaches.h"

namespace dw::compare {

enum class SinkKind { kDualwrite, kNats, kRabbitmq };

// "dualwrite" | "nats" | "rabbitmq"; InvalidArgument, one line, otherwise.
Status ParseSinkKind(const std::string& name, SinkKind* out);
const char* SinkName(SinkKind k);
// "NATS JetStream", "RabbitMQ", "dualwrite's broker".
const char* SinkTitle(SinkKind k);

// FailedPrecondition, one line naming the package, when the server's
// executable is missing (nothing to check for dualwrite's broker).
Status CheckSinkInstalled(SinkKind k);

// Why approach `a` is not measured with a real sink; "" when it is (the
// floor sends nothing, and every outbox relay publishes through any sink).
std::string NotWithSink(const Approach& a);

class SinkServer {
 public:
  // Starts the server of `kind` (not kDualwrite) with its files under `dir`.
  static Status Start(SinkKind kind, const std::string& dir, std::ostream* log,
                      std::unique_ptr<SinkServer>* out);
  ~SinkServer();  // stops it

  SinkKind kind() const { return kind_; }
  // nats://127.0.0.1:PORT or amqp://127.0.0.1:PORT/ (guest): what the
  // relays get as --sink and what verify and the tail read.
  const std::string& url() const { return url_; }
  pid_t pid() const { return pid_; }  // for the broker's CPU per operation

  // Deletes `topic`'s stream or queue, so a cell starts from an empty one.
  Status Empty(const std::string& topic);
  Status Stop(std::ostream* log);

  // broker-down: SIGKILL of the server process (RabbitMQ: its Erlang VM),
  // no shutdown of any kind, and back once it is gone. What the server
  // acknowledged must already be where a restart finds it.
  Status Kill();
  // Starts it again on the same port and data folder (env's daemons keep
  // both across restarts) and returns once it accepts clients. The port
  // must be the same: every relay and reader holds the old URL.
  Status Restart(std::ostream* log);
  // "nats-server", "rabbitmq-server": the process Kill ends, for notes.
  const char* ProcessName() const;

 private:
  SinkServer() = default;
  SinkKind kind_ = SinkKind::kDualwrite;
  std::string dir_, url_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// The run's one server of `kind` (not kDualwrite), started in `work`/sink
// for the command `who` (compare, chaos), which says on `log` where the
// outbox publishes.
Status StartRunSink(SinkKind kind, const std::string& work, const char* who, std::ostream& log,
                    std::unique_ptr<SinkServer>* out);

}  // namespace dw::compare
