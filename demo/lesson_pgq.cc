// Lesson `pgq`: PgQ (Skytools' queue in Postgres) answers both problems of a
// queue table (outbox/pgq_queue.h).
//  1. Out-of-order commits: offset-loss's interleaving (A inserts first and
//     commits last) through pgq.insert_event instead of an outbox row. A
//     batch is what became visible between two ticks (each tick records a
//     transaction snapshot), so A's event lands in a later batch instead of
//     behind a passed position: both events reach the broker.
//  2. Dead tuples: PgQ never updates or deletes an event. It writes into one
//     of three event tables and, once every consumer has passed a table,
//     TRUNCATEs it (pgq.maint_rotate_tables_step1/2, which pgqd runs every
//     maint_period once queue_rotation_period, 2 hours, has passed). We run
//     the rotation by hand, so each one shown is one we asked for, and count
//     n_dead_tup of the event tables against outbox_table's under
//     skip-locked (one DELETE per event) for the same number of events.
#include <sys/stat.h>

#include <thread>

#include "demo/lessons.h"
#include "demo/order_text.h"
#include "env/layout.h"
#include "env/pgqd_daemon.h"
#include "outbox/pgq_queue.h"
#include "outbox/schema.h"
#include "workload/verify.h"

namespace dw::demo {
namespace {

// Far above what `outbox write` takes from orders_id_seq in this lesson
// (blocks of 1000 from 1), so the two hand-written orders never collide.
constexpr int64_t kIdA = 1000001;
constexpr int64_t kIdB = 1000002;
// Orders per event table; one round per table, so the last rotation comes
// back to the first table and truncates it.
constexpr int kPerRound = 1000;

// The relay and `outbox write --queue pgq` start pgqd for the stage's state
// folder (Stage::DwArgv's --state-dir), detached so that it outlives them:
// stopped here before the stage drops the database, also after a failure.
class PgqdStopper {
 public:
  explicit PgqdStopper(std::string state_dir) : state_dir_(std::move(state_dir)) {}
  ~PgqdStopper() { (void)env::PgqdDaemon(env::Layout(state_dir_)).Stop(nullptr); }
  PgqdStopper(const PgqdStopper&) = delete;
  PgqdStopper& operator=(const PgqdStopper&) = delete;

 private:
  std::string state_dir_;
};

struct Queue {
  int64_t id = 0;
  std::string pfx;  // "pgq.event_2": the tables are pfx_0 .. pfx_<ntables-1>
  int ntables = 0;
  int cur_table = 0;
};

Queue ReadQueue(Stage& st) {
  pqxx::connection c{st.dsn()};
  pqxx::nontransaction tx{c};
  pqxx::row r = tx.exec1(
      "SELECT queue_id, queue_data_pfx, queue_ntables, queue_cur_table FROM pgq.queue"
      " WHERE queue_name = " +
      tx.quote(outbox::kPgqQueue));
  return {r[0].as<int64_t>(), r[1].as<std::string>(), r[2].as<int>(), r[3].as<int>()};
}

std::string EventTable(const Queue& q, int k) { return q.pfx + "_" + std::to_string(k); }

// The writer's statement (outbox/writer.cc with Sink::kPgq) as literal text.
std::string PgqWriteSql(Session& s, const workload::Order& o) {
  OutMessage m = workload::OrderPlacedMessage(o);
  return "WITH ord AS (" + InsertOrderSql(s, o) + " RETURNING id) SELECT pgq.insert_event(" +
         s.Quote(outbox::kPgqQueue) + ", " + s.Quote(m.topic) + ", " + s.Quote(m.payload) + ", " +
         s.Quote(m.id) + ", " + s.Quote(m.key) + ", " + s.Quote(outbox::kOrderEntity) +
         ", NULL) FROM ord";
}

void ShowEvents(Stage& st, const Queue& q) {
  st.n().Show(st.Query("postgres: the queue's events (visible to us)",
                       "SELECT ev_id, ev_txid, ev_extra1 AS event_id, ev_extra2 AS key,"
                       " tableoid::regclass AS event_table FROM " +
                           q.pfx + " ORDER BY ev_id LIMIT 6"));
}

void ShowTicksAndConsumer(Stage& st, const Queue& q) {
  st.n().Show(st.Query("postgres: pgq.tick, the last 3 ticks (snapshot xmin:xmax:in-progress)",
                       "SELECT tick_id, tick_snapshot::text AS snapshot, tick_event_seq"
                       " FROM pgq.tick WHERE tick_queue = " +
                           std::to_string(q.id) + " ORDER BY tick_id DESC LIMIT 3"));
  st.n().Show(st.Query("postgres: the relay's consumer",
                       "SELECT consumer_name, last_tick, coalesce(current_batch::text, '') AS"
                       " current_batch, pending_events FROM pgq.get_consumer_info(" +
                           std::string("'") + outbox::kPgqQueue + "', '" + outbox::kPgqConsumer +
                           "')"));
}

// Per event table: its rows now, and what pg_stat_user_tables counted.
std::string EventTablesSql(const Queue& q) {
  std::string sql;
  for (int k = 0; k < q.ntables; ++k) {
    const std::string t = EventTable(q, k);
    if (!sql.empty()) sql += " UNION ALL ";
    sql += "SELECT '" + t + "' AS event_table, CASE WHEN q.queue_cur_table = " + std::to_string(k) +
           " THEN 'current' ELSE '' END AS writes, (SELECT count(*) FROM " + t +
           ") AS rows, s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_dead_tup FROM"
           " pg_stat_user_tables s, pgq.queue q WHERE s.relid = '" +
           t + "'::regclass AND q.queue_id = " + std::to_string(q.id);
  }
  return sql + " ORDER BY 1";
}

void ShowEventTables(Stage& st, const Queue& q, const std::string& caption) {
  st.n().Show(st.Query("postgres: the queue's event tables (" + caption + ")", EventTablesSql(q)));
}

// Sum of a pg_stat_user_tables column over the event tables.
int64_t EventTablesStat(Stage& st, const Queue& q, const std::string& column) {
  std::string in;
  for (int k = 0; k < q.ntables; ++k) {
    in += (in.empty() ? "'" : ", '") + EventTable(q, k) + "'::regclass";
  }
  return st.Int("SELECT coalesce(sum(" + column +
                "), 0) FROM pg_stat_user_tables WHERE relid IN (" + in + ")");
}

const char* const kOutboxStatsSql =
    "SELECT coalesce(sum(s.n_tup_ins), 0)::bigint AS n_tup_ins,"
    " coalesce(sum(s.n_tup_upd), 0)::bigint AS n_tup_upd,"
    " coalesce(sum(s.n_tup_del), 0)::bigint AS n_tup_del,"
    " coalesce(sum(s.n_dead_tup), 0)::bigint AS n_dead_tup"
    " FROM pg_stat_user_tables s JOIN pg_inherits i ON i.inhrelid = s.relid"
    " WHERE i.inhparent = 'outbox_table'::regclass";

struct Interleaving {
  int64_t published_while_open = -1, published_after = -1;
  std::vector<int64_t> missing;
  bool clean = false;
};

// offset-loss's forced interleaving, through the queue: A inserts first and
// commits last; the relay runs while A is open and again after its commit.
Status Interleave(Stage& st, const Queue& q, Interleaving* out) {
  Narrator& n = st.n();
  Session a(&n, "A", st.dsn());
  Session b(&n, "B", st.dsn());
  n.Step("A begins and writes order " + std::to_string(kIdA) + " - but does not commit yet",
         "The order and its event in one statement: pgq.insert_event takes the event's id "
         "(ev_id) from the queue's sequence now, at INSERT time, like outbox_table's id.");
  a.Exec("BEGIN");
  int64_t ev_a = a.Exec(PgqWriteSql(a, workload::MakeOrder(kIdA, kIdA, 1)))[0][0].as<int64_t>();
  n.Output("pgq.insert_event returned ev_id " + std::to_string(ev_a));
  const std::string txid_a = a.Exec("SELECT txid_current()")[0][0].as<std::string>();
  n.Output("A's transaction id: " + txid_a);

  n.Step("B writes order " + std::to_string(kIdB) + " and commits",
         "B's event gets a LARGER ev_id than A's, and is visible first.");
  b.Exec("BEGIN");
  int64_t ev_b = b.Exec(PgqWriteSql(b, workload::MakeOrder(kIdB, kIdB, 1)))[0][0].as<int64_t>();
  n.Output("pgq.insert_event returned ev_id " + std::to_string(ev_b));
  b.Exec("COMMIT");
  ShowEvents(st, q);
  n.Note("A's event is not listed: it is not committed, so nobody else can see it.");

  n.Step("The pgq relay runs while A is still open",
         "It starts pgqd for the state folder (the ticker: a tick every 50 ms while events "
         "arrive), then reads batch after batch until the consumer stands at the last tick and "
         "no committed event is left that this tick did not see. A batch is every event whose "
         "transaction became visible between two ticks: the tick that found A still running "
         "lists A's txid as in progress.");
  RunResult r1 = st.Run(
      {"outbox", "relay", "--strategy", "pgq", "--until-drained", "--json", "--no-maintain"});
  st.ShowResult(r1, {"published", "errors", "drained"});
  ShowTicksAndConsumer(st, q);
  n.Note("A tick's snapshot is xmin:xmax:in-progress. Where A's txid " + txid_a +
         " is listed in progress, A's event is not in the batch that ends at that tick: it "
         "belongs to the first batch whose closing tick sees A committed.");
  st.ShowTopic(4);

  n.Step("A commits", "Now A's event is visible - with the SMALLER ev_id.");
  a.Exec("COMMIT");
  ShowEvents(st, q);

  n.Step("The relay runs again, until the next tick",
         "A's commit added no event to the queue's sequence, so the queue looks idle and pgqd "
         "ticks at the idle pace (ticker_idle_period, 1 s here). The consumer already stands at "
         "the last tick, but that tick lists A's txid in progress and A's event is committed now: "
         "--until-drained waits for the next tick, whose batch brings A's event.");
  RunResult r2 = st.Run(
      {"outbox", "relay", "--strategy", "pgq", "--until-drained", "--json", "--no-maintain"});
  st.ShowResult(r2, {"published", "errors", "drained"});
  ShowTicksAndConsumer(st, q);
  st.ShowTopic(4);

  n.Step("verify (orders " + std::to_string(kIdA) + " and " + std::to_string(kIdB) + ")",
         "Is every order at the broker?");
  workload::VerifyOptions vo;
  vo.dsn = st.dsn();
  vo.broker_url = st.broker_url();
  vo.min_id = kIdA;
  vo.max_id = kIdB;
  workload::VerifyReport vr;
  Status s = workload::Verify(vo, &vr);
  if (!s.ok()) return s;
  n.Output(vr.ToText(10));
  out->published_while_open = r1.Int("published");
  out->published_after = r2.Int("published");
  out->missing = vr.missing;
  out->clean = vr.ok() && vr.messages == 2;
  return Status::OK();
}

struct Rotations {
  int rotations = 0;
  int64_t consumed = 0;           // what the relay runs published
  int64_t truncated_rows = 0;     // rows in the tables a rotation truncated
  int64_t first_table_rows = -1;  // the first table's rows at the end
};

// One round per event table: kPerRound orders into the current table,
// relayed, then a rotation by hand. Rotation k truncates the table after the
// current one; the last comes back to the first table, which by then every
// consumer has passed.
Status RotateRounds(Stage& st, Rotations* out) {
  Narrator& n = st.n();
  Queue q = ReadQueue(st);
  const int first = q.cur_table;
  Session maint(&n, "maint", st.dsn());
  for (int round = 1; round <= q.ntables; ++round) {
    n.Step("Round " + std::to_string(round) + ": " + std::to_string(kPerRound) + " orders into " +
               EventTable(q, q.cur_table) + ", relayed",
           "`outbox write --queue pgq` then the pgq relay until drained.");
    RunResult w = st.Run({"outbox", "write", "--queue", "pgq", "-n", std::to_string(kPerRound),
                          "-c", "2", "--json"});
    st.ShowResult(w, {"committed", "failed"});
    RunResult r = st.Run(
        {"outbox", "relay", "--strategy", "pgq", "--until-drained", "--json", "--no-maintain"});
    st.ShowResult(r, {"published", "errors", "drained"});
    if (r.Int("published") > 0) out->consumed += r.Int("published");
    ShowEventTables(st, q, "after round " + std::to_string(round));

    const int next = (q.cur_table + 1) % q.ntables;
    const int64_t rows_next = st.Int("SELECT count(*) FROM " + EventTable(q, next));
    n.Step("Rotate: " + EventTable(q, next) + " becomes the current table",
           "step1 TRUNCATEs the next table and writes there from now on - only once every "
           "consumer has passed the previous switch (else it returns without rotating). "
           "rotation_period (default 2 hours) is set to 0 inside the same transaction, so pgqd's "
           "own maintenance never sees it. step2, in a transaction of its own, records the "
           "switch's txid: a consumer has passed it once it reads past a tick taken after it.");
    maint.Exec("BEGIN");
    maint.Exec("SELECT pgq.set_queue_config(" + maint.Quote(outbox::kPgqQueue) +
               ", 'rotation_period', '0')");
    maint.Exec("SELECT pgq.maint_rotate_tables_step1(" + maint.Quote(outbox::kPgqQueue) + ")");
    maint.Exec("SELECT pgq.set_queue_config(" + maint.Quote(outbox::kPgqQueue) +
               ", 'rotation_period', '2 hours')");
    maint.Exec("COMMIT");
    maint.Exec("SELECT pgq.maint_rotate_tables_step2()");
    Queue after = ReadQueue(st);
    if (after.cur_table == next) {
      ++out->rotations;
      out->truncated_rows += rows_next;
      n.Output("rotated: writes go to " + EventTable(q, next) + "; its " +
               std::to_string(rows_next) + " row(s) were TRUNCATEd");
    } else {
      n.Output("not rotated: writes still go to " + EventTable(q, after.cur_table));
    }
    q = after;
    ShowEventTables(st, q, "after the rotation");
  }
  out->first_table_rows = st.Int("SELECT count(*) FROM " + EventTable(q, first));
  return Status::OK();
}

}  // namespace

Status LessonPgq(Stage& st, Narrator& n, nlohmann::json& facts) {
  Status s = st.EnsureOutboxSchema();
  if (!s.ok()) return s;
  st.WarnForeignPrepared();
  // pgqd runs as the cluster's OS user when we are root: it must reach its
  // folder under the stage's (mkdtemp: 0700) directory.
  if (chmod(st.dir().c_str(), 0755) != 0) return Status::IOError("cannot chmod " + st.dir());
  PgqdStopper pgqd(st.dir() + "/state");

  n.Step("Create the queue",
         "What `outbox write --queue pgq` and `outbox relay --strategy pgq` do when it is "
         "missing: CREATE EXTENSION pgq, pgq.create_queue('dw_outbox') (it takes a first tick), "
         "pgq.register_consumer('dw_outbox', 'dw_relay') (the consumer starts at that tick).");
  outbox::PgqTickerSettings ticker;
  s = outbox::EnsurePgqQueue(st.dsn(), &ticker);
  if (!s.ok()) return s;
  Queue q = ReadQueue(st);
  n.Show(st.Query("postgres: pgq.queue",
                  "SELECT queue_name, queue_data_pfx, queue_ntables, queue_cur_table,"
                  " queue_rotation_period::text AS rotation_period FROM pgq.queue"));

  Interleaving il;
  s = Interleave(st, q, &il);
  if (!s.ok()) return s;

  n.Step("Keep autovacuum away from the event tables and the outbox",
         "So that the dead tuples we count are the load's, not what autovacuum left of them.");
  Session admin(&n, "admin", st.dsn());
  for (int k = 0; k < q.ntables; ++k) {
    admin.Exec("ALTER TABLE " + EventTable(q, k) + " SET (autovacuum_enabled = false)");
  }
  pqxx::result parts = admin.Quiet(
      "SELECT inhrelid::regclass::text FROM pg_inherits"
      " WHERE inhparent = 'outbox_table'::regclass ORDER BY 1");
  for (const auto& p : parts) {
    admin.Exec("ALTER TABLE " + p[0].as<std::string>() + " SET (autovacuum_enabled = false)");
  }

  Rotations rot;
  s = RotateRounds(st, &rot);
  if (!s.ok()) return s;
  const int64_t pgq_dead = EventTablesStat(st, q, "n_dead_tup");
  const int64_t pgq_upd_del = EventTablesStat(st, q, "n_tup_upd + n_tup_del");

  const int64_t kOutboxOrders = rot.consumed;
  n.Step("The same number of events through outbox_table and the skip-locked relay",
         std::to_string(kOutboxOrders) +
             " orders (what the pgq relay consumed above): the relay "
             "DELETEs each row it publishes.");
  RunResult w =
      st.Run({"outbox", "write", "-n", std::to_string(kOutboxOrders), "-c", "2", "--json"});
  st.ShowResult(w, {"committed", "failed"});
  RunResult r = st.Run({"outbox", "relay", "--strategy", "skip-locked", "--until-drained", "--json",
                        "--no-maintain"});
  st.ShowResult(r, {"published", "errors"});
  // The relay's statistics reach the view when its backends report (at exit,
  // or about once a second): wait for its deletes, 10 s at most.
  int64_t outbox_del = 0;
  for (int i = 0; i < 100; ++i) {
    outbox_del = st.Int("SELECT n_tup_del FROM (" + std::string(kOutboxStatsSql) + ") s");
    if (outbox_del >= kOutboxOrders) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const int64_t outbox_dead =
      st.Int("SELECT n_dead_tup FROM (" + std::string(kOutboxStatsSql) + ") s");
  n.Show(st.Query("postgres: pg_stat_user_tables over outbox_table's partitions", kOutboxStatsSql));
  ShowEventTables(st, q, "for comparison");

  facts = {{"pgq_published_while_open", il.published_while_open},
           {"pgq_published_after_commit", il.published_after},
           {"pgq_missing", il.missing},
           {"pgq_delivered_out_of_order_commit", il.missing.empty() && il.clean},
           {"pgq_events_consumed", rot.consumed},
           {"rotations", rot.rotations},
           {"event_tables", q.ntables},
           {"pgq_rows_truncated", rot.truncated_rows},
           {"first_event_table_rows_at_end", rot.first_table_rows},
           {"pgq_event_tables_dead_tuples", pgq_dead},
           {"pgq_event_tables_updates_and_deletes", pgq_upd_del},
           {"outbox_events", r.Int("published")},
           {"outbox_deletes", outbox_del},
           {"outbox_dead_tuples", outbox_dead}};

  n.Conclude(
      il.missing.empty() && il.clean && il.published_while_open == 1 && il.published_after == 1,
      "the pgq relay published " + std::to_string(il.published_while_open) +
          " event(s) while A was open and " + std::to_string(il.published_after) +
          " after A committed; orders missing at the broker: " + std::to_string(il.missing.size()));
  n.Conclude(rot.rotations == q.ntables && rot.truncated_rows > 0 && rot.first_table_rows == 0,
             "after " + std::to_string(rot.consumed) + " events consumed, " +
                 std::to_string(rot.rotations) + " rotation(s) TRUNCATEd " +
                 std::to_string(rot.truncated_rows) +
                 " event row(s); the first event table holds " +
                 std::to_string(rot.first_table_rows) + " now");
  n.Conclude(pgq_dead == 0 && pgq_upd_del == 0 && outbox_dead > 0,
             "n_dead_tup: " + std::to_string(pgq_dead) + " in PgQ's event tables (" +
                 std::to_string(pgq_upd_del) + " updates or deletes), " +
                 std::to_string(outbox_dead) + " in outbox_table after skip-locked relayed " +
                 std::to_string(r.Int("published")) + " events");
  return Status::OK();
}

}  // namespace dw::demo
