#include "env/rabbitmq_daemon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "env/ports.h"
#include "env/service_user.h"

namespace fs = std::filesystem;

namespace dw::env {
namespace {

constexpr const char* kLauncher = "/usr/lib/rabbitmq/bin/rabbitmq-server";

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool Accepts(int port) {
  int fd = Connect(port);
  if (fd < 0) return false;
  close(fd);
  return true;
}

// A port other than `taken`, `preferred` while it is free.
int PickDistinct(int preferred, const std::vector<int>& taken) {
  for (int i = 0; i < 20; ++i) {
    int p = PickPort(i == 0 ? preferred : 0);
    if (p <= 0) return p;
    if (std::find(taken.begin(), taken.end(), p) == taken.end()) return p;
  }
  return 0;
}

// True when every remembered port (0: none) can be bound again.
bool PortsFree(const std::vector<int>& ports) {
  for (int p : ports) {
    if (p > 0 && !TcpPortFree(p)) return false;
  }
  return true;
}

}  // namespace

Status RabbitmqServerBinary(std::string* path) {
  return FindServerBinary("rabbitmq-server", false, {kLauncher}, "rabbitmq-server", path);
}

bool AmqpAnswers(int port, std::chrono::milliseconds timeout) {
  int fd = Connect(port);
  if (fd < 0) return false;
  // The client speaks first: the protocol header; a server that accepts
  // clients answers with a method frame (type 1), Connection.Start.
  static const char kHeader[8] = {'A', 'M', 'Q', 'P', 0, 0, 9, 1};
  bool ok = false;
  if (send(fd, kHeader, sizeof kHeader, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof kHeader)) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) == 1 && (p.revents & POLLIN)) {
      unsigned char b = 0;
      ok = recv(fd, &b, 1, 0) == 1 && b == 1;
    }
  }
  close(fd);
  return ok;
}

// The VM's argv carries `-home HOME` as separate elements: HOME is this
// folder's. The launcher script is spawned (its pid in launcher.pid) and
// writes the output; the VM writes rabbitmq.pid itself.
RabbitmqDaemon::RabbitmqDaemon(const Layout& layout)
    : dir_(layout.root + "/rabbitmq"),
      home_(dir_ + "/home"),
      mnesia_(dir_ + "/mnesia"),
      logs_(dir_ + "/log"),
      out_(dir_ + "/rabbitmq.out"),
      pid_file_(dir_ + "/rabbitmq.pid"),
      epmd_pid_(dir_ + "/epmd.pid"),
      epmd_out_(dir_ + "/epmd.out"),
      ports_file_(dir_ + "/rabbitmq.ports"),
      node_({"rabbitmq-server", dir_, pid_file_, out_, {home_}}),
      launcher_({"rabbitmq-server", dir_, dir_ + "/launcher.pid", out_, {kLauncher}}) {}

DaemonFrame RabbitmqDaemon::Epmd(int port) const {
  return DaemonFrame({"epmd", dir_, epmd_pid_, epmd_out_, {"-port", std::to_string(port)}});
}

bool RabbitmqDaemon::ReadPorts(int* amqp, int* dist, int* epmd) const {
  std::ifstream f(ports_file_);
  *amqp = *dist = *epmd = 0;
  if (!(f >> *amqp >> *dist >> *epmd)) return false;
  return *amqp > 0 && *dist > 0 && *epmd > 0;
}

int RabbitmqDaemon::Port() const {
  int a = 0, d = 0, e = 0;
  return ReadPorts(&a, &d, &e) ? a : 0;
}

Status RabbitmqDaemon::Ensure(pid_t* pid, int* port, bool* started, std::ostream* log) {
  *started = false;
  *pid = 0;
  *port = 0;
  std::string binary;
  Status s = RabbitmqServerBinary(&binary);
  if (!s.ok()) return s;
  // Two commands ensuring it at once start one.
  FolderLock lock;
  s = node_.Prepare({home_, mnesia_, logs_}, &lock);
  if (!s.ok()) return s;

  int amqp = 0, dist = 0, epmd = 0;
  ReadPorts(&amqp, &dist, &epmd);
  pid_t running = Running();
  if (running > 0 && amqp > 0 && AmqpAnswers(amqp, std::chrono::seconds(2))) {
    *pid = running;
    *port = amqp;
    return Status::OK();
  }
  // Whatever is left (a VM that does not answer, a launcher, an epmd) goes first.
  s = Stop(log, std::chrono::seconds(5));
  if (!s.ok()) return s;

  std::string run_as;
  s = PrepareServiceUser("rabbitmq-server", dir_, &run_as);
  if (!s.ok()) return s;
  // A node just SIGKILLed (its pid gone, no clean shutdown) keeps its
  // listening sockets until the last of the VM's threads has exited: give
  // the remembered ports a moment to come free before moving to others,
  // which clients holding the old URL would never find.
  for (int i = 0; i < 100 && !PortsFree({amqp, dist, epmd}); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const int a = PickDistinct(amqp, {});
  const int d = PickDistinct(dist, {a});
  const int e = PickDistinct(epmd, {a, d});
  if (a <= 0 || d <= 0 || e <= 0) {
    return Status::IOError("no free TCP ports on 127.0.0.1 for rabbitmq-server");
  }
  if (amqp > 0 && a != amqp && log) {
    *log << "port " << amqp << " is taken: rabbitmq-server moves to " << a << "\n";
  }
  {
    std::ofstream pf(ports_file_, std::ios::trunc);
    pf << a << " " << d << " " << e << "\n";
    if (!pf) return Status::IOError("cannot write " + ports_file_);
  }
  if (log) {
    *log << "starting rabbitmq-server on 127.0.0.1:" << a << " (node " << kNode << ", data "
         << mnesia_ << ", epmd on " << e << ")\n"
         << std::flush;
  }

  // epmd first, in the foreground (no -daemon): its pid is ours to stop.
  ServerKind ek;
  ek.name = "epmd";
  ek.argv = [run_as](int p, const std::string&) {
    return RunAs(run_as,
                 {"env", "-i", "ERL_EPMD_ADDRESS=127.0.0.1", "epmd", "-port", std::to_string(p)});
  };
  ek.ready = [](int p) { return Accepts(p); };
  ek.start_timeout = std::chrono::seconds(10);
  ServerProcess epmd_process;
  s = Epmd(e).Spawn(std::move(ek), e, 3, &epmd_process);
  if (!s.ok()) return s;

  ServerKind rk;
  rk.name = "rabbitmq-server";
  rk.scheme = "amqp";
  const std::string home = home_, mnesia = mnesia_, logs = logs_, dir = dir_, pidf = pid_file_;
  rk.argv = [=](int p, const std::string&) {
    // An empty environment plus the node's own: no /etc/rabbitmq/rabbitmq-env.conf
    // (RABBITMQ_CONF_ENV_FILE points into the folder), no config file, no
    // plugins, no caller's RABBITMQ_*. setpriv (when root) comes after env -i
    // and keeps the environment it is given.
    std::vector<std::string> argv = {
        "env",
        "-i",
        "PATH=/usr/bin:/bin:/usr/sbin:/sbin",
        "LANG=C.UTF-8",
        "HOME=" + home,
        std::string("RABBITMQ_NODENAME=") + kNode,
        "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
        "RABBITMQ_NODE_PORT=" + std::to_string(p),
        "RABBITMQ_DIST_PORT=" + std::to_string(d),
        "ERL_EPMD_PORT=" + std::to_string(e),
        "ERL_EPMD_ADDRESS=127.0.0.1",
        "RABBITMQ_MNESIA_BASE=" + mnesia,
        "RABBITMQ_LOG_BASE=" + logs,
        "RABBITMQ_LOGS=-",
        "RABBITMQ_CONF_ENV_FILE=" + dir + "/rabbitmq-env.conf",
        "RABBITMQ_CONFIG_FILE=" + dir + "/rabbitmq",
        "RABBITMQ_ENABLED_PLUGINS_FILE=" + dir + "/enabled_plugins",
        "RABBITMQ_PID_FILE=" + pidf,
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-start_epmd false -kernel inet_dist_use_interface "
        "{127,0,0,1}",
    };
    std::vector<std::string> tail = RunAs(run_as, {binary});
    argv.insert(argv.end(), tail.begin(), tail.end());
    return argv;
  };
  rk.ready = [](int p) { return AmqpAnswers(p, std::chrono::milliseconds(500)); };
  rk.start_timeout = std::chrono::seconds(60);
  rk.probe_interval = std::chrono::milliseconds(100);
  ServerProcess node;
  s = launcher_.Spawn(std::move(rk), a, 1, &node);
  if (!s.ok()) {
    (void)epmd_process.Stop(std::chrono::seconds(2));
    return s;
  }
  pid_t vm = Running();
  if (vm <= 0) {
    (void)node.Stop(std::chrono::seconds(10));
    (void)epmd_process.Stop(std::chrono::seconds(2));
    return Status::IOError("rabbitmq-server answers but wrote no pid to " + pid_file_);
  }
  epmd_process.Release();
  node.Release();  // both outlive this command; the pid files remember them
  *pid = vm;
  *port = a;
  *started = true;
  return Status::OK();
}

Status RabbitmqDaemon::Stop(std::ostream* log, std::chrono::milliseconds grace) {
  int a = 0, d = 0, e = 0;
  ReadPorts(&a, &d, &e);
  // SIGTERM: the VM shuts the node down cleanly (queues closed, stores flushed).
  Status s = node_.Stop(log, grace);
  if (!s.ok()) return s;
  // The launcher script exits once the VM did; one left behind goes too.
  (void)launcher_.Stop(nullptr, std::chrono::seconds(2));
  if (e > 0) {
    s = Epmd(e).Stop(nullptr, std::chrono::seconds(5));
    if (!s.ok()) return s;
  }
  std::error_code ec;
  for (const std::string& f : {pid_file_, launcher_.spec().pid_file, epmd_pid_}) fs::remove(f, ec);
  return Status::OK();
}

nlohmann::json RabbitmqDaemon::Describe() const {
  pid_t pid = Running();
  int port = Port();
  return {
      {"running", pid > 0}, {"pid", pid},      {"port", port}, {"url", port > 0 ? Url(port) : ""},
      {"node", kNode},      {"data", mnesia_}, {"log", out_}};
}

}  // namespace dw::env
