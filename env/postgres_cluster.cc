#include "env/postgres_cluster.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

#include <pqxx/pqxx>

#include "common/one_line.h"
#include "env/pg_binaries.h"
#include "env/proc_info.h"

namespace fs = std::filesystem;

namespace dw::env {
namespace {

// Written into pg/data on every start, included from postgresql.conf.
constexpr const char* kSettingsFile = "dualwrite.conf";

// A single-quoted postgresql.conf string.
std::string ConfQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

Status WriteFile(const std::string& path, const std::string& text, bool append = false) {
  std::ofstream out(path, append ? std::ios::app : std::ios::trunc);
  out << text;
  out.flush();
  if (!out) return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
  return Status::OK();
}

std::string UserName(uid_t uid) {
  struct passwd* pw = getpwuid(uid);
  return pw ? pw->pw_name : "uid " + std::to_string(uid);
}

std::string UserHome(uid_t uid) {
  struct passwd* pw = getpwuid(uid);
  return pw && pw->pw_dir ? pw->pw_dir : "/";
}

}  // namespace

std::string PostgresDsn(int port, const std::string& dbname) {
  return "host=127.0.0.1 port=" + std::to_string(port) + " dbname=" + dbname + " user=postgres";
}

Status PostgresCluster::Init(const std::string& remembered_bin_dir) {
  if (!remembered_bin_dir.empty() && HasServerTools(remembered_bin_dir)) {
    bin_dir_ = remembered_bin_dir;
  } else {
    Status s = FindPostgresBinDir(&bin_dir_);
    if (!s.ok()) return s;
  }

  // Five digits is the longest a port can make the name.
  std::string socket = layout_.SocketPath(65535);
  if (socket.size() >= kMaxSocketPath) {
    return Status::InvalidArgument("the cluster's unix socket path " + socket + " would be " +
                                   std::to_string(socket.size()) +
                                   " bytes, over the 106-byte limit of a unix socket: use a "
                                   "shorter --state-dir, such as /tmp/dualwrite");
  }

  uid_t self = geteuid();
  struct stat st;
  bool have_data = Created() && stat(layout_.pg_data.c_str(), &st) == 0;
  if (self != 0) {
    if (have_data && st.st_uid != self) {
      return Status::FailedPrecondition(layout_.pg_data + " belongs to " + UserName(st.st_uid) +
                                        ": run dualwrite as that user (or as root)");
    }
    os_user_ = UserName(self);
    const char* home = std::getenv("HOME");
    home_ = home && *home ? home : UserHome(self);
    return Status::OK();
  }

  // Root: Postgres refuses to run as root, so the cluster belongs to another
  // OS user: whoever owns an existing cluster, else `postgres`.
  if (have_data) {
    if (st.st_uid == 0) {
      return Status::FailedPrecondition(layout_.pg_data +
                                        " is owned by root, and Postgres refuses to run as root: "
                                        "`dualwrite down --purge` and `up` again to recreate it");
    }
    uid_ = st.st_uid;
    gid_ = st.st_gid;
  } else {
    uid_t uid;
    gid_t gid;
    if (!LookupUser("postgres", &uid, &gid)) {
      return Status::FailedPrecondition(
          "running as root needs the `postgres` OS user to run the cluster (Postgres refuses to "
          "run as root); it comes with the postgresql-15 package: `apt-get install "
          "postgresql-15`, or run dualwrite as a normal user");
    }
    uid_ = uid;
    gid_ = gid;
  }
  os_user_ = UserName(*uid_);
  home_ = UserHome(*uid_);

  // The server user must be able to walk down to pg/. A state folder under
  // /root (mode 700) is the usual way this fails; say so in one line rather
  // than let initdb fail with "could not change directory".
  SpawnOptions probe;
  probe.uid = uid_;
  probe.gid = gid_;
  probe.cwd = "/";
  if (!RunCommand({"test", "-x", layout_.root}, nullptr, probe).ok()) {
    return Status::FailedPrecondition(
        "the `" + os_user_ + "` OS user cannot reach the state folder " + layout_.root +
        " (as root the cluster runs as `" + os_user_ +
        "`, and a parent folder is not searchable by it, e.g. /root with mode 700): use a "
        "--state-dir it can reach, such as /tmp/dualwrite");
  }
  return Status::OK();
}

SpawnOptions PostgresCluster::RunAsOptions() const {
  SpawnOptions o;
  o.uid = uid_;
  o.gid = gid_;
  // pg/ belongs to the server user: a cwd it can read (ours may be /root).
  o.cwd = fs::exists(layout_.pg_dir) ? layout_.pg_dir : "/";
  o.env = {"HOME=" + home_, "PWD=" + o.cwd};
  return o;
}

Status PostgresCluster::ChownToServer(const std::string& path) const {
  if (!uid_) return Status::OK();
  if (chown(path.c_str(), *uid_, gid_.value_or(static_cast<gid_t>(-1))) != 0) {
    return Status::IOError("cannot chown " + path + " to " + os_user_ + ": " +
                           std::strerror(errno));
  }
  return Status::OK();
}

bool PostgresCluster::Created() const {
  std::error_code ec;
  return fs::exists(fs::path(layout_.pg_data) / "PG_VERSION", ec);
}

Status PostgresCluster::Create(std::ostream* log) {
  std::error_code ec;
  for (const auto& dir : {layout_.pg_dir, layout_.pg_run, layout_.pg_log_dir}) {
    fs::create_directories(dir, ec);
    if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
    Status s = ChownToServer(dir);
    if (!s.ok()) return s;
  }
  // initdb into a scratch folder: a crash or failure half-way leaves no
  // pg/data that a later `up` would try to start.
  std::string scratch = layout_.pg_dir + "/data.init";
  fs::remove_all(scratch, ec);
  if (log) {
    *log << "creating a PostgreSQL cluster in " << layout_.pg_data << " (initdb as OS user "
         << os_user_ << ")\n"
         << std::flush;
  }
  std::string out;
  Status s = RunCommand({bin_dir_ + "/initdb", "-D", scratch, "-U", "postgres", "-E", "UTF8",
                         "--locale=C", "--auth=trust", "--no-instructions", "--no-sync"},
                        &out, RunAsOptions());
  if (!s.ok()) return Status::IOError("initdb failed: " + s.message());

  // A throwaway lab cluster: trust, but only on the unix socket (inside the
  // state folder) and on 127.0.0.1, including replication connections for
  // the logical-decoding relay.
  s = WriteFile(scratch + "/pg_hba.conf",
                "# Written by `dualwrite up`: a throwaway lab cluster, trust on loopback only.\n"
                "# TYPE  DATABASE     USER  ADDRESS       METHOD\n"
                "local   all          all                 trust\n"
                "host    all          all   127.0.0.1/32  trust\n"
                "local   replication  all                 trust\n"
                "host    replication  all   127.0.0.1/32  trust\n");
  if (!s.ok()) return s;
  s = WriteFile(scratch + "/postgresql.conf",
                std::string("\n# dualwrite: the lab's settings (rewritten on every `up`).\n"
                            "include = '") +
                    kSettingsFile + "'\n",
                /*append=*/true);
  if (!s.ok()) return s;
  fs::rename(scratch, layout_.pg_data, ec);
  if (ec) return Status::IOError("cannot rename " + scratch + ": " + ec.message());
  // initdb ran with --no-sync: one syncfs() makes the new cluster and its
  // rename durable, several times faster than initdb's file-by-file fsync
  // on a busy disk.
  int fd = open(layout_.pg_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || syncfs(fd) != 0) {
    std::string err = std::strerror(errno);
    if (fd >= 0) close(fd);
    return Status::IOError("cannot sync " + layout_.pg_dir + ": " + err);
  }
  close(fd);
  return Status::OK();
}

Status PostgresCluster::WriteSettings(const std::string& data_dir, int port) const {
  std::ostringstream conf;
  conf << "# Written by `dualwrite up` before every start: edits here are overwritten.\n"
       << "listen_addresses = '127.0.0.1'\n"
       << "port = " << port << "\n"
       << "unix_socket_directories = " << ConfQuote(layout_.pg_run) << "\n"
       << "max_connections = 300\n"
       << "# Two-phase commit: 0 (the default) disables PREPARE TRANSACTION.\n"
       << "max_prepared_transactions = 256\n"
       << "# Logical decoding for the outbox's log-based relay.\n"
       << "wal_level = logical\n"
       << "max_replication_slots = 10\n"
       << "max_wal_senders = 10\n"
       << "shared_buffers = 128MB\n"
       << "# Durability is what the lab measures: never trade it away here.\n"
       << "fsync = on\n"
       << "synchronous_commit = on\n"
       << "# Crash recovery syncs the data folder first: syncfs is one call instead\n"
       << "# of an fsync per file (seconds on a busy disk).\n"
       << "recovery_init_sync_method = syncfs\n";
  std::string path = data_dir + "/" + kSettingsFile;
  Status s = WriteFile(path, conf.str());
  if (!s.ok()) return s;
  return ChownToServer(path);
}

std::optional<PostmasterInfo> PostgresCluster::Running() const {
  // postmaster.pid: pid, data dir, start time, port, socket dir, listen
  // address, shared memory key, status.
  std::ifstream f(layout_.pg_data + "/postmaster.pid");
  if (!f) return std::nullopt;
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(f, line)) lines.push_back(line);
  if (lines.empty()) return std::nullopt;
  PostmasterInfo info;
  info.pid = static_cast<pid_t>(std::atol(lines[0].c_str()));
  if (lines.size() > 3) info.port = std::atoi(lines[3].c_str());
  if (lines.size() > 7) {
    info.status = lines[7];
    while (!info.status.empty() && info.status.back() == ' ') info.status.pop_back();
  }
  // A stale file (the server was killed) may name a pid that now belongs to
  // somebody else.
  if (info.pid <= 0 || !ProcessAlive(info.pid) || ProcessName(info.pid) != "postgres") {
    return std::nullopt;
  }
  return info;
}

Status PostgresCluster::Ctl(const std::vector<std::string>& args, std::string* output) const {
  std::vector<std::string> argv = {bin_dir_ + "/pg_ctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  SpawnOptions o = RunAsOptions();
  // Its own session, so the postmaster never receives our terminal's signals.
  o.new_session = true;
  return RunCommand(argv, output, o);
}

std::string PostgresCluster::LogTail() const {
  std::ifstream f(layout_.pg_log);
  if (!f) return "";
  f.seekg(0, std::ios::end);
  std::streamoff size = f.tellg();
  f.seekg(size > 16384 ? size - 16384 : 0);
  std::string line, last, last_fatal;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    last = line;
    if (line.find("FATAL:") != std::string::npos || line.find("PANIC:") != std::string::npos) {
      last_fatal = line;
    }
  }
  return last_fatal.empty() ? last : last_fatal;
}

Status PostgresCluster::Start(int port, std::ostream* log) {
  std::string socket = layout_.SocketPath(port);
  if (socket.size() >= kMaxSocketPath) {
    return Status::InvalidArgument("unix socket path too long: " + socket);
  }
  Status s = WriteSettings(layout_.pg_data, port);
  if (!s.ok()) return s;

  // A pid file left by a killed server: Postgres would cope with most of
  // them, but not with one whose pid now belongs to another process of the
  // server user. Running() has checked the pid is not a live postmaster.
  std::string pid_file = layout_.pg_data + "/postmaster.pid";
  bool crashed = false;
  std::error_code ec;
  if (fs::exists(pid_file, ec) && !Running()) {
    crashed = true;
    fs::remove(pid_file, ec);
  }
  if (log) *log << "starting postgres on 127.0.0.1:" << port << "\n" << std::flush;
  // After a crash, children of the dead postmaster may hold its shared memory
  // for a moment ("pre-existing shared memory block is still in use").
  const int attempts = crashed ? 5 : 1;
  std::string out;
  for (int i = 1;; ++i) {
    s = Ctl({"-D", layout_.pg_data, "-l", layout_.pg_log, "-w", "-t", "120", "start"}, &out);
    if (s.ok() || i >= attempts) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (!s.ok()) {
    std::string tail = LogTail();
    return Status::IOError("postgres did not start (" + s.message() + ")" +
                           (tail.empty() ? "" : ": " + tail) + "; see " + layout_.pg_log);
  }
  auto info = Running();
  if (!info) return Status::IOError("postgres exited right after starting; see " + layout_.pg_log);
  if (info->port != port) {
    return Status::IOError("postgres listens on port " + std::to_string(info->port) +
                           " instead of " + std::to_string(port) + "; see " + layout_.pg_log);
  }
  return Status::OK();
}

Status PostgresCluster::Stop(std::ostream* log) {
  auto info = Running();
  if (!info) return Status::OK();
  if (log) *log << "stopping postgres (pid " << info->pid << ")\n" << std::flush;
  std::string out;
  Status s = bin_dir_.empty()
                 ? Status::FailedPrecondition("no pg_ctl")
                 : Ctl({"-D", layout_.pg_data, "-m", "fast", "-w", "-t", "60", "stop"}, &out);
  if (s.ok() && WaitGone(info->pid, std::chrono::seconds(10))) return Status::OK();
  // pg_ctl missing (package removed) or the fast shutdown hung: SIGINT is
  // the fast shutdown, SIGQUIT the immediate one (crash recovery next start).
  kill(info->pid, SIGINT);
  if (WaitGone(info->pid, std::chrono::seconds(30))) return Status::OK();
  kill(info->pid, SIGQUIT);
  if (WaitGone(info->pid, std::chrono::seconds(10))) return Status::OK();
  return Status::IOError("postgres (pid " + std::to_string(info->pid) +
                         ") does not stop: " + s.message());
}

Status PostgresCluster::EnsureDatabase(int port) {
  try {
    pqxx::connection c(PostgresDsn(port, "postgres") + " connect_timeout=10");
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec("SELECT 1 FROM pg_database WHERE datname = " + tx.quote(kDatabase));
    if (!r.empty()) return Status::OK();
    try {
      tx.exec0(std::string("CREATE DATABASE ") + kDatabase);
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() != "42P04") throw;  // duplicate_database: someone else made it
    }
    return Status::OK();
  } catch (const pqxx::broken_connection& e) {
    return Status::Unavailable("cannot connect to postgres on port " + std::to_string(port) + ": " +
                               OneLine(e.what()));
  } catch (const std::exception& e) {
    return Status::IOError(std::string("cannot create database ") + kDatabase + ": " +
                           OneLine(e.what()));
  }
}

}  // namespace dw::env
