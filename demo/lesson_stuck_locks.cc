// Lesson `stuck-locks`: the status strategy's weak spot. A relay claims rows
// ('new' -> 'locked'), publishes, marks them 'sent'. If it dies between the
// claim and the mark, its rows stay 'locked' for ever - unless a reaper
// returns rows locked longer than a lease to 'new'.
#include <signal.h>

#include <thread>

#include "demo/lessons.h"
#include "outbox/partitions.h"
#include "outbox/schema.h"
#include "workload/verify.h"

namespace dw::demo {
namespace {

using std::chrono::milliseconds;

}  // namespace

Status LessonStuckLocks(Stage& st, Narrator& n, nlohmann::json& facts) {
  const std::string lease_ms = "3000";

  n.Step("Write 20 orders the outbox way", "Their events wait in outbox_table with status 'new'.");
  RunResult w = st.Run({"outbox", "write", "-n", "20", "-c", "1", "--json"});
  st.ShowResult(w, {"committed", "failed"});
  if (w.Int("committed") != 20) return Status::IOError("outbox write failed: " + w.err);
  st.ShowOutbox(0);

  n.Step("Make the broker slow",
         "Every publish now takes 30 s, so the relay will sit between its claim and its mark.");
  st.BrokerHttp("POST", "/admin/faults", R"({"latency_ms": 30000})");

  n.Step("Start a status relay (batch 10)",
         "It claims 10 rows - UPDATE ... SET status = 'locked' ... FOR UPDATE SKIP LOCKED - "
         "commits the claim, and starts publishing.");
  Child relay;
  Status s = st.Spawn({"outbox", "relay", "--strategy", "status", "--batch", "10", "--lease-ms",
                       lease_ms, "--broker-timeout-ms", "60000", "--no-maintain"},
                      &relay);
  if (!s.ok()) return s;
  int64_t locked = 0;
  for (int i = 0; i < 400 && locked == 0; ++i) {
    locked = st.Int("SELECT count(*) FROM outbox_table WHERE status = 'locked'");
    if (locked == 0) std::this_thread::sleep_for(milliseconds(25));
  }
  st.ShowOutbox(12);

  n.Step("SIGKILL the relay in the middle of its publish",
         "No chance to mark the rows 'sent' or to give them back.");
  RunResult killed = st.Signal(&relay, SIGKILL);
  n.Output("relay exit: " + std::string(killed.exit_code == -1 ? "killed by a signal"
                                                               : std::to_string(killed.exit_code)));
  const auto killed_at = std::chrono::steady_clock::now();
  st.BrokerHttp("POST", "/admin/faults", R"({"latency_ms": 0})");
  std::this_thread::sleep_for(milliseconds(1000));
  const int64_t locked_after_kill =
      st.Int("SELECT count(*) FROM outbox_table WHERE status = 'locked'");
  n.Note("one second later, rows still 'locked': " + std::to_string(locked_after_kill) +
         ". No live relay owns them; without a reaper they would never be sent.");
  st.ShowOutbox(0);

  n.Step("A new status relay with a " + lease_ms + " ms lease",
         "It sends the 'new' rows at once. Its reaper runs UPDATE ... SET status = 'new' WHERE "
         "status = 'locked' AND locked_at < now() - lease: the dead relay's rows come back once "
         "their lease expires, and are sent.");
  RunResult r2 =
      st.Run({"outbox", "relay", "--strategy", "status", "--batch", "10", "--lease-ms", lease_ms,
              "--until-drained", "--max-run-s", "40", "--json", "--no-maintain"});
  const int64_t freed_after_ms = MsSince(killed_at);
  st.ShowResult(r2, {"published", "reaped", "errors", "drained", "elapsed_s"});
  st.ShowOutbox(0);
  st.ShowTopic(3);

  n.Step("verify",
         "Every order exactly once at the broker (a publish the dead relay got through "
         "is deduplicated by event id).");
  workload::VerifyOptions vo;
  vo.dsn = st.dsn();
  vo.broker_url = st.broker_url();
  workload::VerifyReport vr;
  s = workload::Verify(vo, &vr);
  if (!s.ok()) return s;
  n.Output(vr.ToText(10));
  const int64_t not_sent = st.Int("SELECT count(*) FROM outbox_table WHERE status <> 'sent'");

  facts = {{"locked_when_killed", locked},
           {"locked_after_kill", locked_after_kill},
           {"lease_ms", std::stoi(lease_ms)},
           {"reaped", r2.Int("reaped")},
           {"published_after", r2.Int("published")},
           {"freed_and_sent_within_ms", freed_after_ms},
           {"not_sent_at_end", not_sent},
           {"verify_clean", vr.ok()},
           {"rows", vr.rows},
           {"messages", vr.messages}};

  n.Conclude(locked_after_kill > 0, std::to_string(locked_after_kill) +
                                        " row(s) stayed 'locked' after the relay was SIGKILLed");
  n.Conclude(r2.Int("reaped") == locked_after_kill,
             "the reaper returned " + std::to_string(r2.Int("reaped")) +
                 " row(s) to 'new' after the " + lease_ms + " ms lease; all rows sent " +
                 std::to_string(freed_after_ms) + " ms after the kill");
  n.Conclude(not_sent == 0 && vr.ok() && vr.rows == 20,
             "verify: " + std::string(vr.ok() ? "clean" : "violations") + ", " +
                 std::to_string(vr.rows) + " orders, " + std::to_string(vr.messages) +
                 " messages, " + std::to_string(not_sent) + " rows not 'sent'");
  return Status::OK();
}

}  // namespace dw::demo
