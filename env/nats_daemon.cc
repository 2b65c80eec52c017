#include "env/nats_daemon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

#include "env/ports.h"
#include "env/service_user.h"

namespace dw::env {

Status NatsServerBinary(std::string* path) {
  // Debian installs it in /usr/sbin, which a non-root $PATH often lacks.
  return FindServerBinary("nats-server", true,
                          {"/usr/sbin/nats-server", "/usr/local/sbin/nats-server"}, "nats-server",
                          path);
}

bool NatsAnswers(int port, std::chrono::milliseconds timeout) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  if (rc == 0 || errno == EINPROGRESS) {
    // The server speaks first: "INFO {...}\r\n" once it accepts clients.
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) == 1 && (p.revents & POLLIN)) {
      char buf[5] = {};
      ok = recv(fd, buf, 4, 0) == 4 && std::memcmp(buf, "INFO", 4) == 0;
    }
  }
  close(fd);
  return ok;
}

ServerKind NatsKind(const std::string& binary, const std::string& run_as) {
  ServerKind k;
  k.name = "nats-server";
  k.scheme = "nats";
  k.argv = [binary, run_as](int port, const std::string& data_dir) {
    // -js -sd: JetStream is off without them (and Debian's config file has
    // neither); no config file is read at all.
    return RunAs(run_as, {binary, "-a", "127.0.0.1", "-p", std::to_string(port), "-js", "-sd",
                          data_dir + "/jetstream"});
  };
  k.ready = [](int port) { return NatsAnswers(port, std::chrono::milliseconds(500)); };
  k.start_timeout = std::chrono::seconds(30);
  k.probe_interval = std::chrono::milliseconds(20);
  return k;
}

NatsDaemon::NatsDaemon(const Layout& layout)
    : dir_(layout.root + "/nats"),
      store_(dir_ + "/jetstream"),
      out_(dir_ + "/nats.out"),
      port_file_(dir_ + "/nats.port"),
      frame_({"nats-server", dir_, dir_ + "/nats.pid", out_, {"-js", store_}}) {}

int NatsDaemon::Port() const {
  std::ifstream f(port_file_);
  int v = 0;
  if (!(f >> v) || v <= 0 || v > 65535) return 0;
  return v;
}

Status NatsDaemon::Ensure(pid_t* pid, int* port, bool* started, std::ostream* log) {
  *started = false;
  *pid = 0;
  *port = 0;
  std::string binary;
  Status s = NatsServerBinary(&binary);
  if (!s.ok()) return s;
  // Two commands ensuring it at once start one.
  FolderLock lock;
  s = frame_.Prepare({store_}, &lock);
  if (!s.ok()) return s;

  int remembered = Port();
  pid_t running = Running();
  if (running > 0 && remembered > 0 && NatsAnswers(remembered, std::chrono::seconds(2))) {
    *pid = running;
    *port = remembered;
    return Status::OK();
  }
  if (running > 0) {
    if (log) *log << "nats-server (pid " << running << ") does not answer: restarting it\n";
    s = Stop(log, std::chrono::seconds(5));
    if (!s.ok()) return s;
  }
  std::string run_as;
  s = PrepareServiceUser("nats-server", dir_, &run_as);
  if (!s.ok()) return s;
  // A nats-server just killed keeps its listening socket until the last of
  // its threads has exited, which can be after its pid is gone: give the
  // remembered port a moment to come free before moving to another one.
  for (int i = 0; remembered > 0 && i < 60 && !TcpPortFree(remembered); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  int p = PickPort(remembered);
  if (p <= 0) return Status::IOError("no free TCP port on 127.0.0.1 for nats-server");
  if (remembered > 0 && p != remembered && log) {
    *log << "port " << remembered << " is taken: nats-server moves to " << p << "\n";
  }
  if (log)
    *log << "starting nats-server on 127.0.0.1:" << p << " (JetStream store " << store_ << ")\n"
         << std::flush;
  ServerProcess server;
  s = frame_.Spawn(NatsKind(binary, run_as), p, 3, &server);
  if (!s.ok()) return s;
  {
    std::ofstream pf(port_file_, std::ios::trunc);
    pf << p << "\n";
    if (!pf) return Status::IOError("cannot write " + port_file_);
  }
  *pid = server.pid();
  *port = p;
  *started = true;
  server.Release();  // it outlives this command; the pid file remembers it
  return Status::OK();
}

Status NatsDaemon::Stop(std::ostream* log, std::chrono::milliseconds grace) {
  return frame_.Stop(log, grace);
}

nlohmann::json NatsDaemon::Describe() const {
  pid_t pid = Running();
  int port = Port();
  return {{"running", pid > 0}, {"pid", pid}, {"port", port}, {"url", port > 0 ? Url(port) : ""},
          {"store", store_},    {"log", out_}};
}

}  // namespace dw::env
