#include "env/pg_binaries.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

#include "common/process.h"

namespace fs = std::filesystem;

namespace dw::env {
namespace {

bool Executable(const fs::path& p) { return access(p.c_str(), X_OK) == 0; }

// Trailing whitespace off `pg_config --bindir`.
std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

bool HasServerTools(const std::string& d) {
  fs::path dir(d);
  return Executable(dir / "initdb") && Executable(dir / "pg_ctl") && Executable(dir / "postgres");
}

Status FindPostgresBinDir(std::string* bin_dir) {
  // pg_config may belong to the client package only (libpq-dev ships one
  // whose bindir is /usr/bin): accept it only when initdb is really there.
  std::string out;
  if (RunCommand({"pg_config", "--bindir"}, &out).ok()) {
    fs::path dir = Trim(out);
    if (!dir.empty() && HasServerTools(dir.string())) {
      *bin_dir = dir.string();
      return Status::OK();
    }
  }
  std::vector<std::pair<int, fs::path>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    int major = std::atoi(e.path().filename().c_str());
    if (major > 0 && HasServerTools((e.path() / "bin").string())) {
      found.emplace_back(major, e.path() / "bin");
    }
  }
  if (found.empty()) {
    return Status::FailedPrecondition(
        "no PostgreSQL server installation found (initdb is not under `pg_config --bindir` nor "
        "/usr/lib/postgresql/*/bin): install it with `apt-get install postgresql-15` or "
        "scripts/install-deps.sh");
  }
  std::sort(found.begin(), found.end());
  *bin_dir = found.back().second.string();
  return Status::OK();
}

}  // namespace dw::env
