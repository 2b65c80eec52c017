#include "env/pgqd_daemon.h"

#include <libpq-fe.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "env/proc_info.h"
#include "env/service_user.h"

namespace dw::env {
namespace {

// The line pgqd logs once it reached a database with the pgq extension.
constexpr const char* kReadyLine = "pgq version ok";

std::string Number(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

bool FileContains(const std::string& path, const std::string& needle) {
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    if (line.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

PgqdDaemon::PgqdDaemon(const Layout& layout)
    : dir_(layout.root + "/pgqd"),
      ini_(dir_ + "/pgqd.ini"),
      log_(dir_ + "/pgqd.log"),
      frame_({"pgqd", dir_, dir_ + "/pgqd.pid", dir_ + "/pgqd.out", {ini_}}) {}

Status PgqdDaemon::IniText(const std::string& dsn, const PgqdSettings& settings,
                           std::string* out) const {
  // pgqd wants the connection without the database (base_connstr) and the
  // database apart (it connects to each one of database_list).
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (!opts) {
    std::string why = err ? err : "out of memory";
    if (err) PQfreemem(err);
    return Status::InvalidArgument("cannot parse the DSN for pgqd: " + why);
  }
  std::string base, db;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (!o->val || !*o->val) continue;
    std::string k = o->keyword, v = o->val;
    if (k == "dbname") {
      db = v;
      continue;
    }
    std::string q;  // libpq's quoting: '...' with \ and ' escaped
    for (char c : v) {
      if (c == '\\' || c == '\'') q.push_back('\\');
      q.push_back(c);
    }
    base += (base.empty() ? "" : " ") + k + "='" + q + "'";
  }
  PQconninfoFree(opts);
  if (db.empty()) return Status::InvalidArgument("the DSN names no database for pgqd");
  std::ostringstream o;
  o << "[pgqd]\n"
    << "logfile = " << log_ << "\n"
    << "base_connstr = " << base << "\n"
    << "initial_database = " << db << "\n"
    << "database_list = " << db << "\n"
    << "ticker_period = " << Number(settings.ticker_period_s) << "\n"
    << "check_period = " << Number(settings.check_period_s) << "\n"
    << "maint_period = " << Number(settings.maint_period_s) << "\n"
    << "retry_period = " << Number(settings.retry_period_s) << "\n";
  *out = o.str();
  return Status::OK();
}

Status PgqdDaemon::Ensure(const std::string& dsn, const PgqdSettings& settings, pid_t* pid,
                          bool* started, std::ostream* log) {
  *started = false;
  FolderLock lock;  // two commands ensuring pgqd at once start one
  Status s = frame_.Prepare({}, &lock);
  if (!s.ok()) return s;
  std::string ini;
  s = IniText(dsn, settings, &ini);
  if (!s.ok()) return s;
  if ((*pid = Running()) > 0) {
    std::ifstream f(ini_);
    std::stringstream current;
    current << f.rdbuf();
    if (current.str() == ini) return Status::OK();
    // Ticking another database (another --dsn) or with other settings.
    if (log) *log << "restarting pgqd (pid " << *pid << ") for " << dsn << "\n" << std::flush;
    s = Stop(log);
    if (!s.ok()) return s;
  }
  {
    std::ofstream f(ini_, std::ios::trunc);
    f << ini;
    if (!f) return Status::IOError("cannot write " + ini_);
  }
  { std::ofstream truncate(log_, std::ios::trunc); }  // the ready line must be this run's

  // pgqd needs no privilege; as root it runs as the cluster's OS user, which
  // then owns its folder (it writes its log there).
  std::string run_as;
  Status owned = PrepareServiceUser("pgqd", dir_, &run_as);
  if (!owned.ok()) return owned;
  const std::vector<std::string> argv = RunAs(run_as, {"pgqd", ini_});
  if (log) *log << "starting pgqd (" << ini_ << ")\n" << std::flush;

  ServerKind kind;
  kind.name = "pgqd";
  kind.argv = [argv](int, const std::string&) { return argv; };
  // pgqd listens on no port: it is ready once its log says it reached the
  // database and found pgq there.
  const std::string log_path = log_;
  kind.ready = [log_path](int) { return FileContains(log_path, kReadyLine); };
  kind.start_timeout = std::chrono::seconds(30);
  kind.probe_interval = std::chrono::milliseconds(20);
  ServerProcess p;
  // Port 1 is unused: pgqd binds nothing (a fixed value spares a port search).
  s = frame_.Spawn(std::move(kind), 1, 1, &p);
  if (!s.ok()) {
    std::string last = LastLogLine(log_);
    return Status::IOError("pgqd did not start: " + s.ToString() +
                           (last.empty() ? "" : " (pgqd.log: " + last + ")"));
  }
  *pid = p.pid();
  *started = true;
  p.Release();  // it outlives this command; the pid file remembers it
  return Status::OK();
}

Status PgqdDaemon::Stop(std::ostream* log, std::chrono::milliseconds grace) {
  return frame_.Stop(log, grace);
}

}  // namespace dw::env
