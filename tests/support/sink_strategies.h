// Every no-loss way of feeding a real sink (JetStream, RabbitMQ), for the
// sink suites' strategy tests: a relay strategy and the writer it relays
// for, 10,000 orders from 8 writers with the relay running while they write.
// The sink suite supplies its fixture (a broker of its own, its relay
// options, its verify) and checks the sink afterwards.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

#include "outbox/pgq_queue.h"
#include "outbox/relay.h"
#include "outbox/relay_runner.h"
#include "outbox/schema.h"
#include "outbox/writer.h"
#include "tests/support/outbox_test_util.h"
#include "workload/orders.h"

namespace dw::testing {

// A relay strategy and what writes the events it relays.
struct SinkCase {
  const char* name;
  outbox::Strategy strategy;
  // The writer's sink: an outbox_table row, a PgQ event, or a WAL message
  // (pg_logical_emit_message, `outbox write --emit-message`) for cdc.
  outbox::WriterOptions::Sink sink = outbox::WriterOptions::Sink::kTable;
  // The capture trigger on `orders` writes the outbox row (`outbox write --trigger`).
  bool trigger = false;
};

// offset-naive is not among them: it skips a row whose transaction commits
// after a row with a later position was relayed, and 8 writers racing a
// live relay make that likely (outbox_offset_test.cc shows the loss), so no
// clean verify can be asserted of it.
inline const SinkCase kNoLossSinkCases[] = {
    {"SkipLocked", outbox::Strategy::kSkipLocked},
    {"Status", outbox::Strategy::kStatus},
    {"OffsetSafe", outbox::Strategy::kOffsetSafe},
    {"Cdc", outbox::Strategy::kCdc},
    {"Pgq", outbox::Strategy::kPgq, outbox::WriterOptions::Sink::kPgq},
    {"TriggerSkipLocked", outbox::Strategy::kSkipLocked, outbox::WriterOptions::Sink::kTable, true},
    {"EmitCdc", outbox::Strategy::kCdc, outbox::WriterOptions::Sink::kEmit},
};

// gtest prints a parameter with this (its bytes, otherwise).
inline void PrintTo(const SinkCase& c, std::ostream* os) { *os << c.name; }

inline std::string SinkCaseName(const ::testing::TestParamInfo<SinkCase>& info) {
  return info.param.name;
}

// `SinkFixture`: an OutboxTest with a sink of its own (NatsTest, RabbitmqTest).
template <class SinkFixture>
class SinkStrategyTest : public SinkFixture, public ::testing::WithParamInterface<SinkCase> {
 protected:
  static constexpr int64_t kOrders = 10000;
  static constexpr int kWriters = 8;

  // Prepares what the case needs, opens the writers, starts the relay (the
  // sink's options `ro`, with the case's strategy) and writes kOrders orders
  // from kWriters writers while it runs; returns the relay's report once it
  // drained what they wrote.
  outbox::RelayReport WriteWhileRelaying(outbox::RelayOptions ro) {
    const SinkCase& c = this->GetParam();
    const std::string& dsn = this->dsn_;
    ro.strategy = c.strategy;
    outbox::RunnerOptions rn;
    rn.until_drained = true;
    outbox::WriterOptions wo = this->Writer(kWriters, c.trigger);
    wo.sink = c.sink;
    if (c.sink == outbox::WriterOptions::Sink::kPgq) {
      // The relay takes the ticks itself (`--ticker self`): no pgqd. The
      // queue's ticker settings before the first event (the writer's Open
      // would create the queue with PgQ's slower defaults).
      ro.pgq_self_tick = true;
      rn.maintain = false;  // no outbox_table rows to maintain
      outbox::PgqTickerSettings ticker;
      Status s = outbox::EnsurePgqQueue(dsn, &ticker);
      EXPECT_TRUE(s.ok()) << s.ToString();
    } else if (c.sink == outbox::WriterOptions::Sink::kEmit) {
      // The writer refuses to emit before a logical slot exists: a cdc
      // relay's first Start creates it, and the publication, which names
      // outbox_table.
      rn.maintain = false;
      Status s = workload::EnsureOrdersSchema(dsn);
      EXPECT_TRUE(s.ok()) << s.ToString();
      s = outbox::EnsureSchema(dsn);
      EXPECT_TRUE(s.ok()) << s.ToString();
      std::unique_ptr<outbox::Relay> first;
      s = outbox::CreateRelay(ro, &first);
      if (s.ok()) s = first->Start();
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    std::unique_ptr<outbox::OutboxWriter> writer;
    Status s = outbox::OutboxWriter::Open(wo, &writer);
    if (!s.ok()) {
      ADD_FAILURE() << s.ToString();
      return {};
    }
    // Started once the writer holds the writers' lock: --until-drained
    // waits for its release (writer.reset()) before it may stop.
    RelayThread relay(ro, rn);
    EXPECT_EQ(this->Write(writer.get(), kOrders, kWriters).committed,
              static_cast<uint64_t>(kOrders));
    writer.reset();
    outbox::RelayReport report = relay.Join();
    EXPECT_TRUE(report.drained) << report.ToText();
    EXPECT_GE(report.published, static_cast<uint64_t>(kOrders)) << report.ToText();
    return report;
  }
};

}  // namespace dw::testing
