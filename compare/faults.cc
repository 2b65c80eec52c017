#include "compare/faults.h"

#include <signal.h>

#include <algorithm>
#include <chrono>

#include <pqxx/pqxx>

#include "common/process.h"
#include "env/layout.h"
#include "env/pgqd_daemon.h"

namespace dw::compare {

using std::chrono::milliseconds;
using json = nlohmann::json;

double FaultRun::SleepUntilKill() {
  std::uniform_real_distribution<double> d(0.0, std::min(1.0, spec.fault_s / 2));
  const double after = spec.kill_after_s >= 0 ? std::min(spec.kill_after_s, spec.fault_s) : d(rng);
  SleepS(after);
  return after;
}

Status FaultRun::RestartLoad(uint64_t seed) {
  LoadShape left = shape;
  left.seconds = std::max(0.5, shape.seconds - (NowUs() - load_start_us) / 1e6);
  Proc* again = nullptr;
  Status s =
      StartProc(ctx, &rig, "load-restarted", LoadArgs(approach, left, samples, seed), &again);
  if (s.ok()) load_i = rig.procs.size() - 1;
  return s;
}

Status FaultRun::RestartRelay() {
  Proc* again = nullptr;
  Status s = StartProc(ctx, &rig, "relay-restarted", RelayArgs(approach, by_time), &again);
  if (s.ok()) relay_i = rig.procs.size() - 1;
  return s;
}

namespace {

// pgqd (PgQ's ticker, run for the cell's state folder by the pgq commands)
// reconnects only 60 s after it lost its connection: pgqd 3.5's ticker
// schedules that fixed delay on any connection error. The cell's wait for
// delivery to converge is no longer (20-60 s), so the cell restarts pgqd once Postgres
// is up, as an operator's supervisor might, and says so in its notes.
Status RestartPgqd(FaultRun& r) {
  env::PgqdDaemon pgqd{env::Layout(r.rig.dir + "/state")};
  if (pgqd.Running() <= 0) return Status::OK();
  Status s = pgqd.Stop(nullptr);
  pid_t pid = 0;
  bool started = false;
  if (s.ok()) s = pgqd.Ensure(r.rig.dsn, env::PgqdSettings{}, &pid, &started, nullptr);
  if (s.ok()) {
    r.notes.push_back(
        "pgqd waits 60 s before reconnecting after a Postgres crash: restarted once Postgres was "
        "up, as a supervisor might");
  }
  return s;
}

class PostgresRestart : public Fault {
 public:
  Status Inject(FaultRun& r) override { return r.ctx.lab->CrashPostgres(); }
  Status Heal(FaultRun& r) override {
    Status s = r.ctx.lab->StartPostgres();
    return s.ok() ? RestartPgqd(r) : s;
  }
};

// A second writer whose clock runs 3 s ahead, during the window only.
class ClockSkew : public Fault {
 public:
  Status Setup(FaultRun& r) override {
    r.by_time = r.approach.name == "outbox-offset-naive";
    if (r.by_time) r.notes.push_back("offset-naive runs --by time in this scenario");
    return Status::OK();
  }
  Status Inject(FaultRun& r) override {
    LoadShape one{1, 0, r.spec.fault_s, 0, 0};
    std::vector<std::string> args = LoadArgs(r.approach, one, r.samples, r.ctx.seed + 1);
    args.insert(args.end(), {"--clock-skew-ms", "3000"});
    Proc* skewed = nullptr;
    Status s = StartProc(r.ctx, &r.rig, "skewed-writer", args, &skewed);
    if (s.ok()) skewed_ = skewed;
    r.notes.push_back("a second writer with its clock 3 s ahead ran during the fault window");
    return s;
  }
  Status Heal(FaultRun&) override {
    if (skewed_) skewed_->Wait(milliseconds(60000));
    return Status::OK();
  }

 private:
  Proc* skewed_ = nullptr;
};

// The load reserves stock (--hot-rows 16). For 2PC a second coordinator (the
// victim) places one order that reserves product 1 and is killed by its own
// crash point right after PREPARE: its in-doubt transaction holds the row
// lock of product 1 until recovery, so the probe and every live order that
// draws product 1 wait on 2PC's OWN in-doubt transaction. The floor and
// the outbox have no in-doubt transaction: the same probe waits only for
// ordinary short ones. At the end of the window the victim's recovery
// (presumed abort) releases the row. Vacuum is measured while held and after.
class InDoubtHeld : public Fault {
 public:
  Status Setup(FaultRun& r) override {
    r.shape.hot_rows = 16;
    return Status::OK();
  }
  // The victim starts with the load, so that its own start-up (seconds on a
  // busy machine) is over by the time the window opens.
  Status Arm(FaultRun& r) override {
    if (!r.approach.is_2pc()) return Status::OK();
    victim_id_ = r.rig.coordinator_id + "-victim";
    std::vector<std::string> args = r.approach.load;
    args.insert(args.end(), {"--transactions", "1", "--concurrency", "1", "--hot-rows", "1",
                             "--crash-at", "after-prepare-all", "--json"});
    return StartProc(r.ctx, &r.rig, "victim", args, &victim_, victim_id_);
  }
  Status Inject(FaultRun& r) override {
    if (!victim_) {
      r.notes.push_back(
          "no in-doubt transaction of its own: the probe waits only on the load's "
          "short transactions");
      return Status::OK();
    }
    if (!victim_->Wait(milliseconds(30000))) {
      return Status::Timeout("the victim coordinator did not reach its crash point");
    }
    // The window is the time its transaction is held (from its death, if
    // that came after the steady part).
    r.fault_start_us = std::max(r.fault_start_us, NowUs());
    r.notes.push_back(
        "coordinator " + victim_id_ +
        " reserved product 1 and was killed after its prepare (crash point after-prepare-all); "
        "its recovery ran at the end of the window" +
        std::string(r.approach.name == "2pc-lrco"
                        ? ". With --lrco Postgres commits in one phase and is never prepared: "
                          "only the broker's part was in doubt"
                        : ""));
    return Status::OK();
  }
  Status Heal(FaultRun& r) override {
    kept_while_held_ = VacuumKept(r.rig.dsn);
    if (victim_) RunRecover(r.ctx, &r.rig, r.approach, &r.notes, victim_id_);
    return Status::OK();
  }
  void Report(FaultRun& r, json* cell) override {
    (*cell)["vacuum"] = {{"dead_tuples_kept_while_held", kept_while_held_},
                         {"dead_tuples_left_after_release", VacuumKept(r.rig.dsn)}};
  }

 private:
  // VACUUM the database's tables and sum what it could not remove.
  static uint64_t VacuumKept(const std::string& dsn) {
    try {
      pqxx::connection c{dsn};
      pqxx::nontransaction tx{c};
      tx.exec0("VACUUM");
      return tx.exec1("SELECT COALESCE(sum(n_dead_tup), 0)::bigint FROM pg_stat_user_tables")[0]
          .as<uint64_t>();
    } catch (const std::exception&) {
      return 0;
    }
  }
  Proc* victim_ = nullptr;
  std::string victim_id_;
  uint64_t kept_while_held_ = 0;
};

// The coordinator (2PC: also the load generator) or the relay, SIGKILLed at
// a seeded moment of the window and restarted at its end.
class ProcessKill : public Fault {
 public:
  Status Inject(FaultRun& r) override {
    const double after = r.SleepUntilKill();
    const FamilyDef& def = r.approach.def();
    Proc& victim = def.kill_load ? r.load() : r.rig.procs[*r.relay_i];
    victim.Signal(SIGKILL);
    victim.Wait(milliseconds(10000));
    r.notes.push_back(std::string(def.killed) + " killed with SIGKILL " + Fmt(after) +
                      " s into the fault window, restarted at its end");
    return Status::OK();
  }
  Status Heal(FaultRun& r) override {
    return r.approach.def().kill_load ? r.RestartLoad(r.ctx.seed + 2) : r.RestartRelay();
  }
};

// The relay's crash point fires in batch 1 + crash_after % 5. The draw's
// crash_after (0-299) counts the load's operations; the projector counts
// batches, and while the load runs each of its reads takes what arrived
// since the previous one, so it commits a batch every few milliseconds:
// batch 5 is reached within the first second of load, at any rate chaos
// draws, where batch 300 might not be reached in a run of a few seconds.
int64_t RelayCrashBatch(int64_t crash_after) { return 1 + crash_after % 5; }

// Faults that fire by themselves at a crash point: the window starts when
// the victim died. Not reaching it (the load ended first) is reported.
// The victim is the load (2PC's coordinator, the saga's orchestrator, 3PC's
// coordinator), the relay (event sourcing's projector) or the broker.
class CrashPoint : public Fault {
 public:
  explicit CrashPoint(bool broker) : broker_(broker) {}
  Status Inject(FaultRun& r) override {
    Status s = broker_ ? r.rig.broker.SetCrashAt(r.spec.crash_at) : Status::OK();
    const auto give_up = std::chrono::steady_clock::now() +
                         std::chrono::duration<double>(r.spec.fault_s + r.spec.after_s + 10);
    bool died = false;
    while (s.ok() && !died && std::chrono::steady_clock::now() < give_up) {
      died = broker_ ? !r.rig.broker.Alive() : Victim(r).Wait(milliseconds(0));
      if (!died) SleepS(0.005);
    }
    r.fault_start_us = NowUs();
    const bool crashed = died && (broker_ || !Victim(r).ok());
    std::string when;
    if (!broker_ && r.approach.def().relay_crash_flag) {
      when = " in batch " + std::to_string(RelayCrashBatch(r.spec.crash_after));
    } else if (r.spec.crash_after) {
      when = " after " + std::to_string(r.spec.crash_after) + " operations";
    }
    r.notes.push_back(crashed ? std::string(broker_ ? "broker" : r.approach.def().killed) +
                                    " died at crash point " + r.spec.crash_at + when
                              : "the crash point " + r.spec.crash_at + " was not reached");
    if (broker_ && !died) (void)r.rig.broker.SetCrashAt("");  // disarm; the cell goes on
    return s;
  }
  // A new process without the crash flags (RestartLoad, RestartRelay build
  // the approach's plain command line). The 3PC coordinator's restart keeps
  // the cell's coordinator id: its gids (dw3:<id>:<order id>) take fresh
  // order ids, and the agents terminate the dead one's open transactions.
  Status Heal(FaultRun& r) override {
    if (broker_) return r.rig.broker.Up();
    Proc& victim = Victim(r);
    if (victim.ok() || victim.running()) return Status::OK();
    return OfRelay(r) ? r.RestartRelay() : r.RestartLoad(r.ctx.seed + 2);
  }

 private:
  static bool OfRelay(const FaultRun& r) {
    return r.approach.def().relay_crash_flag != nullptr && r.relay_i.has_value();
  }
  static Proc& Victim(FaultRun& r) { return OfRelay(r) ? r.rig.procs[*r.relay_i] : r.load(); }
  const bool broker_;
};

}  // namespace

std::vector<std::string> CrashPointArgs(const Approach& a, const FaultSpec& spec) {
  if (const char* flag = a.def().relay_crash_flag) {
    return {flag, std::to_string(RelayCrashBatch(spec.crash_after))};
  }
  return {"--crash-at", spec.crash_at, "--crash-after", std::to_string(spec.crash_after)};
}

namespace {

std::string NoBroker(const Approach& a) {
  return a.uses_broker() ? "" : "the floor sends no message";
}

std::vector<ScenarioDef> Build() {
  auto always = [](const Approach&) { return std::string(); };
  std::vector<ScenarioDef> v;
  v.push_back({"broker-down", "broker down",
               "the broker process is killed (SIGKILL) and restarted on the same log after the "
               "fault window; with an external --broker it refuses connections instead "
               "(down_for_ms)",
               true, false, NoBroker, MakeBrokerDown});
  v.push_back({"broker-slow", "broker slow (+50 ms)",
               "the broker adds 50 ms before answering each request (its latency fault)", true,
               false, NoBroker, MakeBrokerSlow});
  v.push_back({"postgres-restart", "Postgres crash + restart",
               "pg_ctl stop -m immediate (no shutdown checkpoint), kept down for the fault "
               "window, then started again (crash recovery)",
               true, true, always, [] { return std::make_unique<PostgresRestart>(); }});
  v.push_back({"process-kill", "coordinator / relay SIGKILL",
               "2PC: the coordinator process (it is also the load generator) is killed with "
               "SIGKILL at a seeded moment and restarted at the end of the window (start-up "
               "recovery). Saga: the orchestrator (`saga run`, also the load generator) alike; "
               "its restart recovers the sagas it left open. Outbox: the relay is killed and "
               "restarted; the writer keeps going. Event-sourced: the projector alike",
               true, false,
               [](const Approach& a) {
                 return a.def().killed == nullptr
                            ? std::string(
                                  "the floor has no coordinator or relay; its only process "
                                  "is the load itself")
                            : std::string();
               },
               [] { return std::make_unique<ProcessKill>(); }});
  v.push_back({"partition", "network partition to the broker",
               "the fault proxy between the coordinator/relay and the broker blackholes every "
               "byte (no RST, no answer: calls time out), then lets traffic through again. 3PC: "
               "the fault proxies in front of its agents split the coordinator and the Postgres "
               "agent from the broker agent (connections reset and refused), so each side "
               "terminates alone",
               true, false, NoBroker, MakePartition});
  v.push_back({"clock-skew", "writer clock +3 s",
               "a second writer whose clock is 3 s ahead stamps created_dttm during the window; "
               "the time-based offset relay (offset-naive runs --by time here) then skips the "
               "honest writer's rows",
               true, false,
               [](const Approach& a) {
                 return a.is_outbox() ? std::string()
                                      : std::string("no clock decides what is sent");
               },
               [] { return std::make_unique<ClockSkew>(); }});
  v.push_back({"in-doubt-held", "2PC's in-doubt transaction holds a stock row",
               "the load reserves stock (--hot-rows 16); for 2PC a second coordinator reserves "
               "product 1 and is killed right after its PREPARE, so its in-doubt transaction "
               "holds that row until its recovery at the end of the window: the probe, and every "
               "order that draws product 1, waits on it. The floor and the outbox have no "
               "in-doubt transaction to hold anything",
               true, false,
               [](const Approach& a) {
                 return a.def().reserves_stock
                            ? std::string()
                            : std::string(
                                  "its write reserves no stock row (--hot-rows does not "
                                  "apply): nothing for a transaction to hold");
               },
               [] { return std::make_unique<InDoubtHeld>(); }});
  v.push_back({"crash-point", "coordinator crash point",
               "the coordinator (2PC, 3PC) or orchestrator (saga) dies by itself at a named "
               "crash point and is restarted (3PC: its agents terminate what it left); "
               "event-sourced: the projector dies after inserting a batch's rows, before "
               "committing them with its offset, and is restarted",
               false, false,
               [](const Approach& a) {
                 return a.def().crash_points.empty()
                            ? std::string(
                                  "only 2PC, 3PC, the saga and the event-sourced projector have "
                                  "crash points")
                            : std::string();
               },
               [] { return std::make_unique<CrashPoint>(false); }});
  v.push_back({"broker-reject", "broker refuses publishes",
               "the broker answers a quarter of the single-message publishes with 422 and a "
               "reason (its reject_prob fault, the business \"no\"): the saga compensates, the "
               "event-sourced write fails; nothing of a refused order may remain",
               true, false,
               [](const Approach& a) {
                 return a.def().handles_refusal
                            ? std::string()
                            : std::string("its publishes are decided events a refusal cannot undo");
               },
               MakeBrokerReject, /*full_only=*/true});
  v.push_back({"broker-crash", "broker crash point",
               "the broker dies by itself at a named crash point and is restarted", false, false,
               NoBroker, [] { return std::make_unique<CrashPoint>(true); }});
  v.push_back({"agent-kill", "3PC agent SIGKILL",
               "one of 3PC's participant agents (drawn: Postgres or broker) is killed with "
               "SIGKILL during the load and started again with the same arguments at the end of "
               "the window; it resumes from its participant's durable state",
               false, false,
               [](const Approach& a) {
                 return a.is_3pc() ? std::string()
                                   : std::string("only 3PC runs participant agents");
               },
               MakeAgentKill});
  v.push_back({"relay-outage", "outbox relay killed mid-drain, long outage",
               "the relay is stopped (SIGSTOP) while the writer goes on, let go, killed with "
               "SIGKILL as the tail reads the first message of its backlog (a batch published, "
               "not yet marked), and restarted at the end of the window: it publishes that batch "
               "again, which JetStream drops only within its duplicate window",
               false, false,
               [](const Approach& a) {
                 return a.is_outbox() && a.has_relay()
                            ? std::string()
                            : std::string("only the outbox's relay publishes a batch again");
               },
               MakeRelayOutage});
  return v;
}

}  // namespace

const std::vector<ScenarioDef>& Scenarios() {
  static const std::vector<ScenarioDef> all = [] {
    std::vector<ScenarioDef> v = Build();
    // With a real sink: the scenarios that leave the broker alone (the
    // relay, Postgres, a writer's clock, a held stock row) and those that
    // act on the server (killed; slowed or cut off by a fault proxy in
    // front of it), judged by the same verify against the sink server.
    // broker-reject is dualwrite's broker's own knob (a 422), and the
    // approaches that meet it (saga, event sourcing) do not run there;
    // crash-point, broker-crash and agent-kill are the chaos campaign's and
    // act on what only dualwrite's broker serves; relay-outage, the
    // campaign's too, acts on the outbox's relay.
    for (auto& d : v) {
      d.with_sink = d.name == "postgres-restart" || d.name == "process-kill" ||
                    d.name == "clock-skew" || d.name == "in-doubt-held" ||
                    d.name == "broker-down" || d.name == "broker-slow" || d.name == "partition" ||
                    d.name == "relay-outage";
    }
    // An approach's own declaration (Approach::not_applicable) first, then
    // the scenario's rule.
    for (auto& d : v) {
      d.not_applicable = [name = d.name, rule = std::move(d.not_applicable)](const Approach& a) {
        std::string why = a.NotApplicable(name);
        return why.empty() && rule ? rule(a) : why;
      };
    }
    return v;
  }();
  return all;
}

const ScenarioDef* FindScenario(const std::string& name) {
  for (const auto& s : Scenarios()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace dw::compare
