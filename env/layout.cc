#include "env/layout.h"

#include <filesystem>

namespace fs = std::filesystem;

namespace dw::env {

Layout::Layout(const std::string& state_dir) {
  fs::path p = fs::absolute(state_dir.empty() ? fs::path(".") : fs::path(state_dir));
  p = p.lexically_normal();
  // "/tmp/x/" normalises to "/tmp/x/" (empty last element): drop it.
  if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  root = p.string();
  env_json = (p / "env.json").string();
  lock_file = (p / ".lock").string();
  pg_dir = (p / "pg").string();
  pg_data = (p / "pg" / "data").string();
  pg_run = (p / "pg" / "run").string();
  pg_log_dir = (p / "pg" / "log").string();
  pg_log = (p / "pg" / "log" / "postgres.log").string();
  broker_dir = (p / "broker").string();
  broker_log = (p / "broker" / "broker.out").string();
  broker_pid = (p / "broker" / "broker.pid").string();
}

std::string Layout::SocketPath(int port) const {
  return pg_run + "/.s.PGSQL." + std::to_string(port);
}

}  // namespace dw::env
