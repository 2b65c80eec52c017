// What the tests of 3PC's real agent processes share: a scratch database, a
// broker process of the test's own, and the two agents (`dualwrite 3pc
// agent`: Postgres id 1, the broker id 2, each the other's peer), optionally
// reaching each other through fault proxies of the test's.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "env/threepc_agent.h"
#include "participants/broker_client.h"
#include "proxy/proxy.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"

namespace dw::testing {

class ThreePcAgentsFixture : public ::testing::Test {
 protected:
  // `db_prefix` names the test's scratch database (TestDatabaseName).
  explicit ThreePcAgentsFixture(std::string db_prefix) : db_prefix_(std::move(db_prefix)) {}

  void SetUp() override {
    dsn_ = ScratchDatabase(TestDatabaseName(db_prefix_));
    ASSERT_FALSE(dsn_.empty());
    broker_ = std::make_unique<BrokerProcess>(TempDir(db_prefix_ + "-broker"));
    broker_->Start();
    BrokerClient::Options bo;
    bo.url = broker_->url();
    ASSERT_TRUE(BrokerClient::Create(bo, &client_).ok());
  }
  void TearDown() override {
    for (auto& a : agents_) (void)a.second.Kill();  // best effort: the test is over
    if (broker_) broker_->Kill9();
  }

  // Starts both agents with `timeout_ms` before termination; with
  // `through_proxies`, each reaches the other through a fault proxy
  // (proxies_[id] forwards to agent id).
  void StartAgents(int64_t timeout_ms, bool through_proxies = false) {
    const std::map<int, std::string> kinds = {{1, "postgres"}, {2, "broker"}};
    std::map<int, int> ports = {{1, FreeTcpPort()}, {2, FreeTcpPort()}};
    std::map<int, int> reach = ports;  // where the other agent reaches agent id
    if (through_proxies) {
      for (const auto& [id, port] : ports) {
        proxy::ProxyOptions po;
        po.upstream = proxy::HostPort{"127.0.0.1", static_cast<uint16_t>(port)};
        Status s = proxy::Proxy::Start(po, &proxies_[id]);
        ASSERT_TRUE(s.ok()) << s.ToString();
        reach[id] = proxies_[id]->port();
      }
    }
    for (const auto& [id, kind] : kinds) {
      const int other = id == 1 ? 2 : 1;
      env::ThreePcAgentSpec spec;
      spec.binary = DualwriteBinary();
      spec.participant = kind;
      spec.id = id;
      spec.peers = std::to_string(other) + "=127.0.0.1:" + std::to_string(reach[other]);
      spec.timeout_ms = timeout_ms;
      spec.dsn = dsn_;
      spec.broker_url = broker_->url();
      env::ServerOptions so;
      so.data_dir = TempDir(db_prefix_ + "-agent-" + std::to_string(id));
      so.port = ports[id];
      so.start_attempts = 3;
      agents_.emplace(id, env::ServerProcess(env::ThreePcAgentKind(spec), so));
      Status s = agents_.at(id).Start();
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  }

  // `dualwrite` with the test's database and broker, then `args`.
  CliRun Dw(std::vector<std::string> args,
            std::chrono::seconds timeout = std::chrono::seconds(120)) {
    std::vector<std::string> full = {"--dsn", dsn_, "--broker", broker_->url()};
    full.insert(full.end(), args.begin(), args.end());
    return RunCli(full, timeout);
  }

  const std::string db_prefix_;
  std::string dsn_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<BrokerClient> client_;
  std::map<int, env::ServerProcess> agents_;
  std::map<int, std::unique_ptr<proxy::Proxy>> proxies_;
};

}  // namespace dw::testing
