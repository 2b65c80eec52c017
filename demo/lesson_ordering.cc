// Lesson `ordering`: several events per order and several relay instances.
// Each order gets OrderPlaced, OrderPaid and OrderPacked, each committed
// after the previous one, so a consumer must read them in that order.
// Relay A claims the first outbox row (an OrderPlaced) and is mid-publish;
// with SKIP LOCKED the other instances skip its locked row and send that
// order's OrderPaid and OrderPacked; then A's publish fails and its row is
// sent last: the consumer reads OrderPaid before OrderPlaced. With
// --partition-by key each key belongs to one instance, which waits for the
// locked row instead of skipping it: the same interleaving reorders nothing.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "demo/lessons.h"
#include "workload/verify.h"

namespace dw::demo {
namespace {

// What one half of the lesson (relays over the plain table, then partitioned by key) saw.
struct InterleaveResult {
  std::string held_key;  // the order whose OrderPlaced relay A held
  std::vector<int64_t> reordered;
  std::string first_inversion;
  bool clean = false;
};

// Relay A's claim, as the skip-locked relay makes it (one row: the first by id).
constexpr const char* kClaimFirstRow =
    "DELETE FROM outbox_table WHERE id = ANY(ARRAY(SELECT id FROM outbox_table ORDER BY id "
    "LIMIT 1 FOR UPDATE SKIP LOCKED)) RETURNING id, event_id, msg_key";

// This half's events at the broker, in offset order (the topic also holds
// the first half's).
void ShowEvents(Stage& st, int64_t min_id) {
  std::vector<BrokerMessage> all;
  if (!st.TopicMessages(&all).ok()) return;
  std::string text = "the orders topic, this half's events in offset order:";
  for (const auto& m : all) {
    if (std::strtoll(m.key.c_str(), nullptr, 10) < min_id) continue;
    text += "\n  offset " + std::to_string(m.offset) + "  " + m.id;
  }
  st.n().Output(text);
}

Status Interleave(Stage& st, bool partitioned, InterleaveResult* half) {
  Narrator& n = st.n();
  const std::string tag = partitioned ? "[--partition-by key] " : "[SKIP LOCKED] ";
  if (partitioned) {
    n.Step(tag + "The first partitioned relay prepares the outbox",
           "It adds the column key_hash (hashtext(msg_key), written with each row) and an index "
           "per K. Done now, on an empty outbox: ALTER TABLE would wait for relay A's open "
           "transaction below, and everything else would wait for the ALTER.");
    RunResult prep = st.Run({"outbox", "relay", "--strategy", "skip-locked", "--instances", "3",
                             "--partition-by", "key", "--until-drained", "--max-run-s", "10",
                             "--json", "--no-maintain"});
    st.ShowResult(prep, {"published", "errors"});
  }
  const int64_t before = st.Int("SELECT coalesce(max(id), 0) FROM orders");
  n.Step(tag + "Write 3 orders, 3 events each",
         "One writer: OrderPlaced (the INSERT), then OrderPaid and OrderPacked (UPDATEs of the "
         "order's version), each its own transaction with its own outbox row.");
  RunResult w =
      st.Run({"outbox", "write", "-n", "3", "-c", "1", "--events-per-order", "3", "--json"});
  st.ShowResult(w, {"committed", "failed"});
  if (w.exit_code != 0) return Status::IOError("outbox write failed: " + w.err);
  st.ShowOutbox(9);

  Session a(&n, "relay A", st.dsn());
  n.Step(tag + "Relay A claims the first row and is still publishing it",
         "Its claim deletes the row inside an open transaction: the row stays locked, and comes "
         "back if A rolls back.");
  a.Exec("BEGIN");
  pqxx::result held = a.Exec(kClaimFirstRow);
  if (held.size() != 1) return Status::IOError("relay A claimed no row");
  half->held_key = held[0][2].as<std::string>();

  if (!partitioned) {
    n.Step(tag + "Two more instances drain the outbox meanwhile",
           "SKIP LOCKED: they pass A's locked row and send everything else - including order " +
               half->held_key +
               "'s OrderPaid and OrderPacked. They would keep polling for A's row: we stop them "
               "after 3 seconds.");
    RunResult r = st.Run({"outbox", "relay", "--strategy", "skip-locked", "--instances", "2",
                          "--until-drained", "--max-run-s", "3", "--json", "--no-maintain"});
    st.ShowResult(r, {"published", "errors"});
    n.Step(tag + "A's publish fails: ROLLBACK",
           "Order " + half->held_key + "'s OrderPlaced is back in the outbox.");
    a.Exec("ROLLBACK");
    RunResult r2 = st.Run({"outbox", "relay", "--strategy", "skip-locked", "--until-drained",
                           "--max-run-s", "20", "--json", "--no-maintain"});
    st.ShowResult(r2, {"published", "errors"});
  } else {
    n.Step(tag + "Three partitioned instances drain the outbox meanwhile",
           "Instance i claims only keys whose hash is i mod 3, with FOR UPDATE and no SKIP "
           "LOCKED: the instance of order " +
               half->held_key + "'s partition waits for A's row instead of passing it.");
    Child c;
    Status s = st.Spawn(
        {"outbox", "relay", "--strategy", "skip-locked", "--instances", "3", "--partition-by",
         "key", "--until-drained", "--max-run-s", "30", "--json", "--no-maintain"},
        &c);
    if (!s.ok()) return s;
    // Until an instance waits on A's lock (it does, unless A's key was the
    // only one left): then the others have drained their partitions.
    int64_t waiting = 0;
    for (int i = 0; i < 200 && waiting == 0; ++i) {
      waiting = st.Int(
          "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity s USING (pid) WHERE NOT "
          "l.granted AND s.datname = current_database()");
      if (waiting == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    n.Note(waiting > 0 ? "An instance is waiting for A's row lock (pg_locks, not granted)."
                       : "No instance was seen waiting for A's lock.");
    std::this_thread::sleep_for(std::chrono::seconds(1));  // the other partitions drain
    ShowEvents(st, before + 1);
    n.Note("Left in the outbox: order " + half->held_key +
           "'s events, and those of any other key of its partition, which wait behind it "
           "(head-of-line blocking, within one partition only).");
    st.ShowOutbox(9);
    n.Step(tag + "A's publish fails: ROLLBACK",
           "The waiting instance gets the row back first in line, then the order's later events.");
    a.Exec("ROLLBACK");
    RunResult r = st.Wait(&c, std::chrono::seconds(40));
    st.ShowResult(r, {"published", "errors"});
  }
  ShowEvents(st, before + 1);

  n.Step(tag + "verify: order per key",
         "Each order's events, in offset order, must be v1, v2, v3.");
  workload::VerifyOptions vo;
  vo.dsn = st.dsn();
  vo.broker_url = st.broker_url();
  vo.min_id = before + 1;
  vo.max_id = st.Int("SELECT max(id) FROM orders");
  workload::VerifyReport vr;
  Status s = workload::Verify(vo, &vr);
  if (!s.ok()) return s;
  n.Output(vr.ToText(10));
  for (const auto& inv : vr.reordered) half->reordered.push_back(inv.order);
  if (!vr.reordered.empty()) half->first_inversion = vr.reordered[0].ToText();
  half->clean = vr.ok();
  return Status::OK();
}

}  // namespace

Status LessonOrdering(Stage& st, Narrator& n, nlohmann::json& facts) {
  Status s = st.EnsureOutboxSchema();
  if (!s.ok()) return s;
  InterleaveResult plain, part;
  s = Interleave(st, false, &plain);
  if (!s.ok()) return s;
  s = Interleave(st, true, &part);
  if (!s.ok()) return s;
  facts = {{"skip_locked_held_order", plain.held_key},
           {"skip_locked_reordered", plain.reordered},
           {"skip_locked_first_inversion", plain.first_inversion},
           {"partitioned_held_order", part.held_key},
           {"partitioned_reordered", part.reordered},
           {"partitioned_clean", part.clean}};
  const bool held_reordered =
      std::find(plain.reordered.begin(), plain.reordered.end(),
                plain.held_key.empty() ? -1 : std::stoll(plain.held_key)) != plain.reordered.end();
  n.Conclude(held_reordered,
             "three SKIP LOCKED relays delivered order " + plain.held_key +
                 "'s later events before its OrderPlaced: " +
                 (plain.first_inversion.empty() ? "no inversion" : plain.first_inversion));
  n.Conclude(part.reordered.empty() && part.clean,
             "with --partition-by key the same interleaving reordered " +
                 std::to_string(part.reordered.size()) + " key(s)");
  return Status::OK();
}

}  // namespace dw::demo
