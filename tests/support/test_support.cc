#include "tests/support/test_support.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>

#include "common/process.h"
#include "env/scratch_database.h"

namespace fs = std::filesystem;

namespace dw::testing {
namespace {

struct Shared {
  std::string dsn;
  std::string broker;
};

// Reads the shared environment once, through the public `dualwrite env --json`.
const Shared& GetShared() {
  static std::once_flag once;
  static Shared shared;
  std::call_once(once, [] {
    const char* dsn = std::getenv("DW_TEST_DSN");
    const char* broker = std::getenv("DW_TEST_BROKER");
    if (dsn && *dsn) shared.dsn = dsn;
    if (broker && *broker) shared.broker = broker;
    if (!shared.dsn.empty() && !shared.broker.empty()) return;
    const char* dir = std::getenv("DUALWRITE_STATE_DIR");
    if (!dir || !*dir) return;
    std::string out;
    Status s = RunCommand({DualwriteBinary(), "env", "--json", "--state-dir", dir}, &out);
    if (!s.ok()) return;
    auto j = nlohmann::json::parse(out, nullptr, false);
    if (j.is_discarded()) return;
    if (shared.dsn.empty()) shared.dsn = j.value("dsn", "");
    if (shared.broker.empty()) shared.broker = j.value("broker_url", "");
  });
  return shared;
}

}  // namespace

std::string DualwriteBinary() { return DW_BINARY; }

std::string SharedDsn() {
  const auto& s = GetShared();
  if (s.dsn.empty()) {
    ADD_FAILURE() << "no shared environment: run through ctest (env_up fixture), or set "
                     "DUALWRITE_STATE_DIR, or DW_TEST_DSN";
  }
  return s.dsn;
}

std::string SharedBrokerUrl() {
  const auto& s = GetShared();
  if (s.broker.empty()) {
    ADD_FAILURE() << "no shared broker: run through ctest (env_up fixture), or set "
                     "DUALWRITE_STATE_DIR, or DW_TEST_BROKER";
  }
  return s.broker;
}

std::string TestDatabaseName(const std::string& prefix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = prefix + "_" + info->test_suite_name() + "_" + info->name();
  std::string out;
  for (char c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  }
  if (out.size() > 55) {
    out = out.substr(0, 45) + "_" + std::to_string(std::hash<std::string>{}(out) % 1000000000);
  }
  return out;
}

std::string WithDatabase(const std::string& dsn, const std::string& dbname) {
  static const std::regex kDb(R"((^|\s)dbname=\S+)");
  std::string out = std::regex_replace(dsn, kDb, "");
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out + " dbname=" + dbname;
}

std::string ScratchDatabase(const std::string& name) {
  std::string dsn = SharedDsn();
  if (dsn.empty()) return {};
  Status s = env::RecreateScratchDatabase(dsn, name);
  if (!s.ok()) {
    ADD_FAILURE() << s.ToString();
    return {};
  }
  return WithDatabase(dsn, name);
}

BrokerProcess::BrokerProcess(std::string data_dir, std::vector<std::string> extra,
                             env::TlsFiles tls) {
  env::ServerOptions o;
  o.data_dir = std::move(data_dir);
  o.log_path = o.data_dir + "/broker.out";
  std::error_code ec;
  fs::create_directories(o.data_dir, ec);
  broker_ = env::BrokerProcess(DualwriteBinary(), std::move(o), std::move(extra), std::move(tls));
  // A test kills it at the moment it chooses, not after a GET /metrics.
  broker_.set_carry_counters(false);
}

BrokerProcess::~BrokerProcess() { (void)broker_.Kill(); }

bool BrokerProcess::Running() const { return broker_.Running(); }

void BrokerProcess::Start() {
  Status s = broker_.Start();
  ASSERT_TRUE(s.ok()) << s.ToString();
}

void BrokerProcess::Kill9() {
  Status s = broker_.Kill();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

void BrokerProcess::Stop() {
  bool killed = false;
  Status s = broker_.Stop(std::chrono::seconds(15), &killed);
  EXPECT_FALSE(killed) << "broker ignored SIGTERM for 15 s; it was killed";
  EXPECT_TRUE(s.ok()) << s.ToString();
}

int RawHttp(int port, const std::string& raw, std::string* body,
            std::chrono::milliseconds timeout) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return 0;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t sent = 0;
  while (sent < raw.size()) {
    ssize_t n = send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may legitimately close early (e.g. 413)
    sent += n;
  }
  std::string resp;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, n);
    // Stop once a complete response with Content-Length has arrived.
    size_t hdr_end = resp.find("\r\n\r\n");
    if (hdr_end != std::string::npos) {
      std::smatch m;
      std::string head = resp.substr(0, hdr_end);
      static const std::regex kLen(R"(\r\n[Cc]ontent-[Ll]ength:\s*(\d+))");
      if (std::regex_search(head, m, kLen) && resp.size() >= hdr_end + 4 + std::stoul(m[1].str())) {
        break;
      }
    }
  }
  close(fd);
  if (resp.compare(0, 9, "HTTP/1.1 ") != 0 && resp.compare(0, 9, "HTTP/1.0 ") != 0) return 0;
  int code = std::atoi(resp.c_str() + 9);
  if (body) {
    size_t hdr_end = resp.find("\r\n\r\n");
    *body = hdr_end == std::string::npos ? "" : resp.substr(hdr_end + 4);
  }
  return code;
}

}  // namespace dw::testing
