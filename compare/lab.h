// Lab: the Postgres server `compare` experiments on. With no --dsn it is a
// throwaway embedded cluster in the run's work folder (created, started, and
// purged at the end); with --dsn it is the user's server, on which compare
// only creates and drops its own scratch databases (dw_cmp_<n>).
//
// Every cell gets a fresh database, so tables, sequences, partitions and
// pg_stat_user_tables counters of one cell never leak into the next.
#pragma once

#include <sys/types.h>

#include <memory>
#include <ostream>
#include <string>

#include "common/status.h"

namespace dw::env {
class Environment;
}

namespace dw::compare {

class Lab {
 public:
  struct Options {
    std::string work_dir;  // the run's scratch folder (embedded cluster under it)
    std::string dsn;       // external server; empty: embedded
    std::string binary;    // the dualwrite executable
    std::ostream* log = nullptr;
  };
  static Status Open(const Options& opts, std::unique_ptr<Lab>* out);
  // Open() in a new scratch folder /tmp/<prefix>-XXXXXX (opts.work_dir is
  // ignored; *work_dir receives it). Under /tmp because, as root, the
  // embedded cluster runs as `postgres`, which must be able to reach it. The
  // folder is removed again when Open fails.
  static Status OpenScratch(const std::string& prefix, Options opts, std::unique_ptr<Lab>* out,
                            std::string* work_dir);
  ~Lab();  // purges the embedded cluster

  bool embedded() const { return env_ != nullptr; }
  const std::string& admin_dsn() const { return admin_dsn_; }

  // Drops (WITH FORCE, after rolling back its leftover prepared transactions
  // and dropping its replication slots) and creates database `name`.
  Status FreshDatabase(const std::string& name, std::string* dsn);
  Status DropDatabase(const std::string& name);

  // The postgres-restart fault: pg_ctl stop -m immediate / start again.
  // FailedPrecondition on an external server.
  Status CrashPostgres();
  Status StartPostgres();

  // The embedded cluster's postmaster (first line of postmaster.pid), for
  // its CPU accounting; -1 on an external server or when it is not running.
  pid_t PostgresPid() const;

 private:
  Lab() = default;
  Options opts_;
  std::unique_ptr<env::Environment> env_;
  std::string admin_dsn_;
};

}  // namespace dw::compare
