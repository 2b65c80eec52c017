// Running the real dualwrite binary from a test: to completion or a
// deadline, stdout and stderr kept apart (a command's contract is "results on
// stdout, one error line on stderr"), the exit code as the shell sees it.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace dw::testing {

struct CliRun {
  int exit_code = -1;  // -1: killed by a signal, or timed out
  bool timed_out = false;
  double seconds = 0;  // wall time of the run
  std::string out, err;
};

// `dualwrite args...`, killed (SIGKILL, timed_out) after `timeout`, with
// NAME=VALUE `env` entries added to (or replacing in) the test's
// environment, in `cwd` (empty: the test's own). The captured output lives
// in a temp folder that is removed afterwards.
CliRun RunCli(const std::vector<std::string>& args,
              std::chrono::seconds timeout = std::chrono::seconds(120),
              const std::vector<std::string>& env = {}, const std::string& cwd = "");

// A whole file's bytes ("" when it cannot be read).
std::string ReadFileBytes(const std::string& path);

}  // namespace dw::testing
