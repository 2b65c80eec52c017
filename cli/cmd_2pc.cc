// `dualwrite 2pc run | recover`: the two-phase-commit coordinator.
#include <atomic>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/load_flags.h"
#include "common/armed_crash.h"
#include "common/dsn.h"
#include "common/trace.h"
#include "coordinator/coordinator.h"
#include "coordinator/crash_points.h"
#include "coordinator/file_decision_log.h"
#include "coordinator/gid.h"
#include "coordinator/log_identity.h"
#include "coordinator/order_work.h"
#include "coordinator/participant_spec.h"
#include "coordinator/pg_decision_log.h"
#include "coordinator/session_wait.h"
#include "workload/load_runner.h"
#include "workload/order_events.h"
#include "workload/orders.h"
#include "workload/stock.h"

namespace dw::cli {
namespace {

using std::chrono::milliseconds;

// Options shared by run and recover: they must name the same coordinator.
struct CommonOpts {
  std::string coordinator_id = "c1";
  std::string log = "postgres";
  std::string participants = "pg,broker";
  int64_t timeout_ms = 5000;
  bool json = false;
  int64_t group_delay_us = 1000;
  int group_siblings = 32;
};

void AddCommonOptions(CLI::App* cmd, CommonOpts* o) {
  cmd->add_option("--coordinator-id", o->coordinator_id,
                  "this coordinator's id: gids are dw:<id>:<seq>, recovery touches only its own "
                  "(default c1)");
  cmd->add_option("--log", o->log,
                  "decision log: postgres (table dw_decisions in the first Postgres "
                  "participant's database, the default), postgres:DSN, file (STATE_DIR/"
                  "coordinator/<id>.dlog) or file:PATH; recover needs the one run used");
  cmd->add_option("--participants", o->participants,
                  "comma-separated: pg | pg:DSN | broker | broker:URL (default pg,broker; "
                  "several pg = shards)");
  cmd->add_option("--timeout-ms", o->timeout_ms,
                  "deadline of every participant call (default 5000)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", o->json, "print the result as one JSON object");
  cmd->add_option("--group-commit-delay-us", o->group_delay_us,
                  "how long a decision-log batch leader waits for transactions still in phase 1 "
                  "(default 1000)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--group-commit-siblings", o->group_siblings,
                  "the leader waits only when at least this many are in phase 1 (default 32)")
      ->check(CLI::PositiveNumber);
}

struct Setup {
  coord::Built built;
  std::unique_ptr<coord::DecisionLog> log;
  std::string log_identity;
};

// Participants, schema, decision log (with the identity check of log_identity.h).
void SetUp(const Globals& g, const CommonOpts& o, bool lrco, bool ensure_schema, int connections,
           Setup* out) {
  if (!coord::ValidCoordinatorId(o.coordinator_id)) {
    throw CliError("invalid --coordinator-id '" + o.coordinator_id + "': want [A-Za-z0-9_-]{1,64}");
  }
  // Every flag is checked before anything is started or connected to.
  const std::string log_kind = o.log.substr(0, o.log.find(':'));
  if (log_kind != "file" && log_kind != "postgres" && log_kind != "pg") {
    throw CliError("--log: want postgres, postgres:DSN, file or file:PATH (got '" + o.log + "')");
  }
  std::vector<coord::ParticipantSpec> specs;
  Check(coord::ParseParticipants(o.participants, &specs));
  coord::BuildOptions bo;
  bool need_defaults = false;
  for (const auto& s : specs) need_defaults |= s.target.empty();
  if (need_defaults) {
    ResolvedEndpoints ep = ResolveEndpoints(g);
    bo.default_dsn = ep.dsn;
    bo.default_broker = ep.broker_url;
  }
  bo.timeout = milliseconds(o.timeout_ms);
  bo.pg_connections = connections;
  bo.application_name = coord::SessionName(o.coordinator_id);
  // The participants' connections come last (BuildMembers, at the end):
  // first the log's lock, then the wait for a dead predecessor's sessions.
  std::vector<std::string> dsns;
  for (const auto& s : specs) {
    if (s.kind == coord::ParticipantSpec::Kind::kPostgres) {
      dsns.push_back(s.target.empty() ? bo.default_dsn : s.target);
    }
  }
  if (ensure_schema) {
    for (const auto& dsn : dsns) {
      Check(workload::EnsureOrdersSchema(dsn));
      if (dsns.size() > 1) Check(coord::EnsureLedgerSchema(dsn));
      // Any shard can be an order's home shard, where its stock is reserved.
      Check(workload::EnsureStockTable(dsn, workload::CurrentHotRows().rows));
    }
  }

  coord::GroupCommit::Options group;
  group.delay = std::chrono::microseconds(o.group_delay_us);
  group.siblings = o.group_siblings;
  std::string kind = o.log.substr(0, o.log.find(':'));
  std::string arg = o.log.find(':') == std::string::npos ? "" : o.log.substr(o.log.find(':') + 1);
  if (kind == "file") {
    if (lrco) {
      throw CliError(
          "--lrco keeps the decision inside the Postgres transaction (table dw_decisions): use "
          "--log postgres");
    }
    std::string path =
        arg.empty() ? g.state_dir + "/coordinator/" + o.coordinator_id + ".dlog" : arg;
    path = std::filesystem::absolute(path).lexically_normal().string();
    out->log_identity = "file:" + path;
    Check(coord::CheckLogIdentity(dsns[0], o.coordinator_id, out->log_identity));
    coord::FileDecisionLog::Options fo;
    fo.path = path;
    fo.group = group;
    std::unique_ptr<coord::FileDecisionLog> f;
    coord::FileDecisionLog::OpenReport rep;
    Check(coord::FileDecisionLog::Open(fo, &f, &rep));
    if (rep.truncated_bytes > 0) {
      std::cerr << "decision log " << path << ": truncated a torn tail of " << rep.truncated_bytes
                << " bytes\n";
    }
    out->log = std::move(f);
  } else if (kind == "postgres" || kind == "pg") {
    std::string dsn = arg.empty() ? dsns[0] : arg;
    out->log_identity = arg.empty() ? "postgres" : "postgres:" + RedactDsn(arg);
    if (lrco && dsn != dsns[0]) {
      throw CliError(
          "--lrco writes the decision row in the first Postgres participant's "
          "database: use --log postgres");
    }
    Check(coord::CheckLogIdentity(dsns[0], o.coordinator_id, out->log_identity));
    coord::PgDecisionLog::Options po;
    po.dsn = dsn;
    po.coordinator_id = o.coordinator_id;
    po.statement_timeout = milliseconds(std::max<int64_t>(o.timeout_ms, 1000));
    po.group = group;
    std::unique_ptr<coord::PgDecisionLog> p;
    Check(coord::PgDecisionLog::Open(po, &p));
    out->log = std::move(p);
  } else {
    throw CliError("--log: want postgres, postgres:DSN, file or file:PATH (got '" + o.log + "')");
  }

  // We hold the id's lock: any session of that name is a dead coordinator's,
  // maybe still finishing a PREPARE. Wait for them before listing anything.
  for (const auto& dsn : dsns) {
    Status w = coord::WaitForSessionsToEnd(dsn, bo.application_name,
                                           milliseconds(std::max<int64_t>(o.timeout_ms, 1000)));
    if (!w.ok()) std::cerr << "warning: " << w.ToString() << "\n";
  }
  Check(coord::BuildMembers(specs, bo, &out->built));
}

nlohmann::json RecoveryCounts(const coord::RecoveryReport& r) {
  return {{"committed", r.committed}, {"aborted", r.aborted}, {"ended", r.ended}};
}

void AddRun(CLI::App* group, Globals& g) {
  auto* cmd = group->add_subcommand(
      "run",
      "place orders with two-phase commit: an orders row in Postgres AND an OrderPlaced "
      "message at the broker, atomically");
  struct Opts : CommonOpts {
    LoadFlags load;
    std::string ack_after = "phase2";
    bool lrco = false;
    std::string crash_at;
    int64_t crash_after = 0;
    bool trace = false;
    std::string trace_format = "text";
    size_t trace_limit = 20;
    uint64_t seed = 1;
    int64_t recovery_interval_ms = 1000;
    int64_t drain_timeout_ms = 30000;
    int batch = 1;
  };
  auto o = std::make_shared<Opts>();
  AddCommonOptions(cmd, o.get());
  o->load.Add(cmd);
  cmd->add_option("--ack-after", o->ack_after,
                  "phase2 (default): answer once every participant committed; decision: answer "
                  "once the decision is durable, finish phase 2 in the background")
      ->check(CLI::IsMember({"phase2", "decision"}));
  cmd->add_flag("--lrco", o->lrco,
                "last-resource commit: prepare the broker, commit Postgres in one phase with the "
                "decision row, then commit the broker");
  cmd->add_option("--crash-at", o->crash_at,
                  "die abruptly (_exit " + std::to_string(coord::kCrashExitCode) + ") at " +
                      coord::StepNames());
  cmd->add_option("--crash-after", o->crash_after,
                  "arm --crash-at only after this many transactions completed (default 0)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--trace", o->trace, "print each protocol step with timestamps");
  cmd->add_option("--trace-format", o->trace_format,
                  "text (default) or mermaid (a sequence diagram; implies --trace)")
      ->check(CLI::IsMember({"text", "mermaid"}));
  cmd->add_option("--trace-limit", o->trace_limit, "transactions traced (default 20)");
  cmd->add_option("--seed", o->seed, "seed of the generated orders (default 1)");
  cmd->add_option("--recovery-interval-ms", o->recovery_interval_ms,
                  "period of the recovery loop during the run; 0 = off (default 1000)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--drain-timeout-ms", o->drain_timeout_ms,
                  "how long to wait at the end for background phase 2 (default 30000)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch", o->batch,
                  "orders one coordinator thread drives together, in lockstep: their prepares "
                  "are all sent before any answer is read (the broker's in one request), their "
                  "decisions share one log write "
                  "(default 1; --concurrency stays the orders in flight)")
      ->check(CLI::Range(1, 64));

  cmd->callback([&g, o, cmd] {
    if (cmd->count("--trace-format") > 0) o->trace = true;  // asking for a format asks for a trace
    std::optional<coord::Step> crash;
    if (!o->crash_at.empty()) {
      crash = coord::ParseStep(o->crash_at);
      if (!crash) throw CliError("--crash-at: want one of " + coord::StepNames());
    }
    o->load.Validate();
    if (o->batch > o->load.concurrency) {
      throw CliError("--batch " + std::to_string(o->batch) + ": at most --concurrency (" +
                     std::to_string(o->load.concurrency) + "), the orders in flight");
    }
    if (o->batch > 1 && crash) {
      // Without lockstep a batch's orders would run one after the other on
      // their thread, and only --concurrency / --batch would be in flight.
      throw CliError(
          "--batch cannot be combined with --crash-at (a crash point must fire at the "
          "exact call, so orders cannot go in lockstep)");
    }
    if (o->batch > 1 && o->load.hot_rows > 0) {
      // Two orders of one batch reserving the same product: the second
      // would wait on the first's prepared row lock, which is released only
      // after the whole batch's prepares have answered.
      throw CliError(
          "--batch cannot be combined with --hot-rows: orders of one batch would wait "
          "on each other's stock rows until their call deadline");
    }
    Setup setup;
    // Workers, background phase 2 and recovery each hold a connection at times.
    SetUp(g, *o, o->lrco, true, 2 * o->load.concurrency + 4, &setup);
    const auto& built = setup.built;
    if (o->load.events_per_order > 1) {
      for (const auto& dsn : built.dsns) Check(workload::EnsureOrderVersionColumns(dsn));
    }

    std::unique_ptr<Trace> trace;
    if (o->trace) trace = std::make_unique<Trace>(o->trace_limit);
    coord::CoordinatorOptions co;
    co.id = o->coordinator_id;
    co.call_timeout = milliseconds(o->timeout_ms);
    co.ack_after =
        o->ack_after == "decision" ? coord::AckAfter::kDecision : coord::AckAfter::kPhase2;
    co.lrco = o->lrco;
    co.lrco_member = built.topology.shards[0];
    co.recovery_interval = milliseconds(o->recovery_interval_ms);
    co.background_workers = std::max(2, o->load.concurrency);
    co.background_capacity =
        std::min<size_t>(128, 4 * static_cast<size_t>(o->load.concurrency) + 16);
    co.max_call_threads = 8 * o->load.concurrency + 32;
    co.trace = trace.get();
    if (crash) {
      auto point = std::make_shared<ArmedCrash<coord::Step>>(*crash, o->crash_after);
      co.on_step = [point](coord::Step s, const std::string& gid, int64_t completed) {
        if (point->Due(s, completed)) coord::CrashNow(s, gid);
      };
    }
    std::unique_ptr<coord::Coordinator> c;
    Check(coord::Coordinator::Create(co, built.members, std::move(setup.log), &c));
    auto start = c->stats().recovery;
    if (start.listed > 0 || start.ended > 0 || !start.errors.empty()) {
      std::cerr << "start-up recovery of coordinator " << o->coordinator_id << ":\n"
                << start.ToText();
    }

    workload::OrderIdAllocator ids(built.dsns[0]);
    std::atomic<uint64_t> later_events_failed{0};
    FirstErrors first_errors;
    workload::LoadOptions lo = o->load.ToOptions("2pc");
    workload::LoadSummary sum;
    // Orders are placed o->batch at a time, each batch driven by one thread
    // (Coordinator::ExecuteBatch); with the default of 1, one order per thread.
    auto outcome_of = [&](const coord::TxnResult& r) {
      if (r.outcome == coord::TxnOutcome::kCommitted) return workload::Outcome::kCommitted;
      first_errors.Add(r.gid + ": " + r.status.ToString());
      return r.outcome == coord::TxnOutcome::kAborted ? workload::Outcome::kAborted
                                                      : workload::Outcome::kFailed;
    };
    Check(workload::RunLoad(
        lo, o->batch,
        [&](int, const std::vector<int64_t>& idx, std::vector<workload::Outcome>* outs,
            std::vector<int64_t>* keys) {
          std::vector<std::vector<Work>> works;
          std::vector<size_t> slot;  // works[j] is operation idx[slot[j]]
          for (size_t k = 0; k < idx.size(); ++k) {
            int64_t id = 0;
            Status s = ids.Next(&id);
            if (!s.ok()) {
              (*outs)[k] = workload::Outcome::kAborted;  // nothing was sent anywhere
              first_errors.Add(s.ToString());
              continue;
            }
            (*keys)[k] = id;
            works.push_back(
                coord::PlaceOrderWork(workload::MakeOrder(id, idx[k], o->seed), built.topology));
            slot.push_back(k);
          }
          std::vector<coord::TxnResult> rs = c->ExecuteBatch(works);
          // Events 2..E, each once the previous one's transaction was acknowledged.
          // An event whose UPDATE found the order not at version n-1 (with
          // --ack-after decision its row may not be visible yet) is aborted,
          // never published: counted apart, since its order's event 1 committed.
          for (int n = 2; n <= o->load.events_per_order; ++n) {
            std::vector<std::vector<Work>> next;
            std::vector<size_t> which;  // indexes into rs
            for (size_t j = 0; j < rs.size(); ++j) {
              if (rs[j].outcome != coord::TxnOutcome::kCommitted) continue;
              next.push_back(coord::OrderEventWork((*keys)[slot[j]], n, built.topology));
              which.push_back(j);
            }
            if (next.empty()) break;
            std::vector<coord::TxnResult> later = c->ExecuteBatch(next);
            for (size_t q = 0; q < which.size(); ++q) {
              if (later[q].outcome != coord::TxnOutcome::kCommitted)
                later_events_failed.fetch_add(1);
              rs[which[q]] = std::move(later[q]);
            }
          }
          for (size_t j = 0; j < rs.size(); ++j) (*outs)[slot[j]] = outcome_of(rs[j]);
        },
        &sum));
    size_t pending = c->Drain(milliseconds(o->drain_timeout_ms));
    auto st = c->stats();

    nlohmann::json names = nlohmann::json::array();
    for (const auto& m : built.members) names.push_back(m.participant->name());
    if (o->load.events_per_order > 1) {
      sum.extra["events_per_order"] = o->load.events_per_order;
      sum.extra["later_events_failed"] = later_events_failed.load();
    }
    sum.extra["log_fsyncs"] = st.log_forced_writes;
    sum.extra["log_fsyncs_per_txn"] =
        sum.committed ? static_cast<double>(st.log_forced_writes) / sum.committed : 0.0;
    sum.extra["log"] = setup.log_identity;
    sum.extra["coordinator_id"] = o->coordinator_id;
    sum.extra["participants"] = names;
    sum.extra["ack_after"] = o->ack_after;
    sum.extra["lrco"] = o->lrco;
    if (o->batch > 1) sum.extra["batch"] = o->batch;
    sum.extra["phase2_retries"] = st.phase2_retries;
    sum.extra["phase2_in_background"] = st.handed_to_background;
    sum.extra["phase2_pending_at_exit"] = pending;
    sum.extra["left_to_recovery"] = st.left_to_recovery;
    sum.extra["recovered"] = RecoveryCounts(st.recovery);
    c.reset();  // stops the loops, writes pending END records

    if (trace) {
      trace->Write(o->json ? std::cerr : std::cout,
                   o->trace_format == "mermaid" ? Trace::Format::kMermaid : Trace::Format::kText);
    }
    first_errors.Print(std::cerr, "not committed");
    if (pending > 0) {
      std::cerr << pending << " transaction(s) committed but not acknowledged by every "
                << "participant yet: `dualwrite 2pc recover` (or the next run) finishes them\n";
    }
    PrintSummary(sum, o->json);
  });
}

void AddRecover(CLI::App* group, Globals& g) {
  auto* cmd = group->add_subcommand(
      "recover",
      "resolve this coordinator's in-doubt transactions: commit those with a COMMIT record, "
      "abort the rest (presumed abort); idempotent");
  auto o = std::make_shared<CommonOpts>();
  AddCommonOptions(cmd, o.get());
  cmd->callback([&g, o] {
    Setup setup;
    SetUp(g, *o, false, false, 4, &setup);
    coord::CoordinatorOptions co;
    co.id = o->coordinator_id;
    co.call_timeout = milliseconds(o->timeout_ms);
    co.recover_at_start = false;
    co.recovery_interval = milliseconds(0);
    co.background_workers = 1;
    std::unique_ptr<coord::Coordinator> c;
    Check(coord::Coordinator::Create(co, setup.built.members, std::move(setup.log), &c));
    coord::RecoveryReport r;
    Status s = c->Recover(&r);
    c.reset();
    if (o->json) {
      nlohmann::json j = r.ToJson();
      j["coordinator_id"] = o->coordinator_id;
      j["log"] = setup.log_identity;
      j["ok"] = s.ok();
      std::cout << j.dump() << "\n";
    } else {
      std::cout << "coordinator " << o->coordinator_id << ", decision log " << setup.log_identity
                << "\n"
                << r.ToText();
    }
    if (!s.ok()) throw CliError(s.ToString());
  });
}

}  // namespace

void Add2pcCommands(CLI::App& app, Globals& g) {
  auto* group = app.add_subcommand("2pc", "the two-phase-commit coordinator");
  group->require_subcommand(1);
  AddRun(group, g);
  AddRecover(group, g);
}

}  // namespace dw::cli
