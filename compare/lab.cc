#include "compare/lab.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <pqxx/pqxx>

#include "common/dsn.h"
#include "common/process.h"
#include "env/environment.h"
#include "env/layout.h"
#include "env/pg_binaries.h"
#include "env/scratch_database.h"
#include "participants/pg_dsn.h"

namespace dw::compare {

Status Lab::Open(const Options& opts, std::unique_ptr<Lab>* out) {
  std::unique_ptr<Lab> lab(new Lab());
  lab->opts_ = opts;
  if (opts.dsn.empty()) {
    lab->env_ = std::make_unique<env::Environment>(opts.work_dir + "/env");
    env::UpOptions uo;
    uo.broker = false;  // every cell starts a broker of its own
    uo.dualwrite_binary = opts.binary;
    env::Endpoints ep;
    Status s = lab->env_->Up(uo, &ep, opts.log);
    if (!s.ok()) return s;
    lab->admin_dsn_ = ep.dsn;
  } else {
    lab->admin_dsn_ = opts.dsn;
  }
  try {
    pqxx::connection c{lab->admin_dsn_};
    pqxx::nontransaction tx{c};
    int mpt = tx.exec1("SHOW max_prepared_transactions")[0].as<int>();
    if (mpt == 0) {
      return Status::FailedPrecondition(
          "max_prepared_transactions is 0 on " + RedactDsn(lab->admin_dsn_) +
          ": 2PC cannot run; set it (e.g. 100) in postgresql.conf and restart the server");
    }
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot connect to Postgres (" + RedactDsn(lab->admin_dsn_) +
                               "): " + e.what());
  }
  *out = std::move(lab);
  return Status::OK();
}

Status Lab::OpenScratch(const std::string& prefix, Options opts, std::unique_ptr<Lab>* out,
                        std::string* work_dir) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    return Status::IOError("cannot create a scratch folder in /tmp");
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::permissions(tmpl, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, ec);
  opts.work_dir = tmpl;
  Status s = Open(opts, out);
  if (!s.ok()) {
    fs::remove_all(tmpl, ec);
    return s;
  }
  *work_dir = tmpl;
  return Status::OK();
}

pid_t Lab::PostgresPid() const {
  if (!env_) return -1;
  std::ifstream f(env_->layout().pg_data + "/postmaster.pid");
  long pid = -1;
  if (!(f >> pid) || pid <= 0) return -1;
  return static_cast<pid_t>(pid);
}

Lab::~Lab() {
  if (env_) {
    Status s = env_->Down(/*purge=*/true, opts_.log);
    if (!s.ok() && opts_.log)
      *opts_.log << "compare: removing the environment: " << s.ToString() << "\n";
  }
}

Status Lab::DropDatabase(const std::string& name) {
  return env::DropScratchDatabase(admin_dsn_, name);
}

Status Lab::FreshDatabase(const std::string& name, std::string* dsn) {
  Status s = env::RecreateScratchDatabase(admin_dsn_, name);
  if (!s.ok()) return s;
  return DsnWithDatabase(admin_dsn_, name, dsn);
}

Status Lab::CrashPostgres() {
  if (!env_) {
    return Status::FailedPrecondition(
        "Postgres is external (--dsn): compare does not crash a server it did not start");
  }
  std::string bin;
  Status s = env::FindPostgresBinDir(&bin);
  if (!s.ok()) return s;
  SpawnOptions o;
  uid_t uid;
  gid_t gid;
  if (geteuid() == 0 && LookupUser("postgres", &uid, &gid)) {
    o.uid = uid;
    o.gid = gid;
  }
  std::string out;
  return RunCommand(
      {bin + "/pg_ctl", "-D", env_->layout().pg_data, "-w", "stop", "-m", "immediate"}, &out, o);
}

Status Lab::StartPostgres() {
  if (!env_) return Status::FailedPrecondition("Postgres is external (--dsn)");
  env::UpOptions uo;
  uo.broker = false;
  uo.report_running = false;
  uo.dualwrite_binary = opts_.binary;
  env::Endpoints ep;
  return env_->Up(uo, &ep, nullptr);
}

}  // namespace dw::compare
