// Lesson `saga`: the orchestrated saga of "place order" (saga/). T1 commits
// the order locally as 'pending' (the semantic lock); the pivot publishes
// OrderPlaced; T3 marks it 'placed'. When the broker refuses the publish (its
// reject_prob fault, the business "no") the saga compensates: the order
// becomes 'cancelled' and an OrderCancelled event is sent. Between T1 and
// the compensation the order is visible to everyone as 'pending' although
// no event for it exists: the saga's dirty-read window, shown here by a
// second session that reads it while the (slowed) publish is in flight.
#include <chrono>
#include <thread>

#include "demo/lessons.h"
#include "workload/verify.h"

namespace dw::demo {
namespace {

using std::chrono::milliseconds;

void ShowSagaOrders(Stage& st) {
  st.n().Show(st.Query("postgres: saga_orders (the business state) and saga_log",
                       "SELECT s.order_id, s.status, l.step, l.state, l.in_doubt"
                       " FROM saga_orders s JOIN saga_log l ON l.saga_id = s.order_id"
                       " ORDER BY s.order_id LIMIT 10"));
}

}  // namespace

Status LessonSaga(Stage& st, Narrator& n, nlohmann::json& facts) {
  n.Step("Place one order as a saga",
         "`saga run`: T1 inserts the orders row, saga_orders 'pending' and the saga_log row in "
         "one local transaction; the pivot publishes OrderPlaced; T3 sets 'placed'.");
  RunResult ok =
      st.Run({"saga", "run", "-n", "1", "-c", "1", "--recovery-interval-ms", "0", "--json"});
  st.ShowResult(ok, {"committed", "placed", "cancelled", "publish_attempts"});
  if (ok.exit_code != 0) return Status::IOError("`saga run` failed: " + OneLine(ok.err));
  ShowSagaOrders(st);
  st.ShowTopic(4);

  n.Step("The broker says no, slowly",
         "Its faults: every single-message publish refused with 422 (reject_prob 1, the "
         "business \"no\"), each answer 0.8 s late, so the pending order lives long enough "
         "to be watched (the saga waits up to 3 s per request: a late answer is still an "
         "answer).");
  st.BrokerHttp("POST", "/admin/faults", R"({"reject_prob": 1, "latency_ms": 800})");

  n.Step("A second order, and a second session reading while it runs",
         "`saga run -n 1` in the background. Session B polls saga_orders for pending orders: "
         "an order whose OrderPlaced does not exist, and that may never exist.");
  Child saga;
  Status s = st.Spawn({"saga", "run", "-n", "1", "-c", "1", "--recovery-interval-ms", "0",
                       "--publish-timeout-ms", "3000", "--json"},
                      &saga);
  if (!s.ok()) return s;
  Session b(&n, "B", st.dsn());
  const std::string probe =
      "SELECT order_id, status, now() - updated_at AS pending_for FROM saga_orders"
      " WHERE status = 'pending'";
  int64_t dirty_id = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (dirty_id == 0 && std::chrono::steady_clock::now() < give_up) {
    pqxx::result r = b.Quiet(probe);
    if (!r.empty()) {
      dirty_id = r[0][0].as<int64_t>();
      break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  if (dirty_id != 0) {
    pqxx::result seen = b.Exec(probe);
    Table t;
    t.caption = "B sees the pending order";
    t.header = {"order_id", "status", "pending_for"};
    for (const auto& row : seen) {
      t.rows.push_back({row[0].c_str(), row[1].c_str(), row[2].c_str()});
    }
    n.Show(t);
  }
  std::vector<BrokerMessage> during;
  (void)st.TopicMessages(&during);
  // Only its OrderPlaced counts: the read is answered late (the latency
  // fault), by when the compensation's OrderCancelled may already be there.
  size_t events_for_dirty = 0;
  for (const auto& m : during) events_for_dirty += m.id == "order-" + std::to_string(dirty_id);
  n.Note("broker: " + std::to_string(events_for_dirty) + " OrderPlaced for order " +
         std::to_string(dirty_id) + " while B reads it as pending");

  n.Step("The refusal is compensated",
         "The pivot's 422 is definitive (not retried): the order becomes 'cancelled' (its "
         "semantic lock released) and OrderCancelled is published, so a consumer that saw "
         "anything of it learns it is void.");
  RunResult refused = st.Wait(&saga, std::chrono::seconds(60));
  st.ShowResult(refused, {"committed", "aborted", "refused", "publish_attempts"});
  st.BrokerHttp("POST", "/admin/faults", R"({"reject_prob": 0, "latency_ms": 0})");
  ShowSagaOrders(st);
  st.ShowTopic(4);
  b.Exec("SELECT order_id, status FROM saga_orders WHERE order_id = " + std::to_string(dirty_id));

  n.Step("saga verify",
         "placed: exactly one OrderPlaced; cancelled: none, or OrderPlaced then OrderCancelled; "
         "nothing pending; no event without its row.");
  workload::VerifyOptions vo;
  vo.dsn = st.dsn();
  vo.broker_url = st.broker_url();
  workload::SagaVerifyReport vr;
  s = workload::VerifySaga(vo, &vr);
  if (!s.ok()) return s;
  n.Output(vr.ToText(10));

  const std::string final_status =
      dirty_id ? b.Quiet("SELECT status FROM saga_orders WHERE order_id = " +
                         std::to_string(dirty_id))[0][0]
                     .as<std::string>()
               : "";
  std::vector<BrokerMessage> after;
  (void)st.TopicMessages(&after);
  std::vector<std::string> dirty_events;
  for (const auto& m : after) {
    if (m.key == std::to_string(dirty_id)) dirty_events.push_back(m.id);
  }
  facts = {{"placed_first", ok.Int("placed")},
           {"dirty_read_order", dirty_id},
           {"events_while_pending", events_for_dirty},
           {"refused", refused.Int("refused")},
           {"final_status", final_status},
           {"events_after", dirty_events},
           {"verify_clean", vr.ok()},
           {"placed", vr.placed},
           {"cancelled", vr.cancelled}};

  n.Conclude(ok.Int("placed") == 1, "with the broker willing, the saga placed its order");
  n.Conclude(dirty_id != 0 && events_for_dirty == 0,
             "session B read order " + std::to_string(dirty_id) +
                 " as 'pending' while the "
                 "broker held " +
                 std::to_string(events_for_dirty) +
                 " OrderPlaced for it: a dirty read of a saga's intermediate state");
  const std::string cancelled_id = "order-" + std::to_string(dirty_id) + "-cancelled";
  n.Conclude(final_status == "cancelled" && dirty_events == std::vector<std::string>{cancelled_id},
             "the refused order ended '" + final_status + "' with " +
                 std::to_string(dirty_events.size()) +
                 " event(s), its compensation's OrderCancelled only");
  n.Conclude(vr.ok() && vr.placed == 1 && vr.cancelled == 1,
             "saga verify: " + std::string(vr.ok() ? "clean" : "violations") + ", " +
                 std::to_string(vr.placed) + " placed, " + std::to_string(vr.cancelled) +
                 " cancelled");
  return Status::OK();
}

}  // namespace dw::demo
