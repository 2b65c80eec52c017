// Lesson `event-sourcing`: event sourcing, broker first (es/). The write
// publishes the OrderPlaced event and nothing else: the broker's log is the
// source of truth and there is no second write to lose. The `orders` table
// becomes a read model that `es project` builds from the topic, so the
// dual-write problem turns into a lag: right after "order placed" a reader
// of Postgres does not find the order (a read-your-writes miss). The
// projector commits each batch's rows with its consumed offset in ONE
// transaction, so a projector killed between its INSERT and its COMMIT
// resumes where its last commit ended: nothing skipped, nothing twice.
#include "demo/lessons.h"
#include "workload/verify.h"

namespace dw::demo {
namespace {

void ShowReadModel(Stage& st) {
  st.n().Show(st.Query("postgres: the read model and the projector's offset",
                       "SELECT (SELECT count(*) FROM orders) AS order_rows,"
                       " (SELECT count(DISTINCT id) FROM orders) AS distinct_ids,"
                       " coalesce((SELECT next_offset FROM es_offsets WHERE projector = 'orders'),"
                       " 0) AS next_offset"));
}

int64_t Rows(Stage& st) { return st.Int("SELECT count(*) FROM orders"); }

}  // namespace

Status LessonEventSourcing(Stage& st, Narrator& n, nlohmann::json& facts) {
  n.Step("Place 20 orders: the event only",
         "`es write` publishes OrderPlaced and returns once the broker has it durably. "
         "--ryw-probe: right after each acknowledgement, SELECT the order's row from Postgres.");
  RunResult w1 = st.Run({"es", "write", "-n", "20", "-c", "2", "--ryw-probe", "--json"});
  st.ShowResult(w1, {"committed", "failed", "read_your_writes"});
  if (w1.exit_code != 0) return Status::IOError("`es write` failed: " + OneLine(w1.err));
  const int64_t ryw_misses = w1.json.is_object() && w1.json.contains("read_your_writes")
                                 ? w1.json["read_your_writes"].value("misses", int64_t{-1})
                                 : -1;
  st.ShowTopic(3);
  n.Note("postgres: " + std::to_string(Rows(st)) +
         " orders rows: the read model has not seen a single acknowledged order");

  n.Step("The projector catches up",
         "`es project`: read a batch from the topic at the stored offset; INSERT its rows ... ON "
         "CONFLICT DO NOTHING and move es_offsets in ONE transaction.");
  RunResult p1 = st.Run({"es", "project", "--until-caught-up", "--json"});
  st.ShowResult(p1, {"events", "rows", "duplicates", "next_offset"});
  const int64_t rows_caught_up = Rows(st);
  ShowReadModel(st);

  n.Step("30 more orders, then a projector that dies mid-batch",
         "Batches of 10. `--crash-after-insert 2`: SIGKILL itself after the INSERT of its "
         "second batch, before that batch's COMMIT.");
  RunResult w2 = st.Run({"es", "write", "-n", "30", "-c", "2", "--json"});
  st.ShowResult(w2, {"committed", "failed"});
  RunResult crash =
      st.Run({"es", "project", "--batch", "10", "--crash-after-insert", "2", "--json"});
  n.Output("exit code " + std::to_string(crash.exit_code) + " (killed: -1)");
  const int64_t rows_after_crash = Rows(st);
  ShowReadModel(st);
  n.Note(
      "the first batch committed with its offset; the second's INSERT died with its "
      "transaction, offset and all");

  n.Step("Restart the projector",
         "It resumes at the stored offset: the killed batch's events are read again and "
         "inserted once.");
  RunResult p2 = st.Run({"es", "project", "--batch", "10", "--until-caught-up", "--json"});
  st.ShowResult(p2, {"events", "rows", "duplicates", "next_offset"});
  ShowReadModel(st);

  n.Step("verify", "Every row has exactly one event and every event its row.");
  workload::VerifyOptions vo;
  vo.dsn = st.dsn();
  vo.broker_url = st.broker_url();
  workload::VerifyReport vr;
  Status s = workload::Verify(vo, &vr);
  if (!s.ok()) return s;
  n.Output(vr.ToText(10));

  const int64_t rows_end = Rows(st);
  const int64_t distinct_end = st.Int("SELECT count(DISTINCT id) FROM orders");
  facts = {{"acknowledged_first", w1.Int("committed")},
           {"read_your_writes_misses", ryw_misses},
           {"rows_after_catch_up", rows_caught_up},
           {"projector_exit_code", crash.exit_code},
           {"rows_after_crash", rows_after_crash},
           {"rows_after_restart", rows_end},
           {"restart_duplicates", p2.Int("duplicates")},
           {"verify_clean", vr.ok()},
           {"rows", vr.rows},
           {"messages", vr.messages}};

  n.Conclude(w1.Int("committed") == 20 && ryw_misses == 20,
             std::to_string(w1.Int("committed")) +
                 " writes acknowledged by the broker; the "
                 "read-your-writes probe missed " +
                 std::to_string(ryw_misses) +
                 " of them in Postgres: the read model lags until the projector runs");
  n.Conclude(rows_caught_up == 20, "after one catch-up the read model had " +
                                       std::to_string(rows_caught_up) + " of 20 rows");
  n.Conclude(crash.exit_code == -1 && rows_after_crash == 30,
             "the projector killed after its second batch's INSERT left " +
                 std::to_string(rows_after_crash) +
                 " rows: 20 + its one committed batch of 10, the killed batch rolled back");
  n.Conclude(rows_end == 50 && distinct_end == 50 && p2.Int("duplicates") == 0,
             "restarted, it resumed at the stored offset: " + std::to_string(rows_end) + " rows, " +
                 std::to_string(distinct_end) + " distinct, " +
                 std::to_string(p2.Int("duplicates")) + " duplicate(s)");
  n.Conclude(vr.ok() && vr.rows == 50 && vr.messages == 50,
             "verify: " + std::string(vr.ok() ? "clean" : "violations") + ", " +
                 std::to_string(vr.rows) + " rows, " + std::to_string(vr.messages) +
                 " messages: none lost, none twice");
  return Status::OK();
}

}  // namespace dw::demo
