// env.json: what `up` decided (ports) and started (pids), so that a later
// `up` keeps the same ports, and `env` / `down` find the processes without
// scanning the process table. It is a record, not the truth: the pids in it
// are always re-checked against the live processes before being trusted.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"

namespace dw::env {

struct EnvState {
  int pg_port = 0;  // 0: never chosen
  int broker_port = 0;
  pid_t postgres_pid = 0;  // the postmaster when last seen running; 0: stopped
  pid_t broker_pid = 0;
  std::string pg_bin_dir;  // the installation the cluster was created with
};

// A missing file is not an error: *out is left default (nothing chosen yet).
// A malformed one is Corruption.
Status LoadEnvState(const std::string& path, EnvState* out);

// Written to a temporary file and renamed over `path`, so a concurrent
// reader (`dualwrite env`) never sees half a file. `dsn` and `broker_url`
// are stored for humans and scripts; they are derived from the ports.
Status SaveEnvState(const std::string& path, const EnvState& st, const std::string& dsn,
                    const std::string& broker_url);

}  // namespace dw::env
