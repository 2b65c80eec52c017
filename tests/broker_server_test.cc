// The broker process's life: start-up errors (one line, non-zero exit),
// clean shutdown on SIGTERM with requests in flight, the connection cap.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "common/process.h"
#include "tests/support/broker_test_util.h"

namespace dw::testing::broker {
namespace {

// Runs `dualwrite broker serve ARGS` expecting it to refuse to start.
void ExpectRefused(const std::vector<std::string>& args, const std::string& want) {
  std::vector<std::string> argv = {DualwriteBinary(), "broker", "serve"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string dir = TempDir("broker-refused");
  pid_t pid;
  SpawnOptions o;
  o.stdout_path = dir + "/out";
  o.stderr_path = "=stdout";
  ASSERT_TRUE(Spawn(argv, o, &pid).ok());
  auto st = WaitChild(pid, std::chrono::seconds(20));
  if (!st) {
    kill(pid, SIGKILL);
    WaitChild(pid, std::chrono::seconds(5));
    FAIL() << "it started: " << want;
  }
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) != 0) << want;
  std::string out = ReadFile(dir + "/out");
  EXPECT_NE(out.find(want), std::string::npos) << out;
}

TEST(BrokerServer, StartupErrorsAreOneLineAndNonZero) {
  std::string dir = TempDir("broker-startup");
  BrokerProcess running(dir + "/a");
  running.Start();
  ExpectRefused(
      {"--listen", "127.0.0.1:" + std::to_string(running.port()), "--data-dir", dir + "/b"},
      "Address already in use");
  ExpectRefused({"--listen", "127.0.0.1:0", "--data-dir", dir + "/a"},
                "is in use by another broker");
  std::ofstream(dir + "/file") << "x";
  ExpectRefused({"--listen", "127.0.0.1:0", "--data-dir", dir + "/file"}, "cannot use data dir");
  ExpectRefused({"--listen", "127.0.0.1:0", "--data-dir", dir + "/file/sub"},
                "cannot use data dir");
  ExpectRefused({"--listen", "127.0.0.1:0"}, "--data-dir is required");
  ExpectRefused({"--listen", "nohost", "--data-dir", dir + "/c"}, "--listen must be HOST:PORT");
  ExpectRefused({"--listen", "127.0.0.1:0", "--data-dir", dir + "/c", "--fsync", "sometimes"},
                "--fsync");
  ExpectRefused({"--listen", "127.0.0.1:0", "--data-dir", dir + "/c", "--abort-prob", "1.5"},
                "--abort-prob");
  ExpectRefused({"--listen", "127.0.0.1:0", "--data-dir", dir + "/c", "--crash-at", "never"},
                "--crash-at");
  ExpectRefused(
      {"--listen", "127.0.0.1:0", "--data-dir", dir + "/c", "--token-file", dir + "/missing"},
      "--token-file");
  EXPECT_TRUE(Healthy(running.port()));
  running.Stop();
}

TEST(BrokerServer, SigtermFinishesInFlightRequestsAndExitsZero) {
  std::string dir = TempDir("broker-sigterm");
  BrokerProcess b(dir, {"--latency-ms", "400"});
  b.Start();
  auto pending =
      std::async(std::launch::async, [&] { return Publish(b.port(), "t", "late", "x"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // the request is read and waiting
  ASSERT_EQ(kill(b.pid(), SIGTERM), 0);
  auto st = WaitChild(b.pid(), std::chrono::seconds(15));
  ASSERT_TRUE(st.has_value()) << "no exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
  Resp r = pending.get();
  EXPECT_EQ(r.status, 201) << "a request in flight at SIGTERM is finished: " << r.body;
  BrokerProcess again(dir);
  again.Start();
  EXPECT_EQ(ReadAll(again.port(), "t").size(), r.status == 201 ? 1u : 0u);
  EXPECT_NE(ReadFile(again.log_path()).find("dualwrite broker: stopped"), std::string::npos);
  again.Stop();
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// True when the server closed `fd` (EOF or reset) within `ms`.
bool ClosedByServer(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, ms) <= 0) return false;
  char c;
  return recv(fd, &c, 1, 0) <= 0;
}

TEST(BrokerServer, ConnectionsBeyondTheCapAreClosed) {
  BrokerProcess b(TempDir("broker-maxconn"), {"--max-connections", "2"});
  b.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the start probe's session ends
  int a = Connect(b.port()), c = Connect(b.port());
  ASSERT_GE(a, 0);
  ASSERT_GE(c, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // both accepted
  int extra = Connect(b.port());
  ASSERT_GE(extra, 0);  // the kernel accepts; the broker closes it at once
  EXPECT_TRUE(ClosedByServer(extra, 3000));
  EXPECT_FALSE(ClosedByServer(a, 200)) << "connections under the cap stay open";
  close(extra);
  close(a);
  close(c);
  bool ok = false;
  for (int i = 0; i < 100 && !ok; ++i) {
    ok = Healthy(b.port());
    if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(ok) << "capacity comes back when connections close";
  b.Stop();
}

TEST(BrokerServer, IdleAndSlowConnectionsAreClosed) {
  BrokerProcess b(TempDir("broker-timeouts"),
                  {"--idle-timeout-ms", "300", "--read-timeout-ms", "300"});
  b.Start();
  int idle = Connect(b.port());
  ASSERT_GE(idle, 0);
  EXPECT_TRUE(ClosedByServer(idle, 5000)) << "a connection that never sends is closed";
  close(idle);

  int slow = Connect(b.port());
  ASSERT_GE(slow, 0);
  std::string partial = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ";
  ASSERT_EQ(send(slow, partial.data(), partial.size(), MSG_NOSIGNAL), ssize_t(partial.size()));
  EXPECT_TRUE(ClosedByServer(slow, 5000)) << "a request that never completes is cut off";
  close(slow);

  // A keep-alive connection stays usable between requests, then idles out.
  int ka = Connect(b.port());
  ASSERT_GE(ka, 0);
  std::string req = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
  ASSERT_EQ(send(ka, req.data(), req.size(), MSG_NOSIGNAL), ssize_t(req.size()));
  pollfd p{ka, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  char buf[4096];
  ssize_t n = recv(ka, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, n).find("HTTP/1.1 200"), 0u);
  EXPECT_TRUE(ClosedByServer(ka, 5000));
  close(ka);
  EXPECT_TRUE(Healthy(b.port()));
  b.Stop();
}

}  // namespace
}  // namespace dw::testing::broker
