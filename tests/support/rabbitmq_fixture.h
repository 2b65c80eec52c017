// The RabbitMQ suites' fixture (rabbitmq_test.cc, rabbitmq_strategies_test.cc):
// the outbox fixture's scratch database, and the rabbitmq-server node of the
// outbox environment (started by the setup test rabbitmq_up_outbox, or here
// when a test runs outside ctest), its `orders` queue deleted before each
// test; and the relay, verify and queue reads aimed at it.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "env/layout.h"
#include "env/rabbitmq_daemon.h"
#include "rabbitmq/client.h"
#include "tests/support/outbox_test_util.h"

namespace dw::testing {

class RabbitmqTest : public OutboxTest {
 protected:
  static void SetUpTestSuite() {
    const char* state = std::getenv("DUALWRITE_STATE_DIR");
    ASSERT_NE(state, nullptr) << "DUALWRITE_STATE_DIR: the outbox environment";
    env::RabbitmqDaemon daemon{env::Layout(state)};
    pid_t pid = 0;
    bool started = false;
    Status s = daemon.Ensure(&pid, &port_, &started, nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void SetUp() override {
    OutboxTest::SetUp();
    ASSERT_GT(port_, 0) << "no rabbitmq-server node";
    std::unique_ptr<rabbitmq::Client> c = Connect();
    ASSERT_TRUE(c);
    Status s = c->DeleteQueue("orders");
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  static std::string Url() { return env::RabbitmqDaemon::Url(port_); }

  static std::unique_ptr<rabbitmq::Client> Connect() {
    rabbitmq::ClientOptions co;
    co.url = Url();
    std::unique_ptr<rabbitmq::Client> c;
    Status s = rabbitmq::Client::Connect(co, &c);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return c;
  }

  outbox::RelayOptions RabbitRelay(int batch = 100) const {
    outbox::RelayOptions ro = Relay(outbox::Strategy::kSkipLocked, batch);
    ro.broker_url.clear();
    ro.amqp_url = Url();
    return ro;
  }

  workload::VerifyReport VerifyRabbit() const {
    workload::VerifyOptions vo;
    vo.dsn = dsn_;
    vo.amqp_url = Url();
    workload::VerifyReport r;
    Status s = workload::Verify(vo, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }

  // Messages ready in the `orders` queue.
  static uint64_t QueueCount() {
    std::unique_ptr<rabbitmq::Client> c = Connect();
    uint64_t n = 0;
    if (!c) return 0;
    Status s = c->QueueCount("orders", &n);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return n;
  }

  void WriteOrders(int64_t n, int writers) {
    std::unique_ptr<outbox::OutboxWriter> writer;
    ASSERT_TRUE(outbox::OutboxWriter::Open(Writer(writers), &writer).ok());
    EXPECT_EQ(Write(writer.get(), n, writers).committed, static_cast<uint64_t>(n));
  }

  static inline int port_ = 0;
};

}  // namespace dw::testing
