// Lesson `2pc`: two-phase commit by hand, one message at a time, exactly as
// the coordinator (coordinator/coordinator.h) does it: PREPARE at Postgres
// and at the broker, a decision, then COMMIT PREPARED / commit. Then the
// broker votes abort and both sides roll back: no row, no message.
#include "demo/lessons.h"
#include "demo/order_text.h"
#include "workload/verify.h"

namespace dw::demo {

Status Lesson2pc(Stage& st, Narrator& n, nlohmann::json& facts) {
  Status s = workload::EnsureOrdersSchema(st.dsn());
  if (!s.ok()) return s;

  n.Step("The parties, before anything happens",
         "An empty orders table, nothing prepared, an empty topic at the broker.");
  st.ShowOrders();
  st.ShowPrepared();
  st.ShowTopic();

  Session pg(&n, "coordinator", st.dsn());
  const std::string gid1 = "dw:demo:1";
  workload::Order o1 = workload::MakeOrder(1, 1, 1);
  n.Step("Phase 1 at Postgres: do the work, then PREPARE TRANSACTION",
         "The INSERT runs in a transaction that is then prepared: durable, its locks kept, but "
         "invisible to everyone until the decision. The session is free again afterwards.");
  pg.Exec("BEGIN");
  pg.Exec(InsertOrderSql(pg, o1));
  pg.Exec("PREPARE TRANSACTION " + pg.Quote(gid1));
  st.ShowOrders();
  st.ShowPrepared();

  n.Step("Phase 1 at the broker: prepare the message",
         "The broker stages the OrderPlaced message durably and votes. Readers cannot see it yet.");
  HttpResponse vote1 = st.BrokerHttp("POST", "/transactions/" + gid1 + "/prepare", PrepareBody(o1));
  st.ShowBrokerPrepared();
  st.ShowTopic();
  bool voted_commit = vote1.status == 200;

  n.Step("The decision: COMMIT",
         voted_commit ? "Both voted commit. A real coordinator now writes COMMIT to its decision "
                        "log (and fsyncs it) before sending any phase-2 message."
                      : "The broker did not vote commit: the decision has to be abort.");
  if (!voted_commit) return Status::Aborted("the broker did not vote commit on the happy path");

  n.Step("Phase 2: COMMIT PREPARED at Postgres, commit at the broker",
         "Both sides make the staged work visible. Each call is idempotent, so a coordinator "
         "that crashes here can simply send them again.");
  pg.Exec("COMMIT PREPARED " + pg.Quote(gid1));
  HttpResponse commit1 = st.BrokerHttp("POST", "/transactions/" + gid1 + "/commit");
  st.ShowOrders();
  st.ShowPrepared();
  st.ShowTopic();
  st.ShowBrokerPrepared();
  const int64_t rows_after_happy = st.Int("SELECT count(*) FROM orders WHERE id = 1");
  std::vector<BrokerMessage> msgs;
  s = st.TopicMessages(&msgs);
  if (!s.ok()) return s;
  const size_t msgs_after_happy = msgs.size();

  n.Step("Now a broker that votes abort",
         "We set the broker's fault knob abort_prob to 1: its next prepare will refuse.");
  st.BrokerHttp("POST", "/admin/faults", R"({"abort_prob": 1})");

  const std::string gid2 = "dw:demo:2";
  workload::Order o2 = workload::MakeOrder(2, 2, 1);
  n.Step("Phase 1 again: Postgres prepares, the broker votes abort",
         "Postgres votes commit (the row is prepared); the broker answers 409 with vote abort.");
  pg.Exec("BEGIN");
  pg.Exec(InsertOrderSql(pg, o2));
  pg.Exec("PREPARE TRANSACTION " + pg.Quote(gid2));
  HttpResponse vote2 = st.BrokerHttp("POST", "/transactions/" + gid2 + "/prepare", PrepareBody(o2));
  st.ShowPrepared();
  st.ShowBrokerPrepared();

  n.Step("The decision: ABORT, sent to everyone",
         "One abort vote decides the whole transaction. Nothing is logged (presumed abort): "
         "ROLLBACK PREPARED at Postgres, abort at the broker (also safe if it never staged it).");
  pg.Exec("ROLLBACK PREPARED " + pg.Quote(gid2));
  st.BrokerHttp("POST", "/transactions/" + gid2 + "/abort");
  st.BrokerHttp("POST", "/admin/faults", R"({"abort_prob": 0})");
  st.ShowOrders();
  st.ShowPrepared();
  st.ShowTopic();
  st.ShowBrokerPrepared();

  n.Step("verify: is every order in both places exactly once?",
         "workload::Verify compares orders with the topic by key, and looks for anything left "
         "prepared on either side.");
  workload::VerifyOptions vo;
  vo.dsn = st.dsn();
  vo.broker_url = st.broker_url();
  workload::VerifyReport vr;
  s = workload::Verify(vo, &vr);
  if (!s.ok()) return s;
  n.Output(vr.ToText(10));

  const int64_t rows2 = st.Int("SELECT count(*) FROM orders WHERE id = 2");
  s = st.TopicMessages(&msgs);
  if (!s.ok()) return s;
  size_t msgs2 = 0;
  for (const auto& m : msgs) msgs2 += m.key == "2";
  facts = {{"happy_vote_status", vote1.status},
           {"happy_commit_status", commit1.status},
           {"happy_row", rows_after_happy == 1},
           {"happy_message", msgs_after_happy == 1},
           {"abort_vote_status", vote2.status},
           {"aborted_row_visible", rows2 > 0},
           {"aborted_message_visible", msgs2 > 0},
           {"verify_clean", vr.ok()},
           {"rows", vr.rows},
           {"messages", vr.messages}};

  n.Conclude(rows_after_happy == 1 && msgs_after_happy == 1,
             "happy path: both voted commit (HTTP " + std::to_string(vote1.status) +
                 "), and after "
                 "phase 2 order 1 was " +
                 (rows_after_happy == 1 ? "" : "NOT ") + "a row and " +
                 std::to_string(msgs_after_happy) + " message(s) were in the topic");
  n.Conclude(vote2.status == 409,
             "the broker voted abort: HTTP " + std::to_string(vote2.status) + " on prepare");
  n.Conclude(rows2 == 0 && msgs2 == 0,
             "after the abort, order 2 has " + std::to_string(rows2) + " row(s) and " +
                 std::to_string(msgs2) + " message(s): " +
                 (rows2 == 0 && msgs2 == 0 ? "neither, atomically" : "a half-done write"));
  n.Conclude(vr.ok(), std::string("verify: ") + (vr.ok() ? "clean" : "violations") + " (" +
                          std::to_string(vr.rows) + " row(s), " + std::to_string(vr.messages) +
                          " message(s), " +
                          std::to_string(vr.prepared_postgres.size() + vr.prepared_broker.size()) +
                          " left prepared)");
  return Status::OK();
}

}  // namespace dw::demo
