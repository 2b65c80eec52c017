#include "common/crash_exit.h"

#include <unistd.h>

namespace dw {

void CrashExit(const std::string& what, const std::string& gid) {
  std::string line = "dualwrite: " + what + " reached in " + gid + ": exiting with code " +
                     std::to_string(kCrashExitCode) + "\n";
  ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  (void)n;  // nothing is left to do about a failed write: the process ends here
  ::_exit(kCrashExitCode);
}

}  // namespace dw
