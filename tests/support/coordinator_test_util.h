// What the coordinator's environment tests share: a scratch database and a
// broker process per test, and the real `dualwrite` binary.
#pragma once

#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/process.h"
#include "participants/broker_client.h"
#include "tests/support/test_support.h"
#include "workload/verify.h"

namespace dw::coord {

using std::chrono::milliseconds;

struct DwRun {
  int code = -1;  // exit code, or -1 when it did not exit normally
  std::string out, err;
  nlohmann::json json;  // stdout parsed when it is JSON
};

inline std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A name for a database that is unique per test and stable across reruns.
inline std::string DbName() { return testing::TestDatabaseName("dwc"); }

class CoordEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = testing::ScratchDatabase(DbName());
    ASSERT_FALSE(dsn_.empty());
    dir_ = testing::TempDir("coord");
    broker_ = std::make_unique<testing::BrokerProcess>(dir_ + "/broker");
    broker_->Start();
  }

  // A passing test leaves nothing behind; a failing one keeps its folder
  // (broker data, the runs' stdout/stderr) for inspection.
  void TearDown() override {
    if (broker_) broker_->Stop();
    if (!HasFailure() && !dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // Runs the real binary against this test's database and broker.
  DwRun Dw(std::vector<std::string> args, const std::string& dsn = "") {
    std::vector<std::string> argv = {testing::DualwriteBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> common = {"--dsn",       dsn.empty() ? dsn_ : dsn,
                                       "--broker",    broker_->url(),
                                       "--state-dir", dir_ + "/state"};
    argv.insert(argv.end(), common.begin(), common.end());
    static std::atomic<int> n{0};
    std::string base = dir_ + "/run" + std::to_string(n++);
    SpawnOptions o;
    o.stdout_path = base + ".out";
    o.stderr_path = base + ".err";
    o.append = false;
    pid_t pid = -1;
    DwRun r;
    Status s = Spawn(argv, o, &pid);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) return r;
    auto st = WaitChild(pid, std::chrono::seconds(120));
    EXPECT_TRUE(st.has_value()) << "dualwrite did not finish in 120 s";
    if (st && WIFEXITED(*st)) r.code = WEXITSTATUS(*st);
    r.out = Slurp(o.stdout_path);
    r.err = Slurp(o.stderr_path);
    r.json = nlohmann::json::parse(r.out, nullptr, false);
    return r;
  }

  workload::VerifyReport Verify(const std::string& dsn = "") {
    workload::VerifyOptions vo;
    vo.dsn = dsn.empty() ? dsn_ : dsn;
    vo.broker_url = broker_->url();
    workload::VerifyReport r;
    Status s = workload::Verify(vo, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }

  std::unique_ptr<BrokerClient> Client() {
    BrokerClient::Options o;
    o.url = broker_->url();
    std::unique_ptr<BrokerClient> c;
    EXPECT_TRUE(BrokerClient::Create(o, &c).ok());
    return c;
  }

  void Faults(const std::string& body) {
    HttpResponse resp;
    ASSERT_TRUE(Client()->Request("POST", "/admin/faults", body, &resp).ok());
    ASSERT_EQ(resp.status, 200) << resp.body;
  }

  int64_t Count(const std::string& sql, const std::string& dsn = "") {
    pqxx::connection c(dsn.empty() ? dsn_ : dsn);
    pqxx::nontransaction tx(c);
    return tx.exec(sql)[0][0].as<int64_t>();
  }

  std::set<std::string> PreparedAtPostgres(const std::string& dsn = "") {
    pqxx::connection c(dsn.empty() ? dsn_ : dsn);
    pqxx::nontransaction tx(c);
    std::set<std::string> out;
    for (const auto& row :
         tx.exec("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()")) {
      out.insert(row[0].as<std::string>());
    }
    return out;
  }

  std::vector<BrokerPrepared> PreparedAtBroker() {
    std::vector<BrokerPrepared> out;
    EXPECT_TRUE(Client()->ListPrepared(&out).ok());
    return out;
  }

  std::string dsn_, dir_;
  std::unique_ptr<testing::BrokerProcess> broker_;
};

inline void ExpectClean(const workload::VerifyReport& v) {
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  EXPECT_EQ(v.rows, v.messages);
}

}  // namespace dw::coord
