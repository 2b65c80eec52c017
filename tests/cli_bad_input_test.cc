// Bad input at the command line: the real
// `dualwrite` binary, for every subcommand, with values its flags must
// refuse. Each case must
//   - exit non-zero (and not by a signal),
//   - print exactly ONE line on stderr, "dualwrite: error: ...", naming the
//     problem, and nothing on stdout,
//   - create nothing: no state folder, no data folder, no output folder
//     (the case runs in an empty working folder that must stay empty).
// Parse errors come from CLI11 (main() reformats them to that one line);
// the others from the commands' own checks, which must run before anything
// is started or connected to.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/process.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"

namespace fs = std::filesystem;

namespace {

using dw::testing::CliRun;

// Runs the binary in `cwd`. Bad input must not depend on (or touch) an
// environment of the caller's, so the state folder is the case's own.
CliRun RunDualwrite(const std::vector<std::string>& args, const std::string& cwd) {
  return dw::testing::RunCli(args, std::chrono::seconds(60),
                             {"DUALWRITE_STATE_DIR=" + cwd + "/state"}, cwd);
}

struct Case {
  std::vector<std::string> args;
  std::string expect;  // a substring the error line must contain
};

// A file with these bytes under `dir`.
std::string WriteFile(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::string p = dir + "/" + name;
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

TEST(CliBadInputTest, EveryBadFlagIsOneLineNonZeroAndCreatesNothing) {
  std::string files = dw::testing::TempDir("cli-files");
  const std::string nul_customer = WriteFile(files, "nul", std::string("ab\0cd", 5));
  const std::string bad_utf8 = WriteFile(files, "latin1", "caf\xe9");
  const std::string ok_customer = WriteFile(files, "ok", "it's \"fine\"");
  // Relative paths: every case runs in its own empty folder (below), so a
  // command that wrongly went ahead would create these there.
  const std::string data = "broker-data";
  const std::vector<Case> cases = {
      // The program and its command groups.
      {{}, "subcommand"},
      {{"--state-dir"}, "--state-dir"},
      {{"up", "extra"}, "extra"},
      {{"down", "--bogus"}, "--bogus"},
      {{"env", "--bogus"}, "--bogus"},
      {{"env", "--json", "x"}, "x"},
      {{"2pc"}, "subcommand"},
      {{"outbox"}, "subcommand"},
      {{"broker"}, "subcommand"},
      // broker serve
      {{"broker", "serve"}, "--data-dir"},
      {{"broker", "serve", "--data-dir", data, "--listen", "127.0.0.1"}, "--listen"},
      {{"broker", "serve", "--data-dir", data, "--listen", "127.0.0.1:"}, "--listen"},
      {{"broker", "serve", "--data-dir", data, "--listen", ":7070"}, "--listen"},
      {{"broker", "serve", "--data-dir", data, "--listen", "127.0.0.1:99999"}, "--listen"},
      {{"broker", "serve", "--data-dir", data, "--listen", "127.0.0.1:http"}, "--listen"},
      {{"broker", "serve", "--data-dir", data, "--listen", "10.0.0.300:7070"}, "10.0.0.300"},
      {{"broker", "serve", "--data-dir", data, "--fsync", "bogus"}, "--fsync"},
      {{"broker", "serve", "--data-dir", data, "--threads", "0"}, "--threads"},
      {{"broker", "serve", "--data-dir", data, "--max-body", "-1"}, "--max-body"},
      {{"broker", "serve", "--data-dir", data, "--max-connections", "abc"}, "--max-connections"},
      {{"broker", "serve", "--data-dir", data, "--abort-prob", "2"}, "--abort-prob"},
      {{"broker", "serve", "--data-dir", data, "--latency-ms", "-5"}, "--latency-ms"},
      {{"broker", "serve", "--data-dir", data, "--crash-at", "bogus"}, "--crash-at"},
      {{"broker", "serve", "--data-dir", data, "--token-file", "/nonexistent/t"}, "--token-file"},
      // verify
      {{"verify", "--max-listed", "0"}, "--max-listed"},
      {{"verify", "--max-listed", "abc"}, "--max-listed"},
      {{"verify", "--bogus"}, "--bogus"},
      // 2pc run / recover
      {{"2pc", "run", "-n", "-1"}, "--transactions"},
      {{"2pc", "run", "-n", "abc"}, "--transactions"},
      {{"2pc", "run", "-n", "1.5"}, "--transactions"},
      {{"2pc", "run", "-n", "0"}, "--duration"},
      {{"2pc", "run", "-c", "0"}, "--concurrency"},
      {{"2pc", "run", "-c", "-3"}, "--concurrency"},
      {{"2pc", "run", "--rate", "-1"}, "--rate"},
      {{"2pc", "run", "--rate", "abc"}, "--rate"},
      {{"2pc", "run", "--batch", "0"}, "--batch"},
      {{"2pc", "run", "-c", "4", "--batch", "8"}, "--batch"},
      {{"2pc", "run", "-c", "8", "--batch", "4", "--hot-rows", "10"}, "--hot-rows"},
      {{"2pc", "run", "-c", "8", "--batch", "4", "--crash-at", "after-decision"}, "--crash-at"},
      {{"2pc", "run", "--rate", "inf"}, "--rate"},
      {{"2pc", "run", "--duration", "-1"}, "--duration"},
      {{"2pc", "run", "--timeout-ms", "0"}, "--timeout-ms"},
      {{"2pc", "run", "--seed", "-1"}, "--seed"},
      {{"2pc", "run", "--seed", "abc"}, "--seed"},
      {{"2pc", "run", "--trace-limit", "-5"}, "--trace-limit"},
      {{"2pc", "run", "--trace-format", "bogus"}, "--trace-format"},
      {{"2pc", "run", "--crash-at", "bogus"}, "--crash-at"},
      {{"2pc", "run", "--crash-after", "-1"}, "--crash-after"},
      {{"2pc", "run", "--ack-after", "bogus"}, "--ack-after"},
      {{"2pc", "run", "--log", "bogus:"}, "--log"},
      {{"2pc", "run", "--log", "bogus"}, "--log"},
      {{"2pc", "run", "--participants", "bogus"}, "--participants"},
      {{"2pc", "run", "--coordinator-id", "a/b"}, "--coordinator-id"},
      {{"2pc", "run", "--coordinator-id", "'; DROP TABLE orders; --"}, "--coordinator-id"},
      {{"2pc", "run", "--recovery-interval-ms", "-1"}, "--recovery-interval-ms"},
      {{"2pc", "run", "--group-commit-siblings", "0"}, "--group-commit-siblings"},
      {{"2pc", "run", "--group-commit-delay-us", "x"}, "--group-commit-delay-us"},
      {{"2pc", "run", "--bogus"}, "--bogus"},
      {{"2pc", "run", "--customer-file", "/nonexistent/f"}, "--customer-file"},
      {{"2pc", "run", "--customer-file", nul_customer}, "NUL"},
      {{"2pc", "run", "--customer-file", bad_utf8}, "UTF-8"},
      {{"2pc", "recover", "--log", "bogus"}, "--log"},
      {{"2pc", "recover", "--timeout-ms", "-1"}, "--timeout-ms"},
      // outbox write / relay / maintain
      {{"outbox", "write", "-n", "-1"}, "--transactions"},
      {{"outbox", "write", "-c", "0"}, "--concurrency"},
      {{"outbox", "write", "--notify", "bogus"}, "--notify"},
      {{"outbox", "write", "--partition-width", "bogus"}, "bogus"},
      {{"outbox", "write", "--partition-width", "0s"}, "0s"},
      {{"outbox", "write", "--ahead", "-1"}, "--ahead"},
      {{"outbox", "write", "--clock-skew-ms", "abc"}, "--clock-skew-ms"},
      {{"outbox", "write", "--clock-skew-ms", "5", "--trigger"}, "--trigger"},
      {{"outbox", "write", "--customer-file", nul_customer}, "NUL"},
      {{"outbox", "relay"}, "--strategy"},
      {{"outbox", "relay", "--strategy", "bogus"}, "bogus"},
      {{"outbox", "relay", "--strategy", "cdc", "--batch", "0"}, "--batch"},
      {{"outbox", "relay", "--strategy", "cdc", "--instances", "0"}, "--instances"},
      {{"outbox", "relay", "--strategy", "cdc", "--by", "bogus"}, "--by"},
      {{"outbox", "relay", "--strategy", "cdc", "--poll-interval-ms", "0"}, "--poll-interval-ms"},
      {{"outbox", "relay", "--strategy", "cdc", "--max-run-s", "-1"}, "--max-run-s"},
      {{"outbox", "relay", "--strategy", "cdc", "--partition-width", "bogus"}, "bogus"},
      {{"outbox", "relay", "--strategy", "cdc", "--slot", "x\" LOGICAL pgoutput; --"}, "--slot"},
      {{"outbox", "relay", "--strategy", "cdc", "--slot", "Upper"}, "--slot"},
      {{"outbox", "relay", "--strategy", "cdc", "--slot", std::string(64, 'a')}, "--slot"},
      {{"outbox", "maintain", "--strategy", "bogus"}, "bogus"},
      {{"outbox", "maintain", "--partition-width", "bogus"}, "bogus"},
      {{"outbox", "maintain", "--grace-s", "-1"}, "--grace-s"},
      // 3pc agent / run
      {{"3pc"}, "subcommand"},
      {{"3pc", "agent", "--id", "1", "--listen", "127.0.0.1:0"}, "--participant"},
      {{"3pc", "agent", "--participant", "disk", "--id", "1", "--listen", "127.0.0.1:0"},
       "--participant"},
      {{"3pc", "agent", "--participant", "broker", "--id", "0", "--listen", "127.0.0.1:0"}, "--id"},
      {{"3pc", "agent", "--participant", "broker", "--id", "1", "--listen", "127.0.0.1:"},
       "--listen"},
      {{"3pc", "agent", "--participant", "broker", "--id", "1", "--listen", "127.0.0.1:0",
        "--peers", "two=127.0.0.1:5"},
       "--peers"},
      {{"3pc", "agent", "--participant", "broker", "--id", "1", "--listen", "127.0.0.1:0",
        "--peers", "1=127.0.0.1:5"},
       "--peers"},
      {{"3pc", "run", "--crash-at", "bogus"}, "--crash-at"},
      {{"3pc", "run", "--crash-after", "5"}, "--crash-at"},
      {{"3pc", "run", "--crash-at", "after-cancommit", "--crash-after", "-1"}, "--crash-after"},
      {{"3pc", "run", "--agents", "1=127.0.0.1:5,1=127.0.0.1:6"}, "--agents"},
      {{"3pc", "run", "--coordinator-id", "a:b"}, "--coordinator-id"},
      {{"3pc", "run", "-c", "0"}, "--concurrency"},
      // proxy
      {{"proxy"}, "--listen"},
      {{"proxy", "--listen", "127.0.0.1:0"}, "--upstream"},
      {{"proxy", "--listen", "127.0.0.1:", "--upstream", "127.0.0.1:5"}, "--listen"},
      {{"proxy", "--listen", "127.0.0.1:99999", "--upstream", "127.0.0.1:5"}, "--listen"},
      {{"proxy", "--listen", "1.2.3.4.5:80", "--upstream", "127.0.0.1:5"}, "1.2.3.4.5"},
      {{"proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:0"}, "--upstream"},
      {{"proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:5", "--threads", "0"},
       "--threads"},
      {{"proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:5", "--faults-file",
        "/nonexistent/f"},
       "--faults-file"},
      // floor
      {{"floor", "-n", "-5"}, "--transactions"},
      {{"floor", "--rate", "-1"}, "--rate"},
      {{"floor", "-c", "abc"}, "--concurrency"},
      {{"floor", "--duration", "abc"}, "--duration"},
      {{"floor", "--customer-file", nul_customer}, "NUL"},
      // compare
      {{"compare", "--only", "bogus"}, "bogus"},
      {{"compare", "--only", "bogus", "--out", "out"}, "bogus"},
      {{"compare", "--scenarios", "bogus"}, "bogus"},
      {{"compare", "--from", "/nonexistent/results.json"}, "/nonexistent/results.json"},
      {{"compare", "--from", ok_customer}, "dualwrite-compare/1"},
      {{"compare", "--seed", "-1"}, "--seed"},
      {{"compare", "--bogus"}, "--bogus"},
      // chaos
      {{"chaos", "--runs", "0"}, "--runs"},
      {{"chaos", "--run", "-1"}, "--run"},
      {{"chaos", "--approach", "bogus"}, "bogus"},
      {{"chaos", "--approach", "bogus", "--out", "out"}, "bogus"},
      {{"chaos", "--broker", "http://127.0.0.1:1"}, "--broker"},
      {{"chaos", "--sink", "kafka"}, "--sink"},
      {{"chaos", "--dedupe-window", "2s"}, "--dedupe-window"},
      {{"chaos", "--sink", "nats", "--dedupe-window", "soon"}, "--dedupe-window"},
  };
  for (const Case& c : cases) {
    std::string cmd = "dualwrite";
    for (const auto& a : c.args) cmd += " '" + a + "'";
    SCOPED_TRACE(cmd);
    std::string cwd = dw::testing::TempDir("cli-bad");
    CliRun r = RunDualwrite(c.args, cwd);
    EXPECT_FALSE(r.timed_out);
    EXPECT_GT(r.exit_code, 0) << "stdout: " << r.out << "\nstderr: " << r.err;
    EXPECT_EQ(r.out, "");
    // Exactly one line, with the program's prefix.
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(!r.err.empty() && r.err.back() == '\n') << r.err;
    EXPECT_EQ(r.err.rfind("dualwrite: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << "want '" << c.expect << "' in: " << r.err;
    // CLI11's unreadable range ("0.000000 to 1797693134862315708...") is gone.
    EXPECT_EQ(r.err.find("179769313486"), std::string::npos) << r.err;
    // Nothing was created: the working folder (state dir, broker data dir,
    // compare's default output folder) is still empty.
    std::vector<std::string> created;
    for (const auto& e : fs::directory_iterator(cwd)) created.push_back(e.path().string());
    EXPECT_TRUE(created.empty()) << "created " << created.front();
    std::error_code ec;
    fs::remove_all(cwd, ec);
  }
  std::error_code ec;
  fs::remove_all(files, ec);
}

// --help and --version still print to stdout and exit 0 (they are CLI11
// "errors" too), and good values are still accepted (the checks above did
// not become too strict): DUALWRITE_PARSE_ONLY=1 parses and stops.
TEST(CliBadInputTest, HelpVersionAndGoodValuesStillPass) {
  std::string cwd = dw::testing::TempDir("cli-good");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"--version"}, {"2pc", "run", "--help"}, {"broker", "serve", "--help"}}) {
    CliRun r = RunDualwrite(args, cwd);
    EXPECT_EQ(r.exit_code, 0) << args[0] << ": " << r.err;
    EXPECT_NE(r.out, "");
  }
  std::vector<std::string> good = {"2pc",
                                   "run",
                                   "-n",
                                   "0",
                                   "--duration",
                                   "1.5",
                                   "--rate",
                                   "0.5",
                                   "--seed",
                                   "0",
                                   "-c",
                                   "2",
                                   "--timeout-ms",
                                   "1",
                                   "--trace-limit",
                                   "0",
                                   "--customer-file",
                                   "/dev/null"};
  dw::SpawnOptions o;
  std::string out;
  o.env = {"DUALWRITE_PARSE_ONLY=1", "DUALWRITE_STATE_DIR=" + cwd + "/state"};
  std::vector<std::string> argv = {dw::testing::DualwriteBinary()};
  argv.insert(argv.end(), good.begin(), good.end());
  dw::Status s = dw::RunCommand(argv, &out, o);
  EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << out;
  argv = {dw::testing::DualwriteBinary(),
          "outbox",
          "relay",
          "--strategy",
          "cdc",
          "--batch",
          "1",
          "--max-run-s",
          "0.5"};
  s = dw::RunCommand(argv, &out, o);
  EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << out;
  EXPECT_FALSE(fs::exists(cwd + "/state"));
  std::error_code ec;
  fs::remove_all(cwd, ec);
}

}  // namespace
