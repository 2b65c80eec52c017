// Lesson `offset-loss`: sending by offset (the seed's outbox_counter) loses
// events. Ids (and created_dttm) are handed out when a row is INSERTed, but
// rows become visible when their transaction COMMITs: a transaction that
// started first and commits last puts its row BEHIND a position the relay
// has already passed. offset-naive skips it forever; offset-safe (xid8
// positions, reading only below the oldest running transaction) waits.
#include "demo/lessons.h"
#include "demo/order_text.h"
#include "outbox/partitions.h"
#include "outbox/schema.h"
#include "workload/verify.h"

namespace dw::demo {
namespace {

struct Half {
  int64_t published_while_open = -1;
  int64_t published_after = -1;
  std::vector<std::string> missing;
  bool clean = false;
};

int64_t Published(const RunResult& r) {
  return r.json.is_object() && r.json.contains("published") ? r.json["published"].get<int64_t>()
                                                            : -1;
}

void ShowCounter(Stage& st) {
  st.n().Show(st.Query("postgres: outbox_counter",
                       "SELECT counter_key, counter_value, coalesce(counter_xid::text, '') AS "
                       "counter_xid FROM outbox_counter ORDER BY 1"));
}

// The forced interleaving, narrated: A inserts first (lower id) but commits
// last; B inserts and commits in between; the relay runs while A is open,
// and again after A commits.
Status Interleave(Stage& st, const std::string& strategy, int64_t id_a, int64_t id_b, Half* half) {
  Narrator& n = st.n();
  Session a(&n, "A", st.dsn());
  Session b(&n, "B", st.dsn());
  n.Step("[" + strategy + "] A begins and writes order " + std::to_string(id_a) +
             " - but does not commit yet",
         "Its outbox row takes the next id from outbox_table_id_seq now, at INSERT time.");
  a.Exec("BEGIN");
  a.Exec(OutboxWriteSql(a, workload::MakeOrder(id_a, id_a, 1)));

  n.Step("[" + strategy + "] B writes order " + std::to_string(id_b) + " and commits",
         "B's row gets a LARGER id than A's, and is visible first.");
  b.Exec("BEGIN");
  b.Exec(OutboxWriteSql(b, workload::MakeOrder(id_b, id_b, 1)));
  b.Exec("COMMIT");
  st.ShowOutbox(4);
  n.Note("A's row is not listed: it is not committed, so nobody else can see it.");

  n.Step("[" + strategy + "] The relay runs while A is still open", "");
  RunResult r1;
  if (strategy == "offset-naive") {
    n.Note("It reads rows past its stored position, publishes them, and advances the position.");
    r1 = st.Run(
        {"outbox", "relay", "--strategy", strategy, "--until-drained", "--json", "--no-maintain"});
  } else {
    n.Note(
        "It reads only rows of transactions older than every running one "
        "(txid < pg_snapshot_xmin(pg_current_snapshot())). A is running: B's row must wait. "
        "It would wait for ever, so we stop it after 2 seconds.");
    r1 = st.Run(
        {"outbox", "relay", "--strategy", strategy, "--max-run-s", "2", "--json", "--no-maintain"});
  }
  st.ShowResult(r1, {"published", "errors", "drained"});
  ShowCounter(st);
  st.ShowTopic(4);

  n.Step("[" + strategy + "] A commits", "Now A's row is visible - with the SMALLER id.");
  a.Exec("COMMIT");
  st.ShowOutbox(4);
  ShowCounter(st);

  n.Step("[" + strategy + "] The relay runs again",
         "--until-drained: until nothing is left to send.");
  RunResult r2 = st.Run({"outbox", "relay", "--strategy", strategy, "--until-drained",
                         "--max-run-s", "30", "--json", "--no-maintain"});
  st.ShowResult(r2, {"published", "errors", "drained"});
  ShowCounter(st);
  st.ShowTopic(4);

  n.Step("[" + strategy + "] verify (orders " + std::to_string(id_a) + " and " +
             std::to_string(id_b) + ")",
         "Is every order of this half at the broker?");
  workload::VerifyOptions vo;
  vo.dsn = st.dsn();
  vo.broker_url = st.broker_url();
  vo.min_id = std::min(id_a, id_b);
  vo.max_id = std::max(id_a, id_b);
  workload::VerifyReport vr;
  Status s = workload::Verify(vo, &vr);
  if (!s.ok()) return s;
  n.Output(vr.ToText(10));
  half->published_while_open = Published(r1);
  half->published_after = Published(r2);
  for (int64_t k : vr.missing) half->missing.push_back(std::to_string(k));
  half->clean = vr.ok();
  return Status::OK();
}

std::string Keys(const std::vector<std::string>& v) {
  if (v.empty()) return "none";
  std::string out;
  for (const auto& k : v) out += (out.empty() ? "" : ", ") + k;
  return out;
}

}  // namespace

Status LessonOffsetLoss(Stage& st, Narrator& n, nlohmann::json& facts) {
  Status s = st.EnsureOutboxSchema();
  if (!s.ok()) return s;
  st.WarnForeignPrepared();

  Half naive, safe;
  s = Interleave(st, "offset-naive", 1, 2, &naive);
  if (!s.ok()) return s;

  n.Step("Start the second half from an empty outbox",
         "Same interleaving, now with offset-safe. The first half's rows are removed so the safe "
         "relay starts from a clean slate (it keeps its own position, key 'offset-safe').");
  Session admin(&n, "admin", st.dsn());
  admin.Exec("DELETE FROM outbox_table");
  s = Interleave(st, "offset-safe", 3, 4, &safe);
  if (!s.ok()) return s;

  facts = {{"naive_published_while_open", naive.published_while_open},
           {"naive_published_after_commit", naive.published_after},
           {"naive_missing", naive.missing},
           {"safe_published_while_open", safe.published_while_open},
           {"safe_published_after_commit", safe.published_after},
           {"safe_missing", safe.missing},
           {"safe_clean", safe.clean}};

  n.Conclude(naive.missing == std::vector<std::string>{"1"},
             "offset-naive published " + std::to_string(naive.published_while_open) +
                 " event(s) while A was open and " + std::to_string(naive.published_after) +
                 " after A committed; verify names the missing order(s): " + Keys(naive.missing));
  n.Conclude(safe.missing.empty() && safe.clean,
             "offset-safe published " + std::to_string(safe.published_while_open) +
                 " while A was open (" +
                 (safe.published_while_open == 0 ? "B's row waited behind A"
                                                 : "B's row did not wait for A") +
                 ") and " + std::to_string(safe.published_after) +
                 " after; missing: " + Keys(safe.missing));
  return Status::OK();
}

}  // namespace dw::demo
