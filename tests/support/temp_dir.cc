#include "tests/support/temp_dir.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace dw::testing {

namespace fs = std::filesystem;

std::string TempDir(const std::string& tag) {
  std::string tmpl = (fs::temp_directory_path() / ("dw-" + tag + "-XXXXXX")).string();
  char* p = mkdtemp(tmpl.data());
  if (!p) {
    ADD_FAILURE() << "mkdtemp failed";
    return {};
  }
  // Readable by the servers' OS user (Postgres runs as `postgres` when the
  // tests run as root).
  fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                         fs::perms::others_read | fs::perms::others_exec);
  return p;
}

}  // namespace dw::testing
