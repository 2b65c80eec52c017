#include "common/process.h"

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

namespace dw {
namespace {

[[noreturn]] void ChildFail(const char* what) {
  // Only async-signal-safe calls between fork and exec.
  const char* e = strerror(errno);
  ssize_t r = write(2, what, strlen(what));
  r = write(2, ": ", 2);
  r = write(2, e, strlen(e));
  r = write(2, "\n", 1);
  (void)r;
  _exit(127);
}

}  // namespace

Status Spawn(const std::vector<std::string>& argv, const SpawnOptions& opts, pid_t* pid) {
  if (argv.empty()) return Status::InvalidArgument("empty command");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> envs;
  // An entry of opts.env replaces an inherited one of the same NAME (getenv
  // returns the first match, so appending alone would not override HOME etc.).
  auto name_of = [](const std::string& e) { return e.substr(0, e.find('=')); };
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    bool overridden = false;
    for (const auto& o : opts.env) overridden = overridden || name_of(o) == name_of(entry);
    if (!overridden) envs.push_back(std::move(entry));
  }
  for (const auto& e : opts.env) envs.push_back(e);
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (opts.append ? O_APPEND : O_TRUNC);

  pid_t child = fork();
  if (child < 0) return Status::IOError(std::string("fork: ") + strerror(errno));
  if (child == 0) {
    if (opts.new_session) setsid();
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    if (!opts.stdout_path.empty()) {
      int fd = open(opts.stdout_path.c_str(), flags, 0644);
      if (fd < 0) ChildFail("open stdout");
      dup2(fd, 1);
      if (opts.stderr_path == "=stdout") dup2(fd, 2);
    }
    if (!opts.stderr_path.empty() && opts.stderr_path != "=stdout") {
      int fd = open(opts.stderr_path.c_str(), flags, 0644);
      if (fd < 0) ChildFail("open stderr");
      dup2(fd, 2);
    }
    if (!opts.cwd.empty() && chdir(opts.cwd.c_str()) != 0) ChildFail("chdir");
    if (opts.gid && (setgroups(0, nullptr) != 0 || setgid(*opts.gid) != 0)) ChildFail("setgid");
    if (opts.uid && setuid(*opts.uid) != 0) ChildFail("setuid");
    execve(args[0], args.data(), envp.data());
    if (errno == ENOENT && strchr(args[0], '/') == nullptr) {
      execvpe(args[0], args.data(), envp.data());
    }
    ChildFail(args[0]);
  }
  *pid = child;
  return Status::OK();
}

Status RunCommand(const std::vector<std::string>& argv, std::string* output,
                  const SpawnOptions& base) {
  char tmpl[] = "/tmp/dw-cmd-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return Status::IOError(std::string("mkstemp: ") + strerror(errno));
  if (base.uid) {
    if (fchown(fd, *base.uid, base.gid.value_or(static_cast<gid_t>(-1))) != 0) {
      // best effort: the child may still be able to write if it keeps the fd
    }
  }
  close(fd);
  SpawnOptions opts = base;
  opts.stdout_path = tmpl;
  opts.stderr_path = "=stdout";
  opts.append = false;
  pid_t pid;
  Status s = Spawn(argv, opts, &pid);
  int status = 0;
  if (s.ok()) {
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  std::string out;
  {
    std::ifstream in(tmpl);
    out.assign(std::istreambuf_iterator<char>(in), {});
  }
  unlink(tmpl);
  if (output) *output = out;
  if (!s.ok()) return s;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::OK();
  // The last non-empty output line is usually the reason.
  std::string last;
  size_t end = out.find_last_not_of("\n ");
  if (end != std::string::npos) {
    size_t begin = out.rfind('\n', end);
    last = out.substr(begin == std::string::npos ? 0 : begin + 1,
                      end - (begin == std::string::npos ? 0 : begin + 1) + 1);
  }
  std::string code = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                       : "signal " + std::to_string(WTERMSIG(status));
  return Status::IOError(argv[0] + " failed (" + code + ")" + (last.empty() ? "" : ": " + last));
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  // Reap it if it is our zombie child, so kill(0) stops seeing it.
  int st;
  if (waitpid(pid, &st, WNOHANG) == pid) return false;
  if (kill(pid, 0) != 0) return errno == EPERM;
  // A zombie that is not our child still answers kill(0); check its state.
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (std::getline(f, line)) {
    size_t p = line.rfind(')');
    if (p != std::string::npos && p + 2 < line.size() && line[p + 2] == 'Z') return false;
  }
  return true;
}

std::optional<int> WaitChild(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return st;
    if (r < 0 && errno != EINTR) return 0;  // not our child / already reaped
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool WaitGone(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (ProcessAlive(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

int FreeTcpPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  int port = -1;
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  return std::string(buf, n);
}

bool LookupUser(const std::string& name, uid_t* uid, gid_t* gid) {
  struct passwd* pw = getpwnam(name.c_str());
  if (!pw) return false;
  *uid = pw->pw_uid;
  *gid = pw->pw_gid;
  return true;
}

}  // namespace dw
