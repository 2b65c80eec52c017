// Lesson `cdc`: log-based change data capture. The cdc relay never queries
// outbox_table: it reads the outbox inserts from the WAL through a logical
// replication slot (pgoutput). The slot makes Postgres keep every WAL segment
// the relay has not confirmed: while the relay is stopped, the retained WAL
// grows; once it reads and confirms, it shrinks.
#include <signal.h>

#include <thread>

#include "demo/lessons.h"
#include "outbox/partitions.h"
#include "outbox/pgoutput.h"
#include "outbox/relay_cdc.h"
#include "outbox/schema.h"
#include "workload/orders.h"
#include "workload/verify.h"

namespace dw::demo {
namespace {

using std::chrono::milliseconds;

struct SlotState {
  bool exists = false;
  bool active = false;
  int64_t retained = 0;     // pg_current_wal_lsn() - restart_lsn
  int64_t unconfirmed = 0;  // pg_current_wal_lsn() - confirmed_flush_lsn
};

std::string SlotSql(const std::string& slot, const std::string& quoted) {
  (void)slot;
  return "SELECT slot_name, active, restart_lsn, confirmed_flush_lsn,"
         " pg_current_wal_lsn() AS current_lsn,"
         " coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint AS "
         "retained_bytes,"
         " coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint AS"
         " unconfirmed_bytes"
         " FROM pg_replication_slots WHERE slot_name = " +
         quoted;
}

SlotState ReadSlot(Stage& st, Session& s, const std::string& slot) {
  pqxx::result r = s.Quiet(SlotSql(slot, s.Quote(slot)));
  SlotState out;
  if (r.empty()) return out;
  out.exists = true;
  out.active = r[0][1].as<bool>();
  out.retained = r[0][5].as<int64_t>();
  out.unconfirmed = r[0][6].as<int64_t>();
  (void)st;
  return out;
}

void ShowSlot(Stage& st, Session& s, const std::string& slot) {
  st.n().Show(st.Query("postgres: pg_replication_slots", SlotSql(slot, s.Quote(slot))));
}

std::string Kind(const outbox::pgoutput::Message& m) {
  using K = outbox::pgoutput::Message::Kind;
  switch (m.kind) {
    case K::kBegin:
      return "BEGIN";
    case K::kCommit:
      return "COMMIT";
    case K::kRelation:
      return "RELATION";
    case K::kInsert:
      return "INSERT";
    default:
      return std::string("other '") + m.type + "'";
  }
}

}  // namespace

Status LessonCdc(Stage& st, Narrator& n, nlohmann::json& facts) {
  Status s = st.EnsureOutboxSchema();
  if (!s.ok()) return s;
  st.WarnForeignPrepared();
  const std::string slot = outbox::DefaultSlotName(st.db());
  Session admin(&n, "admin", st.dsn());

  n.Step("Start the cdc relay",
         "It creates the publication dw_outbox_pub (inserts of outbox_table, named by the "
         "partitioned root) and the slot " +
             slot + " (plugin pgoutput), then streams from it.");
  Child relay;
  s = st.Spawn({"outbox", "relay", "--strategy", "cdc", "--no-maintain"}, &relay);
  if (!s.ok()) return s;
  SlotState slot0;
  for (int i = 0; i < 600 && !(slot0.exists && slot0.active); ++i) {
    slot0 = ReadSlot(st, admin, slot);
    if (!(slot0.exists && slot0.active)) std::this_thread::sleep_for(milliseconds(50));
  }
  if (!slot0.active) return Status::Unavailable("the cdc relay did not start streaming");
  n.Show(st.Query("postgres: pg_publication_tables",
                  "SELECT pubname, schemaname, tablename FROM pg_publication_tables"));
  ShowSlot(st, admin, slot);

  n.Step("Write 5 orders: the relay publishes them from the WAL", "");
  RunResult w1 = st.Run({"outbox", "write", "-n", "5", "-c", "1", "--json"});
  st.ShowResult(w1, {"committed", "failed"});
  std::vector<BrokerMessage> msgs;
  for (int i = 0; i < 400; ++i) {
    s = st.TopicMessages(&msgs);
    if (!s.ok()) return s;
    if (msgs.size() >= 5) break;
    std::this_thread::sleep_for(milliseconds(25));
  }
  st.ShowTopic(5);
  ShowSlot(st, admin, slot);

  n.Step("Stop the relay",
         "SIGTERM: it stops cleanly. The slot stays (inactive) and remembers what was confirmed.");
  RunResult stopped = st.Signal(&relay, SIGTERM);
  n.Output("relay exit code " + std::to_string(stopped.exit_code));
  for (int i = 0; i < 100 && ReadSlot(st, admin, slot).active; ++i) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  SlotState before = ReadSlot(st, admin, slot);
  ShowSlot(st, admin, slot);

  n.Step("Write 300 orders while the relay is stopped",
         "The slot keeps every WAL byte from its restart_lsn on: Postgres cannot recycle those "
         "segments. Watch retained_bytes.");
  RunResult w2 = st.Run({"outbox", "write", "-n", "300", "-c", "2", "--json"});
  st.ShowResult(w2, {"committed", "failed"});
  SlotState grown = ReadSlot(st, admin, slot);
  ShowSlot(st, admin, slot);

  n.Step("Peek into the slot: the events, read from the WAL",
         "pg_logical_slot_peek_binary_changes decodes what the slot holds without consuming it; "
         "we decode the pgoutput messages the relay would receive.");
  pqxx::result changes = admin.Exec(
      "SELECT lsn, xid, data FROM pg_logical_slot_peek_binary_changes(" + admin.Quote(slot) +
      ", NULL, NULL, 'proto_version', '1', 'publication_names', 'dw_outbox_pub')");
  outbox::pgoutput::Decoder dec;
  Table t;
  t.caption =
      "slot " + slot + ": decoded changes (first 8 of " + std::to_string(changes.size()) + ")";
  t.header = {"lsn", "xid", "message", "relation", "event_id", "msg_key"};
  int64_t inserts = 0;
  for (const auto& row : changes) {
    pqxx::binarystring bytes(row[2]);
    outbox::pgoutput::Message m;
    if (!dec.Decode(std::string_view(bytes.get(), bytes.size()), &m).ok()) continue;
    std::string rel, event_id, key;
    if (m.relation) rel = m.relation->relname;
    if (m.kind == outbox::pgoutput::Message::Kind::kInsert) {
      ++inserts;
      int e = m.relation->ColumnIndex("event_id"), k = m.relation->ColumnIndex("msg_key");
      if (e >= 0 && m.values[e]) event_id = *m.values[e];
      if (k >= 0 && m.values[k]) key = *m.values[k];
    }
    if (t.rows.size() < 8) {
      t.rows.push_back({row[0].c_str(), row[1].c_str(), Kind(m), rel, event_id, key});
    }
  }
  n.Show(t);
  n.Note("inserts into outbox_table waiting in the slot: " + std::to_string(inserts));

  n.Step("Start the relay again: it reads the backlog from the slot and confirms",
         "--until-drained: it exits once it has read past the current WAL position and every "
         "event up to it is published and confirmed.");
  RunResult r2 = st.Run({"outbox", "relay", "--strategy", "cdc", "--until-drained", "--max-run-s",
                         "40", "--json", "--no-maintain"});
  st.ShowResult(r2, {"published", "errors", "drained"});
  ShowSlot(st, admin, slot);

  n.Step("A checkpoint, and one more short relay run",
         "restart_lsn (what the slot retains) only moves to a point where decoding can restart: "
         "a running-transactions record. CHECKPOINT writes one; the relay reads past it and "
         "confirms.");
  admin.Exec("CHECKPOINT");
  RunResult r3 = st.Run({"outbox", "relay", "--strategy", "cdc", "--until-drained", "--max-run-s",
                         "40", "--json", "--no-maintain"});
  st.ShowResult(r3, {"published", "errors", "drained"});
  SlotState after = ReadSlot(st, admin, slot);
  ShowSlot(st, admin, slot);
  st.ShowTopic(3);

  n.Step("verify", "Every order exactly once at the broker.");
  workload::VerifyOptions vo;
  vo.dsn = st.dsn();
  vo.broker_url = st.broker_url();
  workload::VerifyReport vr;
  s = workload::Verify(vo, &vr);
  if (!s.ok()) return s;
  n.Output(vr.ToText(10));

  facts = {
      {"slot", slot},
      {"retained_wal_bytes",
       {{"relay_stopped", before.retained},
        {"after_300_writes", grown.retained},
        {"after_relay_confirmed", after.retained}}},
      {"unconfirmed_wal_bytes",
       {{"relay_stopped", before.unconfirmed},
        {"after_300_writes", grown.unconfirmed},
        {"after_relay_confirmed", after.unconfirmed}}},
      {"inserts_peeked_in_slot", inserts},
      {"published_after_restart", (r2.json.is_object() ? r2.json.value("published", 0) : 0) +
                                      (r3.json.is_object() ? r3.json.value("published", 0) : 0)},
      {"verify_clean", vr.ok()},
      {"rows", vr.rows},
      {"messages", vr.messages}};

  n.Conclude(grown.retained > before.retained,
             "while the relay was stopped the slot's retained WAL grew from " +
                 std::to_string(before.retained) + " to " + std::to_string(grown.retained) +
                 " bytes");
  n.Conclude(inserts == 300, "the slot held " + std::to_string(inserts) +
                                 " outbox inserts, read straight from the WAL");
  n.Conclude(after.retained < grown.retained && after.unconfirmed < grown.unconfirmed,
             "after the relay read and confirmed, retained WAL fell to " +
                 std::to_string(after.retained) +
                 " bytes (unconfirmed: " + std::to_string(after.unconfirmed) + ")");
  n.Conclude(vr.ok() && vr.rows == 305, "verify: " + std::string(vr.ok() ? "clean" : "violations") +
                                            ", " + std::to_string(vr.rows) + " orders, " +
                                            std::to_string(vr.messages) + " messages");
  return Status::OK();
}

}  // namespace dw::demo
