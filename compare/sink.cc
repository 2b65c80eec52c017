#include "compare/sink.h"

#include <errno.h>
#include <signal.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "env/layout.h"
#include "env/nats_daemon.h"
#include "env/rabbitmq_daemon.h"
#include "jetstream/client.h"
#include "rabbitmq/client.h"

namespace dw::compare {

Status ParseSinkKind(const std::string& name, SinkKind* out) {
  if (name == "dualwrite") {
    *out = SinkKind::kDualwrite;
  } else if (name == "nats") {
    *out = SinkKind::kNats;
  } else if (name == "rabbitmq") {
    *out = SinkKind::kRabbitmq;
  } else {
    return Status::InvalidArgument("--sink: unknown sink '" + name +
                                   "' (want dualwrite, nats or rabbitmq)");
  }
  return Status::OK();
}

const char* SinkName(SinkKind k) {
  switch (k) {
    case SinkKind::kNats:
      return "nats";
    case SinkKind::kRabbitmq:
      return "rabbitmq";
    case SinkKind::kDualwrite:
      break;
  }
  return "dualwrite";
}

const char* SinkTitle(SinkKind k) {
  switch (k) {
    case SinkKind::kNats:
      return "NATS JetStream";
    case SinkKind::kRabbitmq:
      return "RabbitMQ";
    case SinkKind::kDualwrite:
      break;
  }
  return "dualwrite's broker";
}

Status CheckSinkInstalled(SinkKind k) {
  std::string path;
  switch (k) {
    case SinkKind::kNats:
      return env::NatsServerBinary(&path);
    case SinkKind::kRabbitmq:
      return env::RabbitmqServerBinary(&path);
    case SinkKind::kDualwrite:
      break;
  }
  return Status::OK();
}

std::string NotWithSink(const Approach& a) {
  switch (a.family) {
    case Family::kFloor:
    case Family::kOutbox:
      return "";
    case Family::kTwoPc:
    case Family::kThreePc:
      // Both stage the message at the broker and commit it with Postgres:
      // the broker must be a participant that can prepare.
      return "n/a: this broker cannot prepare";
    case Family::kSaga:
      return "n/a: the saga's pivot is a publish the broker may refuse (dualwrite's broker's "
             "business \"no\"), which this broker has no way to answer";
    case Family::kEventSourced:
      return "n/a: its projector reads the topic from dualwrite's broker";
  }
  return "n/a";
}

Status SinkServer::Start(SinkKind kind, const std::string& dir, std::ostream* log,
                         std::unique_ptr<SinkServer>* out) {
  std::unique_ptr<SinkServer> s(new SinkServer());
  s->kind_ = kind;
  s->dir_ = dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("creating " + dir + ": " + ec.message());
  const env::Layout layout(dir);
  pid_t pid = 0;
  int port = 0;
  bool started = false;
  Status st;
  switch (kind) {
    case SinkKind::kNats: {
      env::NatsDaemon nats(layout);
      st = nats.Ensure(&pid, &port, &started, log);
      if (st.ok()) s->url_ = env::NatsDaemon::Url(port);
      break;
    }
    case SinkKind::kRabbitmq: {
      env::RabbitmqDaemon rabbit(layout);
      st = rabbit.Ensure(&pid, &port, &started, log);
      // The node's only user is RabbitMQ's default guest, which an amqp://
      // URL without one means: no password in the cells' command lines.
      if (st.ok()) s->url_ = "amqp://127.0.0.1:" + std::to_string(port) + "/";
      break;
    }
    case SinkKind::kDualwrite:
      return Status::InvalidArgument("dualwrite's broker is started per cell, not as a sink");
  }
  if (!st.ok()) {
    (void)s->Stop(log);  // a half-started rabbitmq leaves its epmd behind
    return st;
  }
  s->pid_ = pid;
  s->port_ = port;
  *out = std::move(s);
  return Status::OK();
}

SinkServer::~SinkServer() { (void)Stop(nullptr); }

Status SinkServer::Empty(const std::string& topic) {
  if (kind_ == SinkKind::kNats) {
    jetstream::ClientOptions o;
    o.url = url_;
    std::unique_ptr<jetstream::Client> c;
    Status s = jetstream::Client::Connect(o, &c);
    if (!s.ok()) return s;
    return c->DeleteStream(topic);
  }
  rabbitmq::ClientOptions o;
  o.url = url_;
  std::unique_ptr<rabbitmq::Client> c;
  Status s = rabbitmq::Client::Connect(o, &c);
  if (!s.ok()) return s;
  return c->DeleteQueue(topic);
}

const char* SinkServer::ProcessName() const {
  return kind_ == SinkKind::kNats ? "nats-server" : "rabbitmq-server";
}

Status SinkServer::Kill() {
  if (pid_ <= 0 || dir_.empty())
    return Status::FailedPrecondition("the sink server is not running");
  const env::Layout layout(dir_);
  auto running = [&] {
    return kind_ == SinkKind::kNats ? env::NatsDaemon(layout).Running()
                                    : env::RabbitmqDaemon(layout).Running();
  };
  if (::kill(pid_, SIGKILL) != 0 && errno != ESRCH) {
    return Status::IOError(std::string("SIGKILL to ") + ProcessName() + " (pid " +
                           std::to_string(pid_) + "): " + std::strerror(errno));
  }
  // The pid file stays; Running() checks the process behind it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (running() == pid_) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Timeout(std::string(ProcessName()) + " (pid " + std::to_string(pid_) +
                             ") survived SIGKILL for 10 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::OK();
}

Status SinkServer::Restart(std::ostream* log) {
  if (dir_.empty()) return Status::FailedPrecondition("the sink server was stopped");
  const env::Layout layout(dir_);
  pid_t pid = 0;
  int port = 0;
  bool started = false;
  Status s = kind_ == SinkKind::kNats
                 ? env::NatsDaemon(layout).Ensure(&pid, &port, &started, log)
                 : env::RabbitmqDaemon(layout).Ensure(&pid, &port, &started, log);
  if (!s.ok()) return s;
  pid_ = pid;
  if (port != port_) {
    return Status::IOError(std::string(ProcessName()) + " came back on port " +
                           std::to_string(port) + ", not " + std::to_string(port_) +
                           " where its clients reconnect");
  }
  return Status::OK();
}

Status SinkServer::Stop(std::ostream* log) {
  if (dir_.empty()) return Status::OK();
  const env::Layout layout(dir_);
  Status s;
  if (kind_ == SinkKind::kNats) {
    s = env::NatsDaemon(layout).Stop(log);
  } else if (kind_ == SinkKind::kRabbitmq) {
    s = env::RabbitmqDaemon(layout).Stop(log);
  }
  pid_ = -1;
  dir_.clear();
  return s;
}

Status StartRunSink(SinkKind kind, const std::string& work, const char* who, std::ostream& log,
                    std::unique_ptr<SinkServer>* out) {
  Status s = SinkServer::Start(kind, work + "/sink", &log, out);
  if (!s.ok()) return s;
  log << who << ": the outbox publishes to " << SinkTitle(kind) << " at " << (*out)->url() << "\n";
  return Status::OK();
}

}  // namespace dw::compare
