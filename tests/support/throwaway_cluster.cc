#include "tests/support/throwaway_cluster.h"

#include <glob.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/test_support.h"

namespace fs = std::filesystem;

namespace dw::testing {
namespace {

// The newest installed server's bin folder ("" when none).
std::string PgBinDir() {
  glob_t g;
  std::string found;
  if (glob("/usr/lib/postgresql/*/bin/initdb", 0, nullptr, &g) == 0 && g.gl_pathc > 0) {
    found = fs::path(g.gl_pathv[g.gl_pathc - 1]).parent_path().string();
  }
  globfree(&g);
  return found;
}

// "" or the error.
std::string ExecSql(const std::string& dsn, const std::string& sql) {
  PGconn* c = PQconnectdb(dsn.c_str());
  std::string err;
  if (PQstatus(c) != CONNECTION_OK) {
    err = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    auto st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) err = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  return err;
}

}  // namespace

std::string ThrowawayCluster::Start(const std::vector<std::string>& conf_lines,
                                    const std::string& password, int max_connections) {
  bin_ = PgBinDir();
  if (bin_.empty()) return "initdb not found under /usr/lib/postgresql/*/bin";
  dir_ = TempDir("throwaway-pg");
  if (geteuid() == 0) {
    uid_t uid;
    gid_t gid;
    if (!LookupUser("postgres", &uid, &gid)) return "running as root without a postgres user";
    run_as_.uid = uid;
    run_as_.gid = gid;
    if (chown(dir_.c_str(), uid, gid) != 0) return "chown " + dir_ + " failed";
  }
  std::vector<std::string> initdb = {bin_ + "/initdb", "-D",       dir_ + "/data", "-U",
                                     "postgres",       "--no-sync"};
  if (password.empty()) {
    initdb.push_back("--auth=trust");
  } else {
    initdb.insert(initdb.end(), {"--auth-local=trust", "--auth-host=scram-sha-256"});
  }
  std::string out;
  Status s = RunCommand(initdb, &out, run_as_);
  if (!s.ok()) return "initdb: " + s.ToString() + "\n" + out;
  port_ = FreeTcpPort();
  {
    std::ofstream conf(dir_ + "/data/postgresql.conf", std::ios::app);
    conf << "port = " << port_ << "\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '"
         << dir_ << "'\nfsync = off\nshared_buffers = 16MB\nmax_connections = " << max_connections
         << "\n";
    for (const auto& l : conf_lines) conf << l << "\n";
  }
  std::string err = PgCtl("start");
  if (!err.empty() || password.empty()) return err;
  PGconn* c = PQconnectdb(local_dsn().c_str());
  char* lit = PQstatus(c) == CONNECTION_OK ? PQescapeLiteral(c, password.c_str(), password.size())
                                           : nullptr;
  PQfinish(c);
  if (!lit) return "cannot connect to quote the password";
  err = ExecSql(local_dsn(),
                std::string("CREATE ROLE ") + kRole + " LOGIN SUPERUSER PASSWORD " + lit);
  PQfreemem(lit);
  return err.empty() ? "" : "CREATE ROLE: " + err;
}

std::string ThrowawayCluster::PgCtl(const std::string& what, const std::string& mode) {
  std::vector<std::string> argv = {bin_ + "/pg_ctl", "-D", dir_ + "/data", "-w", "-t", "60"};
  if (what == "start") {
    argv.insert(argv.end(), {"-l", dir_ + "/postgres.log", "start"});
  } else {
    argv.insert(argv.end(), {"-m", mode, "-l", dir_ + "/postgres.log", what});
  }
  std::string out;
  Status s = RunCommand(argv, &out, run_as_);
  if (s.ok()) running_ = what != "stop";
  return s.ok() ? "" : "pg_ctl " + what + ": " + s.ToString() + "\n" + out;
}

ThrowawayCluster::~ThrowawayCluster() {
  if (running_) PgCtl("stop", "immediate");
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string ThrowawayCluster::dsn() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=postgres user=postgres";
}
std::string ThrowawayCluster::local_dsn() const {
  return "host=" + dir_ + " port=" + std::to_string(port_) + " dbname=postgres user=postgres";
}
std::string ThrowawayCluster::uri(const std::string& password, const std::string& db) const {
  return "postgresql://" + std::string(kRole) + ":" + password +
         "@127.0.0.1:" + std::to_string(port_) + "/" + db;
}
std::string ThrowawayCluster::kv(const std::string& password, const std::string& db) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + kRole +
         " password=" + password + " dbname=" + db;
}

}  // namespace dw::testing
