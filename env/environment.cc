#include "env/environment.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <system_error>
#include <thread>

#include "common/dsn.h"
#include "common/process.h"
#include "env/broker_daemon.h"
#include "env/nats_daemon.h"
#include "env/pgqd_daemon.h"
#include "env/ports.h"
#include "env/postgres_cluster.h"
#include "env/proc_info.h"
#include "env/rabbitmq_daemon.h"
#include "env/state_file.h"

namespace fs = std::filesystem;

namespace dw::env {
namespace {

// An exclusive flock() held for the life of the object. O_CLOEXEC matters:
// the broker we spawn must not inherit the descriptor, or it would hold the
// lock for as long as it runs.
class FileLock {
 public:
  FileLock() = default;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() {
    if (fd_ >= 0) close(fd_);
  }

  Status Acquire(const std::string& path) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
    while (flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        return Status::IOError("cannot lock " + path + ": " + std::strerror(errno));
      }
    }
    return Status::OK();
  }

 private:
  int fd_ = -1;
};

// A postmaster that is starting up or shutting down (another `up` or `down`
// racing us, or a crash recovery) settles into "ready" or exits.
std::optional<PostmasterInfo> WaitSettled(const PostgresCluster& pg) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (;;) {
    auto info = pg.Running();
    if (!info || info->status.empty() || info->status == "ready") return info;
    if (std::chrono::steady_clock::now() >= deadline) return info;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Who runs `broker serve`: see UpOptions::dualwrite_binary.
std::string DualwriteBinary(const UpOptions& opts) {
  if (!opts.dualwrite_binary.empty()) return opts.dualwrite_binary;
  const char* env = std::getenv("DUALWRITE_BINARY");
  if (env && *env) return env;
  return SelfExe();
}

void Say(std::ostream* log, const std::string& line) {
  if (log) *log << line << "\n" << std::flush;
}

// Starts a server (`start(port)`) on `preferred` while that is free, else on
// a fresh port. A port found free can be taken by another process before the
// server binds it (tests start environments in parallel): a start that fails
// while its port is no longer free is retried on another port.
Status StartOnFreePort(const std::string& what, int preferred,
                       const std::function<Status(int)>& start, std::ostream* log, int* port) {
  for (int attempt = 1;; ++attempt) {
    int p = PickPort(preferred);
    if (p <= 0) return Status::IOError("no free TCP port on 127.0.0.1 for " + what);
    if (preferred > 0 && p != preferred) {
      Say(log, "port " + std::to_string(preferred) + " is taken: " + what + " moves to " +
                   std::to_string(p));
    }
    Status s = start(p);
    if (s.ok()) {
      *port = p;
      return s;
    }
    if (attempt >= 3 || TcpPortFree(p)) return s;
    Say(log, "port " + std::to_string(p) + " was taken meanwhile: " + what + " tries another");
    preferred = 0;
  }
}

}  // namespace

Environment::Environment(std::string state_dir)
    : state_dir_(Layout(state_dir).root), layout_(state_dir), probes_(BuiltinProbes()) {}

Status Environment::Up(Endpoints* out, std::ostream* log) { return Up(UpOptions{}, out, log); }

Status Environment::Up(const UpOptions& opts, Endpoints* out, std::ostream* log) {
  std::error_code ec;
  bool fresh = !fs::exists(layout_.root, ec);
  fs::create_directories(layout_.root, ec);
  if (ec) {
    return Status::IOError("cannot create the state folder " + layout_.root + ": " + ec.message());
  }
  // Under a umask of 077 the folder would be closed to the `postgres` user.
  if (fresh) chmod(layout_.root.c_str(), 0755);

  FileLock lock;
  Status s = lock.Acquire(layout_.lock_file);
  if (!s.ok()) return s;
  EnvState st;
  s = LoadEnvState(layout_.env_json, &st);
  if (!s.ok()) {
    // Only remembered ports are lost: the processes are found again through
    // postmaster.pid and broker.pid.
    Say(log, "warning: ignoring " + s.ToString());
    st = EnvState{};
  }
  auto save = [&] {
    return SaveEnvState(layout_.env_json, st, st.pg_port > 0 ? PostgresDsn(st.pg_port) : "",
                        st.broker_port > 0 ? BrokerUrl(st.broker_port) : "");
  };

  Endpoints result;
  if (opts.postgres) {
    PostgresCluster pg(layout_);
    s = pg.Init(st.pg_bin_dir);
    if (!s.ok()) {
      // Leave no empty state folder behind a refusal (unreachable, path too long).
      if (fresh) fs::remove_all(layout_.root, ec);
      return s;
    }
    st.pg_bin_dir = pg.bin_dir();
    if (!pg.Created()) {
      s = pg.Create(log);
      if (!s.ok()) return s;
    }
    auto info = WaitSettled(pg);
    if (info && info->status != "" && info->status != "ready") {
      return Status::Timeout("postgres (pid " + std::to_string(info->pid) + ") stays in state '" +
                             info->status + "'; see " + layout_.pg_log);
    }
    if (info) {
      if (opts.report_running)
        Say(log, "postgres is running (pid " + std::to_string(info->pid) + ", port " +
                     std::to_string(info->port) + ")");
    } else {
      if (st.postgres_pid > 0) {
        Say(log, "postgres (pid " + std::to_string(st.postgres_pid) + ") is not running any more");
      }
      int port = 0;
      s = StartOnFreePort(
          "postgres", st.pg_port, [&](int p) { return pg.Start(p, log); }, log, &port);
      if (!s.ok()) return s;
      info = pg.Running();
      if (!info) {
        return Status::IOError("postgres is not running after start; see " + layout_.pg_log);
      }
    }
    st.pg_port = info->port;
    st.postgres_pid = info->pid;
    s = pg.EnsureDatabase(info->port);
    if (!s.ok()) return s;
    // Record Postgres now: should the broker fail to start, `down` still
    // knows what runs.
    s = save();
    if (!s.ok()) return s;
    result.dsn = PostgresDsn(st.pg_port);
  }

  if (opts.broker) {
    BrokerDaemon broker(layout_, DualwriteBinary(opts));
    pid_t pid = broker.Running(st.broker_pid);
    bool healthy = pid > 0 && st.broker_port > 0 &&
                   BrokerDaemon::Healthy(st.broker_port, std::chrono::seconds(5));
    if (healthy) {
      if (opts.report_running)
        Say(log, "the broker is running (pid " + std::to_string(pid) + ", port " +
                     std::to_string(st.broker_port) + ")");
    } else {
      if (pid > 0) {
        Say(log, "the broker (pid " + std::to_string(pid) +
                     ") does not answer GET /healthz: restarting it");
        s = broker.Stop(pid, log, std::chrono::seconds(5));
        if (!s.ok()) return s;
      } else if (st.broker_pid > 0) {
        Say(log, "the broker (pid " + std::to_string(st.broker_pid) +
                     ") is not running any more: restarting it");
      }
      st.broker_pid = 0;
      int port = 0;
      s = StartOnFreePort(
          "the broker", st.broker_port, [&](int p) { return broker.Start(p, &pid, log); }, log,
          &port);
      if (!s.ok()) {
        (void)save();  // the failed start is the error to report
        return s;
      }
      st.broker_port = port;
    }
    st.broker_pid = pid;
    result.broker_url = BrokerUrl(st.broker_port);
  }

  if (opts.nats) {
    NatsDaemon nats(layout_);
    pid_t pid = 0;
    int port = 0;
    bool started = false;
    s = nats.Ensure(&pid, &port, &started, log);
    if (!s.ok()) return s;
    if (!started && opts.report_running)
      Say(log, "nats-server is running (pid " + std::to_string(pid) + ", port " +
                   std::to_string(port) + ")");
  }

  if (opts.rabbitmq) {
    RabbitmqDaemon rabbitmq(layout_);
    pid_t pid = 0;
    int port = 0;
    bool started = false;
    s = rabbitmq.Ensure(&pid, &port, &started, log);
    if (!s.ok()) return s;
    if (!started && opts.report_running)
      Say(log, "rabbitmq-server is running (pid " + std::to_string(pid) + ", port " +
                   std::to_string(port) + ")");
  }

  s = save();
  if (!s.ok()) return s;
  *out = result;
  return Status::OK();
}

Status Environment::CheckPurgeable() const {
  // Guard against `--state-dir ~ down --purge`: only delete a folder that
  // holds nothing but what Up creates.
  // "coordinator": the default home of 2pc file decision logs (cli/cmd_2pc.cc);
  // "3pc": the logs of the agents `3pc run` starts itself (cli/cmd_3pc.cc).
  static const std::set<std::string> ours = {
      "env.json", ".lock", "pg", "broker", "coordinator", "pgqd", "nats", "rabbitmq", "3pc"};
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(layout_.root, ec)) {
    std::string name = e.path().filename().string();
    if (ours.count(name) || name.rfind("env.json.tmp.", 0) == 0) continue;
    return Status::FailedPrecondition("refusing to purge " + layout_.root + ": it holds " + name +
                                      ", which dualwrite did not create");
  }
  if (ec) return Status::IOError("cannot list " + layout_.root + ": " + ec.message());
  return Status::OK();
}

Status Environment::Down(bool purge, std::ostream* log) {
  std::error_code ec;
  if (!fs::exists(layout_.root, ec)) {
    Say(log, "nothing to stop: " + layout_.root + " does not exist");
    return Status::OK();
  }
  if (purge) {
    Status s = CheckPurgeable();
    if (!s.ok()) return s;
  }
  FileLock lock;
  Status s = lock.Acquire(layout_.lock_file);
  if (!s.ok()) return s;
  EnvState st;
  if (!LoadEnvState(layout_.env_json, &st).ok()) st = EnvState{};

  BrokerDaemon broker(layout_, "");
  pid_t bpid = broker.Running(st.broker_pid);
  Status broker_status = broker.Stop(bpid, log);
  // pgqd before Postgres: otherwise it logs reconnect failures until killed.
  PgqdDaemon pgqd(layout_);
  const bool pgqd_running = pgqd.Running() > 0;
  Status pgqd_status = pgqd.Stop(log);
  NatsDaemon nats(layout_);
  const bool nats_running = nats.Running() > 0;
  Status nats_status = nats.Stop(log);
  RabbitmqDaemon rabbitmq(layout_);
  const bool rabbitmq_running = rabbitmq.Running() > 0;
  Status rabbitmq_status = rabbitmq.Stop(log);

  PostgresCluster pg(layout_);
  Status pg_status;
  bool pg_running = pg.Running().has_value();
  if (pg_running) {
    // Init fails only when the binaries or the server user are gone; Stop
    // then falls back to signalling the postmaster directly.
    Status init = pg.Init(st.pg_bin_dir);
    if (!init.ok()) Say(log, "warning: " + init.ToString());
    pg_status = pg.Stop(log);
  }
  if (!bpid && !pg_running && !pgqd_running && !nats_running && !rabbitmq_running)
    Say(log, "nothing was running in " + layout_.root);

  if (!broker_status.ok()) return broker_status;
  if (!pgqd_status.ok()) return pgqd_status;
  if (!nats_status.ok()) return nats_status;
  if (!rabbitmq_status.ok()) return rabbitmq_status;
  if (!pg_status.ok()) return pg_status;
  if (purge) {
    fs::remove_all(layout_.root, ec);
    if (ec) return Status::IOError("cannot delete " + layout_.root + ": " + ec.message());
    Say(log, "deleted " + layout_.root);
    return Status::OK();
  }
  st.postgres_pid = 0;
  st.broker_pid = 0;
  return SaveEnvState(layout_.env_json, st, st.pg_port > 0 ? PostgresDsn(st.pg_port) : "",
                      st.broker_port > 0 ? BrokerUrl(st.broker_port) : "");
}

Status Environment::Describe(nlohmann::json* out, const Endpoints& given) {
  EnvState st;
  std::error_code ec;
  if (fs::exists(layout_.root, ec) && !LoadEnvState(layout_.env_json, &st).ok()) st = EnvState{};

  PostgresCluster pg(layout_);
  auto info = pg.Running();
  BrokerDaemon broker(layout_, "");
  pid_t bpid = broker.Running(st.broker_pid);

  int pg_port = info ? info->port : st.pg_port;
  ProbeContext ctx;
  ctx.layout = &layout_;
  ctx.postgres_running = info.has_value();
  ctx.broker_running = bpid > 0;
  ctx.dsn = pg_port > 0 ? PostgresDsn(pg_port) : "";
  ctx.broker_url = st.broker_port > 0 ? BrokerUrl(st.broker_port) : "";
  ctx.broker_port = st.broker_port;

  nlohmann::json j;
  j["state_dir"] = layout_.root;
  j["running"] = ctx.postgres_running && ctx.broker_running;
  j["dsn"] = ctx.dsn;
  j["broker_url"] = ctx.broker_url;
  // What the user pointed the commands at: the probes look there instead
  // (a probe that cannot reach it reports {"error": ...} under its key).
  j["probed"] = given.dsn.empty() && given.broker_url.empty() ? "embedded" : "given";
  if (!given.dsn.empty()) {
    ctx.dsn = given.dsn;
    ctx.postgres_running = true;
    j["dsn"] = RedactDsn(given.dsn);
  }
  if (!given.broker_url.empty()) {
    ctx.broker_url = given.broker_url;
    ctx.broker_running = true;
    ctx.broker_port = 0;
    j["broker_url"] = given.broker_url;
  }
  j["postgres_pid"] = info ? info->pid : 0;
  j["broker_pid"] = bpid;

  nlohmann::json pgj = {{"created", pg.Created()},     {"running", ctx.postgres_running},
                        {"pid", info ? info->pid : 0}, {"port", pg_port},
                        {"data_dir", layout_.pg_data}, {"log", layout_.pg_log}};
  if (info) {
    pgj["status"] = info->status;
    pgj["unix_socket"] = layout_.SocketPath(info->port);
    if (auto uid = ProcessUid(info->pid)) {
      struct passwd* pw = getpwuid(*uid);
      pgj["os_user"] = pw ? std::string(pw->pw_name) : std::to_string(*uid);
    }
  }
  j["postgres"] = pgj;
  j["broker"] = {{"running", ctx.broker_running},  {"pid", bpid},
                 {"port", st.broker_port},         {"url", ctx.broker_url},
                 {"data_dir", layout_.broker_dir}, {"log", layout_.broker_log}};
  // Only once it was asked for: most environments never run one.
  NatsDaemon nats(layout_);
  if (fs::exists(nats.dir(), ec)) j["nats"] = nats.Describe();
  RabbitmqDaemon rabbitmq(layout_);
  if (fs::exists(rabbitmq.dir(), ec)) j["rabbitmq"] = rabbitmq.Describe();

  for (const auto& probe : probes_) {
    nlohmann::json section;
    Status s = probe.fn(ctx, &section);
    if (!s.ok()) {
      j[probe.key] = {{"error", s.ToString()}};
    } else if (!section.is_null()) {
      j[probe.key] = std::move(section);
    }
  }
  *out = std::move(j);
  return Status::OK();
}

Status Resolve(const std::string& state_dir, const std::string& dsn, const std::string& broker,
               Endpoints* out, std::ostream* log) {
  if (!dsn.empty() && !broker.empty()) {
    *out = Endpoints{dsn, broker};
    return Status::OK();
  }
  UpOptions opts;
  opts.postgres = dsn.empty();
  opts.broker = broker.empty();
  opts.report_running = false;
  Endpoints embedded;
  Status s = Environment(state_dir).Up(opts, &embedded, log);
  if (!s.ok()) return s;
  out->dsn = dsn.empty() ? embedded.dsn : dsn;
  out->broker_url = broker.empty() ? embedded.broker_url : broker;
  return Status::OK();
}

Status ResolveNats(const std::string& state_dir, const std::string& given, std::string* url,
                   std::ostream* log) {
  if (!given.empty()) {
    *url = given;
    return Status::OK();
  }
  NatsDaemon nats{Layout(state_dir)};
  pid_t pid = 0;
  int port = 0;
  bool started = false;
  Status s = nats.Ensure(&pid, &port, &started, log);
  if (!s.ok()) return s;
  *url = NatsDaemon::Url(port);
  return Status::OK();
}

Status ResolveRabbitmq(const std::string& state_dir, const std::string& given, std::string* url,
                       std::ostream* log) {
  if (!given.empty()) {
    *url = given;
    return Status::OK();
  }
  RabbitmqDaemon rabbitmq{Layout(state_dir)};
  pid_t pid = 0;
  int port = 0;
  bool started = false;
  Status s = rabbitmq.Ensure(&pid, &port, &started, log);
  if (!s.ok()) return s;
  *url = RabbitmqDaemon::Url(port);
  return Status::OK();
}

}  // namespace dw::env
