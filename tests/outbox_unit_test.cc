// Pure parts of the outbox: the pgoutput decoder (on hand-built bytes, logical
// messages and the events they carry too),
// partition width parsing and naming, backoff bounds, strategy names.
#include <gtest/gtest.h>

#include "common/backoff.h"
#include "outbox/emit_message.h"
#include "outbox/partitions.h"
#include "outbox/pgoutput.h"
#include "outbox/relay.h"
#include "outbox/relay_cdc.h"

namespace dw::outbox {
namespace {

void U8(std::string* s, uint8_t v) { s->push_back(static_cast<char>(v)); }
void U16(std::string* s, uint16_t v) {
  U8(s, v >> 8);
  U8(s, v & 0xff);
}
void U32(std::string* s, uint32_t v) {
  for (int i = 3; i >= 0; --i) U8(s, (v >> (8 * i)) & 0xff);
}
void Str(std::string* s, const std::string& v) {
  s->append(v);
  s->push_back('\0');
}

std::string RelationMsg(uint32_t oid, const std::vector<std::string>& cols) {
  std::string m = "R";
  U32(&m, oid);
  Str(&m, "public");
  Str(&m, "outbox_table");
  U8(&m, 'd');
  U16(&m, static_cast<uint16_t>(cols.size()));
  for (const auto& c : cols) {
    U8(&m, 0);
    Str(&m, c);
    U32(&m, 25);
    U32(&m, 0xffffffff);
  }
  return m;
}

TEST(PgOutput, DecodesBeginRelationInsertCommit) {
  pgoutput::Decoder d;
  pgoutput::Message m;

  std::string begin = "B";
  pgoutput::PutU64(&begin, 0x16B374D848ull);
  pgoutput::PutU64(&begin, 123456);
  U32(&begin, 777);
  ASSERT_TRUE(d.Decode(begin, &m).ok());
  EXPECT_EQ(m.kind, pgoutput::Message::Kind::kBegin);
  EXPECT_EQ(m.final_lsn, 0x16B374D848ull);
  EXPECT_EQ(m.xid, 777u);

  ASSERT_TRUE(d.Decode(RelationMsg(16400, {"id", "payload", "note"}), &m).ok());
  EXPECT_EQ(m.kind, pgoutput::Message::Kind::kRelation);
  EXPECT_EQ(m.relation->relname, "outbox_table");
  EXPECT_EQ(m.relation->ColumnIndex("payload"), 1);
  EXPECT_EQ(m.relation->ColumnIndex("absent"), -1);

  std::string ins = "I";
  U32(&ins, 16400);
  U8(&ins, 'N');
  U16(&ins, 3);
  U8(&ins, 't');
  U32(&ins, 2);
  ins += "42";
  U8(&ins, 't');
  std::string payload("{\"a\":\"\xc3\xa9\"}\0x", 13);  // unicode and a NUL byte
  U32(&ins, static_cast<uint32_t>(payload.size()));
  ins += payload;
  U8(&ins, 'n');
  ASSERT_TRUE(d.Decode(ins, &m).ok());
  EXPECT_EQ(m.kind, pgoutput::Message::Kind::kInsert);
  ASSERT_EQ(m.values.size(), 3u);
  EXPECT_EQ(*m.values[0], "42");
  EXPECT_EQ(*m.values[1], payload);
  EXPECT_FALSE(m.values[2].has_value());

  std::string commit = "C";
  U8(&commit, 0);
  pgoutput::PutU64(&commit, 100);
  pgoutput::PutU64(&commit, 200);
  pgoutput::PutU64(&commit, 300);
  ASSERT_TRUE(d.Decode(commit, &m).ok());
  EXPECT_EQ(m.kind, pgoutput::Message::Kind::kCommit);
  EXPECT_EQ(m.commit_lsn, 100u);
  EXPECT_EQ(m.end_lsn, 200u);

  ASSERT_TRUE(d.Decode("Yxyz", &m).ok());
  EXPECT_EQ(m.kind, pgoutput::Message::Kind::kOther);
}

// A logical message (pg_logical_emit_message, `outbox write --emit-message`)
// and the outbox event its content carries.
TEST(PgOutput, DecodesLogicalMessageIntoAnEvent) {
  pgoutput::Decoder d;
  pgoutput::Message m;
  std::string msg = "M";
  U8(&msg, 1);  // transactional
  pgoutput::PutU64(&msg, 0x5000ull);
  Str(&msg, kEmitPrefix);
  const std::string content =
      R"({"event_id": "order-7", "topic": "orders", "key": "7", "payload": "{\"id\":7}"})";
  U32(&msg, static_cast<uint32_t>(content.size()));
  msg += content;
  ASSERT_TRUE(d.Decode(msg, &m).ok());
  EXPECT_EQ(m.kind, pgoutput::Message::Kind::kLogicalMessage);
  EXPECT_TRUE(m.transactional);
  EXPECT_EQ(m.message_lsn, 0x5000ull);
  EXPECT_EQ(m.prefix, kEmitPrefix);
  EXPECT_EQ(m.content, content);
  OutboxEvent e;
  ASSERT_TRUE(DecodeEmitMessage(m.content, m.message_lsn, &e).ok());
  EXPECT_EQ(e.id, 0x5000);
  EXPECT_EQ(e.event_id, "order-7");
  EXPECT_EQ(e.topic, "orders");
  EXPECT_EQ(e.key, "7");
  EXPECT_EQ(e.payload, "{\"id\":7}");
  EXPECT_EQ(DecodeEmitMessage("not json", 1, &e).code(), Status::Code::kCorruption);
  EXPECT_EQ(DecodeEmitMessage(R"({"event_id": "x"})", 1, &e).code(), Status::Code::kCorruption);
  EXPECT_EQ(d.Decode(msg.substr(0, msg.size() - 3), &m).code(), Status::Code::kCorruption);
}

// The content as Postgres' json_build_object writes it goes through the flat
// parse (emit_message.cc); anything else through the general JSON parser,
// with the same result.
TEST(PgOutput, EmitMessageParsesEscapesAndFallsBackToTheGeneralParser) {
  OutboxEvent e;
  ASSERT_TRUE(
      DecodeEmitMessage(R"({"event_id" : "order-8", "topic" : "orders", "key" : "8", "payload" : )"
                        R"("{\"q\\\"\": \"a\/b\tc\nd\"}", "entity" : "8"})",
                        9, &e)
          .ok());
  EXPECT_EQ(e.id, 9);
  EXPECT_EQ(e.event_id, "order-8");
  EXPECT_EQ(e.key, "8");
  EXPECT_EQ(e.payload, "{\"q\\\"\": \"a/b\tc\nd\"}");
  // \u escapes, keys in another order, a non-string extra field.
  ASSERT_TRUE(DecodeEmitMessage(
                  R"({"payload":"\u00e9\u0001","n":1,"key":"k","topic":"t","event_id":"e"})", 1, &e)
                  .ok());
  EXPECT_EQ(e.payload, "\xc3\xa9\x01");
  EXPECT_EQ(e.event_id, "e");
  EXPECT_EQ(e.topic, "t");
  EXPECT_EQ(
      DecodeEmitMessage(R"({"event_id":"e","topic":"t","key":"k","payload":7})", 1, &e).code(),
      Status::Code::kCorruption);
  EXPECT_EQ(
      DecodeEmitMessage(R"({"event_id":"e","topic":"t","key":"k","payload":"p"} x)", 1, &e).code(),
      Status::Code::kCorruption);
  EXPECT_EQ(
      DecodeEmitMessage(R"({"event_id":"e","topic":"t","key":"k","payload":"p)", 1, &e).code(),
      Status::Code::kCorruption);
}

TEST(PgOutput, RejectsTruncatedAndUnknownRelation) {
  pgoutput::Decoder d;
  pgoutput::Message m;
  EXPECT_EQ(d.Decode("B\x01\x02", &m).code(), Status::Code::kCorruption);
  EXPECT_EQ(d.Decode("", &m).code(), Status::Code::kCorruption);
  std::string ins = "I";
  U32(&ins, 99);
  U8(&ins, 'N');
  U16(&ins, 0);
  EXPECT_EQ(d.Decode(ins, &m).code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(d.Decode(RelationMsg(99, {"id"}), &m).ok());
  std::string bad = "I";
  U32(&bad, 99);
  U8(&bad, 'N');
  U16(&bad, 1);
  U8(&bad, 't');
  U32(&bad, 10);  // says 10 bytes, has 2
  bad += "ab";
  EXPECT_EQ(d.Decode(bad, &m).code(), Status::Code::kCorruption);
}

TEST(PgOutput, Lsn) {
  uint64_t lsn = 0;
  ASSERT_TRUE(pgoutput::ParseLsn("16/B374D848", &lsn));
  EXPECT_EQ(lsn, 0x16B374D848ull);
  EXPECT_EQ(pgoutput::FormatLsn(lsn), "16/B374D848");
  EXPECT_FALSE(pgoutput::ParseLsn("garbage", &lsn));
}

TEST(Partitions, ParseWidth) {
  std::chrono::seconds w;
  ASSERT_TRUE(ParseWidth("1d", &w).ok());
  EXPECT_EQ(w.count(), 86400);
  ASSERT_TRUE(ParseWidth("1min", &w).ok());
  EXPECT_EQ(w.count(), 60);
  ASSERT_TRUE(ParseWidth("15m", &w).ok());
  EXPECT_EQ(w.count(), 900);
  ASSERT_TRUE(ParseWidth("2h", &w).ok());
  EXPECT_EQ(w.count(), 7200);
  ASSERT_TRUE(ParseWidth("30", &w).ok());
  EXPECT_EQ(w.count(), 30);
  EXPECT_FALSE(ParseWidth("", &w).ok());
  EXPECT_FALSE(ParseWidth("d", &w).ok());
  EXPECT_FALSE(ParseWidth("1w", &w).ok());
  EXPECT_FALSE(ParseWidth("8d", &w).ok());
  EXPECT_FALSE(ParseWidth("0s", &w).ok());
}

TEST(Partitions, NameIsUtcStart) {
  // 2024-03-05 06:07:08 UTC
  EXPECT_EQ(PartitionName(1709618828LL * 1000000), "outbox_table_p20240305_060708");
}

TEST(Backoff, GrowsToTheCapWithJitter) {
  Backoff::Options o;
  o.initial = std::chrono::milliseconds(10);
  o.max = std::chrono::milliseconds(200);
  Backoff b(o);
  int64_t prev_bound = 0;
  for (int i = 0; i < 20; ++i) {
    int64_t bound = std::min<int64_t>(200, 10LL << std::min(i, 20));
    auto d = b.Next().count();
    EXPECT_GE(d, bound / 2) << i;
    EXPECT_LE(d, bound) << i;
    EXPECT_GE(bound, prev_bound);
    prev_bound = bound;
  }
  b.Reset();
  EXPECT_LE(b.Next().count(), 10);
}

TEST(Relay, StrategyNamesRoundTrip) {
  for (const char* n : {"skip-locked", "status", "offset-naive", "offset-safe", "cdc"}) {
    Strategy s;
    ASSERT_TRUE(ParseStrategy(n, &s).ok()) << n;
    EXPECT_STREQ(StrategyName(s), n);
  }
  Strategy s;
  EXPECT_EQ(ParseStrategy("fifo", &s).code(), Status::Code::kInvalidArgument);
}

TEST(Relay, DefaultSlotNameIsAValidIdentifier) {
  EXPECT_EQ(DefaultSlotName("dualwrite"), "dw_outbox_dualwrite");
  EXPECT_EQ(DefaultSlotName("My-DB.1"), "dw_outbox_my_db_1");
  EXPECT_EQ(DefaultSlotName(std::string(100, 'a')).size(), 63u);
}

}  // namespace
}  // namespace dw::outbox
