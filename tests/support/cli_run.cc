#include "tests/support/cli_run.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/process.h"
#include "tests/support/test_support.h"

namespace dw::testing {

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CliRun RunCli(const std::vector<std::string>& args, std::chrono::seconds timeout,
              const std::vector<std::string>& env, const std::string& cwd) {
  std::vector<std::string> argv = {DualwriteBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string io = TempDir("cli-run");
  SpawnOptions so;
  so.stdout_path = io + "/out";
  so.stderr_path = io + "/err";
  so.append = false;
  so.cwd = cwd;
  so.env = env;
  CliRun r;
  pid_t pid = -1;
  const auto t0 = std::chrono::steady_clock::now();
  Status s = Spawn(argv, so, &pid);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return r;
  std::optional<int> st = WaitChild(pid, timeout);
  if (!st) {
    r.timed_out = true;
    kill(pid, SIGKILL);
    WaitChild(pid, std::chrono::seconds(10));
  } else if (WIFEXITED(*st)) {
    r.exit_code = WEXITSTATUS(*st);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.out = ReadFileBytes(io + "/out");
  r.err = ReadFileBytes(io + "/err");
  std::error_code ec;
  std::filesystem::remove_all(io, ec);
  return r;
}

}  // namespace dw::testing
