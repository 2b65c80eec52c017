// `dualwrite saga run | recover | verify`: the orchestrated saga of "place
// order" (saga/orchestrator.h).
#include <iostream>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/load_flags.h"
#include "saga/dirty_read_probe.h"
#include "saga/orchestrator.h"
#include "saga/schema.h"
#include "workload/load_runner.h"
#include "workload/orders.h"
#include "workload/verify.h"

namespace dw::cli {
namespace {

using std::chrono::milliseconds;

// Options shared by run and recover: recovery runs the pivot again, so it
// needs the same budget.
struct CommonOpts {
  int64_t publish_budget_ms = 5000;
  int64_t publish_timeout_ms = 1000;
  bool json = false;
};

void AddCommonOptions(CLI::App* cmd, CommonOpts* o) {
  cmd->add_option("--publish-budget", o->publish_budget_ms,
                  "ms within which the OrderPlaced publish is retried before the saga is "
                  "compensated (default 5000)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--publish-timeout-ms", o->publish_timeout_ms,
                  "deadline of each broker request (default 1000)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", o->json, "print the result as one JSON object");
}

saga::SagaOptions MakeOptions(const Globals& g, const CommonOpts& o) {
  ResolvedEndpoints ep = ResolveEndpoints(g);
  saga::SagaOptions so;
  so.dsn = ep.dsn;
  so.broker_url = ep.broker_url;
  so.pivot.budget = milliseconds(o.publish_budget_ms);
  so.publish_timeout = milliseconds(o.publish_timeout_ms);
  return so;
}

void AddRun(CLI::App* group, Globals& g) {
  auto* cmd = group->add_subcommand(
      "run",
      "place orders as a saga: T1 the order 'pending' (local commit), T2 publish OrderPlaced "
      "(the pivot), T3 'placed'; compensated ('cancelled' + OrderCancelled) when the publish is "
      "refused or its budget runs out");
  struct Opts : CommonOpts {
    LoadFlags load;
    std::string crash_at;
    int64_t crash_after = 0;
    uint64_t seed = 1;
    int64_t recovery_interval_ms = 1000;
    bool dirty_read_probe = false;
    int64_t dirty_read_interval_ms = 5;
  };
  auto o = std::make_shared<Opts>();
  o->load.Add(cmd);
  AddCommonOptions(cmd, o.get());
  cmd->add_option("--crash-at", o->crash_at,
                  "SIGKILL this process the first time a saga reaches " + saga::CrashAtNames());
  cmd->add_option("--crash-after", o->crash_after,
                  "arm --crash-at only after this many sagas finished (default 0)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", o->seed, "seed of the generated orders (default 1)");
  cmd->add_option("--recovery-interval-ms", o->recovery_interval_ms,
                  "period of the recovery loop during the run (sagas whose driver died); 0 = off "
                  "(default 1000)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--dirty-read-probe", o->dirty_read_probe,
                "a second session polls the pending sagas during the run and counts the orders "
                "it read before they were decided, and how each ended (placed, cancelled, still "
                "pending): the dirty reads a saga allows. Costs a query per poll: off when "
                "measuring throughput");
  cmd->add_option("--dirty-read-interval-ms", o->dirty_read_interval_ms,
                  "with --dirty-read-probe: pause between two polls (default 5)")
      ->check(CLI::PositiveNumber);

  cmd->callback([&g, o] {
    std::optional<saga::CrashAt> crash;
    if (!o->crash_at.empty()) {
      crash = saga::ParseCrashAt(o->crash_at);
      if (!crash) throw CliError("--crash-at: want one of " + saga::CrashAtNames());
    }
    if (o->load.hot_rows > 0) {
      throw CliError("--hot-rows: the saga does not reserve stock (its T1 is the orders row)");
    }
    // A saga's events are its own steps (OrderPlaced at the pivot,
    // OrderCancelled as the compensation), judged by `saga verify` against
    // the saga's status; an OrderPaid would be a second saga on a decided
    // order, with no compensation of its own to offer.
    o->load.RefuseSeveralEvents("saga run");
    o->load.Validate();
    saga::SagaOptions so = MakeOptions(g, *o);
    so.workers = o->load.concurrency;
    so.crash_at = crash;
    so.crash_after = o->crash_after;
    so.recovery_interval = milliseconds(o->recovery_interval_ms);
    Check(saga::EnsureSagaSchema(so.dsn));
    std::unique_ptr<saga::Orchestrator> orch;
    Check(saga::Orchestrator::Create(so, &orch));
    saga::RecoveryReport start;
    Status rs = orch->Recover(&start);
    if (!rs.ok()) std::cerr << "warning: start-up recovery: " << rs.ToString() << "\n";
    if (start.listed > 0) std::cerr << "start-up recovery:\n" << start.ToText();

    std::unique_ptr<saga::DirtyReadProbe> probe;
    if (o->dirty_read_probe) {
      probe =
          std::make_unique<saga::DirtyReadProbe>(so.dsn, milliseconds(o->dirty_read_interval_ms));
      Check(probe->Start());
    }

    workload::OrderIdAllocator ids(so.dsn);
    FirstErrors first_errors;
    workload::LoadSummary sum;
    Check(workload::RunLoad(
        o->load.ToOptions("saga"),
        [&](int w, int64_t i, int64_t* key) {
          int64_t id = 0;
          Status s = ids.Next(&id);
          saga::SagaEnd end = saga::SagaEnd::kOpen;
          if (s.ok()) {
            *key = id;
            end = orch->PlaceOrder(w, workload::MakeOrder(id, i, o->seed), &s);
          }
          if (!s.ok()) first_errors.Add("order " + std::to_string(id) + ": " + s.ToString());
          return end == saga::SagaEnd::kPlaced      ? workload::Outcome::kCommitted
                 : end == saga::SagaEnd::kCancelled ? workload::Outcome::kAborted
                                                    : workload::Outcome::kFailed;
        },
        &sum));
    saga::SagaStats st = orch->stats();
    orch.reset();  // stops the loop
    if (probe) {
      saga::DirtyReadReport dr;
      Status ps = probe->Finish(&dr);
      if (!ps.ok()) std::cerr << "warning: " << ps.ToString() << "\n";
      sum.extra["dirty_reads"] = dr.ToJson();
    }
    sum.extra["approach"] = "saga";
    sum.extra["placed"] = st.placed;
    sum.extra["cancelled"] = st.cancelled;
    sum.extra["refused"] = st.refused;
    sum.extra["out_of_budget"] = st.out_of_budget;
    sum.extra["publish_attempts"] = st.publish_attempts;
    sum.extra["compensated_in_doubt"] = st.in_doubt;
    sum.extra["compensation_events_left"] = st.compensation_events_left;
    sum.extra["left_open"] = st.open;
    st.recovery.Add(start);
    sum.extra["recovered"] = st.recovery.ToJson();
    first_errors.Print(std::cerr, "left to recovery");
    PrintSummary(sum, o->json);
  });
}

void AddRecover(CLI::App* group, Globals& g) {
  auto* cmd = group->add_subcommand(
      "recover",
      "finish every saga left open by a crash: pending ones publish again and go forward or are "
      "compensated, compensating ones get their OrderCancelled; sagas whose driver is alive are "
      "left alone; idempotent");
  auto o = std::make_shared<CommonOpts>();
  AddCommonOptions(cmd, o.get());
  cmd->callback([&g, o] {
    saga::SagaOptions so = MakeOptions(g, *o);
    Check(saga::EnsureSagaSchema(so.dsn));
    std::unique_ptr<saga::Orchestrator> orch;
    Check(saga::Orchestrator::Create(so, &orch));
    saga::RecoveryReport r;
    Status s = orch->Recover(&r);
    orch.reset();
    if (!s.ok()) throw CliError("saga recover: " + s.ToString());
    if (o->json) {
      nlohmann::json j = r.ToJson();
      j["ok"] = r.still_open == 0;
      std::cout << j.dump() << "\n";
    } else {
      std::cout << r.ToText();
    }
    if (r.still_open > 0) {
      throw CliError(std::to_string(r.still_open) + " saga(s) still open: run it again");
    }
  });
}

void AddVerify(CLI::App* group, Globals& g) {
  auto* cmd = group->add_subcommand(
      "verify",
      "check the saga's orders against the topic: placed = exactly one OrderPlaced, cancelled = "
      "none or OrderPlaced then OrderCancelled, nothing pending, no event without its row; exit "
      "3 on any violation");
  struct Opts {
    bool json = false;
    size_t max_listed = 20;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_flag("--json", o->json, "print the report as one JSON object");
  cmd->add_option("--max-listed", o->max_listed, "keys named per category in the text report")
      ->check(CLI::PositiveNumber);
  cmd->callback([&g, o] {
    ResolvedEndpoints ep = ResolveEndpoints(g);
    workload::VerifyOptions vo;
    vo.dsn = ep.dsn;
    vo.broker_url = ep.broker_url;
    workload::SagaVerifyReport r;
    Status s = workload::VerifySaga(vo, &r);
    if (!s.ok()) throw CliError("saga verify: " + s.ToString());
    if (o->json) {
      std::cout << r.ToJson().dump() << "\n";
    } else {
      std::cout << r.ToText(o->max_listed);
    }
    if (!r.ok()) throw CliError("saga verify found violations", 3);
  });
}

}  // namespace

void AddSagaCommands(CLI::App& app, Globals& g) {
  auto* group = app.add_subcommand("saga", "the orchestrated saga (T1, pivot, T3, compensation)");
  group->require_subcommand(1);
  AddRun(group, g);
  AddRecover(group, g);
  AddVerify(group, g);
}

}  // namespace dw::cli
