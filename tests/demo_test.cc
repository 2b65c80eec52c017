// `dualwrite demo LESSON`: each lesson run through the real binary, straight
// through (no --step), with --result; its lesson asserted from the measured
// facts, not from the printed text.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/process.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"

namespace dw::testing {
namespace {

struct DemoRun {
  int exit_code = -1;
  std::string out, err;
  nlohmann::json facts;
};

// Runs `dualwrite demo <args>` on the ctest environment (DUALWRITE_STATE_DIR).
DemoRun Demo(const std::vector<std::string>& args) {
  std::string dir = TempDir("demo-test");
  std::vector<std::string> argv = {"demo"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--result", dir + "/result.json"});
  CliRun run = RunCli(argv, std::chrono::seconds(150));
  EXPECT_FALSE(run.timed_out) << "demo " << args[0] << " ran for more than 150 s";
  DemoRun r;
  r.exit_code = run.exit_code;
  r.out = std::move(run.out);
  r.err = std::move(run.err);
  auto j = nlohmann::json::parse(ReadFileBytes(dir + "/result.json"), nullptr, false);
  if (!j.is_discarded()) r.facts = j;
  std::error_code ec;
  if (r.exit_code == 0) std::filesystem::remove_all(dir, ec);  // a failure keeps its result
  return r;
}

// The lesson ran, said it showed its point, and its facts are there.
void ExpectShowed(const DemoRun& r) {
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(r.facts.value("showed", false)) << r.facts.dump(2);
  // Every step is narrated: what happens, what is sent, what is read back.
  EXPECT_NE(r.out.find("[1] "), std::string::npos);
  EXPECT_NE(r.out.find("=== what we saw ==="), std::string::npos);
}

TEST(Demo, TwoPhaseCommitHappyPathThenAbortVote) {
  DemoRun r = Demo({"2pc"});
  ExpectShowed(r);
  const auto& f = r.facts;
  EXPECT_EQ(f["happy_vote_status"], 200);
  EXPECT_TRUE(f["happy_row"].get<bool>());
  EXPECT_TRUE(f["happy_message"].get<bool>());
  EXPECT_EQ(f["abort_vote_status"], 409);
  EXPECT_FALSE(f["aborted_row_visible"].get<bool>());
  EXPECT_FALSE(f["aborted_message_visible"].get<bool>());
  EXPECT_TRUE(f["verify_clean"].get<bool>());
  // The SQL and HTTP requests are printed as sent.
  EXPECT_NE(r.out.find("SQL coordinator> PREPARE TRANSACTION 'dw:demo:1';"), std::string::npos);
  EXPECT_NE(r.out.find("HTTP> POST /transactions/dw:demo:2/prepare"), std::string::npos);
  EXPECT_NE(r.out.find("HTTP< 409"), std::string::npos);
}

TEST(Demo, TwoPhaseCommitBlocksUntilRecovery) {
  DemoRun r = Demo({"2pc-blocking"});
  ExpectShowed(r);
  const auto& f = r.facts;
  EXPECT_EQ(f["coordinator_exit_code"], 3);  // the crash point, not an error
  EXPECT_TRUE(f["waiter_was_waiting_on_lock"].get<bool>());
  EXPECT_TRUE(f["waiter_finished_after_recover"].get<bool>());
  // The waiter really waited until recovery: at least the 2 s the lesson
  // lets it wait before `2pc recover` starts.
  EXPECT_GE(f["waiter_blocked_ms"].get<int64_t>(), f["recover_started_ms"].get<int64_t>());
  EXPECT_GE(f["waiter_blocked_ms"].get<int64_t>(), 2000);
  EXPECT_EQ(f["recover_exit_code"], 0);
  EXPECT_TRUE(f["verify_clean"].get<bool>());
  EXPECT_NE(r.out.find("2pc run -n 1 --coordinator-id demo --crash-at after-decision"),
            std::string::npos);
}

// 3PC does not block: the coordinator killed after every PreCommit, the
// agents commit by themselves once their timeout runs out; the waiters (one
// on the order row, one on the stock row the order reserved with
// --hot-rows 1) wait for them, not for a recover command (none is run).
// Killed after CanCommit, they abort.
TEST(Demo, ThreePhaseCommitAgentsFinishWithoutTheCoordinator) {
  DemoRun r = Demo({"3pc-nonblocking"});
  ExpectShowed(r);
  const auto& f = r.facts;
  EXPECT_EQ(f["coordinator_exit_code"], 3);
  EXPECT_TRUE(f["waiter_was_waiting_on_lock"].get<bool>());
  EXPECT_EQ(f["waiter_error"], "");
  EXPECT_TRUE(f["stock_waiter_was_waiting_on_lock"].get<bool>());
  EXPECT_GT(f["stock_waiter_blocked_ms"].get<int64_t>(), 0);
  EXPECT_EQ(f["stock_waiter_error"], "");
  // The prepared transaction's reservation committed, and the stock
  // waiter's update applied on top of it.
  EXPECT_EQ(f["stock_reserved"], 2);
  EXPECT_GE(f["agents_decided_after_crash_ms"].get<int64_t>(), 0);
  EXPECT_TRUE(f["committed_row"].get<bool>());
  EXPECT_TRUE(f["committed_message"].get<bool>());
  EXPECT_EQ(f["cancommit_exit_code"], 3);
  EXPECT_TRUE(f["cancommit_row_absent"].get<bool>());
  EXPECT_TRUE(f["cancommit_message_absent"].get<bool>());
  EXPECT_FALSE(f["recover_run"].get<bool>());
  EXPECT_TRUE(f["verify_clean"].get<bool>());
  EXPECT_EQ(r.out.find("$ dualwrite 2pc recover"), std::string::npos) << "no recover is run";
}

// 3PC under a partition: PreCommit reached the Postgres agent only, the
// agents cannot reach each other; one side commits, the other aborts, and
// verify reports the row without its message.
TEST(Demo, ThreePhaseCommitSplitsUnderAPartition) {
  DemoRun r = Demo({"3pc-partition"});
  ExpectShowed(r);
  const auto& f = r.facts;
  EXPECT_EQ(f["coordinator_exit_code"], 3);
  EXPECT_EQ(f["postgres_agent_decision"], "commit");
  EXPECT_EQ(f["broker_agent_decision"], "abort");
  EXPECT_TRUE(f["row"].get<bool>());
  EXPECT_FALSE(f["message"].get<bool>());
  EXPECT_FALSE(f["verify_clean"].get<bool>());
  EXPECT_EQ(f["verify_missing"], 1);
  EXPECT_EQ(f["verify_orphans"], 0);
  EXPECT_EQ(f["prepared_left"], 0);
}

TEST(Demo, OutboxSurvivesABrokerOutage) {
  DemoRun r = Demo({"outbox"});
  ExpectShowed(r);
  const auto& f = r.facts;
  EXPECT_EQ(f["writes_committed_during_outage"], 80);
  EXPECT_EQ(f["writes_failed_during_outage"], 0);
  EXPECT_EQ(f["relay_published_while_down"], 0);
  EXPECT_GT(f["relay_errors_while_down"].get<int64_t>(), 0);
  auto backlog = f["backlog"].get<std::vector<int64_t>>();
  ASSERT_EQ(backlog.size(), 3u);
  EXPECT_LT(backlog[0], backlog[2]);  // it grew
  EXPECT_EQ(f["relay_published_after_return"], backlog[2]);
  EXPECT_EQ(f["backlog_after_drain"], 0);
  EXPECT_TRUE(f["verify_clean"].get<bool>());
}

TEST(Demo, ReaperFreesRowsOfAKilledStatusRelay) {
  DemoRun r = Demo({"stuck-locks"});
  ExpectShowed(r);
  const auto& f = r.facts;
  EXPECT_GT(f["locked_after_kill"].get<int64_t>(), 0);
  EXPECT_EQ(f["reaped"], f["locked_after_kill"]);
  // Not before the lease ran out.
  EXPECT_GE(f["freed_and_sent_within_ms"].get<int64_t>(), f["lease_ms"].get<int64_t>());
  EXPECT_EQ(f["not_sent_at_end"], 0);
  EXPECT_TRUE(f["verify_clean"].get<bool>());
}

TEST(Demo, NaiveOffsetLosesAKeySafeDoesNot) {
  DemoRun r = Demo({"offset-loss"});
  ExpectShowed(r);
  const auto& f = r.facts;
  EXPECT_EQ(f["naive_missing"], nlohmann::json::array({"1"}));
  EXPECT_EQ(f["naive_published_while_open"], 1);
  EXPECT_EQ(f["naive_published_after_commit"], 0);
  EXPECT_EQ(f["safe_missing"], nlohmann::json::array());
  EXPECT_EQ(f["safe_published_while_open"], 0);
  EXPECT_EQ(f["safe_published_after_commit"], 2);
  EXPECT_NE(r.out.find("missing messages (row, no message): 1 [1]"), std::string::npos);
}

TEST(Demo, CdcSlotRetainsWalWhileTheRelayIsStopped) {
  DemoRun r = Demo({"cdc"});
  ExpectShowed(r);
  const auto& f = r.facts;
  const auto& wal = f["retained_wal_bytes"];
  EXPECT_GT(wal["after_300_writes"].get<int64_t>(), wal["relay_stopped"].get<int64_t>());
  EXPECT_LT(wal["after_relay_confirmed"].get<int64_t>(), wal["after_300_writes"].get<int64_t>());
  EXPECT_EQ(f["unconfirmed_wal_bytes"]["after_relay_confirmed"], 0);
  EXPECT_EQ(f["inserts_peeked_in_slot"], 300);
  EXPECT_EQ(f["published_after_restart"], 300);
  EXPECT_TRUE(f["verify_clean"].get<bool>());
}

TEST(Demo, StatusMakesMoreDeadTuplesAndAPreparedTransactionHoldsVacuum) {
  DemoRun r = Demo({"vacuum"});
  ExpectShowed(r);
  const auto& f = r.facts;
  EXPECT_GT(f["dead_tuples_status"].get<int64_t>(), f["dead_tuples_skip_locked"].get<int64_t>());
  EXPECT_EQ(f["removable_while_held"], 0);
  EXPECT_GT(f["dead_not_removable_while_held"].get<int64_t>(), 0);
  EXPECT_GE(f["removed_after_commit_prepared"].get<int64_t>(),
            f["dead_not_removable_while_held"].get<int64_t>());
  EXPECT_EQ(f["not_removable_after_commit_prepared"], 0);
}

// PgQ: offset-loss's interleaving through the queue loses nothing; three
// rounds of 1000 events and a rotation after each come back to the first
// event table and TRUNCATE it; the event tables have no dead tuples where
// outbox_table under skip-locked has one per event.
TEST(Demo, PgqDeliversAnOutOfOrderCommitAndRotatesWithoutDeadTuples) {
  DemoRun r = Demo({"pgq"});
  ExpectShowed(r);
  const auto& f = r.facts;
  EXPECT_TRUE(f["pgq_delivered_out_of_order_commit"].get<bool>());
  EXPECT_EQ(f["pgq_published_while_open"], 1);
  EXPECT_EQ(f["pgq_published_after_commit"], 1);
  EXPECT_EQ(f["pgq_missing"], nlohmann::json::array());
  EXPECT_EQ(f["pgq_events_consumed"], 3000);
  EXPECT_EQ(f["rotations"], f["event_tables"]);
  EXPECT_EQ(f["pgq_rows_truncated"], 1002);  // the first table: A, B and round 1
  EXPECT_EQ(f["first_event_table_rows_at_end"], 0);
  EXPECT_EQ(f["pgq_event_tables_dead_tuples"], 0);
  EXPECT_EQ(f["pgq_event_tables_updates_and_deletes"], 0);
  EXPECT_EQ(f["outbox_events"], 3000);
  EXPECT_EQ(f["outbox_deletes"], 3000);
  // Fewer than the deletes when a later read pruned a page on its way.
  EXPECT_GT(f["outbox_dead_tuples"].get<int64_t>(), 0);
  EXPECT_NE(r.out.find("SELECT pgq.maint_rotate_tables_step1('dw_outbox')"), std::string::npos);
}

// JetStream and RabbitMQ (the lesson starts nats-server and rabbitmq-server
// for its state folder): a relay killed at its COMMIT, after the server
// acknowledged its batch, leaves the rows unsent; the next relay publishes
// them again. JetStream drops the copies (Nats-Msg-Id within the duplicate
// window), RabbitMQ delivers them and the consumer's inbox absorbs them.
TEST(Demo, RealBrokerJetStreamDropsTheRepublishedBatchRabbitmqInboxAbsorbsIt) {
  DemoRun r = Demo({"real-broker"});
  ExpectShowed(r);
  const auto& f = r.facts;
  const int64_t n = f["orders_per_sink"].get<int64_t>();
  EXPECT_EQ(f["jetstream_stored_at_kill"], n);
  EXPECT_EQ(f["jetstream_rows_after_kill"], n);
  EXPECT_EQ(f["jetstream_republished"], n);
  EXPECT_EQ(f["jetstream_stream_after"], n);
  EXPECT_EQ(f["jetstream_duplicates_stored"], 0);
  EXPECT_TRUE(f["jetstream_verify_clean"].get<bool>());
  EXPECT_EQ(f["rabbitmq_queued_at_kill"], n);
  EXPECT_EQ(f["rabbitmq_rows_after_kill"], n);
  EXPECT_EQ(f["rabbitmq_republished"], n);
  EXPECT_EQ(f["rabbitmq_queue_after"], 2 * n);
  EXPECT_GE(f["rabbitmq_duplicates_delivered"].get<int64_t>(), 1);
  EXPECT_EQ(f["rabbitmq_duplicates_delivered"], n);
  EXPECT_EQ(f["consumer_delivered"], 2 * n);
  EXPECT_EQ(f["inbox_applied"], n);
  EXPECT_EQ(f["inbox_absorbed"], n);
  EXPECT_EQ(f["consumer_max_events_per_order"], 1);
  EXPECT_NE(r.out.find("wait_event  query"), std::string::npos) << "the held COMMIT is shown";
}

TEST(Demo, SagaCompensatesARefusedPublishAfterADirtyRead) {
  DemoRun r = Demo({"saga"});
  ExpectShowed(r);
  const auto& f = r.facts;
  EXPECT_EQ(f["placed_first"], 1);
  // A second session read the order as pending while no event of it existed.
  EXPECT_GT(f["dirty_read_order"].get<int64_t>(), 0);
  EXPECT_EQ(f["events_while_pending"], 0);
  EXPECT_EQ(f["refused"], 1);
  EXPECT_EQ(f["final_status"], "cancelled");
  const std::string cancelled =
      "order-" + std::to_string(f["dirty_read_order"].get<int64_t>()) + "-cancelled";
  EXPECT_EQ(f["events_after"], nlohmann::json::array({cancelled}));
  EXPECT_TRUE(f["verify_clean"].get<bool>());
  EXPECT_EQ(f["placed"], 1);
  EXPECT_EQ(f["cancelled"], 1);
}

TEST(Demo, EventSourcingReadModelLagsAndAKilledProjectorResumes) {
  DemoRun r = Demo({"event-sourcing"});
  ExpectShowed(r);
  const auto& f = r.facts;
  EXPECT_EQ(f["acknowledged_first"], 20);
  EXPECT_EQ(f["read_your_writes_misses"], 20);
  EXPECT_EQ(f["rows_after_catch_up"], 20);
  EXPECT_EQ(f["projector_exit_code"], -1);  // SIGKILLed by its own crash hook
  EXPECT_EQ(f["rows_after_crash"], 30);     // the killed batch rolled back with its offset
  EXPECT_EQ(f["rows_after_restart"], 50);
  EXPECT_EQ(f["restart_duplicates"], 0);
  EXPECT_TRUE(f["verify_clean"].get<bool>());
  EXPECT_EQ(f["messages"], 50);
}

TEST(Demo, SkipLockedRelaysReorderAKeyPartitionedOnesDoNot) {
  DemoRun r = Demo({"ordering"});
  ExpectShowed(r);
  const auto& f = r.facts;
  // Relay A held order 1's OrderPlaced; the other instances sent its later events first.
  EXPECT_EQ(f["skip_locked_held_order"], "1");
  EXPECT_EQ(f["skip_locked_reordered"], nlohmann::json::array({1}));
  EXPECT_NE(f["skip_locked_first_inversion"].get<std::string>().find("1 (v"), std::string::npos)
      << f;
  // The second half's first order was held the same way, and nothing reordered.
  EXPECT_NE(f["partitioned_held_order"], "");
  EXPECT_NE(f["partitioned_held_order"], "1");
  EXPECT_EQ(f["partitioned_reordered"], nlohmann::json::array());
  EXPECT_TRUE(f["partitioned_clean"].get<bool>());
}

TEST(Demo, UnknownLessonIsOneLineNamingTheLessons) {
  std::string out;
  Status s = RunCommand({DualwriteBinary(), "demo", "no-such-lesson"}, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(out.find("unknown lesson 'no-such-lesson'"), std::string::npos) << out;
  for (const char* name : {"2pc", "2pc-blocking", "outbox", "stuck-locks", "offset-loss", "cdc",
                           "vacuum", "pgq", "real-broker", "ordering"}) {
    EXPECT_NE(out.find(name), std::string::npos) << name << " not listed: " << out;
  }
  std::string help;
  EXPECT_TRUE(RunCommand({DualwriteBinary(), "demo", "--help"}, &help).ok());
  EXPECT_NE(help.find("stuck-locks"), std::string::npos) << help;
}

}  // namespace
}  // namespace dw::testing
