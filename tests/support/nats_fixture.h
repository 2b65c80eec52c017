// The NATS suites' fixture (nats_test.cc, nats_strategies_test.cc): the
// outbox fixture's scratch database, plus a nats-server of the test's own
// with its store in a fresh folder, and the relay, verify and stream reads
// aimed at it.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "env/nats_daemon.h"
#include "jetstream/client.h"
#include "tests/support/outbox_test_util.h"
#include "tests/support/temp_dir.h"

namespace dw::testing {

inline std::string NatsBinary() {
  std::string bin;
  Status s = env::NatsServerBinary(&bin);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return bin;
}

class NatsTest : public OutboxTest {
 protected:
  void SetUp() override {
    OutboxTest::SetUp();
    env::ServerOptions o;
    o.data_dir = TempDir("nats");
    o.start_attempts = 3;
    nats_ = std::make_unique<env::ServerProcess>(env::NatsKind(NatsBinary()), o);
    Status s = nats_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void TearDown() override {
    if (nats_) (void)nats_->Kill();
    OutboxTest::TearDown();
  }

  outbox::RelayOptions NatsRelay(int batch = 100) const {
    outbox::RelayOptions ro = Relay(outbox::Strategy::kSkipLocked, batch);
    ro.broker_url.clear();
    ro.nats_url = nats_->url();
    return ro;
  }

  workload::VerifyReport VerifyNats() const {
    workload::VerifyOptions vo;
    vo.dsn = dsn_;
    vo.nats_url = nats_->url();
    workload::VerifyReport r;
    Status s = workload::Verify(vo, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }

  // Messages in the `orders` stream (0 before the first publish).
  uint64_t StreamCount() const {
    jetstream::ClientOptions co;
    co.url = nats_->url();
    std::unique_ptr<jetstream::Client> c;
    Status s = jetstream::Client::Connect(co, &c);
    if (!s.ok()) return 0;
    uint64_t n = 0, last = 0;
    if (!c->StreamState("orders", &n, &last).ok()) return 0;
    return n;
  }

  void WriteOrders(int64_t n, int writers) {
    std::unique_ptr<outbox::OutboxWriter> writer;
    ASSERT_TRUE(outbox::OutboxWriter::Open(Writer(writers), &writer).ok());
    EXPECT_EQ(Write(writer.get(), n, writers).committed, static_cast<uint64_t>(n));
  }

  std::unique_ptr<env::ServerProcess> nats_;
};

}  // namespace dw::testing
