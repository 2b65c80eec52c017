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
#include "compare/sustain.h"
#include "env/proc_info.h"

namespace dw::compare {
namespace {

using std::chrono::milliseconds;
using json = nlohmann::json;

using results::Field;
using results::LoadCell;

// A cell that failed: its figures are null (never absent: every key of a
// load cell is there).
LoadCell NullLoadCell(const Approach& a, const LoadSpec& spec, const std::string& error) {
  LoadCell c;
  c.approach = a.name;
  c.mode = spec.rate > 0 ? "open" : "closed";
  c.concurrency = spec.concurrency;
  c.rate = spec.rate;
  c.hot_rows = spec.hot_rows;
  c.hot_skew = spec.hot_skew;
  c.repetitions = 1;
  c.range = nullptr;
  c.error = error;
  c.committed = c.aborted = c.failed = nullptr;
  c.elapsed_s = c.throughput_per_s = nullptr;
  c.latency_ms = c.e2e_ms = nullptr;
  c.cdf = c.e2e_cdf = nullptr;
  c.cost = nullptr;
  c.cpu_us_per_op = nullptr;
  c.drain_s = nullptr;
  c.delivered = nullptr;
  c.delivered_per_s = c.last_delivery_s = nullptr;
  c.offered = nullptr;
  c.achieved_fraction = c.backlog_growth_per_s = nullptr;
  c.sustained = nullptr;
  c.sustain_failures = nullptr;
  c.instances = c.batch = nullptr;
  c.verify = nullptr;
  c.pending_age_ms = c.projection_lag_ms = nullptr;
  c.command = nullptr;
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
  // A real sink's server (compare/sink.h) is the broker: it serves one
  // cell at a time, so its CPU over the cell is the cell's.
  const pid_t broker = rig.broker.pid() > 0 ? rig.broker.pid() : rig.sink_pid;
  if (broker > 0) r.broker = env::ProcessCpuSeconds(broker);
  return r;
}

Field<double> PerOp(double seconds, uint64_t ops) {
  if (seconds < 0 || ops == 0) return nullptr;
  return seconds / static_cast<double>(ops) * 1e6;
}

// A figure of the load command's --json summary: null when it lacks it.
template <class T>
Field<T> Summary(const json& summary, const char* key) {
  Field<T> f;
  json mistyped;
  results::Take(summary, key, &f, &mistyped);
  return f.present() ? f : Field<T>(nullptr);
}

}  // namespace

LoadCell MeasureLoadCell(CellContext& ctx, const Approach& a, const LoadSpec& spec,
                         const Plan& plan) {
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
  // dualwrite's broker counts its fsyncs; a real sink's are not counted.
  const bool broker_fsyncs = a.uses_broker() && rig.sink_url.empty();
  if (broker_fsyncs) (void)rig.broker.Counter("dw_broker_fsyncs_total", &before.broker_fsyncs);
  const CpuReading cpu0 = ReadCpu(ctx, rig);

  Proc* relay = nullptr;
  if (a.has_relay()) {
    s = StartRelay(ctx, &rig, a, false, spec.relay_instances, &relay);
    if (!s.ok()) return fail(s.ToString());
  }
  const std::string samples = rig.dir + "/samples.csv";
  Proc* load = nullptr;
  LoadShape shape{spec.concurrency, spec.rate,     spec.duration_s,
                  spec.hot_rows,    spec.hot_skew, plan.min_ops};
  s = StartProc(ctx, &rig, "load", LoadArgs(a, shape, samples, ctx.seed), &load);
  if (!s.ok()) return fail(s.ToString());
  if (!load->Wait(milliseconds(static_cast<int64_t>(spec.duration_s * 10000) + 120000))) {
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
  // 3PC's agents run from the load's start to the cell's end: their CPU so
  // far is the cell's (read before they are stopped with the rig).
  double agents_cpu_s = a.is_3pc() ? 0 : -1;
  for (const Proc& p : rig.procs) {
    if (!a.is_3pc() || !p.tag.starts_with("agent-")) continue;
    const double s = p.running() ? env::ProcessCpuSeconds(p.pid) : -1;
    agents_cpu_s = s >= 0 && agents_cpu_s >= 0 ? agents_cpu_s + s : -1;
  }
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
  if (broker_fsyncs) (void)rig.broker.Counter("dw_broker_fsyncs_total", &after.broker_fsyncs);

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

  LoadCell cell;
  cell.approach = a.name;
  cell.mode = open ? "open" : "closed";
  cell.concurrency = spec.concurrency;
  cell.rate = spec.rate;
  cell.hot_rows = spec.hot_rows;
  cell.hot_skew = spec.hot_skew;
  cell.repetitions = 1;
  cell.range = nullptr;
  cell.committed = Summary<int64_t>(lj, "committed");
  cell.aborted = Summary<int64_t>(lj, "aborted");
  cell.failed = Summary<int64_t>(lj, "failed");
  cell.elapsed_s = Summary<double>(lj, "elapsed_s");
  cell.throughput_per_s = Summary<double>(lj, "throughput_per_s");
  cell.warmup_s = spec.warmup_s;
  cell.latency_ms = PercentilesMs(h, false);
  const uint64_t committed = lj.value("committed", uint64_t{0});
  const uint64_t attempted =
      committed + lj.value("aborted", uint64_t{0}) + lj.value("failed", uint64_t{0});
  workload::VerifyReport vr;
  cell.verify = results::ReadField<results::Verify>(JudgeJson(rig, a, &vr));
  if (rig.tail) {
    Histogram e2e;
    std::vector<int64_t> read_at;
    for (const auto& [placed, read] : rig.tail->Arrivals()) {
      read_at.push_back(read);
      if (placed >= measured_from) e2e.Record(read - placed);
    }
    cell.e2e_ms = PercentilesMs(e2e, true);
    cell.e2e_cdf = CdfMs(e2e);
    int64_t last = read_at.empty() ? 0 : *std::max_element(read_at.begin(), read_at.end());
    // Event sourcing delivers when the row is projected: the catch-up's end.
    if (a.def().rows_follow_messages && drain >= 0 && last > 0) last = std::max(last, settled_us);
    // Drain: from the load's last completed operation to the last message
    // readable (not from the process's exit, which closes 64 connections).
    int64_t last_done = 0;
    for (const auto& r : rows) last_done = std::max(last_done, r.start_us + r.latency_us);
    cell.drain_s = drain >= 0 && last > 0
                       ? Field<double>(std::max<int64_t>(0, last - last_done) / 1e6)
                       : Field<double>(nullptr);
    const uint64_t rows_now = CountRows(rig);
    // Saga: an order still pending or compensating has not reached its final
    // state, whatever the topic holds.
    const uint64_t missing =
        vr.missing.size() + (a.def().judge == Judge::kSaga && cell.verify
                                 ? static_cast<uint64_t>(cell.verify->in_doubt.value_or(0))
                                 : uint64_t{0});
    const uint64_t delivered = rows_now > missing ? rows_now - missing : 0;
    cell.delivered = delivered;
    if (last > t0 && t0 > 0) {
      const double secs = (last - t0) / 1e6;
      cell.last_delivery_s = secs;
      cell.delivered_per_s = delivered / secs;
    } else {
      cell.last_delivery_s = nullptr;
      cell.delivered_per_s = nullptr;
    }
    auto growth = BacklogGrowthPerS(rows, read_at, t0, t_end);
    cell.backlog_growth_per_s = open && growth ? Field<double>(*growth) : Field<double>(nullptr);
  } else {
    cell.e2e_ms = nullptr;
    cell.e2e_cdf = nullptr;
    cell.drain_s = nullptr;
    cell.delivered = nullptr;
    cell.last_delivery_s = nullptr;
    cell.delivered_per_s = nullptr;
    cell.backlog_growth_per_s = nullptr;
  }
  cell.cdf = CdfMs(h);
  cell.cost = CostPerOp(before, after, committed, broker_fsyncs);
  // CPU per party: a party that did not run is null; the total is null when
  // a party that ran could not be read (an external server, a lost pid).
  auto delta = [](double x0, double x1) { return x0 >= 0 && x1 >= x0 ? x1 - x0 : -1.0; };
  results::CpuPerOp& cpu = cell.cpu_us_per_op.emplace();
  struct Party {
    Field<double>* field;
    bool ran;
    double seconds;
  };
  const Party parties[] = {
      {&cpu.postgres, true, delta(cpu0.postgres, cpu1.postgres)},
      {&cpu.broker, a.uses_broker(), delta(cpu0.broker, cpu1.broker)},
      {&cpu.load, true, lj.value("process_cpu_s", -1.0)},
      {&cpu.relay, relay != nullptr, relay_cpu_s},
      {&cpu.agents, a.is_3pc(), agents_cpu_s},
  };
  double total = 0;
  bool complete = true;
  for (const Party& p : parties) {
    *p.field = p.ran ? PerOp(p.seconds, committed) : Field<double>(nullptr);
    if (*p.field) total += **p.field;
    complete = complete && (!p.ran || p.field->has_value());
  }
  cpu.total = complete ? Field<double>(total) : Field<double>(nullptr);
  cell.instances = relay ? Field<int64_t>(spec.relay_instances > 0 ? spec.relay_instances
                                                                   : std::max(1, a.relay_instances))
                         : Field<int64_t>(nullptr);
  cell.batch = relay ? Field<int64_t>(a.relay_batch) : Field<int64_t>(nullptr);
  if (open) {
    cell.offered = attempted;
    cell.achieved_fraction = attempted ? Field<double>(static_cast<double>(committed) / attempted)
                                       : Field<double>(nullptr);
    auto why = SustainFailures(cell, spec.rate, spec.e2e_bound_ms, spec.duration_s);
    cell.sustained = why.empty();
    cell.sustain_failures = why;
  } else {
    cell.offered = nullptr;
    cell.achieved_fraction = nullptr;
    cell.sustained = nullptr;
    cell.sustain_failures = nullptr;
  }
  AddFamilyFigures(rig, a, relay, &cell);
  if (a.def().judge == Judge::kSaga) cell.dirty_reads = SagaDirtyReads(*load);
  cell.command = CommandLine(load, relay);
  // Which side stalled: the tail short of what verify found in the broker
  // points at the reader, verify short of the rows at the relay.
  cell.error =
      drain < 0 && a.guaranteed
          ? Field<std::string>("not every message arrived within " + Fmt(plan.drain_timeout_s) +
                               " s of the load's end (the tail read " +
                               std::to_string(rig.tail ? rig.tail->unique() : 0) + " of " +
                               std::to_string(vr.rows) + " rows; verify found " +
                               std::to_string(vr.missing.size()) + " missing from the broker)")
          : Field<std::string>(nullptr);
  CleanupRig(ctx, &rig, false);
  return cell;
}

namespace {

// The figures a repeated cell reports as median (min-max): where each lives
// in `range`, and in a cell (nullptr when the cell lacks it).
struct RangedFigure {
  Field<results::MinMax> results::Ranges::*range;
  Field<double>* (*in)(LoadCell& c);
};
const RangedFigure kRanged[] = {
    {&results::Ranges::throughput_per_s, [](LoadCell& c) { return &c.throughput_per_s; }},
    {&results::Ranges::delivered_per_s, [](LoadCell& c) { return &c.delivered_per_s; }},
    {&results::Ranges::latency_p50_ms,
     [](LoadCell& c) { return c.latency_ms ? &c.latency_ms->p50 : nullptr; }},
    {&results::Ranges::latency_p99_ms,
     [](LoadCell& c) { return c.latency_ms ? &c.latency_ms->p99 : nullptr; }},
    {&results::Ranges::e2e_p50_ms, [](LoadCell& c) { return c.e2e_ms ? &c.e2e_ms->p50 : nullptr; }},
    {&results::Ranges::e2e_p99_ms, [](LoadCell& c) { return c.e2e_ms ? &c.e2e_ms->p99 : nullptr; }},
    {&results::Ranges::cpu_total_us_per_op,
     [](LoadCell& c) { return c.cpu_us_per_op ? &c.cpu_us_per_op->total : nullptr; }},
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

LoadCell MergeRuns(const std::vector<LoadCell>& runs) {
  std::vector<LoadCell> good;
  for (const auto& r : runs) {
    if (!r.error) good.push_back(r);
  }
  if (good.empty()) return runs.empty() ? LoadCell() : runs.back();
  // The distributions and counts come from the run with the median business throughput.
  std::vector<const LoadCell*> by_tp;
  for (const auto& r : good) by_tp.push_back(&r);
  std::sort(by_tp.begin(), by_tp.end(), [](const LoadCell* x, const LoadCell* y) {
    return x->throughput_per_s.value_or(0.0) < y->throughput_per_s.value_or(0.0);
  });
  LoadCell cell = *by_tp[by_tp.size() / 2];
  cell.repetitions = good.size();
  if (good.size() < 2) return cell;
  cell.range = results::Ranges();
  results::Ranges& range = *cell.range;
  for (const auto& f : kRanged) {
    std::vector<double> v;
    for (LoadCell& r : good) {
      const Field<double>* x = f.in(r);
      if (x && x->has_value()) v.push_back(**x);
    }
    if (v.size() != good.size()) {
      range.*f.range = nullptr;
      continue;
    }
    *f.in(cell) = Median(v);
    range.*f.range = results::MinMax{*std::min_element(v.begin(), v.end()),
                                     *std::max_element(v.begin(), v.end())};
  }
  // Sustained only if every run sustained the rate.
  if (cell.sustained) {
    std::vector<std::string> why;
    bool all = true;
    for (const LoadCell& r : good) {
      all = all && r.sustained.value_or(false);
      if (r.sustain_failures)
        why.insert(why.end(), r.sustain_failures->begin(), r.sustain_failures->end());
    }
    cell.sustained = all;
    cell.sustain_failures = why;
  }
  return cell;
}

json MergeRepetitions(const std::vector<json>& runs) {
  if (runs.empty()) return nullptr;
  std::vector<LoadCell> typed(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) (void)results::Read(runs[i], &typed[i]);
  return results::Write(MergeRuns(typed));
}

LoadCell RunLoadCellRepeated(CellContext& ctx, const Approach& a, const LoadSpec& spec,
                             const Plan& plan, int repetitions) {
  std::vector<LoadCell> runs;
  for (int i = 0; i < std::max(1, repetitions); ++i)
    runs.push_back(MeasureLoadCell(ctx, a, spec, plan));
  LoadCell cell = MergeRuns(runs);
  if (runs.size() > 1) {
    // A run that failed is named, not hidden behind the median of the others.
    for (const auto& r : runs) {
      if (r.error) cell.notes.emplace().push_back("a repetition failed: " + *r.error);
    }
  }
  return cell;
}

}  // namespace dw::compare
