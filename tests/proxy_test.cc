// Tests of the fault proxy (proxy/proxy.h) against real sockets: an echo
// server of the test's own (plain POSIX sockets and threads, so the code under
// test is the only Asio in the path) or a real broker process behind the
// proxy, clients that are plain blocking sockets with poll() timeouts, and the
// `dualwrite proxy` process driven through its control port.
//
// Timing assertions are lower bounds only ("latency adds at least X"):
// a loaded machine makes things slower, never faster.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/process.h"
#include "proxy/proxy.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"

namespace dw::proxy {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using std::chrono::milliseconds;

// ---------------------------------------------------------------- sockets

// Connects to 127.0.0.1:port. Returns the fd, or -errno.
int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Closes the fd on scope exit.
struct Fd {
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int fd;
};

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(n);
  }
  return true;
}

enum class End { kDone, kEof, kReset, kTimeout, kError };

const char* EndName(End e) {
  switch (e) {
    case End::kDone:
      return "done";
    case End::kEof:
      return "eof";
    case End::kReset:
      return "reset";
    case End::kTimeout:
      return "timeout";
    case End::kError:
      return "error";
  }
  return "?";
}

// Reads until `n` bytes arrived (kDone), the peer closed (kEof), reset
// (kReset), or `timeout` passed since the call (kTimeout). n = SIZE_MAX: to EOF.
End Read(int fd, size_t n, milliseconds timeout, std::string* out) {
  const auto deadline = Clock::now() + timeout;
  char buf[65536];
  while (out->size() < n) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return End::kTimeout;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return End::kTimeout;
    ssize_t got = recv(fd, buf, std::min(sizeof buf, n - out->size()), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno == ECONNRESET ? End::kReset : End::kError;
    if (got == 0) return End::kEof;
    out->append(buf, got);
  }
  return End::kDone;
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Sends `data` (in random-sized writes) on one thread while reading the echo
// on this one; returns what came back before EOF/timeout.
std::string EchoRoundTrip(int fd, const std::string& data, milliseconds timeout, End* end,
                          bool half_close = true) {
  std::thread writer([&] {
    std::mt19937 rng(42);
    size_t off = 0;
    while (off < data.size()) {
      size_t n = std::min<size_t>(data.size() - off, 1 + rng() % 70000);
      if (!SendAll(fd, std::string_view(data).substr(off, n))) return;
      off += n;
    }
    if (half_close) shutdown(fd, SHUT_WR);
  });
  std::string back;
  *end = Read(fd, half_close ? SIZE_MAX : data.size(), timeout, &back);
  writer.join();
  return back;
}

// One small echo exchange on `fd`: true when "ping" came back.
bool Ping(int fd, milliseconds timeout = milliseconds(5000), End* end = nullptr) {
  std::string back;
  End e = SendAll(fd, "ping") ? Read(fd, 4, timeout, &back) : End::kError;
  if (end) *end = e;
  return e == End::kDone && back == "ping";
}

// ------------------------------------------------------------ echo server

// Echoes every connection's bytes back until its EOF, then closes it.
class EchoServer {
 public:
  EchoServer() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(listen_fd_, 128), 0);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~EchoServer() {
    stopping_ = true;
    shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    acceptor_.join();
    close(listen_fd_);
    {
      std::lock_guard lock(mu_);
      for (int fd : open_) shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : conns_) t.join();
  }

  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  void AcceptLoop() {
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stopping_) return;
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      accepted_.fetch_add(1);
      std::lock_guard lock(mu_);
      open_.push_back(fd);
      conns_.emplace_back([this, fd] { Echo(fd); });
    }
  }

  void Echo(int fd) {
    char buf[65536];
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!SendAll(fd, std::string_view(buf, n))) break;
    }
    shutdown(fd, SHUT_WR);
    std::lock_guard lock(mu_);
    std::erase(open_, fd);
    close(fd);
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> open_;
  std::vector<std::thread> conns_;
};

// ------------------------------------------------------------------ fixture

struct HttpResp {
  int status = 0;
  json j;
};

HttpResp Http(int port, const std::string& method, const std::string& target,
              const std::string& body = "") {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (method == "POST" || !body.empty()) {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  HttpResp r;
  std::string text;
  r.status = dw::testing::RawHttp(port, req, &text);
  r.j = json::parse(text, nullptr, false);
  return r;
}

class ProxyTest : public ::testing::Test {
 protected:
  void StartProxy(const ProxyFaults& faults = {}, bool control = true) {
    ProxyOptions o;
    o.upstream = HostPort{"127.0.0.1", static_cast<uint16_t>(echo_.port())};
    if (control) o.control = HostPort{"127.0.0.1", 0};
    o.threads = 2;
    o.faults = faults;
    Status s = Proxy::Start(o, &proxy_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void Set(const ProxyFaults& f) {
    Status s = proxy_->SetFaults(f);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // Waits (bounded) until `pred` holds; used for counters updated by the
  // proxy's threads after the client already saw the bytes.
  template <typename Pred>
  static bool Eventually(Pred pred, milliseconds limit = milliseconds(5000)) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return pred();
  }

  EchoServer echo_;
  std::unique_ptr<Proxy> proxy_;
};

// ------------------------------------------------------------------- tests

TEST_F(ProxyTest, BytesPassUnchangedBothWaysOnSeveralConnections) {
  StartProxy();
  constexpr size_t kSize = 1 << 20;
  constexpr int kConns = 3;
  std::vector<std::thread> clients;
  std::vector<std::string> sent(kConns), back(kConns);
  std::vector<End> ends(kConns);
  for (int i = 0; i < kConns; ++i) {
    // Every byte value, NULs and all, in a pattern that shows reordering.
    sent[i] = RandomBytes(kSize, 1000 + i);
    clients.emplace_back([&, i] {
      Fd c(Connect(proxy_->port()));
      ASSERT_GE(c.fd, 0) << strerror(-c.fd);
      back[i] = EchoRoundTrip(c.fd, sent[i], milliseconds(20000), &ends[i]);
    });
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < kConns; ++i) {
    // The half-close travelled through the proxy to the echo server, whose
    // FIN came back: EOF right after the last byte.
    EXPECT_EQ(ends[i], End::kEof) << EndName(ends[i]);
    ASSERT_EQ(back[i].size(), sent[i].size()) << "connection " << i;
    EXPECT_TRUE(back[i] == sent[i]) << "connection " << i << ": bytes differ";
  }
  ProxyStats st = proxy_->stats();
  EXPECT_EQ(st.connections_accepted, uint64_t{kConns});
  EXPECT_EQ(st.bytes_up, uint64_t{kSize * kConns});
  EXPECT_EQ(st.bytes_down, uint64_t{kSize * kConns});
  EXPECT_EQ(st.bytes_dropped, 0u);
  EXPECT_TRUE(Eventually([&] { return proxy_->stats().connections_open == 0; }))
      << proxy_->stats().connections_open << " sessions still open after both sides closed";
}

TEST_F(ProxyTest, LatencyAddsAtLeastTheConfiguredDelayEachWay) {
  ProxyFaults f;
  f.up.latency_ms = 80;
  f.down.latency_ms = 50;
  StartProxy(f);
  Fd c(Connect(proxy_->port()));
  ASSERT_GE(c.fd, 0);
  for (int i = 0; i < 3; ++i) {
    auto t0 = Clock::now();
    ASSERT_TRUE(Ping(c.fd));
    EXPECT_GE(Clock::now() - t0, milliseconds(130)) << "round trip " << i;
  }
  // Changed at run time: applies to the next chunk.
  f.down.latency_ms = 200;
  Set(f);
  auto t0 = Clock::now();
  ASSERT_TRUE(Ping(c.fd));
  EXPECT_GE(Clock::now() - t0, milliseconds(280));
}

TEST_F(ProxyTest, JitterNeverReordersBytesWithinADirection) {
  ProxyFaults f;
  f.up.latency_ms = 5;
  f.up.jitter_ms = 30;
  f.down.jitter_ms = 30;
  StartProxy(f);
  Fd c(Connect(proxy_->port()));
  ASSERT_GE(c.fd, 0);
  // Many small writes, each likely its own chunk with its own jitter draw.
  std::string sent;
  std::thread writer([&] {
    for (int i = 0; i < 300; ++i) {
      std::string piece = "<" + std::to_string(i) + ">";
      sent += piece;
      ASSERT_TRUE(SendAll(c.fd, piece));
      if (i % 10 == 0) std::this_thread::sleep_for(milliseconds(2));
    }
    shutdown(c.fd, SHUT_WR);
  });
  std::string back;
  End e = Read(c.fd, SIZE_MAX, milliseconds(20000), &back);
  writer.join();
  EXPECT_EQ(e, End::kEof) << EndName(e);
  EXPECT_EQ(back, sent);
}

TEST_F(ProxyTest, BandwidthLimitSlowsATransferDown) {
  ProxyFaults f;
  f.up.bandwidth_bytes_per_s = 100'000;
  StartProxy(f);
  Fd c(Connect(proxy_->port()));
  ASSERT_GE(c.fd, 0);
  const std::string data = RandomBytes(200'000, 7);
  auto t0 = Clock::now();
  End e;
  std::string back = EchoRoundTrip(c.fd, data, milliseconds(20000), &e);
  auto took = Clock::now() - t0;
  EXPECT_EQ(e, End::kEof) << EndName(e);
  EXPECT_TRUE(back == data) << "got " << back.size() << " bytes";
  // 200 KB at 100 KB/s is 2 s; the first chunk goes at once.
  EXPECT_GE(took, milliseconds(1500));
}

TEST_F(ProxyTest, BlackholeSwallowsTrafficWhileTheProxyStaysUp) {
  StartProxy();
  Fd before(Connect(proxy_->port()));
  ASSERT_GE(before.fd, 0);
  ASSERT_TRUE(Ping(before.fd));
  Fd idle(Connect(proxy_->port()));  // stays silent through the blackhole
  ASSERT_GE(idle.fd, 0);
  ASSERT_TRUE(Eventually([&] { return echo_.accepted() == 2; }));

  ProxyFaults f;
  f.blackhole = true;
  Set(f);
  // A new connection is accepted (connect works) but never reaches the
  // upstream, and nothing comes back: the client times out.
  Fd during(Connect(proxy_->port()));
  ASSERT_GE(during.fd, 0);
  End e;
  EXPECT_FALSE(Ping(during.fd, milliseconds(400), &e));
  EXPECT_EQ(e, End::kTimeout) << EndName(e);
  // So does an open connection that talks during the blackhole.
  EXPECT_FALSE(Ping(before.fd, milliseconds(400), &e));
  EXPECT_EQ(e, End::kTimeout) << EndName(e);

  // The proxy itself answers.
  HttpResp st = Http(proxy_->control_port(), "GET", "/stats");
  ASSERT_EQ(st.status, 200);
  EXPECT_GE(st.j.value("bytes_dropped", 0), 8);
  EXPECT_EQ(echo_.accepted(), 2) << "a connection made during the blackhole reached the upstream";

  f.blackhole = false;
  Set(f);
  // New connections work again, and so does the one that stayed idle.
  Fd after(Connect(proxy_->port()));
  ASSERT_GE(after.fd, 0);
  EXPECT_TRUE(Ping(after.fd));
  EXPECT_TRUE(Ping(idle.fd));
  // A connection that lost bytes stays black (its stream has a hole).
  EXPECT_FALSE(Ping(before.fd, milliseconds(300), &e));
  EXPECT_EQ(e, End::kTimeout) << EndName(e);
}

TEST_F(ProxyTest, ResetResetsOpenConnectionsAndEveryNewOne) {
  StartProxy();
  Fd a(Connect(proxy_->port()));
  ASSERT_GE(a.fd, 0);
  ASSERT_TRUE(Ping(a.fd));

  ProxyFaults f;
  f.reset = true;
  Set(f);
  std::string got;
  End e = Read(a.fd, 1, milliseconds(5000), &got);
  EXPECT_TRUE(e == End::kReset || e == End::kEof) << EndName(e);

  Fd b(Connect(proxy_->port()));  // the kernel completes the handshake; we reset it
  if (b.fd >= 0) {
    got.clear();
    e = Read(b.fd, 1, milliseconds(5000), &got);
    EXPECT_TRUE(e == End::kReset || e == End::kEof) << EndName(e);
  }
  EXPECT_TRUE(Eventually([&] { return proxy_->stats().connections_reset >= 2; }))
      << proxy_->stats().connections_reset;

  f.reset = false;
  Set(f);
  Fd c(Connect(proxy_->port()));
  ASSERT_GE(c.fd, 0);
  EXPECT_TRUE(Ping(c.fd));
}

TEST_F(ProxyTest, RefuseClosesTheListenerUntilLifted) {
  StartProxy();
  Fd open_before(Connect(proxy_->port()));
  ASSERT_GE(open_before.fd, 0);
  ASSERT_TRUE(Ping(open_before.fd));

  ProxyFaults f;
  f.refuse = true;
  Set(f);
  int r = Connect(proxy_->port());
  if (r >= 0) close(r);
  EXPECT_EQ(r, -ECONNREFUSED) << (r < 0 ? strerror(-r) : "connected");
  EXPECT_TRUE(Ping(open_before.fd)) << "refuse must not touch open connections";

  f.refuse = false;
  Set(f);
  Fd c(Connect(proxy_->port()));
  ASSERT_GE(c.fd, 0) << strerror(-c.fd);
  EXPECT_TRUE(Ping(c.fd));
}

TEST_F(ProxyTest, UnreachableUpstreamResetsTheClient) {
  ProxyOptions o;
  o.upstream = HostPort{"127.0.0.1", static_cast<uint16_t>(FreeTcpPort())};  // nobody there
  std::unique_ptr<Proxy> p;
  ASSERT_TRUE(Proxy::Start(o, &p).ok());
  Fd c(Connect(p->port()));
  ASSERT_GE(c.fd, 0);
  std::string got;
  End e = Read(c.fd, 1, milliseconds(5000), &got);
  EXPECT_TRUE(e == End::kReset || e == End::kEof) << EndName(e);
  EXPECT_TRUE(Eventually([&] { return p->stats().upstream_connect_failures == 1; }));
}

TEST_F(ProxyTest, ControlEndpointRejectsBadInputAndKeepsWorking) {
  StartProxy();
  const int cp = proxy_->control_port();
  ASSERT_GT(cp, 0);
  HttpResp r = Http(cp, "GET", "/faults");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.j["up"]["latency_ms"], 0);
  EXPECT_EQ(r.j["refuse"], false);

  for (const char* bad :
       {"{not json", "[1,2]", "{\"bogus\": 1}", "{\"up\": {\"latency_ms\": -1}}",
        "{\"up\": {\"latency_ms\": \"5\"}}", "{\"down\": 3}", "{\"refuse\": \"yes\"}",
        "{\"up\": {\"bandwidth_bytes_per_s\": 1.5}}", "{\"up\": {\"latency\": 5}}", ""}) {
    r = Http(cp, "POST", "/faults", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_TRUE(r.j.is_object() && r.j.contains("error")) << bad;
  }
  // A bad request is all-or-nothing: the valid part of it did not apply.
  r = Http(cp, "POST", "/faults", R"({"down": {"latency_ms": 5}, "nope": true})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(proxy_->faults(), ProxyFaults{});

  // The proxy still carries traffic, and good changes still apply (a subset).
  Fd c(Connect(proxy_->port()));
  ASSERT_GE(c.fd, 0);
  EXPECT_TRUE(Ping(c.fd));
  r = Http(cp, "POST", "/faults", R"({"up": {"latency_ms": 5, "jitter_ms": 1}})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.j["up"]["latency_ms"], 5);
  EXPECT_EQ(proxy_->faults().up.latency_ms, 5);
  EXPECT_EQ(proxy_->faults().up.jitter_ms, 1);
  r = Http(cp, "POST", "/faults", R"({"down": {"bandwidth_bytes_per_s": 1000000}})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(proxy_->faults().up.latency_ms, 5) << "a POST changes only what it names";
  EXPECT_EQ(proxy_->faults().down.bandwidth_bytes_per_s, 1000000u);

  EXPECT_EQ(Http(cp, "GET", "/nope").status, 404);
  EXPECT_EQ(Http(cp, "DELETE", "/faults").status, 405);
  EXPECT_EQ(Http(cp, "POST", "/stats").status, 405);
  EXPECT_EQ(dw::testing::RawHttp(cp, "garbage\r\n\r\n"), 400);
  r = Http(cp, "GET", "/stats");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.j["connections_accepted"], 1);
  EXPECT_EQ(r.j["connections_open"], 1);
  EXPECT_EQ(r.j["bytes_up"], 4);
  EXPECT_TRUE(Ping(c.fd));
}

TEST_F(ProxyTest, RealBrokerBehindTheProxy) {
  dw::testing::BrokerProcess broker(dw::testing::TempDir("proxy-broker"));
  broker.Start();
  ProxyOptions o;
  o.upstream = HostPort{"127.0.0.1", static_cast<uint16_t>(broker.port())};
  o.faults.down.latency_ms = 30;
  std::unique_ptr<Proxy> p;
  ASSERT_TRUE(Proxy::Start(o, &p).ok());
  std::string body = R"({"id": "m1", "payload": "caf\u00e9 \"quoted\""})";
  HttpResp r = Http(p->port(), "POST", "/topics/proxied/messages", body);
  EXPECT_EQ(r.status, 201) << r.j.dump();
  r = Http(p->port(), "GET", "/topics/proxied/messages?from=0");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.j["messages"].size(), 1u);
  EXPECT_EQ(r.j["messages"][0]["payload"], "caf\xc3\xa9 \"quoted\"");
  // Refused through the proxy while the broker itself is fine.
  o.faults.refuse = true;
  ASSERT_TRUE(p->SetFaults(o.faults).ok());
  EXPECT_EQ(Http(p->port(), "GET", "/healthz").status, 0);
  EXPECT_EQ(Http(broker.port(), "GET", "/healthz").status, 200);
}

// --------------------------------------------------------- the CLI process

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Runs `dualwrite proxy ARGS` to completion (10 s at most); returns its
// exit code (-1: a signal or the deadline) and stdout + stderr.
int RunProxyCli(const std::vector<std::string>& args, std::string* out) {
  std::vector<std::string> argv{"proxy"};
  argv.insert(argv.end(), args.begin(), args.end());
  dw::testing::CliRun r = dw::testing::RunCli(argv, std::chrono::seconds(10));
  *out = r.out + r.err;
  return r.exit_code;
}

TEST(ProxyCli, BadFlagsAndATakenPortFailWithOneLine) {
  std::string out;
  const std::string up = "--upstream=127.0.0.1:9";
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  // A port some other socket listens on.
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(lfd, 1), 0);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string busy = std::to_string(ntohs(a.sin_port));
  const std::string bad_faults = dw::testing::TempDir("proxy-cli") + "/faults.json";
  WriteFile(bad_faults, R"({"up": {"latency_ms": "slow"}})");

  std::vector<Case> cases = {
      {{"--listen=127.0.0.1:99999", up}, "--listen port must be 0..65535"},
      {{"--listen=127.0.0.1:x", up}, "--listen port"},
      {{"--listen=0", "--upstream=127.0.0.1"}, "--upstream port"},
      {{"--listen=0", "--upstream=127.0.0.1:0"}, "--upstream port must be 1..65535"},
      {{"--listen=not-an-ip:0", up}, "not an IP address"},
      {{"--listen=127.0.0.1:" + busy, up}, "cannot listen on 127.0.0.1:" + busy},
      {{"--listen=0", up, "--control=" + busy}, "cannot listen on 127.0.0.1:" + busy},
      {{"--listen=0", up, "--faults-file=/nonexistent/f.json"}, "cannot read --faults-file"},
      {{"--listen=0", up, "--faults-file=" + bad_faults}, "up.latency_ms must be a number"},
  };
  for (const auto& c : cases) {
    out.clear();
    int code = RunProxyCli(c.args, &out);
    std::string args;
    for (const auto& s : c.args) args += s + " ";
    EXPECT_GT(code, 0) << args;
    EXPECT_NE(out.find(c.says), std::string::npos) << args << "-> " << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << args << "-> " << out;
    EXPECT_EQ(out.rfind("dualwrite: error: ", 0), 0u) << args << "-> " << out;
  }
  close(lfd);
}

TEST(ProxyCli, RunsAndIsDrivenThroughItsControlPort) {
  EchoServer echo;
  const std::string dir = dw::testing::TempDir("proxy-cli");
  const std::string faults = dir + "/faults.json";
  WriteFile(faults, R"({"down": {"latency_ms": 60}})");
  const int port = FreeTcpPort();
  int cport = FreeTcpPort();
  while (cport == port) cport = FreeTcpPort();

  SpawnOptions so;
  so.stdout_path = dir + "/out";
  so.stderr_path = "=stdout";
  pid_t pid;
  ASSERT_TRUE(Spawn({dw::testing::DualwriteBinary(), "proxy", "--listen",
                     "127.0.0.1:" + std::to_string(port), "--upstream",
                     "127.0.0.1:" + std::to_string(echo.port()), "--control", std::to_string(cport),
                     "--faults-file", faults},
                    so, &pid)
                  .ok());
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid > 0 && ProcessAlive(pid)) {
        kill(pid, SIGKILL);
        WaitChild(pid, milliseconds(5000));
      }
    }
  } reaper{pid};

  bool up = false;
  for (int i = 0; i < 500 && !up; ++i) {
    up = Http(cport, "GET", "/healthz").status == 200;
    if (!up) std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(up) << dw::testing::ReadFileBytes(so.stdout_path);
  // The control endpoint answers as soon as the proxy has started; the
  // start-up line is printed right after, so it may lag the first answer.
  const std::string line = "dualwrite proxy: listening on 127.0.0.1:" + std::to_string(port) +
                           ", upstream 127.0.0.1:" + std::to_string(echo.port()) +
                           ", control on 127.0.0.1:" + std::to_string(cport);
  bool printed = false;
  for (int i = 0; i < 250 && !printed; ++i) {
    printed = dw::testing::ReadFileBytes(so.stdout_path).find(line) != std::string::npos;
    if (!printed) std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_TRUE(printed) << dw::testing::ReadFileBytes(so.stdout_path);

  // The faults file is in force from the start.
  HttpResp r = Http(cport, "GET", "/faults");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.j["down"]["latency_ms"], 60);
  {
    Fd c(Connect(port));
    ASSERT_GE(c.fd, 0);
    auto t0 = Clock::now();
    ASSERT_TRUE(Ping(c.fd));
    EXPECT_GE(Clock::now() - t0, milliseconds(60));
  }

  // Driven through the control port: refuse, then lift it.
  ASSERT_EQ(Http(cport, "POST", "/faults", R"({"refuse": true})").status, 200);
  int refused = Connect(port);
  if (refused >= 0) close(refused);
  EXPECT_EQ(refused, -ECONNREFUSED);
  ASSERT_EQ(
      Http(cport, "POST", "/faults", R"({"refuse": false, "down": {"latency_ms": 0}})").status,
      200);
  {
    Fd c(Connect(port));
    ASSERT_GE(c.fd, 0);
    EXPECT_TRUE(Ping(c.fd));
  }
  EXPECT_EQ(Http(cport, "POST", "/faults", "{oops").status, 400);
  // The proxy counts a write when its handler runs, which may be just after
  // the client already read the bytes: look again for a moment.
  for (int i = 0; i < 100; ++i) {
    r = Http(cport, "GET", "/stats");
    if (r.status != 200 || r.j["bytes_down"] == 8) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.j["connections_accepted"], 2);
  EXPECT_EQ(r.j["bytes_up"], 8);
  EXPECT_EQ(r.j["bytes_down"], 8);

  // SIGHUP re-reads the file: what it does not name is off again.
  WriteFile(faults, R"({"up": {"jitter_ms": 3}})");
  ASSERT_EQ(kill(pid, SIGHUP), 0);
  bool reloaded = false;
  for (int i = 0; i < 250 && !reloaded; ++i) {
    r = Http(cport, "GET", "/faults");
    reloaded = r.status == 200 && r.j["up"]["jitter_ms"] == 3;
    if (!reloaded) std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_TRUE(reloaded) << r.j.dump();
  EXPECT_EQ(r.j["down"]["latency_ms"], 0);

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  auto st = WaitChild(pid, milliseconds(10000));
  ASSERT_TRUE(st.has_value()) << "proxy ignored SIGTERM";
  reaper.pid = -1;
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << *st;
  EXPECT_NE(dw::testing::ReadFileBytes(so.stdout_path).find("dualwrite proxy: stopped"),
            std::string::npos);
}

}  // namespace
}  // namespace dw::proxy
