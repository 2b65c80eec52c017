// Lesson `3pc-partition`: what three-phase commit gives up. Its termination
// rule ("every participant I can reach is uncertain -> abort") is sound
// only if "unreachable" means "crashed". Here the network splits instead:
// the two agents reach each other only through fault proxies, which are
// told to refuse; the coordinator sends PreCommit to the Postgres agent and
// is cut off before the broker agent's (it dies there: --crash-at
// after-precommit-some). Each side then terminates with what it can reach:
// the precommitted Postgres side commits, the uncertain broker side aborts.
// The order row exists without its message, and verify says so. 2PC would
// have blocked here instead, and stayed atomic.
#include <thread>

#include "common/crash_exit.h"
#include "demo/lessons.h"
#include "demo/threepc_agents.h"
#include "workload/orders.h"
#include "workload/verify.h"

namespace dw::demo {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kPartitionTimeoutMs = 1000;

// The decision agent `id` logged for `gid` ("commit", "abort", "" if none).
std::string DecisionLogged(const LessonAgents& a, int id, const std::string& gid) {
  std::string d;
  for (const auto& line : TerminationLines(a, id)) {
    if (line.find("terminated " + gid + ":") == std::string::npos) continue;
    const auto arrow = line.find("-> ");
    if (arrow != std::string::npos)
      d = line.substr(arrow + 3, line.find(' ', arrow + 3) - arrow - 3);
  }
  return d;
}

}  // namespace

Status Lesson3pcPartition(Stage& st, Narrator& n, nlohmann::json& facts) {
  n.Step("Two agents that reach each other only through fault proxies",
         "The Postgres agent (id 1) and the broker agent (id 2), --timeout " +
             std::to_string(kPartitionTimeoutMs) +
             " ms; each one's calls to the other go through a `dualwrite proxy`.");
  LessonAgents agents;
  Status s = StartLessonAgents(st, kPartitionTimeoutMs, true, &agents);
  if (!s.ok()) return s;

  n.Step("The network splits",
         "Both proxies reset their connections and refuse new ones: agent 1 cannot reach agent 2, "
         "nor agent 2 agent 1. Each is alive and cannot tell the other from a dead process.");
  s = SplitAgents(st, agents, true);
  if (!s.ok()) return s;

  n.Step("PreCommit reaches one side only",
         "The coordinator (on agent 1's side) gets both yes votes, sends PreCommit to agent 1, "
         "and is cut off before agent 2's (`--crash-at after-precommit-some`: it dies there).");
  RunResult crash = st.Run({"3pc", "run", "-n", "1", "--agents", agents.List(), "--coordinator-id",
                            "demo", "--crash-at", "after-precommit-some"});
  n.Output("exit code " + std::to_string(crash.exit_code) + "; stderr: " + OneLine(crash.err));
  if (crash.exit_code != kCrashExitCode) {
    return Status::IOError("`3pc run --crash-at after-precommit-some` exited " +
                           std::to_string(crash.exit_code) + ": " + OneLine(crash.err));
  }
  const int64_t id = st.Int("SELECT last_value FROM orders_id_seq");
  const std::string gid = "dw3:demo:" + std::to_string(id);
  n.Show(st.Query("postgres: agent 1's 3PC state", "SELECT gid, state FROM dw_3pc_state"));
  st.ShowBrokerPrepared();

  n.Step("Each side runs the termination protocol with what it reaches",
         "Agent 1 sees itself precommitted -> commit. Agent 2 sees itself uncertain and nobody "
         "else -> abort. Both follow Skeen's rule correctly; the rule assumed the silent side "
         "was dead.");
  const int64_t decided_ms = WaitAgentsDecided(agents, std::chrono::seconds(30));
  for (int a : {1, 2}) {
    for (const auto& line : TerminationLines(agents, a)) n.Output(line);
  }
  const std::string pg_decision = DecisionLogged(agents, 1, gid);
  const std::string broker_decision = DecisionLogged(agents, 2, gid);
  st.ShowPrepared();
  st.ShowBrokerPrepared();
  st.ShowOrders();
  st.ShowTopic();
  const bool row = st.Int("SELECT count(*) FROM orders WHERE id = " + std::to_string(id)) == 1;
  const bool message = HasOrderMessage(st, id);

  n.Step("The network heals - too late",
         "Both sides have decided and forgotten; nothing reconciles them.");
  s = SplitAgents(st, agents, false);
  if (!s.ok()) return s;
  std::this_thread::sleep_for(milliseconds(2 * kPartitionTimeoutMs));

  n.Step("verify", "Is every order in both places?");
  workload::VerifyOptions vo;
  vo.dsn = st.dsn();
  vo.broker_url = st.broker_url();
  workload::VerifyReport vr;
  s = workload::Verify(vo, &vr);
  if (!s.ok()) return s;
  n.Output(vr.ToText(10));
  const bool missing_is_the_order = vr.missing.size() == 1 && vr.missing[0] == id;

  facts = {{"order_id", id},
           {"agent_timeout_ms", kPartitionTimeoutMs},
           {"coordinator_exit_code", crash.exit_code},
           {"agents_decided_ms", decided_ms},
           {"postgres_agent_decision", pg_decision},
           {"broker_agent_decision", broker_decision},
           {"row", row},
           {"message", message},
           {"verify_clean", vr.ok()},
           {"verify_missing", vr.missing.size()},
           {"verify_orphans", vr.orphans.size()},
           {"prepared_left", vr.prepared_postgres.size() + vr.prepared_broker.size()}};

  n.Conclude(decided_ms >= 0 && pg_decision == "commit" && broker_decision == "abort",
             "the two sides decided differently: the Postgres agent '" + pg_decision +
                 "', the broker agent '" + broker_decision + "', both done " +
                 std::to_string(decided_ms) + " ms after the coordinator died, neither blocked");
  n.Conclude(row && !message, std::string("order ") + std::to_string(id) + " has " +
                                  (row ? "its row" : "no row") + " and " +
                                  (message ? "its message" : "no message"));
  n.Conclude(!vr.ok() && missing_is_the_order,
             "verify reports the atomicity violation: " + std::to_string(vr.missing.size()) +
                 " row(s) without a message (" + (missing_is_the_order ? "this order" : "?") +
                 "), nothing left prepared to resolve it");
  return Status::OK();
}

}  // namespace dw::demo
