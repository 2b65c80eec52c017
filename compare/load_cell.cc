// Load cells: one approach under one load, measured from the business
// operation's acknowledgement to the message being readable, with the CPU
// every party spent on it.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "compare/cells.h"
#include "compare/cost.h"
#include "compare/family_figures.h"
#include "compare/rig.h"
#include "compare/samples.h"
#include "env/proc_info.h"

namespace dw::compare {
namespace {

using std::chrono::milliseconds;
using json = nlohmann::json;

json NullLoadCell(const Approach& a, const LoadSpec& spec, const std::string& error) {
  json c = {{"approach", a.name},
            {"mode", spec.rate > 0 ? "open" : "closed"},
            {"concurrency", spec.concurrency},
            {"rate", spec.rate},
            {"hot_rows", spec.hot_rows},
            {"hot_skew", spec.hot_skew},
            {"repetitions", 1},
            {"range", nullptr},
            {"error", error}};
  for (const char* k : {"committed",
                        "aborted",
                        "failed",
                        "elapsed_s",
                        "throughput_per_s",
                        "latency_ms",
                        "e2e_ms",
                        "cdf",
                        "e2e_cdf",
                        "cost",
                        "cpu_us_per_op",
                        "drain_s",
                        "delivered",
                        "delivered_per_s",
                        "last_delivery_s",
                        "offered",
                        "achieved_fraction",
                        "backlog_growth_per_s",
                        "sustained",
                        "sustain_failures",
                        "instances",
                        "batch",
                        "verify",
                        "pending_age_ms",
                        "projection_lag_ms",
                        "command"}) {
    c[k] = nullptr;
  }
  return c;
}

// CPU seconds of the parties a cell can see, read before and after it.
struct CpuReading {
  double postgres = -1;  // the cluster's process tree
  double broker = -1;
};

CpuReading ReadCpu(const CellContext& ctx, const Rig& rig) {
  CpuReading r;
  const pid_t pg = ctx.lab->PostgresPid();
  if (pg > 0) r.postgres = env::ProcessTreeCpuSeconds(pg);
  if (rig.broker.pid() > 0) r.broker = env::ProcessCpuSeconds(rig.broker.pid());
  return r;
}

json PerOp(double seconds, uint64_t ops) {
  if (seconds < 0 || ops == 0) return nullptr;
  return seconds / static_cast<double>(ops) * 1e6;
}

// The conditions of a sustained open-loop rate (docs/compare-results.md,
// `sustained`); the phrases of those that failed.
std::vector<std::string> SustainFailures(const json& cell, double rate, double bound_ms) {
  std::vector<std::string> why;
  auto num = [&](const json& v) { return v.is_number() ? v.get<double>() : NAN; };
  const double achieved = num(cell["achieved_fraction"]);
  if (!(achieved >= 0.99)) {
    why.push_back("committed " + Fmt(std::round(achieved * 1000) / 10) + "% of the offered");
  }
  const double p99 = num(cell["latency_ms"].is_object() ? cell["latency_ms"]["p99"] : json());
  if (!(p99 < bound_ms)) why.push_back("business p99 " + Fmt(std::round(p99)) + " ms");
  if (cell["e2e_ms"].is_object()) {
    const double e2e = num(cell["e2e_ms"]["p99"]);
    if (!(e2e < bound_ms)) why.push_back("e2e p99 " + Fmt(std::round(e2e)) + " ms");
  }
  if (cell["drain_s"].is_number() && cell["drain_s"].get<double>() * 1e3 >= bound_ms) {
    why.push_back("drained " + Fmt(std::round(cell["drain_s"].get<double>() * 10) / 10) +
                  " s after the load");
  }
  if (cell["backlog_growth_per_s"].is_number() &&
      cell["backlog_growth_per_s"].get<double>() > 0.01 * rate) {
    why.push_back("backlog grew " + Fmt(std::round(cell["backlog_growth_per_s"].get<double>())) +
                  "/s");
  }
  return why;
}

}  // namespace

json RunLoadCell(CellContext& ctx, const Approach& a, const LoadSpec& spec, const Plan& plan) {
  Rig rig;
  const bool open = spec.rate > 0;
  std::string slug =
      a.name + (open ? "-r" + Fmt(spec.rate) : "-c" + std::to_string(spec.concurrency));
  if (spec.hot_rows > 0) slug += "-hot" + std::to_string(spec.hot_rows);
  if (spec.relay_instances > 0) slug += "-i" + std::to_string(spec.relay_instances);
  Status s = PrepareRig(ctx, a, slug, &rig);
  auto fail = [&](const std::string& why) {
    CleanupRig(ctx, &rig, true);
    return NullLoadCell(a, spec, why + " (logs in " + rig.dir + ")");
  };
  if (!s.ok()) return fail(s.ToString());

  CostSnapshot before, after;
  s = TakeCost(rig.dsn, &before);
  if (!s.ok()) return fail(s.ToString());
  if (a.uses_broker()) (void)rig.broker.Counter("dw_broker_fsyncs_total", &before.broker_fsyncs);
  const CpuReading cpu0 = ReadCpu(ctx, rig);

  Proc* relay = nullptr;
  if (a.has_relay()) {
    s = StartRelay(ctx, &rig, a, false, spec.relay_instances, &relay);
    if (!s.ok()) return fail(s.ToString());
  }
  const std::string samples = rig.dir + "/samples.csv";
  Proc* load = nullptr;
  LoadShape shape{spec.concurrency, spec.rate, spec.duration_s, spec.hot_rows, spec.hot_skew};
  s = StartProc(ctx, &rig, "load", LoadArgs(a, shape, samples, ctx.seed), &load);
  if (!s.ok()) return fail(s.ToString());
  if (!load->Wait(milliseconds(static_cast<int64_t>(spec.duration_s * 1000) + 120000))) {
    return fail("the load command did not finish");
  }
  if (!load->ok()) return fail(load->ErrorLine());
  json lj = json::parse(LastLine(load->out), nullptr, false);
  if (!lj.is_object()) return fail("the load command printed no JSON summary");

  // An approach known to lose messages never drains completely: do not wait
  // the full timeout for rows it skipped (verify reports them). Event
  // sourcing settles the other way: the projector catches up with the topic.
  const double drain =
      Settle(rig, a, a.guaranteed ? plan.drain_timeout_s : 2.0, lj.value("committed", uint64_t{0}));
  const int64_t settled_us = NowUs();
  double relay_cpu_s = -1;
  if (relay) {
    relay_cpu_s = env::ProcessCpuSeconds(relay->pid);
    relay->Stop(milliseconds(15000));
  }
  // The load's backends have exited; give the postmaster a moment to reap
  // them, so their CPU shows in its children's time.
  SleepS(0.2);
  const CpuReading cpu1 = ReadCpu(ctx, rig);

  s = TakeCost(rig.dsn, &after);
  if (!s.ok()) return fail(s.ToString());
  if (a.uses_broker()) (void)rig.broker.Counter("dw_broker_fsyncs_total", &after.broker_fsyncs);

  std::vector<SampleRow> rows;
  (void)ReadSamples(samples, &rows);
  int64_t t0 = 0, t_end = 0;
  for (const auto& r : rows) {
    t0 = t0 == 0 ? r.start_us : std::min(t0, r.start_us);
    t_end = std::max(t_end, r.start_us);
  }
  // Latency figures leave out the warm-up: each worker opens its
  // connections on its first operation, and 64 backends forked at once on
  // two cores make the first arrivals wait up to a second or more.
  const int64_t measured_from = t0 + static_cast<int64_t>(spec.warmup_s * 1e6);
  Histogram h;
  for (const auto& r : rows) {
    if (r.start_us >= measured_from) h.Record(r.latency_us);
  }

  json cell = {{"approach", a.name},
               {"mode", open ? "open" : "closed"},
               {"concurrency", spec.concurrency},
               {"rate", spec.rate},
               {"hot_rows", spec.hot_rows},
               {"hot_skew", spec.hot_skew},
               {"repetitions", 1},
               {"range", nullptr}};
  for (const char* k : {"committed", "aborted", "failed", "elapsed_s", "throughput_per_s"}) {
    cell[k] = lj.value(k, json(nullptr));
  }
  cell["warmup_s"] = spec.warmup_s;
  cell["latency_ms"] = PercentilesJson(h, false);
  const uint64_t committed = lj.value("committed", uint64_t{0});
  const uint64_t attempted =
      committed + lj.value("aborted", uint64_t{0}) + lj.value("failed", uint64_t{0});
  workload::VerifyReport vr;
  cell["verify"] = JudgeJson(rig, a, &vr);
  if (rig.tail) {
    Histogram e2e;
    std::vector<int64_t> read_at;
    for (const auto& [placed, read] : rig.tail->Arrivals()) {
      read_at.push_back(read);
      if (placed >= measured_from) e2e.Record(read - placed);
    }
    cell["e2e_ms"] = PercentilesJson(e2e, true);
    cell["e2e_cdf"] = CdfJson(e2e);
    int64_t last = read_at.empty() ? 0 : *std::max_element(read_at.begin(), read_at.end());
    // Event sourcing delivers when the row is projected: the catch-up's end.
    if (a.def().rows_follow_messages && drain >= 0 && last > 0) last = std::max(last, settled_us);
    // Drain: from the load's last completed operation to the last message
    // readable (not from the process's exit, which closes 64 connections).
    int64_t last_done = 0;
    for (const auto& r : rows) last_done = std::max(last_done, r.start_us + r.latency_us);
    cell["drain_s"] =
        drain >= 0 && last > 0 ? json(std::max<int64_t>(0, last - last_done) / 1e6) : json(nullptr);
    const uint64_t rows_now = CountRows(rig);
    // Saga: an order still pending or compensating has not reached its final
    // state, whatever the topic holds.
    const uint64_t missing =
        vr.missing.size() + (a.def().judge == Judge::kSaga
                                 ? cell["verify"].value("in_doubt", uint64_t{0})
                                 : uint64_t{0});
    const uint64_t delivered = rows_now > missing ? rows_now - missing : 0;
    cell["delivered"] = delivered;
    if (last > t0 && t0 > 0) {
      const double secs = (last - t0) / 1e6;
      cell["last_delivery_s"] = secs;
      cell["delivered_per_s"] = delivered / secs;
    } else {
      cell["last_delivery_s"] = nullptr;
      cell["delivered_per_s"] = nullptr;
    }
    auto growth = BacklogGrowthPerS(rows, read_at, t0, t_end);
    cell["backlog_growth_per_s"] = open && growth ? json(*growth) : json(nullptr);
  } else {
    for (const char* k : {"e2e_ms", "e2e_cdf", "drain_s", "delivered", "last_delivery_s",
                          "delivered_per_s", "backlog_growth_per_s"}) {
      cell[k] = nullptr;
    }
  }
  cell["cdf"] = CdfJson(h);
  cell["cost"] = CostJson(before, after, committed, a.uses_broker());
  // CPU per party: a party that did not run is null; the total is null when
  // a party that ran could not be read (an external server, a lost pid).
  auto delta = [](double x0, double x1) { return x0 >= 0 && x1 >= x0 ? x1 - x0 : -1.0; };
  struct Party {
    const char* name;
    bool ran;
    double seconds;
  };
  const Party parties[] = {
      {"postgres", true, delta(cpu0.postgres, cpu1.postgres)},
      {"broker", a.uses_broker(), delta(cpu0.broker, cpu1.broker)},
      {"load", true, lj.value("process_cpu_s", -1.0)},
      {"relay", relay != nullptr, relay_cpu_s},
  };
  json cpu = json::object();
  double total = 0;
  bool complete = true;
  for (const Party& p : parties) {
    cpu[p.name] = p.ran ? PerOp(p.seconds, committed) : json(nullptr);
    if (cpu[p.name].is_number()) total += cpu[p.name].get<double>();
    complete = complete && (!p.ran || cpu[p.name].is_number());
  }
  cpu["total"] = complete ? json(total) : json(nullptr);
  cell["cpu_us_per_op"] = cpu;
  cell["instances"] =
      relay ? json(spec.relay_instances > 0 ? spec.relay_instances : std::max(1, a.relay_instances))
            : json(nullptr);
  cell["batch"] = relay ? json(a.relay_batch) : json(nullptr);
  if (open) {
    cell["offered"] = attempted;
    cell["achieved_fraction"] =
        attempted ? json(static_cast<double>(committed) / attempted) : json(nullptr);
    auto why = SustainFailures(cell, spec.rate, spec.e2e_bound_ms);
    cell["sustained"] = why.empty();
    cell["sustain_failures"] = why;
  } else {
    for (const char* k : {"offered", "achieved_fraction", "sustained", "sustain_failures"}) {
      cell[k] = nullptr;
    }
  }
  AddFamilyFigures(rig, a, relay, &cell);
  cell["command"] = CommandLine(load, relay);
  cell["error"] = drain < 0 && a.guaranteed
                      ? json("not every message arrived within " + Fmt(plan.drain_timeout_s) +
                             " s of the load's end")
                      : json(nullptr);
  CleanupRig(ctx, &rig, false);
  return cell;
}

namespace {

// The figures a repeated cell reports as median (min-max): name in `range`,
// and where the value lives in a cell.
struct RangedFigure {
  const char* name;
  const char* key;
  const char* sub;  // nullptr: cell[key] itself
};
constexpr RangedFigure kRanged[] = {
    {"throughput_per_s", "throughput_per_s", nullptr},
    {"delivered_per_s", "delivered_per_s", nullptr},
    {"latency_p50_ms", "latency_ms", "p50"},
    {"latency_p99_ms", "latency_ms", "p99"},
    {"e2e_p50_ms", "e2e_ms", "p50"},
    {"e2e_p99_ms", "e2e_ms", "p99"},
    {"cpu_total_us_per_op", "cpu_us_per_op", "total"},
};

// The figure's value in `cell`, or null when the cell lacks it.
const json* Find(const json& cell, const RangedFigure& f) {
  auto v = cell.find(f.key);
  if (v == cell.end()) return nullptr;
  if (!f.sub) return &*v;
  if (!v->is_object()) return nullptr;
  auto sub = v->find(f.sub);
  return sub == v->end() ? nullptr : &*sub;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

json MergeRepetitions(const std::vector<json>& runs) {
  std::vector<const json*> good;
  for (const auto& r : runs) {
    if (r["error"].is_null()) good.push_back(&r);
  }
  if (good.empty()) return runs.empty() ? json(nullptr) : runs.back();
  // The distributions and counts come from the run with the median business throughput.
  std::vector<const json*> by_tp = good;
  std::sort(by_tp.begin(), by_tp.end(), [](const json* x, const json* y) {
    return x->value("throughput_per_s", 0.0) < y->value("throughput_per_s", 0.0);
  });
  json cell = *by_tp[by_tp.size() / 2];
  cell["repetitions"] = good.size();
  if (good.size() < 2) return cell;
  json range = json::object();
  for (const auto& f : kRanged) {
    std::vector<double> v;
    for (const json* r : good) {
      const json* x = Find(*r, f);
      if (x && x->is_number()) v.push_back(x->get<double>());
    }
    if (v.size() != good.size()) {
      range[f.name] = nullptr;
      continue;
    }
    (f.sub ? cell[f.key][f.sub] : cell[f.key]) = Median(v);
    range[f.name] = {*std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end())};
  }
  cell["range"] = range;
  // Sustained only if every run sustained the rate.
  if (cell["sustained"].is_boolean()) {
    json why = json::array();
    bool all = true;
    for (const json* r : good) {
      all = all && r->value("sustained", false);
      for (const auto& w : (*r)["sustain_failures"]) why.push_back(w);
    }
    cell["sustained"] = all;
    cell["sustain_failures"] = why;
  }
  return cell;
}

json RunLoadCellRepeated(CellContext& ctx, const Approach& a, const LoadSpec& spec,
                         const Plan& plan, int repetitions) {
  std::vector<json> runs;
  for (int i = 0; i < std::max(1, repetitions); ++i)
    runs.push_back(RunLoadCell(ctx, a, spec, plan));
  json cell = MergeRepetitions(runs);
  if (runs.size() > 1) {
    // A run that failed is named, not hidden behind the median of the others.
    for (const auto& r : runs) {
      if (!r["error"].is_null())
        cell["notes"].push_back("a repetition failed: " + r["error"].get<std::string>());
    }
  }
  return cell;
}

}  // namespace dw::compare
