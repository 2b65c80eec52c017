// Lesson `2pc-blocking`: the blocking property of two-phase commit. A real
// coordinator (`dualwrite 2pc run --crash-at after-decision`) dies after its
// COMMIT decision is durable and before phase 2: its prepared transaction
// stays at Postgres with its locks. A second client writing the same row
// waits - for as long as nobody resolves the transaction - until
// `dualwrite 2pc recover` commits it.
#include <thread>

#include "coordinator/crash_points.h"
#include "demo/blocked_writer.h"
#include "demo/lessons.h"
#include "workload/verify.h"

namespace dw::demo {
namespace {

using std::chrono::milliseconds;

}  // namespace

Status Lesson2pcBlocking(Stage& st, Narrator& n, nlohmann::json& facts) {
  n.Step("A coordinator places one order and dies right after its COMMIT decision",
         "`--crash-at after-decision`: phase 1 done at both participants, the decision durable "
         "in its log (table dw_decisions), and then _exit before any COMMIT PREPARED.");
  RunResult crash = st.Run({"2pc", "run", "-n", "1", "--coordinator-id", "demo", "--crash-at",
                            "after-decision", "--recovery-interval-ms", "0"});
  n.Output("exit code " + std::to_string(crash.exit_code) + "; stderr: " + OneLine(crash.err));
  if (crash.exit_code != coord::kCrashExitCode) {
    return Status::IOError("`2pc run --crash-at after-decision` exited " +
                           std::to_string(crash.exit_code) + ", not with the crash code " +
                           std::to_string(coord::kCrashExitCode) + ": " + OneLine(crash.err));
  }
  st.ShowPrepared();
  st.ShowBrokerPrepared();
  st.ShowOrders();
  n.Show(st.Query("postgres: the decision log", "SELECT * FROM dw_decisions ORDER BY 1 LIMIT 5"));
  // The order id the dead coordinator used: the first of orders_id_seq.
  const int64_t id = st.Int("SELECT last_value FROM orders_id_seq");

  n.Step("A second client writes the same order row",
         "It upserts order " + std::to_string(id) +
             ": the prepared transaction inserted that key and still holds it, so the client "
             "must wait to learn whether the key exists. Its UPDATE cannot start.");
  BlockedWriter w(st, n, "waiter", "dw-demo-waiter",
                  "INSERT INTO orders (id, customer, amount_cents) VALUES (" + std::to_string(id) +
                      ", 'second-client', 1) ON CONFLICT (id) DO UPDATE SET amount_cents = "
                      "orders.amount_cents + 1");
  const bool waiting = w.WaitUntilBlocked();
  n.Show(st.Query("postgres: pg_stat_activity (the waiter)",
                  "SELECT pid, state, wait_event_type, wait_event,"
                  " round(extract(epoch FROM now() - query_start) * 1000)::bigint AS waiting_ms"
                  " FROM pg_stat_activity WHERE application_name = 'dw-demo-waiter'"));
  n.Show(st.Query("postgres: pg_locks, who waits for whom",
                  "SELECT w.pid AS waiter_pid, w.locktype, w.mode AS wants,"
                  " w.transactionid AS on_xid, coalesce(h.pid::text, 'none') AS holder_pid,"
                  " h.virtualtransaction AS holder_vxid, p.gid AS holder_gid"
                  " FROM pg_locks w"
                  " JOIN pg_locks h ON h.locktype = w.locktype AND h.granted"
                  "  AND h.transactionid IS NOT DISTINCT FROM w.transactionid"
                  "  AND h.relation IS NOT DISTINCT FROM w.relation"
                  "  AND h.page IS NOT DISTINCT FROM w.page"
                  "  AND h.tuple IS NOT DISTINCT FROM w.tuple"
                  " LEFT JOIN pg_prepared_xacts p ON p.transaction = h.transactionid"
                  " WHERE NOT w.granted"));
  n.Note(
      "holder_pid 'none': no session holds the lock - the prepared transaction does, and it has "
      "no client left that could end it.");

  n.Step("The class watches the waiter wait",
         "We give it 2 seconds. A dead coordinator can leave it waiting for hours.");
  std::this_thread::sleep_for(milliseconds(2000));
  const bool still_waiting_before_recover = !w.done();
  const int64_t recover_started_ms = MsSince(w.started_at());
  n.Note("after " + std::to_string(recover_started_ms) + " ms the waiter is " +
         (still_waiting_before_recover ? "still waiting" : "done (unexpected)"));

  n.Step("`dualwrite 2pc recover`: the decision log says COMMIT, so recovery commits",
         "Recovery lists the coordinator's prepared gids at each participant, finds the COMMIT "
         "record, and sends COMMIT PREPARED / commit. The lock is released.");
  RunResult rec = st.Run({"2pc", "recover", "--coordinator-id", "demo"});
  const int64_t recover_done_ms = MsSince(w.started_at());
  n.Output(rec.out + rec.err);
  const bool finished = w.WaitFinished(std::chrono::seconds(10));
  const int64_t blocked_ms = w.blocked_ms();
  const bool finished_after_recover = finished && w.error().empty() &&
                                      still_waiting_before_recover &&
                                      blocked_ms >= recover_started_ms;
  n.Note("the waiter finished " + std::to_string(blocked_ms) + " ms after it started (" +
         std::to_string(blocked_ms - recover_started_ms) + " ms after recover started)" +
         (w.error().empty() ? "" : "; error: " + w.error()));
  st.ShowPrepared();
  st.ShowBrokerPrepared();
  st.ShowOrders();
  st.ShowTopic();

  n.Step("verify", "Every order in both places exactly once, nothing left prepared.");
  workload::VerifyOptions vo;
  vo.dsn = st.dsn();
  vo.broker_url = st.broker_url();
  workload::VerifyReport vr;
  Status s = workload::Verify(vo, &vr);
  if (!s.ok()) return s;
  n.Output(vr.ToText(10));
  const int64_t amount = st.Int("SELECT amount_cents FROM orders WHERE id = " + std::to_string(id));

  facts = {{"order_id", id},
           {"coordinator_exit_code", crash.exit_code},
           {"waiter_was_waiting_on_lock", waiting},
           {"waiter_blocked_ms", blocked_ms},
           {"recover_started_ms", recover_started_ms},
           {"recover_finished_ms", recover_done_ms},
           {"recover_exit_code", rec.exit_code},
           {"waiter_finished_after_recover", finished_after_recover},
           {"waiter_error", w.error()},
           {"verify_clean", vr.ok()}};

  n.Conclude(waiting, std::string("the second client's statement ") +
                          (waiting ? "waited on a lock (pg_stat_activity wait_event_type Lock) "
                                     "held by the prepared transaction"
                                   : "never waited on a lock"));
  n.Conclude(
      finished_after_recover,
      "it was blocked " + std::to_string(blocked_ms) + " ms and finished " +
          (finished_after_recover ? "only after `2pc recover` started (at " +
                                        std::to_string(recover_started_ms) + " ms) and committed"
                                  : "without waiting for recovery"));
  n.Conclude(rec.exit_code == 0, "`2pc recover` exit code " + std::to_string(rec.exit_code));
  n.Conclude(vr.ok(), "verify: " + std::string(vr.ok() ? "clean" : "violations") +
                          "; the order's amount is now " + std::to_string(amount) +
                          " (the waiter's update applied on top of the committed row)");
  return Status::OK();
}

}  // namespace dw::demo
