#include "env/service_user.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/process.h"

namespace dw::env {

namespace {
constexpr const char* kServiceUser = "postgres";
}  // namespace

Status PrepareServiceUser(const std::string& server, const std::string& dir, std::string* run_as) {
  run_as->clear();
  if (geteuid() != 0) return Status::OK();
  uid_t uid = 0;
  gid_t gid = 0;
  if (!LookupUser(kServiceUser, &uid, &gid)) {
    return Status::FailedPrecondition("running " + server + " as root needs the `" + kServiceUser +
                                      "` OS user (from the postgresql-15 package)");
  }
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (lchown(e.path().c_str(), uid, gid) != 0) {
      return Status::IOError("cannot chown " + e.path().string() + ": " + std::strerror(errno));
    }
  }
  if (ec) return Status::IOError("cannot list " + dir + ": " + ec.message());
  if (chown(dir.c_str(), uid, gid) != 0) {
    return Status::IOError("cannot chown " + dir + ": " + std::strerror(errno));
  }
  *run_as = kServiceUser;
  return Status::OK();
}

std::vector<std::string> RunAs(const std::string& run_as, std::vector<std::string> argv) {
  if (run_as.empty()) return argv;
  std::vector<std::string> out = {"setpriv", "--reuid=" + run_as, "--regid=" + run_as,
                                  "--init-groups", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

}  // namespace dw::env
