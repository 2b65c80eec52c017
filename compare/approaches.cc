#include "compare/approaches.h"

#include <algorithm>
#include <sstream>

namespace dw::compare {
namespace {

// The relay's session is open (every polling relay names itself so).
constexpr const char* kRelaySessionSql =
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    " AND application_name LIKE 'dualwrite-relay-%'";

Approach Outbox(const std::string& strategy, const std::string& description,
                bool guaranteed = true) {
  Approach a;
  a.relay_ready_sql = kRelaySessionSql;
  a.name = "outbox-" + strategy;
  a.family = Family::kOutbox;
  a.relay_batch = 1000;
  a.relay_instances = strategy == "skip-locked" || strategy == "status" ? 2 : 1;
  a.description = description;
  a.load = {"outbox", "write"};
  a.relay = {"outbox", "relay", "--strategy", strategy};
  a.guaranteed = guaranteed;
  return a;
}

std::vector<Approach> Build() {
  std::vector<Approach> v;
  const std::vector<std::string> recover_pg = {"2pc", "recover", "--log", "postgres"};
  auto two_pc = [&](std::string name, std::string description, std::vector<std::string> load,
                    std::vector<std::string> recover) {
    Approach a;
    a.name = std::move(name);
    a.family = Family::kTwoPc;
    a.description = std::move(description);
    a.load = std::move(load);
    a.recover = std::move(recover);
    a.lockstep_batch = 4;
    return a;
  };
  Approach floor;
  floor.name = "floor";
  floor.family = Family::kFloor;
  floor.description = "the orders INSERT alone, committed locally; no message (the baseline)";
  floor.load = {"floor"};
  v.push_back(floor);
  v.push_back(two_pc("2pc-file", "two-phase commit, decision log in a local file (fdatasync)",
                     {"2pc", "run", "--log", "file"}, {"2pc", "recover", "--log", "file"}));
  v.push_back(two_pc("2pc-pg", "two-phase commit, decision log in a Postgres table",
                     {"2pc", "run", "--log", "postgres"}, recover_pg));
  v.push_back(two_pc("2pc-lrco",
                     "two-phase commit with the last-resource optimisation (Postgres commits in "
                     "one phase with the decision row)",
                     {"2pc", "run", "--lrco"}, recover_pg));
  v.push_back(two_pc("2pc-ack-decision",
                     "two-phase commit answering once the decision is durable (phase 2 in the "
                     "background)",
                     {"2pc", "run", "--ack-after", "decision"}, recover_pg));
  v.push_back(Outbox("skip-locked",
                     "outbox; relay: SELECT ... FOR UPDATE SKIP LOCKED, publish, "
                     "delete"));
  v.push_back(Outbox("status",
                     "outbox; relay: claim with status='locked', publish, mark 'sent' "
                     "(+ reaper)"));
  v.push_back(Outbox("offset-naive",
                     "outbox; relay: read past a stored id, publish, advance (loses rows that "
                     "commit out of order)",
                     false));
  v.push_back(Outbox("offset-safe",
                     "outbox; relay: read past a stored (xid8, id) position, only "
                     "below the oldest running transaction"));
  Approach cdc =
      Outbox("cdc", "outbox; relay: logical decoding (pgoutput) from a replication slot");
  // Its slot exists: from then on every committed row is decoded.
  cdc.relay_ready_sql =
      "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()";
  v.push_back(cdc);
  Approach trigger = Outbox("skip-locked",
                            "outbox written by a trigger on orders; relay: SKIP "
                            "LOCKED");
  trigger.name = "outbox-trigger";
  trigger.load = {"outbox", "write", "--trigger"};
  trigger.not_applicable = {
      {"clock-skew", "the capture trigger stamps rows with the server clock"}};
  v.push_back(trigger);

  // The two outboxes with no table rows to update or delete. Neither
  // stamps a time that decides what is sent, so the clock-skew writer
  // (--clock-skew-ms, which their writers refuse) has nothing to skew.
  Approach pgq =
      Outbox("pgq",
             "outbox in PgQ: pgq.insert_event in the order's transaction; relay: "
             "next_batch (a backlog's ticks merged), the batch fetched by cursor in chunks "
             "each published while the next is fetched, finish_batch (ticks from pgqd; "
             "event tables rotated and truncated, never vacuumed)");
  pgq.load = {"outbox", "write", "--queue", "pgq"};
  // The ticks come from pgqd, as PgQ is deployed: the relay starts it for
  // the cell's state folder (the writer finds it running) and CleanupRig
  // stops it. Not --ticker self: a self-ticking relay takes a tick only
  // when it finds no batch, so under load the batches would be cut at the
  // relay's pace instead of by the queue's ticker settings (ticker_max_lag
  // 50 ms, ticker_max_count 1000, pgqd every 50 ms), the latency this cell
  // is to show. pgqd's process is not among the parties whose CPU a cell
  // counts; its ticker SQL runs in a Postgres backend, which is counted.
  // --batch is moot here: a batch is what the ticks put in it (at most
  // ticker_max_count, 1000, the other relays' batch).
  pgq.not_applicable = {{"clock-skew",
                         "a batch is cut by the ticks' transaction snapshots, not by a time the "
                         "writer stamps"}};
  pgq.full_size_only = true;
  v.push_back(pgq);
  Approach emit = Outbox("cdc",
                         "outbox without a table: pg_logical_emit_message in the order's "
                         "transaction; relay: the cdc relay decodes the messages from its slot "
                         "in commit order (nothing stored, nothing to vacuum)");
  emit.name = "outbox-emit";
  emit.load = {"outbox", "write", "--emit-message"};
  // As for cdc: the writer's messages are decoded once the slot exists.
  emit.relay_ready_sql = cdc.relay_ready_sql;
  emit.not_applicable = {
      {"clock-skew", "no row and no timestamp: the slot delivers in commit order"}};
  emit.full_size_only = true;
  v.push_back(emit);

  Approach saga;
  saga.name = "saga";
  saga.family = Family::kSaga;
  saga.description =
      "orchestrated saga: T1 the order 'pending' (local commit), publish OrderPlaced (the "
      "pivot), T3 'placed'; a refused publish is compensated ('cancelled' + OrderCancelled)";
  // A reader polls the open sagas every 10 ms (one index scan of the few
  // open ones, its CPU charged to the load process): the dirty reads the
  // saga allows, counted in every cell.
  saga.load = {"saga", "run", "--dirty-read-probe", "--dirty-read-interval-ms", "10"};
  saga.recover = {"saga", "recover"};
  v.push_back(saga);

  Approach es;
  es.name = "event-sourced";
  es.family = Family::kEventSourced;
  es.description =
      "event sourcing, broker first: the write publishes OrderPlaced only; the projector "
      "(`es project`, the cell's relay) builds the orders rows from the topic";
  es.load = {"es", "write"};
  es.relay = {"es", "project"};
  es.relay_batch = 1000;
  es.relay_instances = 1;  // one offset row: a second projector would only lose the race
  // Its offset row exists once Projector::Open has run.
  es.relay_ready_sql = "SELECT count(*) FROM es_offsets";
  v.push_back(es);

  // The coordinator is the load; its two participant agents (`3pc agent`,
  // Postgres id 1 and broker id 2) are started by the cell (compare/agents.h)
  // so that a fault can cut them apart or kill the coordinator alone.
  Approach three_pc;
  three_pc.name = "3pc";
  three_pc.family = Family::kThreePc;
  three_pc.description =
      "three-phase commit (CanCommit, PreCommit, DoCommit) through a Postgres agent and a broker "
      "agent; the coordinator logs nothing and the agents finish a transaction without it "
      "(termination protocol)";
  three_pc.load = {"3pc", "run"};
  // The split Skeen's rule cannot see: after a partial PreCommit the
  // precommitted side commits and the cut-off uncertain side aborts.
  three_pc.expected_loss_under = {"partition"};
  v.push_back(three_pc);
  return v;
}

FamilyDef Declare(Family f, const char* name) {
  FamilyDef d;
  d.family = f;
  d.name = name;
  return d;
}

std::vector<FamilyDef> BuildFamilies() {
  std::vector<FamilyDef> v;
  FamilyDef floor = Declare(Family::kFloor, "floor");
  floor.judge = Judge::kNone;
  v.push_back(floor);
  FamilyDef two_pc = Declare(Family::kTwoPc, "2pc");
  two_pc.killed = "coordinator";
  two_pc.kill_load = true;  // the coordinator is the load generator
  two_pc.crash_points = {"before-prepare", "after-prepare-one", "after-prepare-all",
                         "after-decision", "after-commit-one"};
  two_pc.broker_crash_points = {"after-stage-before-vote", "after-commit-before-reply"};
  v.push_back(two_pc);
  FamilyDef outbox = Declare(Family::kOutbox, "outbox");
  outbox.killed = "relay";
  v.push_back(outbox);
  FamilyDef saga = Declare(Family::kSaga, "saga");
  saga.judge = Judge::kSaga;
  saga.killed = "orchestrator";
  saga.kill_load = true;  // `saga run` drives its sagas in the load process
  saga.reserves_stock = false;
  saga.handles_refusal = true;
  saga.crash_points = {"after-t1", "after-publish", "during-compensation"};
  v.push_back(saga);
  FamilyDef es = Declare(Family::kEventSourced, "event-sourced");
  es.killed = "projector";
  es.rows_follow_messages = true;
  es.reserves_stock = false;
  es.handles_refusal = true;
  // The projector dies after inserting a batch's rows, before committing
  // them with its offset: its restart must read the batch again.
  es.crash_points = {"projector-after-insert"};
  es.relay_crash_flag = "--crash-after-insert";
  v.push_back(es);
  FamilyDef three_pc = Declare(Family::kThreePc, "3pc");
  three_pc.killed = "coordinator";
  three_pc.kill_load = true;  // the coordinator is the load generator
  // The coordinator logs nothing: after each, the agents terminate what it
  // left by themselves (threepc/crash_points.h says what they decide).
  three_pc.crash_points = {"after-cancommit", "after-precommit-some", "after-precommit-all",
                           "after-docommit-some"};
  v.push_back(three_pc);
  return v;
}

}  // namespace

const std::vector<FamilyDef>& AllFamilies() {
  static const std::vector<FamilyDef> all = BuildFamilies();
  return all;
}

const FamilyDef& Def(Family f) {
  for (const auto& d : AllFamilies()) {
    if (d.family == f) return d;
  }
  return AllFamilies().front();
}

const char* FamilyName(Family f) { return Def(f).name; }

const std::vector<Approach>& AllApproaches() {
  static const std::vector<Approach> all = Build();
  return all;
}

const Approach* FindApproach(const std::string& name) {
  for (const auto& a : AllApproaches()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

bool Approach::GuaranteedUnder(const std::string& scenario) const {
  return guaranteed && std::find(expected_loss_under.begin(), expected_loss_under.end(),
                                 scenario) == expected_loss_under.end();
}

std::string Approach::NotApplicable(const std::string& scenario) const {
  for (const auto& [name, why] : not_applicable) {
    if (name == scenario) return why;
  }
  return "";
}

void LeaveOutFullSizeOnly(const std::string& only, std::vector<Approach>* v) {
  std::vector<std::string> named;
  std::stringstream ss(only);
  for (std::string item; std::getline(ss, item, ',');) named.push_back(item);
  std::erase_if(*v, [&](const Approach& a) {
    return a.full_size_only && std::find(named.begin(), named.end(), a.name) == named.end();
  });
}

Status SelectApproaches(const std::string& only, std::vector<Approach>* out) {
  out->clear();
  if (only.empty()) {
    *out = AllApproaches();
    return Status::OK();
  }
  std::vector<std::string> wanted;
  std::stringstream ss(only);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) wanted.push_back(item);
  }
  for (const auto& w : wanted) {
    bool known = false;
    for (const auto& a : AllApproaches()) known |= a.name == w || FamilyName(a.family) == w;
    if (!known) {
      std::string names;
      for (const auto& a : AllApproaches()) names += (names.empty() ? "" : ", ") + a.name;
      return Status::InvalidArgument("--only: unknown approach '" + w +
                                     "' (want a family floor, 2pc, outbox, saga, event-sourced, "
                                     "3pc or one of " +
                                     names + ")");
    }
  }
  for (const auto& a : AllApproaches()) {
    for (const auto& w : wanted) {
      if (a.name == w || FamilyName(a.family) == w) {
        out->push_back(a);
        break;
      }
    }
  }
  return Status::OK();
}

}  // namespace dw::compare
