#include "env/broker_daemon.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "common/process.h"
#include "env/http_get.h"
#include "env/proc_info.h"

namespace fs = std::filesystem;

namespace dw::env {

std::string BrokerUrl(int port) { return "http://127.0.0.1:" + std::to_string(port); }

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

bool BrokerDaemon::Healthy(int port, std::chrono::milliseconds timeout) {
  HttpReply reply;
  return HttpGet(port, "/healthz", timeout, &reply).ok() && reply.status == 200;
}

std::string BrokerDaemon::LogTail() const {
  std::ifstream f(layout_.broker_log);
  if (!f) return "";
  f.seekg(0, std::ios::end);
  std::streamoff size = f.tellg();
  f.seekg(size > 16384 ? size - 16384 : 0);
  std::string line, last;
  while (std::getline(f, line)) {
    if (!line.empty()) last = line;
  }
  return last;
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
  SpawnOptions o;
  o.stdout_path = layout_.broker_log;
  o.stderr_path = "=stdout";
  o.append = true;
  // Detached: no terminal signals, and it must not keep a pipe of ours open
  // (ctest waits for the output pipes of `up` to close).
  o.new_session = true;
  o.cwd = layout_.broker_dir;
  std::vector<std::string> argv = {
      binary_,      "broker",          "serve", "--listen", "127.0.0.1:" + std::to_string(port),
      "--data-dir", layout_.broker_dir};
  pid_t child = 0;
  Status s = Spawn(argv, o, &child);
  if (!s.ok()) return s;
  {
    std::ofstream pf(layout_.broker_pid, std::ios::trunc);
    pf << child << "\n";
  }

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    if (!ProcessAlive(child)) {
      std::string tail = LogTail();
      fs::remove(layout_.broker_pid, ec);
      return Status::IOError("the broker exited during start-up" +
                             (tail.empty() ? std::string() : ": " + tail) + "; see " +
                             layout_.broker_log);
    }
    if (Healthy(port, std::chrono::milliseconds(1000))) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(child, SIGKILL);
      WaitGone(child, std::chrono::seconds(5));
      fs::remove(layout_.broker_pid, ec);
      return Status::Timeout("the broker did not answer GET /healthz on port " +
                             std::to_string(port) + " within 60 s; see " + layout_.broker_log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *pid = child;
  return Status::OK();
}

Status BrokerDaemon::Stop(pid_t pid, std::ostream* log, std::chrono::milliseconds grace) {
  std::error_code ec;
  if (pid > 0 && ProcessAlive(pid)) {
    if (log) *log << "stopping the broker (pid " << pid << ")\n" << std::flush;
    kill(pid, SIGTERM);
    if (!WaitGone(pid, grace)) {
      if (log) *log << "the broker did not exit on SIGTERM: SIGKILL\n" << std::flush;
      kill(pid, SIGKILL);
      if (!WaitGone(pid, std::chrono::seconds(10))) {
        return Status::IOError("the broker (pid " + std::to_string(pid) + ") does not die");
      }
    }
  }
  fs::remove(layout_.broker_pid, ec);
  return Status::OK();
}

}  // namespace dw::env
