#include "env/daemon_frame.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "env/proc_info.h"

namespace fs = std::filesystem;

namespace dw::env {
namespace {

bool Executable(const std::string& p) { return access(p.c_str(), X_OK) == 0; }

}  // namespace

Status FindServerBinary(const std::string& program, bool search_path,
                        const std::vector<std::string>& fallbacks, const std::string& package,
                        std::string* path) {
  if (search_path) {
    const char* env = std::getenv("PATH");
    std::stringstream dirs(env ? env : "");
    std::string d;
    while (std::getline(dirs, d, ':')) {
      if (!d.empty() && Executable(d + "/" + program)) {
        *path = d + "/" + program;
        return Status::OK();
      }
    }
  }
  for (const std::string& p : fallbacks) {
    if (Executable(p)) {
      *path = p;
      return Status::OK();
    }
  }
  return Status::FailedPrecondition(program + " is not installed: install the Debian package " +
                                    package + " (scripts/install-deps.sh)");
}

pid_t PidFromFile(const std::string& file, const std::vector<std::string>& marks) {
  std::ifstream f(file);
  long v = 0;
  if (!(f >> v) || v <= 0) return 0;
  pid_t pid = static_cast<pid_t>(v);
  return ProcessMatches(pid, marks) ? pid : 0;
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) close(fd_);
}

Status FolderLock::Acquire(const std::string& path) {
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  while (flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) return Status::IOError("cannot lock " + path + ": " + std::strerror(errno));
  }
  return Status::OK();
}

Status DaemonFrame::Prepare(const std::vector<std::string>& subdirs, FolderLock* lock) const {
  std::vector<std::string> dirs = subdirs;
  if (dirs.empty()) dirs.push_back(spec_.dir);
  std::error_code ec;
  for (const std::string& d : dirs) {
    fs::create_directories(d, ec);
    if (ec) return Status::IOError("cannot create " + d + ": " + ec.message());
  }
  return lock->Acquire(spec_.dir + "/.lock");
}

Status DaemonFrame::Spawn(ServerKind kind, int port, int attempts, ServerProcess* process) const {
  ServerOptions o;
  o.data_dir = spec_.dir;
  o.log_path = spec_.out;
  o.port = port;
  o.start_attempts = attempts;
  o.new_session = true;  // it outlives the command that starts it
  o.cwd = spec_.dir;
  o.pid_file = spec_.pid_file;
  *process = ServerProcess(std::move(kind), std::move(o));
  return process->Start();
}

Status DaemonFrame::Stop(std::ostream* log, std::chrono::milliseconds grace) const {
  pid_t pid = Running();
  if (pid <= 0) return Status::OK();
  if (log) *log << "stopping " << spec_.name << " (pid " << pid << ")\n" << std::flush;
  Status s = TerminateProcess(pid, grace);
  if (!s.ok()) {
    return Status::IOError(spec_.name + " (pid " + std::to_string(pid) + ") does not die");
  }
  std::error_code ec;
  fs::remove(spec_.pid_file, ec);
  return Status::OK();
}

}  // namespace dw::env
