#include "env/broker_daemon.h"

#include <filesystem>
#include <fstream>

#include "common/process.h"
#include "env/proc_info.h"
#include "env/server_process.h"

namespace fs = std::filesystem;

namespace dw::env {

pid_t BrokerDaemon::Running(pid_t remembered) const {
  pid_t pid = remembered;
  if (pid <= 0) {
    std::ifstream f(layout_.broker_pid);
    long v = 0;
    if (f >> v) pid = static_cast<pid_t>(v);
  }
  if (pid > 0 && ProcessMatches(pid, {"broker", "serve", layout_.broker_dir})) return pid;
  return 0;
}

Status BrokerDaemon::Start(int port, pid_t* pid, std::ostream* log) {
  std::error_code ec;
  fs::create_directories(layout_.broker_dir, ec);
  if (ec) return Status::IOError("cannot create " + layout_.broker_dir + ": " + ec.message());
  if (binary_.empty()) return Status::FailedPrecondition("no dualwrite binary to run the broker");
  if (log) *log << "starting the broker on 127.0.0.1:" << port << "\n" << std::flush;
  {
    // A marker in the log so a reader can tell the runs apart.
    std::ofstream marker(layout_.broker_log, std::ios::app);
    marker << "--- dualwrite up: starting broker on 127.0.0.1:" << port << " ---\n";
  }
  ServerOptions o;
  o.data_dir = layout_.broker_dir;
  o.log_path = layout_.broker_log;
  o.port = port;
  o.new_session = true;
  o.cwd = layout_.broker_dir;
  o.pid_file = layout_.broker_pid;
  ServerKind kind = BrokerKind(binary_);
  // A first start on a busy machine (ctest runs two at a time) can be slow.
  kind.start_timeout = std::chrono::seconds(60);
  kind.probe_interval = std::chrono::milliseconds(50);
  kind.ready = [](int p) { return BrokerHealthy(p, std::chrono::milliseconds(1000)); };
  ServerProcess broker(std::move(kind), std::move(o));
  Status s = broker.Start();
  if (!s.ok()) return s;
  *pid = broker.pid();
  broker.Release();  // it outlives `up`; the pid file and env.json remember it
  return Status::OK();
}

Status BrokerDaemon::Stop(pid_t pid, std::ostream* log, std::chrono::milliseconds grace) {
  if (pid > 0 && ProcessAlive(pid) && log)
    *log << "stopping the broker (pid " << pid << ")\n" << std::flush;
  bool killed = false;
  Status s = TerminateProcess(pid, grace, &killed);
  if (killed && log) *log << "the broker did not exit on SIGTERM: SIGKILL\n" << std::flush;
  if (!s.ok()) return Status::IOError("the broker (pid " + std::to_string(pid) + ") does not die");
  std::error_code ec;
  fs::remove(layout_.broker_pid, ec);
  return Status::OK();
}

}  // namespace dw::env
