// Fault cells: steady load, one fault (compare/faults.h), heal, converge,
// judge. The load is open loop at a fixed arrival rate in the failure
// matrix (the same rate for every approach, so "offered" means the same
// thing everywhere and a fast-failing loop cannot inflate its counts), and
// closed loop in the chaos campaign.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include <pqxx/pqxx>

#include "compare/cells.h"
#include "compare/family_figures.h"
#include "compare/faults.h"
#include "compare/history.h"
#include "compare/monitor.h"
#include "compare/samples.h"

namespace dw::compare {
namespace {

using std::chrono::milliseconds;
using json = nlohmann::json;

using results::FailureCell;
using results::Field;

// A cell before it ran: every figure null, the verdict not-run.
FailureCell FailureSkeleton(const Approach& a, const std::string& scenario) {
  FailureCell c;
  c.scenario = scenario;
  c.approach = a.name;
  c.status = "ran";
  c.reason = nullptr;
  c.guaranteed = a.GuaranteedUnder(scenario);
  c.verdict = "not-run";
  c.notes = std::vector<std::string>();
  c.fault = nullptr;
  c.offered_rate_per_s = nullptr;
  c.ops = c.ops_total = nullptr;
  c.lost = c.orphans = c.duplicates = nullptr;
  c.duplicates_before_dedupe = nullptr;
  c.in_doubt_max = nullptr;
  c.in_doubt_max_age_s = nullptr;
  c.in_doubt_at_end = nullptr;
  c.probe_blocked_ms = c.converge_s = nullptr;
  c.p99_before_ms = c.p99_during_ms = c.p99_ok_during_ms = nullptr;
  c.fail_ms = nullptr;
  c.timeline = nullptr;
  c.lost_timeline = nullptr;
  c.backlog = nullptr;
  c.pending_age_ms = c.projection_lag_ms = nullptr;
  c.verify = nullptr;
  return c;
}

// The cell as results.json holds it, with the notes the run gathered
// (FaultRun and RunRecover write them as JSON).
FailureCell Finish(FailureCell cell, const json& notes) {
  results::Take(json{{"notes", notes}}, "notes", &cell.notes, &cell.extra);
  return cell;
}

// The relays' duplicate window on a nats sink (their --dedupe-window, else
// its default).
constexpr std::chrono::milliseconds kDefaultDedupeWindow{120000};
std::chrono::milliseconds DedupeWindow(const CellContext& ctx) {
  return ctx.dedupe_window.count() > 0 ? ctx.dedupe_window : kDefaultDedupeWindow;
}

// JetStream drops a republished id only within its duplicate window, so a
// second copy is a replay past it only in a cell that lasted longer than
// the window (`elapsed_us` since its load started): a relay that publishes
// a batch again that much later (it, Postgres or the server was down long
// enough) delivers the copy. In a shorter cell a copy is a violation.
bool PastDedupeWindow(const CellContext& ctx, const Rig& rig, int64_t elapsed_us) {
  return rig.sink_url.starts_with("nats://") && elapsed_us / 1000 > DedupeWindow(ctx).count();
}

// RabbitMQ (a sink that keeps no message ids), or JetStream past its
// duplicate window: verify found second copies and nothing else. They are
// what at-least-once delivery without a dedupe at the broker looks like,
// counted in `duplicates`, not a loss or an orphan; dualwrite's broker and
// JetStream within its window drop a republished id.
bool RedeliveredOnly(const Rig& rig, bool past_window, const workload::VerifyReport& vr) {
  if (!(rig.sink_url.starts_with("amqp://") || past_window) || vr.duplicates.empty()) return false;
  workload::VerifyReport rest = vr;
  rest.duplicates.clear();
  return rest.ok();
}

constexpr int64_t kBucketUs = 250'000;
// The load runs this much longer than steady + fault + after: the steady
// part starts at its first finished operation, after its start-up, and the
// window must not outlast its arrivals. Only arrivals in the first
// steady + fault + after seconds are counted.
constexpr double kStartSlackS = 1.5;

}  // namespace

FailureCell UnrunFailureCell(const Approach& a, const std::string& scenario,
                             const std::string& status, const std::string& reason) {
  FailureCell cell = FailureSkeleton(a, scenario);
  cell.status = status;
  cell.reason = reason;
  return cell;
}

FailureCell RunFailureCell(CellContext& ctx, const Approach& a, const Scenario& sc,
                           const Plan& plan, double rate) {
  const ScenarioDef* def = FindScenario(sc.name);
  if (def) {
    if (std::string why = def->not_applicable(a); !why.empty()) {
      FailureCell cell = FailureSkeleton(a, sc.name);
      cell.status = "n/a";
      cell.reason = why;
      return cell;
    }
  }
  FaultSpec f;
  f.scenario = sc.name;
  f.steady_s = plan.steady_s;
  f.fault_s = sc.fault_s;
  f.after_s = plan.after_s;
  f.concurrency = plan.open_concurrency;
  f.rate = rate;
  f.converge_timeout_s = plan.converge_timeout_s;
  f.drain_timeout_s = plan.drain_timeout_s;
  return RunFault(ctx, a, f);
}

FailureCell RunFault(CellContext& ctx, const Approach& a, const FaultSpec& f) {
  FailureCell cell = FailureSkeleton(a, f.scenario);
  json notes = json::array();  // the run's, the fault's and recovery's notes
  const ScenarioDef* def = FindScenario(f.scenario);
  if (!def) {
    cell.status = "error";
    cell.reason = "unknown scenario " + f.scenario;
    return Finish(cell, notes);
  }
  if (def->needs_embedded_postgres && !ctx.lab->embedded()) {
    cell.status = "skipped";
    cell.reason = "Postgres is external (--dsn): compare does not crash a server it did not start";
    return Finish(cell, notes);
  }
  Rig rig;
  Status s = PrepareRig(ctx, a, f.scenario + "-" + a.name, &rig);
  auto fail = [&](const std::string& why) {
    CleanupRig(ctx, &rig, true);
    cell.status = "error";
    cell.reason = why + " (logs in " + rig.dir + ")";
    return Finish(cell, notes);
  };
  if (!s.ok()) return fail(s.ToString());
  const double total_s = f.steady_s + f.fault_s + f.after_s;
  FaultRun run{ctx,
               rig,
               a,
               f,
               LoadShape{f.concurrency, f.rate, total_s + kStartSlackS, 0, 0},
               rig.dir + "/samples.csv",
               notes,
               std::mt19937_64(ctx.seed * 7919 + static_cast<uint64_t>(rig.index)),
               0,
               std::nullopt,
               0,
               0,
               false};
  std::unique_ptr<Fault> fault = def->make();
  s = fault->Setup(run);
  if (!s.ok()) return fail("setting up " + f.scenario + ": " + s.ToString());

  Monitor::Options mo;
  mo.dsn = rig.dsn;
  mo.broker_url = a.uses_broker() ? rig.broker.url() : "";
  mo.tail = a.is_outbox() ? rig.tail.get() : nullptr;
  Monitor monitor(mo);
  monitor.Start();

  // The crash point is armed in the first load or relay process only: the
  // fault restarts the dead one without it.
  const bool crash_point = f.scenario == "crash-point";
  const bool relay_crashes = crash_point && a.def().relay_crash_flag != nullptr;
  if (a.has_relay()) {
    Approach armed = a;
    if (relay_crashes) {
      const std::vector<std::string> flags = CrashPointArgs(a, f);
      armed.relay.insert(armed.relay.end(), flags.begin(), flags.end());
    }
    Proc* relay = nullptr;
    s = StartRelay(ctx, &rig, armed, run.by_time, 0, &relay);
    if (!s.ok()) return fail(s.ToString());
    run.relay_i = rig.procs.size() - 1;
  }

  // dualwrite's broker: it counts the republished ids it dropped, and the
  // history checker reads its topic. A real sink has no such counter, and
  // its messages are judged by verify against it (JudgeJson).
  const bool own_broker = a.uses_broker() && rig.sink_url.empty();
  uint64_t dups_before = 0;
  if (own_broker) (void)rig.broker.Counter("dw_broker_duplicates_total", &dups_before);
  run.load_start_us = NowUs();
  std::vector<std::string> load_args = LoadArgs(a, run.shape, run.samples, ctx.seed);
  if (crash_point && !relay_crashes) {
    const std::vector<std::string> flags = CrashPointArgs(a, f);
    load_args.insert(load_args.end(), flags.begin(), flags.end());
  }
  Proc* load = nullptr;
  s = StartProc(ctx, &rig, "load", load_args, &load);
  if (!s.ok()) return fail(s.ToString());
  run.load_i = rig.procs.size() - 1;
  s = fault->Arm(run);
  if (!s.ok()) return fail("arming " + f.scenario + ": " + s.ToString());
  const std::string command =
      CommandLine(&rig.procs[run.load_i], run.relay_i ? &rig.procs[*run.relay_i] : nullptr);
  // The steady part starts with the load's first finished operation: a
  // coordinator opening 64 workers' connections (and running its start-up
  // recovery) takes a second or more on two busy cores, and a fault
  // injected before it runs would find no load to act on.
  const auto started_by = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::error_code ec;
  while (std::filesystem::file_size(run.samples, ec) == 0 || ec) {
    if (!run.load().running() || run.load().Wait(milliseconds(0)) ||
        std::chrono::steady_clock::now() > started_by) {
      break;  // judged below from what it left (the samples, its exit)
    }
    SleepS(0.01);
  }
  SleepS(f.steady_s);

  run.fault_start_us = NowUs();
  s = fault->Inject(run);
  if (!s.ok()) return fail("injecting " + f.scenario + ": " + s.ToString());
  // The window is fault_s from its start, whatever Inject spent of it.
  SleepS(f.fault_s - (NowUs() - run.fault_start_us) / 1e6);
  const int64_t fault_end = NowUs();
  s = fault->Heal(run);
  if (!s.ok()) return fail("healing " + f.scenario + ": " + s.ToString());

  // ---- converge: every row committed by the end of the fault has its message
  // readable, and nothing has been in doubt for more than a second.
  // Known to lose here (offset-naive; 3PC under a partition): its losses
  // never converge, so a short wait.
  const bool guaranteed = a.GuaranteedUnder(f.scenario);
  const double converge_timeout =
      guaranteed ? f.converge_timeout_s : std::min(f.converge_timeout_s, 3.0);
  std::vector<int64_t> committed_at_heal;
  double converge_s = -1;
  bool recovered = false;
  {
    const auto t0 = std::chrono::steady_clock::now();
    bool have_ids = false;
    for (;;) {
      const double el =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (el > converge_timeout) break;
      if (!have_ids) {
        try {
          pqxx::connection pc{rig.dsn};
          pqxx::nontransaction tx{pc};
          for (const auto& r : tx.exec_params("SELECT id FROM orders WHERE id BETWEEN $1 AND $2",
                                              rig.min_id, rig.max_id)) {
            committed_at_heal.push_back(r[0].as<int64_t>());
          }
          have_ids = true;
        } catch (const std::exception&) {
          SleepS(0.1);  // Postgres still recovering
          continue;
        }
      }
      const auto doubt = monitor.Current();
      // A coordinator that exited with work for recovery: run `2pc recover`
      // once, as an operator (or the coordinator's next run) would.
      if (!recovered && !a.recover.empty() && !run.load().running() &&
          run.load().Wait(milliseconds(0)) && doubt.known && doubt.count > 0) {
        recovered = true;
        RunRecover(ctx, &rig, a, &run.notes);
        continue;
      }
      // Event sourcing: the rows are the projection of the messages, so
      // convergence is the projector having caught up with the topic.
      const bool messages =
          !rig.tail || (a.def().rows_follow_messages ? CountRows(rig) >= rig.tail->unique()
                                                     : rig.tail->SeenAll(committed_at_heal));
      if (messages && doubt.known && (doubt.count == 0 || doubt.max_age_s < 1.0)) {
        converge_s = (NowUs() - fault_end) / 1e6;
        break;
      }
      SleepS(0.1);
    }
  }

  // ---- let the load finish, drain, stop
  const double remaining = total_s - (NowUs() - run.load_start_us) / 1e6;
  if (!run.load().Wait(
          milliseconds(static_cast<int64_t>(std::max(0.0, remaining) * 1000) + 120000))) {
    return fail("the load command did not finish");
  }
  if (!run.load().ok()) run.notes.push_back("load: " + run.load().ErrorLine());
  // A saga's open sagas are not prepared transactions the monitor sees:
  // `saga recover` runs once the load has exited, whatever it left (it does
  // nothing when every saga ended).
  if (!recovered && !a.recover.empty() &&
      (monitor.Current().count > 0 || a.def().judge == Judge::kSaga)) {
    recovered = true;
    RunRecover(ctx, &rig, a, &run.notes);
  }
  // 3PC: what a killed or cut-off coordinator left undecided is the
  // agents' to finish (their termination protocol), with no recover command.
  if (a.is_3pc() && !WaitAgentsDecided(rig, guaranteed ? f.converge_timeout_s : 10)) {
    run.notes.push_back("the 3pc agents still held undecided transactions after converging");
  }
  const double drain = Settle(rig, a, guaranteed ? f.drain_timeout_s : 2.0);
  if (drain < 0) run.notes.push_back("not every committed row's message arrived after the load");
  if (run.relay_i) rig.procs[*run.relay_i].Stop(milliseconds(15000));
  for (auto& p : rig.procs) {
    if (p.running() && p.tag == "proxy") p.Stop(milliseconds(5000));
  }
  monitor.Stop();

  uint64_t dups_after = dups_before;
  if (own_broker) (void)rig.broker.Counter("dw_broker_duplicates_total", &dups_after);

  std::vector<SampleRow> rows;
  (void)ReadSamples(run.samples, &rows);
  // Arrivals run from the load's first intended start (after its process
  // started up) for total_s (a restarted load keeps the same end), whatever
  // converging and draining took afterwards.
  if (!rows.empty()) {
    run.load_start_us =
        std::min_element(rows.begin(), rows.end(), [](const auto& x, const auto& y) {
          return x.start_us < y.start_us;
        })->start_us;
  }
  const int64_t load_end = run.load_start_us + static_cast<int64_t>(total_s * 1e6);
  const int64_t fault_start = run.fault_start_us;
  WindowStats during = Window(rows, fault_start, fault_end);
  WindowStats before = Window(rows, run.load_start_us, fault_start);
  WindowStats total = Window(rows, run.load_start_us, load_end);
  workload::VerifyReport vr;
  json v = JudgeJson(rig, a, &vr);

  results::FaultWindow& window = cell.fault.emplace();
  window.start_s = (fault_start - run.load_start_us) / 1e6;
  window.end_s = (fault_end - run.load_start_us) / 1e6;
  cell.offered_rate_per_s = f.rate > 0 ? Field<double>(f.rate) : Field<double>(nullptr);
  cell.ops = during.ToOps();
  cell.ops_total = total.ToOps();
  cell.timeline = Timeline(rows, fault_start, run.load_start_us, load_end, kBucketUs);
  if (f.rate > 0) {
    // Offered is what arrived, whether or not a process was there to take
    // it: a killed coordinator (2PC's load generator) issues nothing while
    // it is down, and those arrivals count as not served.
    auto offer = [&](results::Ops* ops, double seconds) {
      const double offered =
          std::max(static_cast<double>(ops->attempted.value_or(0)), std::round(f.rate * seconds));
      ops->offered = offered;
      ops->availability = offered > 0
                              ? Field<double>(std::min(
                                    1.0, static_cast<double>(ops->succeeded.value_or(0)) / offered))
                              : Field<double>(nullptr);
    };
    offer(&*cell.ops, (fault_end - fault_start) / 1e6);
    offer(&*cell.ops_total, (load_end - run.load_start_us) / 1e6);
    for (auto& b : *cell.timeline) {
      // The last bucket may be cut short by the end of the arrivals.
      const int64_t from = fault_start + static_cast<int64_t>(b.t_s.value_or(0) * 1e6);
      const double width_s = std::clamp<int64_t>(load_end - from, 0, kBucketUs) / 1e6;
      b.offered = std::max(b.offered.value_or(0), std::round(f.rate * width_s));
    }
  }
  cell.lost = a.uses_broker() ? Field<int64_t>(vr.missing.size()) : Field<int64_t>(nullptr);
  cell.orphans = a.uses_broker() ? Field<int64_t>(vr.orphans.size()) : Field<int64_t>(nullptr);
  cell.duplicates =
      a.uses_broker() ? Field<int64_t>(vr.duplicates.size()) : Field<int64_t>(nullptr);
  cell.duplicates_before_dedupe =
      own_broker ? Field<uint64_t>(dups_after - dups_before) : Field<uint64_t>(nullptr);
  cell.in_doubt_max = monitor.max_in_doubt();
  cell.in_doubt_max_age_s = monitor.max_in_doubt_age_s();
  const Field<results::Verify> verified = results::ReadField<results::Verify>(v);
  cell.in_doubt_at_end =
      verified && verified->in_doubt.present() ? verified->in_doubt : Field<int64_t>(nullptr);
  cell.probe_blocked_ms = monitor.probe_max_wait_ms();
  cell.converge_s = converge_s >= 0 ? Field<double>(converge_s) : Field<double>(nullptr);
  auto p99 = [](const Histogram& h) {
    return h.count() ? Field<double>(h.Percentile(0.99) / 1e3) : Field<double>(nullptr);
  };
  cell.p99_before_ms = p99(before.ok_latency);
  cell.p99_during_ms = p99(during.latency);
  cell.p99_ok_during_ms = p99(during.ok_latency);
  if (during.fail_latency.count()) {
    results::Percentiles& fail_ms = cell.fail_ms.emplace();
    fail_ms.p50 = during.fail_latency.Percentile(0.5) / 1e3;
    fail_ms.p99 = during.fail_latency.Percentile(0.99) / 1e3;
  } else {
    cell.fail_ms = nullptr;
  }
  std::vector<int64_t> lost_keys;
  for (const auto& id : vr.missing) lost_keys.push_back(id);
  cell.lost_timeline =
      LostTimeline(rows, lost_keys, fault_start, run.load_start_us, load_end, kBucketUs);
  if (a.is_outbox()) {
    std::vector<results::BacklogPoint> backlog;
    for (const auto& [at, n] : monitor.backlog()) {
      results::BacklogPoint& p = backlog.emplace_back();
      p.t_s = (at - fault_start) / 1e6;
      p.rows = n;
    }
    cell.backlog = backlog;
  }
  // What the fault measured of its own (in-doubt-held's vacuum figures),
  // as it wrote it.
  json reported = json::object();
  fault->Report(run, &reported);
  if (!reported.empty()) {
    json merged = results::Write(cell);
    merged.update(reported);
    (void)results::Read(merged, &cell);
  }
  AddFamilyFigures(rig, a, run.relay_i ? &rig.procs[*run.relay_i] : nullptr, &cell);
  if (a.def().judge == Judge::kSaga) cell.dirty_reads = SagaDirtyReads(run.load());
  cell.verify = verified;
  HistoryReport history;
  Status hs = CheckHistory(rows, rig.dsn, own_broker ? rig.broker.url() : "", rig.min_id,
                           rig.max_id, a.def().judge == Judge::kSaga, &history);
  if (a.uses_broker() && !own_broker) {
    // Together the two judge what the history checker judges with
    // dualwrite's broker: verify finds a committed row without its message
    // (missing), a message without its row (orphan) and a second copy.
    run.notes.push_back(
        "the history checker judged each operation's row; its message was judged by verify "
        "against " +
        std::string(SinkTitle(ctx.sink->kind())));
  }
  if (hs.ok()) {
    cell.history = history.ToResults();
  } else {
    results::History& h = cell.history.emplace();
    h.ok = false;
    h.error = hs.ToString();
  }
  bool verified_ok = v.value("ok", false);
  const bool past_window = PastDedupeWindow(ctx, rig, NowUs() - run.load_start_us);
  if (!verified_ok && !v.contains("error") && RedeliveredOnly(rig, past_window, vr)) {
    verified_ok = true;
    const size_t n = vr.duplicates.size();
    const std::string why =
        past_window ? "JetStream drops a republished id only within its duplicate window (" +
                          Fmt(DedupeWindow(ctx).count() / 1000.0) +
                          " s here), and a batch the relay published again came later"
                    : "RabbitMQ keeps no message ids, so a batch the relay published again is "
                      "stored again";
    run.notes.push_back(
        std::to_string(n) + (n == 1 ? " order's message was" : " orders' messages were") +
        " delivered twice: " + why +
        " (confirmed, but not marked sent: the relay, Postgres or the server failed in "
        "between); a consumer's inbox absorbs the copy (at least once, nothing lost)");
  }
  const bool clean = verified_ok && hs.ok() && history.ok();
  cell.verdict = clean ? "clean" : guaranteed ? "violations" : "expected-loss";
  cell.command = command;
  if (!clean && ctx.log) {
    *ctx.log << "compare: " << f.scenario << " x " << a.name << ": verify " << v.dump() << "\n";
  }
  CleanupRig(ctx, &rig, !clean && guaranteed);
  return Finish(cell, notes);
}

}  // namespace dw::compare
