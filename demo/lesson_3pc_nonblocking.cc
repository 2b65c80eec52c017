// Lesson `3pc-nonblocking`: what three-phase commit buys over 2PC. Two real
// participant agents (`dualwrite 3pc agent`, one for Postgres, one for the
// broker) and a real coordinator (`dualwrite 3pc run --crash-at
// after-precommit-all`) that dies once every agent acknowledged PreCommit.
// Its prepared transaction holds the order's key, as in `2pc-blocking`, and
// (`--hot-rows 1`: the order reserves stock of product 1) that product's
// stock row; a second client writing the order row and a third updating the
// stock row wait - but only until the agents' timeout runs out and they
// commit by themselves (Skeen's termination rule: someone is precommitted,
// so everybody voted yes). No `recover` is run. Then the
// same coordinator dies after CanCommit: the agents, all uncertain, abort.
#include <thread>

#include "common/crash_exit.h"
#include "demo/blocked_writer.h"
#include "demo/lessons.h"
#include "demo/threepc_agents.h"
#include "workload/orders.h"
#include "workload/verify.h"

namespace dw::demo {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The agents' silence before they terminate: long enough to watch the
// waiters wait, short enough for a lesson.
constexpr int64_t kNonblockingTimeoutMs = 3000;

// With `--hot-rows 1` there is one product, so every order reserves one
// unit of product 1 and the crashed coordinator's prepared transaction
// holds that stock row's lock.
constexpr int64_t kHotProduct = 1;

int64_t MsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<milliseconds>(to - from).count();
}

}  // namespace

Status Lesson3pcNonblocking(Stage& st, Narrator& n, nlohmann::json& facts) {
  n.Step("Two participant agents: one for Postgres, one for the broker",
         "Each holds its participant's 3PC state durably (Postgres: the prepared transaction "
         "plus a row of dw_3pc_state; the broker: its precommit record). An agent that hears "
         "nothing from the coordinator for --timeout " +
             std::to_string(kNonblockingTimeoutMs) +
             " ms finishes the transaction with the other.");
  LessonAgents agents;
  Status s = StartLessonAgents(st, kNonblockingTimeoutMs, false, &agents);
  if (!s.ok()) return s;

  n.Step("A coordinator places one order and dies after every PreCommit was acknowledged",
         "`--crash-at after-precommit-all`: both agents voted yes (CanCommit) and acknowledged "
         "PreCommit, then the coordinator _exits before any DoCommit. In 2PC this is the "
         "moment that blocks until recovery (lesson 2pc-blocking).");
  RunResult crash = st.Run({"3pc", "run", "-n", "1", "--hot-rows", "1", "--agents", agents.List(),
                            "--coordinator-id", "demo", "--crash-at", "after-precommit-all"});
  const auto died = Clock::now();
  n.Output("exit code " + std::to_string(crash.exit_code) + "; stderr: " + OneLine(crash.err));
  if (crash.exit_code != kCrashExitCode) {
    return Status::IOError("`3pc run --crash-at after-precommit-all` exited " +
                           std::to_string(crash.exit_code) + ": " + OneLine(crash.err));
  }
  const int64_t id = st.Int("SELECT last_value FROM orders_id_seq");
  st.ShowPrepared();
  n.Show(st.Query("postgres: the Postgres agent's 3PC state",
                  "SELECT gid, state FROM dw_3pc_state ORDER BY gid"));
  st.ShowBrokerPrepared();

  n.Step("A second client writes the same order row",
         "It upserts order " + std::to_string(id) +
             ": the prepared transaction holds that key, so the statement waits, exactly as "
             "in 2pc-blocking. Nobody will run a recover command this time.");
  BlockedWriter w(st, n, "waiter", "dw-demo-waiter",
                  "INSERT INTO orders (id, customer, amount_cents) VALUES (" + std::to_string(id) +
                      ", 'second-client', 1) ON CONFLICT (id) DO UPDATE SET amount_cents = "
                      "orders.amount_cents + 1");
  const int64_t waiter_start_ms = MsBetween(died, w.started_at());
  const bool waiting = w.WaitUntilBlocked();
  n.Show(st.Query("postgres: pg_stat_activity (the waiter)",
                  "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity"
                  " WHERE application_name = 'dw-demo-waiter'"));
  n.Note("`--hot-rows 1`: the order also reserved one unit of product " +
         std::to_string(kHotProduct) +
         " in the same prepared transaction, which holds that stock row too. A third client "
         "updates it.");
  BlockedWriter sw(
      st, n, "stock-waiter", "dw-demo-stock-waiter",
      "UPDATE stock SET reserved = reserved + 1 WHERE product = " + std::to_string(kHotProduct));
  const int64_t stock_waiter_start_ms = MsBetween(died, sw.started_at());
  const bool stock_waiting = sw.WaitUntilBlocked();
  n.Show(st.Query("postgres: pg_stat_activity (the stock waiter)",
                  "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity"
                  " WHERE application_name = 'dw-demo-stock-waiter'"));

  n.Step("The class waits - for the agents, not for an operator",
         "Each agent's timer runs out " + std::to_string(kNonblockingTimeoutMs) +
             " ms after the coordinator's last word. The lowest agent id reachable (1) becomes "
             "the recovery coordinator, reads both states (precommitted) and decides commit.");
  const int64_t decided_ms = WaitAgentsDecided(agents, std::chrono::seconds(30));
  const int64_t decided_after_crash_ms = decided_ms < 0 ? -1 : MsSince(died);
  const bool finished = w.WaitFinished(std::chrono::seconds(10));
  const bool stock_finished = sw.WaitFinished(std::chrono::seconds(10));
  const int64_t blocked_ms = w.blocked_ms();
  const int64_t stock_blocked_ms = sw.blocked_ms();
  for (int a : {1, 2}) {
    for (const auto& line : TerminationLines(agents, a)) n.Output(line);
  }
  n.Note("the agents had decided " + std::to_string(decided_after_crash_ms) +
         " ms after the coordinator died; the waiter, started " + std::to_string(waiter_start_ms) +
         " ms after the death, was blocked " + std::to_string(blocked_ms) + " ms" +
         (w.error().empty() ? "" : "; error: " + w.error()));
  n.Note("the stock waiter, started " + std::to_string(stock_waiter_start_ms) +
         " ms after the death, was blocked " + std::to_string(stock_blocked_ms) + " ms" +
         (sw.error().empty() ? "" : "; error: " + sw.error()));
  n.Note(
      "2pc-blocking, same situation: the waiter is still blocked when that lesson gives up "
      "after 2 s and runs `2pc recover`; without an operator it waits for good.");
  st.ShowPrepared();
  st.ShowBrokerPrepared();
  st.ShowOrders();
  n.Show(st.Query("postgres: stock (the order's reservation and the stock waiter's)",
                  "SELECT product, reserved FROM stock ORDER BY product"));
  st.ShowTopic();
  const int64_t stock_reserved =
      st.Int("SELECT reserved FROM stock WHERE product = " + std::to_string(kHotProduct));
  const bool committed_row =
      st.Int("SELECT count(*) FROM orders WHERE id = " + std::to_string(id)) == 1;
  const bool committed_message = HasOrderMessage(st, id);

  n.Step("Once more, the coordinator dying after CanCommit",
         "`--crash-at after-cancommit`: both agents voted yes but nobody got a PreCommit. "
         "Every agent is uncertain, so nobody can have committed: the rule says abort.");
  RunResult early = st.Run({"3pc", "run", "-n", "1", "--agents", agents.List(), "--coordinator-id",
                            "demo", "--crash-at", "after-cancommit"});
  n.Output("exit code " + std::to_string(early.exit_code) + "; stderr: " + OneLine(early.err));
  if (early.exit_code != kCrashExitCode) {
    return Status::IOError("`3pc run --crash-at after-cancommit` exited " +
                           std::to_string(early.exit_code) + ": " + OneLine(early.err));
  }
  const int64_t id2 = st.Int("SELECT last_value FROM orders_id_seq");
  st.ShowPrepared();
  const int64_t aborted_ms = WaitAgentsDecided(agents, std::chrono::seconds(30));
  for (const auto& line : TerminationLines(agents, 1)) {
    if (line.find(":" + std::to_string(id2) + ":") != std::string::npos ||
        line.find(":" + std::to_string(id2) + " ") != std::string::npos) {
      n.Output(line);
    }
  }
  const bool aborted_row =
      st.Int("SELECT count(*) FROM orders WHERE id = " + std::to_string(id2)) == 0;
  const bool aborted_message = !HasOrderMessage(st, id2);
  st.ShowPrepared();
  st.ShowOrders();

  n.Step("verify", "Every order in both places exactly once, nothing left prepared.");
  workload::VerifyOptions vo;
  vo.dsn = st.dsn();
  vo.broker_url = st.broker_url();
  workload::VerifyReport vr;
  s = workload::Verify(vo, &vr);
  if (!s.ok()) return s;
  n.Output(vr.ToText(10));

  const bool waited_for_agents =
      waiting && finished && w.error().empty() && decided_ms >= 0 && blocked_ms > 0;
  const bool stock_waited_for_agents = stock_waiting && stock_finished && sw.error().empty() &&
                                       decided_ms >= 0 && stock_blocked_ms > 0;
  facts = {{"order_id", id},
           {"agent_timeout_ms", kNonblockingTimeoutMs},
           {"coordinator_exit_code", crash.exit_code},
           {"waiter_was_waiting_on_lock", waiting},
           {"waiter_started_after_crash_ms", waiter_start_ms},
           {"waiter_blocked_ms", blocked_ms},
           {"waiter_error", w.error()},
           {"hot_product", kHotProduct},
           {"stock_waiter_was_waiting_on_lock", stock_waiting},
           {"stock_waiter_started_after_crash_ms", stock_waiter_start_ms},
           {"stock_waiter_blocked_ms", stock_blocked_ms},
           {"stock_waiter_error", sw.error()},
           {"stock_reserved", stock_reserved},
           {"agents_decided_after_crash_ms", decided_after_crash_ms},
           {"committed_row", committed_row},
           {"committed_message", committed_message},
           {"cancommit_order_id", id2},
           {"cancommit_exit_code", early.exit_code},
           {"cancommit_decided_ms", aborted_ms},
           {"cancommit_row_absent", aborted_row},
           {"cancommit_message_absent", aborted_message},
           {"recover_run", false},
           {"verify_clean", vr.ok()}};

  n.Conclude(waiting, std::string("the second client's statement ") +
                          (waiting ? "waited on the lock of the prepared transaction"
                                   : "never waited on a lock"));
  n.Conclude(
      waited_for_agents && committed_row && committed_message,
      "with no recover command, the agents committed " + std::to_string(decided_after_crash_ms) +
          " ms after the coordinator died (their "
          "timeout: " +
          std::to_string(kNonblockingTimeoutMs) +
          " ms), and the waiter was "
          "blocked " +
          std::to_string(blocked_ms) + " ms - not until an operator came, as in 2pc-blocking");
  n.Conclude(
      stock_waited_for_agents && stock_reserved == 2,
      "the third client's UPDATE of product " + std::to_string(kHotProduct) + "'s stock row " +
          (stock_waiting ? "waited on the same prepared transaction" : "never waited on a lock") +
          " and was blocked " + std::to_string(stock_blocked_ms) + " ms" +
          (stock_waited_for_agents ? ", until the agents committed" : "") +
          "; the row's reserved count is " + std::to_string(stock_reserved) +
          " (the order's unit and the waiter's)");
  n.Conclude(aborted_ms >= 0 && aborted_row && aborted_message,
             "killed after CanCommit, the uncertain agents aborted by themselves: order " +
                 std::to_string(id2) + " has " + (aborted_row ? "no row" : "a row") + " and " +
                 (aborted_message ? "no message" : "a message"));
  n.Conclude(vr.ok(), "verify: " + std::string(vr.ok() ? "clean" : "violations") +
                          ", nothing left prepared");
  return Status::OK();
}

}  // namespace dw::demo
