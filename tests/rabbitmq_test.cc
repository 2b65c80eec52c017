// rabbitmq-server as a managed process of a state folder
// (env/rabbitmq_daemon.h), against a real node: started with its own epmd
// on loopback ports, answering AMQP; shown by `env`; found running by a
// second Ensure; stopped, epmd included, by `down`.
#include <signal.h>

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "common/process.h"
#include "env/layout.h"
#include "env/rabbitmq_daemon.h"
#include "tests/support/cli_run.h"
#include "tests/support/temp_dir.h"

namespace dw::testing {
namespace {

using namespace std::chrono_literals;

pid_t ReadPid(const std::string& path) {
  std::ifstream f(path);
  long v = 0;
  return (f >> v) ? static_cast<pid_t>(v) : 0;
}

TEST(RabbitmqDaemonTest, UpShowsAnswersAmqpAndDownStopsNodeAndEpmd) {
  const std::string state = TempDir("rabbitmq-state");
  env::RabbitmqDaemon rabbitmq{env::Layout(state)};
  EXPECT_EQ(rabbitmq.Running(), 0);

  // `up --sinks rabbitmq` starts the node (Postgres and the broker too).
  CliRun r = RunCli({"--state-dir", state, "up", "--sinks", "rabbitmq"}, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("starting rabbitmq-server on 127.0.0.1:"), std::string::npos) << r.out;
  const pid_t pid = rabbitmq.Running();
  ASSERT_GT(pid, 0) << r.out;
  const int port = rabbitmq.Port();
  ASSERT_GT(port, 0);
  EXPECT_TRUE(env::AmqpAnswers(port, 2s));
  const pid_t epmd = ReadPid(rabbitmq.dir() + "/epmd.pid");
  EXPECT_GT(epmd, 0);
  EXPECT_TRUE(ProcessAlive(epmd));
  // The node's cookie lives in the folder, not in the user's home.
  EXPECT_TRUE(std::ifstream(rabbitmq.dir() + "/home/.erlang.cookie").good());

  r = RunCli({"--state-dir", state, "env", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["rabbitmq"]["running"].get<bool>()) << r.out;
  EXPECT_EQ(j["rabbitmq"]["pid"].get<int>(), pid);
  EXPECT_EQ(j["rabbitmq"]["url"].get<std::string>(),
            "amqp://guest:guest@127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_EQ(j["rabbitmq"]["node"].get<std::string>(), env::RabbitmqDaemon::kNode);
  r = RunCli({"--state-dir", state, "env"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rabbitmq     running, pid " + std::to_string(pid)), std::string::npos)
      << r.out;

  // A second Ensure finds it running.
  pid_t again = 0;
  int port2 = 0;
  bool started = true;
  Status s = rabbitmq.Ensure(&again, &port2, &started, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(started);
  EXPECT_EQ(again, pid);
  EXPECT_EQ(port2, port);

  // `down` stops the node and its epmd.
  r = RunCli({"--state-dir", state, "down"}, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("stopping rabbitmq-server (pid " + std::to_string(pid) + ")"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(rabbitmq.Running(), 0);
  EXPECT_TRUE(WaitGone(pid, 10s));
  EXPECT_TRUE(WaitGone(epmd, 10s));
  EXPECT_FALSE(env::AmqpAnswers(port, 500ms));
  r = RunCli({"--state-dir", state, "env", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(nlohmann::json::parse(r.out)["rabbitmq"]["running"].get<bool>()) << r.out;
}

}  // namespace
}  // namespace dw::testing
