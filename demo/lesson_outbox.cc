// Lesson `outbox`: the transactional outbox through a broker outage. The
// order and its event are written in ONE local transaction, so writes keep
// succeeding while the broker is down; the events wait in outbox_table (the
// backlog grows) and the relay delivers them once the broker is back.
#include "demo/lessons.h"
#include "demo/order_text.h"
#include "outbox/partitions.h"
#include "outbox/schema.h"
#include "workload/verify.h"

namespace dw::demo {
namespace {

int64_t Backlog(Stage& st) { return st.Int("SELECT count(*) FROM outbox_table"); }

}  // namespace

Status LessonOutbox(Stage& st, Narrator& n, nlohmann::json& facts) {
  int partitions = 0;
  Status s = st.EnsureOutboxSchema(&partitions);
  if (!s.ok()) return s;
  n.Note("schema: orders, outbox_table (partitioned by created_dttm; " +
         std::to_string(partitions) + " partitions created ahead), outbox_counter");

  n.Step("Place one order the outbox way",
         "One statement, so one transaction: the orders row and its outbox row commit together "
         "or not at all. The broker is not involved.");
  Session app(&n, "app", st.dsn());
  // The id from the same sequence `outbox write` draws its blocks of 1000 from.
  const int64_t id = app.Exec("SELECT nextval('orders_id_seq')")[0][0].as<int64_t>();
  app.Exec(OutboxWriteSql(app, workload::MakeOrder(id, 1, 1)));
  st.ShowOrders();
  st.ShowOutbox(3);

  n.Step("The relay publishes it",
         "skip-locked: DELETE the oldest rows (FOR UPDATE SKIP LOCKED) RETURNING them, publish, "
         "COMMIT. --until-drained exits once nothing is left.");
  RunResult r1 = st.Run({"outbox", "relay", "--strategy", "skip-locked", "--until-drained",
                         "--json", "--no-maintain"});
  st.ShowResult(r1, {"published", "errors", "drained"});
  st.ShowOutbox(0);
  st.ShowTopic(3);

  n.Step("The broker goes down", "We SIGKILL the broker process.");
  s = st.KillBroker();
  if (!s.ok()) return s;
  HttpResponse health = st.BrokerHttp("GET", "/healthz");

  n.Step("Writes keep succeeding",
         "`outbox write` places 40 orders with 2 clients: each is a local Postgres transaction.");
  RunResult w1 = st.Run({"outbox", "write", "-n", "40", "-c", "2", "--json"});
  st.ShowResult(w1, {"committed", "failed", "throughput_per_s"});
  const int64_t backlog1 = Backlog(st);
  st.ShowOutbox(3);

  n.Step("The relay tries for 3 seconds and cannot publish",
         "Each attempt fails at the broker, the DELETE is rolled back, the relay backs off. "
         "Nothing is lost: the rows wait.");
  RunResult r2 = st.Run({"outbox", "relay", "--strategy", "skip-locked", "--max-run-s", "3",
                         "--json", "--no-maintain"});
  st.ShowResult(r2, {"published", "errors"});
  const int64_t backlog2 = Backlog(st);
  n.Note("backlog: " + std::to_string(backlog2) + " events");

  n.Step("More writes: the backlog grows", "Another 40 orders while the broker is still down.");
  RunResult w2 = st.Run({"outbox", "write", "-n", "40", "-c", "2", "--json"});
  st.ShowResult(w2, {"committed", "failed", "throughput_per_s"});
  const int64_t backlog3 = Backlog(st);
  st.ShowOutbox(0);

  n.Step("The broker comes back, the relay drains the backlog",
         "Same port, same data folder. The relay publishes everything that waited.");
  s = st.StartBroker();
  if (!s.ok()) return s;
  n.Output("broker restarted (pid " + std::to_string(st.broker_pid()) + ")");
  RunResult r3 = st.Run({"outbox", "relay", "--strategy", "skip-locked", "--until-drained",
                         "--json", "--no-maintain"});
  st.ShowResult(r3, {"published", "errors", "drained", "elapsed_s"});
  const int64_t backlog4 = Backlog(st);
  st.ShowOutbox(0);
  st.ShowTopic(3);

  n.Step("verify", "Every order exactly once at the broker.");
  workload::VerifyOptions vo;
  vo.dsn = st.dsn();
  vo.broker_url = st.broker_url();
  workload::VerifyReport vr;
  s = workload::Verify(vo, &vr);
  if (!s.ok()) return s;
  n.Output(vr.ToText(10));

  const int64_t committed = w1.Int("committed") + w2.Int("committed");
  const int64_t failed = w1.Int("failed") + w2.Int("failed");
  const int64_t published_down = r2.Int("published");
  const int64_t drained = r3.Int("published");
  facts = {{"broker_health_status_while_down", health.status},
           {"writes_committed_during_outage", committed},
           {"writes_failed_during_outage", failed},
           {"backlog", {backlog1, backlog2, backlog3}},
           {"relay_published_while_down", published_down},
           {"relay_errors_while_down", r2.Int("errors")},
           {"relay_published_after_return", drained},
           {"backlog_after_drain", backlog4},
           {"verify_clean", vr.ok()},
           {"rows", vr.rows},
           {"messages", vr.messages}};

  n.Conclude(committed == 80 && failed == 0, "with the broker down, " + std::to_string(committed) +
                                                 " of 80 writes committed (" +
                                                 std::to_string(failed) + " failed)");
  n.Conclude(backlog1 > 0 && backlog3 > backlog1 && published_down == 0,
             "the backlog grew " + std::to_string(backlog1) + " -> " + std::to_string(backlog2) +
                 " -> " + std::to_string(backlog3) + " while the relay published " +
                 std::to_string(published_down) + " (the broker was down)");
  n.Conclude(drained == backlog3 && backlog4 == 0,
             "once the broker returned the relay published " + std::to_string(drained) +
                 " events; backlog now " + std::to_string(backlog4));
  n.Conclude(vr.ok() && vr.rows == 81, "verify: " + std::string(vr.ok() ? "clean" : "violations") +
                                           ", " + std::to_string(vr.rows) + " orders, " +
                                           std::to_string(vr.messages) +
                                           " messages: none lost, none twice");
  return Status::OK();
}

}  // namespace dw::demo
