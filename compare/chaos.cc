#include "compare/chaos.h"

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "compare/approaches.h"
#include "compare/cells.h"
#include "compare/faults.h"
#include "compare/lab.h"
#include "compare/machine.h"
#include "compare/sink.h"
#include "jetstream/url.h"

namespace dw::compare {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// Faults drawn only when --fault names them, so that every (seed, run) of a
// campaign without --fault draws exactly what it drew before they existed.
// agent-kill: one of 3PC's participant agents SIGKILLed and started again.
// relay-outage: the outbox relay killed mid-drain and kept down (drawn
// unnamed too when a --dedupe-window is set, which it is there to outlast).
std::vector<std::string> NamedOnlyFaults(const Approach& a) {
  if (a.is_3pc()) return {"agent-kill"};
  if (FindScenario("relay-outage")->not_applicable(a).empty()) return {"relay-outage"};
  return {};
}

// What the campaign's setting allows to draw besides the approach's own.
struct Setting {
  bool embedded = true;    // Postgres is ours to crash
  bool real_sink = false;  // --sink nats|rabbitmq: the with_sink scenarios only
  double window_s = 0;     // --dedupe-window in seconds; 0: none given
};

std::vector<std::string> Split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// The faults a run may draw for `a`. clock-skew is left out: it is a designed
// loss of offset-naive, shown by `compare`, not a crash. `only` (--fault):
// just those of them named there, the named-only ones included.
std::vector<std::string> Faults(const Approach& a, const Setting& set,
                                const std::vector<std::string>& only) {
  std::vector<std::string> v = {"broker-down", "broker-slow", "process-kill", "partition"};
  if (set.embedded) v.push_back("postgres-restart");
  // Crash points are declared per family (FamilyDef): 2PC's and 3PC's
  // coordinator steps, the saga's after-t1 | after-publish |
  // during-compensation, the event-sourced projector's (its relay's).
  if (!a.def().crash_points.empty()) v.push_back("crash-point");
  if (!a.def().broker_crash_points.empty()) v.push_back("broker-crash");
  if (a.def().handles_refusal) v.push_back("broker-reject");
  // With a sink the faults compare --sink runs (broker-down kills the real
  // server; broker-slow and partition act through a proxy in front of it).
  if (set.real_sink) {
    std::erase_if(v, [](const std::string& f) { return !FindScenario(f)->with_sink; });
  }
  const std::vector<std::string> named = NamedOnlyFaults(a);
  const bool outage = std::find(named.begin(), named.end(), "relay-outage") != named.end();
  if (set.window_s > 0 && outage) v.push_back("relay-outage");
  if (only.empty()) return v;
  for (const auto& f : named) {
    if (std::find(v.begin(), v.end(), f) == v.end()) v.push_back(f);
  }
  std::erase_if(v, [&only](const std::string& f) {
    return std::find(only.begin(), only.end(), f) == only.end();
  });
  return v;
}

struct Draw {
  const Approach* approach = nullptr;
  FaultSpec spec;
  std::string Describe() const {
    std::ostringstream o;
    o << approach->name << " " << spec.scenario;
    if (!spec.crash_at.empty()) o << " " << spec.crash_at;  // agent-kill: its victim
    if (spec.scenario == "crash-point") o << "@" << spec.crash_after;
    o << " c=" << spec.concurrency << " fault " << spec.fault_s << "s";
    if (spec.scenario == "relay-outage") o << " (stopped " << spec.kill_after_s << "s)";
    return o.str();
  }
};

// Everything about run `k` comes from (seed, k): rerunning one run alone
// draws exactly the same.
Draw DrawRun(uint64_t seed, int k, const std::vector<Approach>& pool, const Setting& set,
             const std::vector<std::string>& only) {
  std::mt19937_64 rng(seed * 1000003ULL + static_cast<uint64_t>(k) * 7919ULL + 17);
  auto pick = [&rng](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  auto uniform = [&rng](double lo, double hi) {
    return std::round(std::uniform_real_distribution<double>(lo, hi)(rng) * 10) / 10;
  };
  Draw d;
  d.approach = &pool[pick(pool.size())];
  const auto faults = Faults(*d.approach, set, only);
  FaultSpec& f = d.spec;
  f.scenario = faults[pick(faults.size())];
  const int conc[] = {1, 2, 4, 8};
  f.concurrency = conc[pick(4)];
  f.steady_s = uniform(0.5, 1.5);
  f.fault_s = uniform(0.5, 2.5);
  f.after_s = 1.0;
  f.kill_after_s = uniform(0.0, f.fault_s);
  const FamilyDef& def = d.approach->def();
  if (f.scenario == "crash-point") {
    f.crash_at = def.crash_points[pick(def.crash_points.size())];
    f.crash_after = static_cast<int64_t>(pick(300));
  } else if (f.scenario == "broker-crash") {
    f.crash_at = def.broker_crash_points[pick(def.broker_crash_points.size())];
  } else if (f.scenario == "agent-kill") {
    f.crash_at = pick(2) == 0 ? "postgres-agent" : "broker-agent";  // the victim
  } else if (f.scenario == "relay-outage") {
    // Stopped this long (the backlog), then killed mid-drain: down for the
    // rest of the window, which outlasts a --dedupe-window by 1.5 s.
    f.kill_after_s = uniform(0.3, 1.0);
    f.fault_s =
        std::round((f.kill_after_s + (set.window_s > 0 ? set.window_s + 1.5 : f.fault_s)) * 10) /
        10;
  }
  f.converge_timeout_s = d.approach->GuaranteedUnder(f.scenario) ? 30 : 3;
  f.drain_timeout_s = 30;
  return d;
}

// With a sink: which broker, and what its duplicates mean (they are a
// relay's replay the broker kept: at least once, not a violation).
std::string SinkText(const json& r) {
  const std::string sink = r.value("sink", "dualwrite");
  if (sink == "dualwrite") return "";
  SinkKind kind = SinkKind::kDualwrite;
  (void)ParseSinkKind(sink, &kind);
  int64_t dups = 0, runs = 0;
  for (const auto& run : r["runs"]) {
    const int64_t n = run.value("duplicates", int64_t{0});
    dups += n;
    runs += n > 0;
  }
  std::ostringstream o;
  o << "Broker: the outbox published to " << SinkTitle(kind) << " (`--sink " << sink
    << "`), one server for the campaign: broker-down SIGKILLs it and starts it again, "
       "broker-slow and partition act through a fault proxy in front of it. Only the outbox "
       "family is drawn; the other approaches need what only dualwrite's broker has.\n\n";
  const std::string counted = std::to_string(dups) + " in " + std::to_string(runs) + " run(s)";
  if (kind == SinkKind::kRabbitmq) {
    o << "Duplicates delivered (RabbitMQ keeps no message ids): " << counted
      << ". A batch a relay published again (confirmed, not yet marked sent when the relay, "
         "Postgres or the server failed) is stored again.";
  } else if (r["dedupe_window_s"].is_number()) {
    const double w = r["dedupe_window_s"].get<double>();
    o << "Duplicates delivered (replay past the " << w << " s duplicate window): " << counted
      << ". JetStream drops a republished message id only within the stream's duplicate "
         "window (`--dedupe-window`, 2 min by default): a batch a relay publishes again later "
         "(confirmed, not yet marked sent when the relay, Postgres or the server failed) is "
         "stored again. relay-outage aims at it: it kills the relay mid-drain (often with a batch "
         "published, not yet marked) and keeps it down 1.5 s longer than the window. A Postgres "
         "crash under the CDC relay brings its slot back to the position last saved, and the "
         "relay publishes everything since again, as a slot rewound after a long outage does.";
  } else {
    o << "Duplicates delivered: " << counted
      << ". Within JetStream's duplicate window (2 min, the default) a republished message id "
         "is dropped: a relay's replay after these outages of seconds stores nothing twice. "
         "`--dedupe-window` shorter than relay-outage's outage shows a replay past it.";
  }
  o << " Duplicates are not violations (at least once: a consumer's inbox absorbs them); a "
       "loss is.\n\n";
  return o.str();
}

std::string Markdown(const json& r) {
  std::ostringstream o;
  o << "# dualwrite chaos: " << r["runs"].size() << " runs, seed " << r["seed"] << "\n\n";
  o << "Command: `" << r["command"].get<std::string>() << "`  \n";
  results::Machine m;
  (void)results::Read(r["machine"], &m);
  auto text = [](const results::Field<std::string>& f) { return json(f.value_or("?")).dump(); };
  o << "Machine: " << text(m.cpu) << ", " << (m.cores ? std::to_string(*m.cores) : "null")
    << " cores, Postgres " << text(m.postgres_version) << "  \n";
  o << "Started " << r["started_at"].get<std::string>() << ", took "
    << static_cast<int>(r["duration_s"].get<double>()) << " s.\n\n";
  o << SinkText(r);
  std::map<std::string, std::map<std::string, int>> by_approach, by_fault;
  for (const auto& run : r["runs"]) {
    const std::string v = run["verdict"];
    by_approach[run["approach"]][v]++;
    by_fault[run["fault"]][v]++;
  }
  auto table = [&o](const char* what, const std::map<std::string, std::map<std::string, int>>& t) {
    o << "| " << what << " | runs | clean | violations | expected loss | other |\n"
      << "| --- | ---: | ---: | ---: | ---: | ---: |\n";
    for (const auto& [k, v] : t) {
      int n = 0;
      for (const auto& [_, c] : v) n += c;
      auto at = [&v](const char* key) {
        auto it = v.find(key);
        return it == v.end() ? 0 : it->second;
      };
      o << "| " << k << " | " << n << " | " << at("clean") << " | " << at("violations") << " | "
        << at("expected-loss") << " | " << n - at("clean") - at("violations") - at("expected-loss")
        << " |\n";
    }
    o << "\n";
  };
  table("approach", by_approach);
  table("fault", by_fault);
  o << "## Runs\n\n| run | drawn | verdict | acked | lost | dup | in doubt at end | converge s | "
       "note |\n"
    << "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n";
  for (const auto& run : r["runs"]) {
    results::FailureCell c;
    (void)results::Read(run["cell"], &c);
    std::string note;
    if (c.notes && !c.notes->empty()) note = c.notes->front();
    if (c.status.value_or("") != "ran") note = c.reason.value_or("");
    auto num = [](const auto& f) { return f ? results::Write(*f).dump() : std::string("-"); };
    o << "| " << run["run"] << " | " << run["drawn"].get<std::string>() << " | "
      << run["verdict"].get<std::string>() << " | "
      << (c.history ? num(c.history->acknowledged) : std::string("-")) << " | " << num(c.lost)
      << " | " << num(c.duplicates) << " | " << num(c.in_doubt_at_end) << " | " << num(c.converge_s)
      << " | " << note << " |\n";
  }
  return o.str();
}

}  // namespace

Status RunChaos(const ChaosOptions& opts, std::ostream& log, ChaosSummary* out) {
  *out = ChaosSummary();
  std::vector<Approach> pool;
  Status s = SelectApproaches(
      opts.approaches.empty() ? "2pc,outbox,saga,event-sourced" : opts.approaches, &pool);
  if (!s.ok()) return s;
  // A campaign's draws follow from its seed and pool: the full-size-only
  // approaches join the pool when --approach names them, so a seed keeps
  // drawing what it drew before they existed.
  LeaveOutFullSizeOnly(opts.approaches, &pool);
  std::erase_if(pool, [](const Approach& a) { return !a.uses_broker(); });
  if (pool.empty()) return Status::InvalidArgument("--approach: the floor sends nothing to break");
  SinkKind sink = SinkKind::kDualwrite;
  s = ParseSinkKind(opts.sink.empty() ? "dualwrite" : opts.sink, &sink);
  if (!s.ok()) return s;
  const bool real_sink = sink != SinkKind::kDualwrite;
  Setting set;
  set.real_sink = real_sink;
  std::chrono::milliseconds window{0};
  if (!opts.dedupe_window.empty()) {
    if (sink != SinkKind::kNats) {
      return Status::InvalidArgument("--dedupe-window is for --sink nats");
    }
    s = jetstream::ParseDedupeWindow(opts.dedupe_window, &window);
    if (!s.ok()) return s;
    set.window_s = window.count() / 1000.0;
  }
  if (real_sink) {
    // What cannot publish through the sink is not drawn (sink.h says why).
    std::erase_if(pool, [](const Approach& a) { return !NotWithSink(a).empty(); });
    if (pool.empty()) {
      return Status::InvalidArgument(
          "--sink " + opts.sink + ": chaos draws the outbox family there; --approach " +
          (opts.approaches.empty() ? std::string("(default)") : opts.approaches) +
          " selects none of it");
    }
    s = CheckSinkInstalled(sink);
    if (!s.ok()) return s;
  }
  const std::vector<std::string> only = Split(opts.faults);
  for (const auto& f : only) {
    const ScenarioDef* def = FindScenario(f);
    if (def == nullptr || f == "clock-skew" || f == "in-doubt-held") {
      return Status::InvalidArgument("--fault: chaos draws no fault named '" + f + "'");
    }
  }
  if (opts.runs <= 0) return Status::InvalidArgument("--runs must be positive");

  std::unique_ptr<Lab> lab;
  Lab::Options lo;
  lo.dsn = opts.dsn;
  lo.binary = opts.binary;
  lo.log = &log;
  std::string work;
  s = Lab::OpenScratch("dw-chaos", lo, &lab, &work);
  if (!s.ok()) return s;
  set.embedded = lab->embedded();
  if (!only.empty()) {
    // An approach none of the named faults applies to is left out of the pool.
    std::erase_if(pool, [&](const Approach& a) { return Faults(a, set, only).empty(); });
    if (pool.empty()) {
      return Status::InvalidArgument("--fault " + opts.faults +
                                     ": applies to no approach in the pool");
    }
  }
  std::error_code ec;
  std::unique_ptr<SinkServer> sink_server;
  if (real_sink) {
    s = StartRunSink(sink, work, "chaos", log, &sink_server);
    if (!s.ok()) {
      lab.reset();
      if (!opts.keep_cells) fs::remove_all(work, ec);
      return s;
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  json r;
  r["command"] = opts.command_line;
  r["seed"] = opts.seed;
  r["started_at"] = UtcNowIso();
  r["machine"] = results::Write(DescribeMachine(lab->admin_dsn()));
  r["sink"] = SinkName(sink);
  r["dedupe_window_s"] = set.window_s > 0 ? json(set.window_s) : json();
  r["runs"] = json::array();

  CellContext ctx;
  ctx.lab = lab.get();
  ctx.binary = opts.binary;
  ctx.work_dir = work;
  ctx.sink = sink_server.get();
  ctx.dedupe_window = window;
  ctx.seed = opts.seed;
  ctx.run_nonce = std::random_device{}() % 8'000'000;
  ctx.keep_cells = opts.keep_cells;
  ctx.log = &log;
  const int first = opts.only_run >= 0 ? opts.only_run : 0;
  const int last = opts.only_run >= 0 ? opts.only_run + 1 : opts.runs;
  for (int k = first; k < last; ++k) {
    Draw d = DrawRun(opts.seed, k, pool, set, only);
    ctx.seed = opts.seed * 31 + static_cast<uint64_t>(k);  // orders and kill moments of this run
    const results::FailureCell cell = RunFault(ctx, *d.approach, d.spec);
    const std::string status = cell.status.value_or("");
    std::string verdict = status == "ran" ? cell.verdict.value_or("") : status;
    const std::string repro =
        "dualwrite chaos --seed " + std::to_string(opts.seed) + " --run " + std::to_string(k) +
        (opts.approaches.empty() ? "" : " --approach " + opts.approaches) +
        (opts.faults.empty() ? "" : " --fault " + opts.faults) +
        (real_sink ? " --sink " + opts.sink : "") +
        (opts.dedupe_window.empty() ? "" : " --dedupe-window " + opts.dedupe_window);
    ++out->runs;
    // 3PC under a partition loses by design (Approach::expected_loss_under),
    // as offset-naive does always: the cell says expected-loss, not violations.
    if (verdict == "violations" ||
        (verdict == "error" && d.approach->GuaranteedUnder(d.spec.scenario))) {
      ++out->violations;
      out->reproduce.push_back(repro);
    }
    if (verdict == "expected-loss") ++out->expected_losses;
    const int64_t dups = status == "ran" ? cell.duplicates.value_or(0) : 0;
    out->duplicates += dups;
    log << "chaos: run " << k << " " << d.Describe() << ": " << verdict;
    if (dups > 0) log << ", " << dups << " duplicate(s) delivered";
    const json cell_json = results::Write(cell);
    if (verdict == "violations") {
      log << " " << cell_json.value("verify", json()).dump() << " "
          << cell_json.value("history", json()).dump();
    }
    if (verdict == "error") log << " (" << cell.reason.value_or("") << ")";
    if (verdict == "violations" || verdict == "error") log << "\n  reproduce: " << repro;
    log << "\n";
    log.flush();
    r["runs"].push_back({{"run", k},
                         {"approach", d.approach->name},
                         {"fault", d.spec.scenario},
                         {"drawn", d.Describe()},
                         {"verdict", verdict},
                         {"duplicates", dups},
                         {"reproduce", repro},
                         {"cell", cell_json}});
  }
  if (sink_server) {
    s = sink_server->Stop(&log);
    if (!s.ok()) log << "chaos: stopping the sink: " << s.ToString() << "\n";
  }
  lab.reset();
  if (!opts.keep_cells) fs::remove_all(work, ec);
  r["duration_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r["violations"] = out->violations;
  r["expected_losses"] = out->expected_losses;
  r["duplicates"] = out->duplicates;
  out->results = r;
  if (!opts.out_dir.empty()) {
    fs::create_directories(opts.out_dir, ec);
    std::ofstream(opts.out_dir + "/chaos.json") << r.dump(1) << "\n";
    std::ofstream(opts.out_dir + "/chaos.md") << Markdown(r);
  }
  return Status::OK();
}

}  // namespace dw::compare
