#include "env/server_process.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/process.h"

namespace fs = std::filesystem;

namespace dw::env {
namespace {

using std::chrono::milliseconds;

std::string Duration(milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

}  // namespace

ServerProcess::ServerProcess(ServerKind kind, ServerOptions opts)
    : kind_(std::move(kind)), opts_(std::move(opts)) {
  port_ = opts_.port > 0 ? opts_.port : FreeTcpPort();
  if (port_ < 0) port_ = 0;
  if (opts_.log_path.empty()) opts_.log_path = opts_.data_dir + "/" + kind_.name + ".out";
  if (opts_.start_attempts < 1) opts_.start_attempts = 1;
}

ServerProcess::ServerProcess(ServerProcess&& o) noexcept { *this = std::move(o); }

ServerProcess& ServerProcess::operator=(ServerProcess&& o) noexcept {
  if (this != &o) {
    (void)Kill();
    kind_ = std::move(o.kind_);
    opts_ = std::move(o.opts_);
    port_ = o.port_;
    pid_ = o.pid_;
    o.pid_ = -1;
  }
  return *this;
}

ServerProcess::~ServerProcess() { (void)Kill(); }

std::string ServerProcess::url() const {
  return kind_.scheme + "://127.0.0.1:" + std::to_string(port_);
}

void ServerProcess::Forget() {
  pid_ = -1;
  if (!opts_.pid_file.empty()) {
    std::error_code ec;
    fs::remove(opts_.pid_file, ec);
  }
}

bool ServerProcess::Running() {
  if (pid_ <= 0) return false;
  if (!ProcessAlive(pid_)) {  // reaps it when it is our child
    Forget();
    return false;
  }
  return true;
}

Status ServerProcess::Start() {
  if (Running()) return Status::OK();
  if (port_ <= 0) return Status::IOError("no free TCP port for the " + kind_.name);
  if (!kind_.argv || !kind_.ready) {
    return Status::FailedPrecondition("the " + kind_.name + " has no command line or probe");
  }
  std::error_code ec;
  fs::create_directories(opts_.data_dir, ec);
  if (ec) return Status::IOError("cannot create " + opts_.data_dir + ": " + ec.message());
  Status s;
  for (int attempt = 0; attempt < opts_.start_attempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(milliseconds(250));
    bool exited = false;
    s = StartOnce(&exited);
    // Only an early exit (the port still taken, say) is worth another try.
    if (s.ok() || !exited) return s;
  }
  return s;
}

Status ServerProcess::StartOnce(bool* exited) {
  SpawnOptions o;
  o.stdout_path = opts_.log_path;
  o.stderr_path = "=stdout";
  o.append = true;
  // A detached server must not keep a pipe of ours open either (ctest waits
  // for the output pipes of `up` to close): its output goes to the log.
  o.new_session = opts_.new_session;
  o.cwd = opts_.cwd;
  Status s = Spawn(kind_.argv(port_, opts_.data_dir), o, &pid_);
  if (!s.ok()) {
    pid_ = -1;
    return s;
  }
  if (!opts_.pid_file.empty()) {
    std::ofstream pf(opts_.pid_file, std::ios::trunc);
    pf << pid_ << "\n";
  }
  const auto deadline = std::chrono::steady_clock::now() + kind_.start_timeout;
  for (;;) {
    if (!Running()) {
      *exited = true;
      std::string tail = LastLogLine(opts_.log_path);
      return Status::IOError("the " + kind_.name + " exited during start-up" +
                             (tail.empty() ? std::string() : ": " + tail) + "; see " +
                             opts_.log_path);
    }
    if (kind_.ready(port_)) return Status::OK();
    if (std::chrono::steady_clock::now() >= deadline) {
      (void)Kill();
      return Status::Timeout("the " + kind_.name + " was not ready on port " +
                             std::to_string(port_) + " within " + Duration(kind_.start_timeout) +
                             "; see " + opts_.log_path);
    }
    std::this_thread::sleep_for(kind_.probe_interval);
  }
}

Status ServerProcess::Kill() {
  if (pid_ <= 0) return Status::OK();
  kill(pid_, SIGKILL);
  bool gone = WaitGone(pid_, std::chrono::seconds(10));
  pid_t pid = pid_;
  Forget();
  if (!gone)
    return Status::IOError("the " + kind_.name + " (pid " + std::to_string(pid) + ") does not die");
  return Status::OK();
}

Status ServerProcess::Stop(milliseconds grace, bool* killed) {
  if (killed) *killed = false;
  if (pid_ <= 0) return Status::OK();
  Status s = TerminateProcess(pid_, grace, killed);
  Forget();
  return s;
}

Status ServerProcess::Restart(milliseconds grace) {
  Status s = Stop(grace);
  if (!s.ok()) return s;
  return Start();
}

Status TerminateProcess(pid_t pid, milliseconds grace, bool* killed) {
  if (killed) *killed = false;
  if (pid <= 0 || !ProcessAlive(pid)) return Status::OK();
  kill(pid, SIGTERM);
  if (WaitGone(pid, grace)) return Status::OK();
  if (killed) *killed = true;
  kill(pid, SIGKILL);
  if (WaitGone(pid, std::chrono::seconds(10))) return Status::OK();
  return Status::IOError("process " + std::to_string(pid) + " does not die");
}

std::string LastLogLine(const std::string& path) {
  std::ifstream f(path);
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

}  // namespace dw::env
