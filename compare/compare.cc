#include "compare/compare.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "common/dsn.h"
#include "compare/approaches.h"
#include "compare/cells.h"
#include "compare/faults.h"
#include "compare/lab.h"
#include "compare/machine.h"
#include "compare/order_cell.h"
#include "compare/plan.h"
#include "compare/plots.h"
#include "compare/report.h"
#include "compare/rig.h"
#include "compare/sink.h"
#include "compare/sustain.h"

namespace dw::compare {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

bool RunsWithSink(const std::string& scenario) {
  const ScenarioDef* def = FindScenario(scenario);
  return def && def->with_sink;
}

std::string Duration(double s) {
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  } else {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  }
  return buf;
}

// The progress line on a TTY (current cell, elapsed, estimate), a plain
// log line per cell otherwise.
class Progress {
 public:
  Progress(size_t total, bool tty, std::ostream& log) : total_(total), tty_(tty), log_(log) {}
  void Cell(const std::string& what) {
    ++done_;
    const double el = std::chrono::duration<double>(Clock::now() - t0_).count();
    const double eta = done_ > 1 ? el / (done_ - 1) * (total_ - done_ + 1) : 0;
    if (tty_) {
      std::fprintf(stderr, "\r\033[K[compare] %zu/%zu %s  %s elapsed%s", done_, total_,
                   what.c_str(), Duration(el).c_str(),
                   done_ > 1 ? (", ~" + Duration(eta) + " left").c_str() : "");
      std::fflush(stderr);
    } else {
      log_ << "compare: [" << done_ << "/" << total_ << "] " << what << " (" << Duration(el)
           << " elapsed)\n";
      log_.flush();
    }
  }
  // Cells the plan counted that will not run (an approach left the grid).
  void Skip(size_t n) { total_ -= std::min(n, total_ - done_); }
  void Done() {
    if (tty_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  size_t total_;
  const bool tty_;
  std::ostream& log_;
  size_t done_ = 0;
  const Clock::time_point t0_ = Clock::now();
};

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::IOError("cannot write " + path);
  return Status::OK();
}

}  // namespace

Status RenderOutputs(const json& results, const std::string& dir, std::vector<std::string>* written,
                     std::vector<std::string>* warnings) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
  Status s = WriteFile(dir + "/report.md", RenderReport(results));
  if (!s.ok()) return s;
  written->push_back(dir + "/report.md");
  s = WritePlots(results, dir, written);
  if (!s.ok()) warnings->push_back("plots: " + s.ToString());
  return Status::OK();
}

namespace {

// Section 1's rate grid: every approach at the same offered rates, each
// leaving the grid after its first unsustained rate.
results::RateGrid RunRateGrid(CellContext& ctx, const Plan& plan, double bound_ms,
                              Progress& progress) {
  std::vector<results::LoadCell> cells;
  for (const auto& name : plan.grid_approaches) {
    const Approach* a = FindApproach(name);
    for (size_t i = 0; i < plan.rates.size(); ++i) {
      const double rate = plan.rates[i];
      progress.Cell("rate grid " + name + " at " + Fmt(rate) + "/s");
      LoadSpec spec;
      spec.warmup_s = plan.warmup_s;
      spec.concurrency = plan.open_concurrency;
      spec.rate = rate;
      spec.duration_s = plan.open_s;
      spec.e2e_bound_ms = bound_ms;
      results::LoadCell cell = MeasureLoadCell(ctx, *a, spec, plan);
      const bool ok = !cell.error && cell.sustained.value_or(false);
      cells.push_back(std::move(cell));
      if (!ok) {
        progress.Skip(plan.rates.size() - i - 1);
        break;
      }
    }
  }
  results::RateGrid grid;
  grid.rates = plan.rates;
  grid.e2e_bound_ms = bound_ms;
  grid.sustainable = SustainableRates(cells);
  grid.cells = std::move(cells);
  return grid;
}

// The failure matrix's arrival rate: half the lowest sustainable grid rate
// among the matrix's approaches (they all get the same load).
double FailureRate(const Plan& plan, const results::RateGrid& grid, double given) {
  if (given > 0) return given;
  double lowest = 0;
  for (const auto& name : plan.failure_approaches) {
    if (!grid.sustainable) break;
    auto it = grid.sustainable->find(name);
    if (it != grid.sustainable->end() && it->second.rate_per_s) {
      const double r = *it->second.rate_per_s;
      lowest = lowest == 0 ? r : std::min(lowest, r);
    }
  }
  return lowest > 0 ? lowest / 2 : kFallbackFailureRate;
}

// The run's settings as results.json records them (the failure rate comes
// later, from the grid).
results::Settings RunSettings(const CompareOptions& opts, const Plan& plan, const Lab& lab,
                              const std::vector<Approach>& approaches) {
  results::Settings st;
  st.environment = lab.embedded() ? "embedded" : "external";
  st.dsn = lab.embedded() ? results::Field<std::string>(nullptr)
                          : results::Field<std::string>(RedactDsn(opts.dsn));
  st.broker = opts.broker.empty() ? std::string("a fresh broker process per cell") : opts.broker;
  st.repetitions = plan.repetitions;
  st.concurrency = std::vector<int64_t>(plan.concurrency.begin(), plan.concurrency.end());
  st.cell_duration_s = plan.cell_s;
  st.warmup_s = plan.warmup_s;
  st.min_ops_per_cell = plan.min_ops;
  st.rate_grid = plan.rates;
  st.open_loop_duration_s = plan.open_s;
  st.open_loop_concurrency = plan.open_concurrency;
  st.e2e_bound_ms = plan.e2e_bound_ms;
  st.hot_rows = std::vector<int64_t>(plan.hot_rows.begin(), plan.hot_rows.end());
  st.contention_concurrency = plan.contention_concurrency;
  st.fault_s = plan.scenarios.empty() ? 0.0 : plan.scenarios[0].fault_s;
  st.steady_s = plan.steady_s;
  st.after_s = plan.after_s;
  st.failure_concurrency = plan.open_concurrency;
  st.converge_timeout_s = plan.converge_timeout_s;
  st.only = opts.only.empty() ? results::Field<std::string>(nullptr)
                              : results::Field<std::string>(opts.only);
  if (!opts.scenarios.empty()) st.scenarios = opts.scenarios;
  std::map<std::string, results::RelayDeployment> relays;
  for (const auto& a : approaches) {
    if (!a.is_outbox()) continue;
    results::RelayDeployment& d = relays[a.name];
    d.strategy = a.relay.size() > 3 ? results::Field<std::string>(a.relay[3])
                                    : results::Field<std::string>(nullptr);
    d.batch = a.relay_batch;
    d.instances = a.relay_instances;
  }
  st.relays = std::move(relays);
  for (const auto& a : approaches) {
    if (a.lockstep_batch <= 1) continue;
    st.coordinator_batch = a.lockstep_batch;
    st.coordinator_batch_from = Approach::kLockstepFrom;
  }
  return st;
}

}  // namespace

Status RunCompare(const CompareOptions& opts, std::ostream& log, json* results) {
  std::vector<Approach> approaches;
  Status s = SelectApproaches(opts.only, &approaches);
  if (!s.ok()) return s;
  if (opts.size != "full") LeaveOutFullSizeOnly(opts.only, &approaches);
  SinkKind sink = SinkKind::kDualwrite;
  s = ParseSinkKind(opts.sink, &sink);
  if (!s.ok()) return s;
  const bool real_sink = sink != SinkKind::kDualwrite;
  if (real_sink && !opts.broker.empty()) {
    return Status::InvalidArgument("--broker names dualwrite's broker, which no cell of --sink " +
                                   opts.sink + " uses");
  }
  // A real sink measures what can publish through it; every other selected
  // approach is recorded with why (settings.not_measured), never dropped.
  std::vector<Approach> measured;
  std::map<std::string, std::string> not_measured;
  for (const auto& a : approaches) {
    const std::string why = real_sink ? NotWithSink(a) : "";
    if (why.empty()) {
      measured.push_back(a);
    } else {
      not_measured[a.name] = why;
    }
  }
  if (measured.empty()) {
    return Status::InvalidArgument("--sink " + opts.sink +
                                   " measures the outbox family and the floor; --only " +
                                   opts.only + " selects none of them");
  }
  Plan plan;
  s = MakePlan(opts.size, measured, &plan);
  if (!s.ok()) return s;
  plan.e2e_bound_ms = opts.e2e_bound_ms;
  if (!opts.scenarios.empty()) {
    s = SelectScenarios(opts.scenarios, &plan);
    if (!s.ok()) return s;
  }
  // The failure matrix as the selection would have it, for its cells'
  // records: with a real sink only the scenarios that run there
  // (ScenarioDef::with_sink) run, for the approaches it measures.
  Plan matrix = plan;
  if (real_sink) {
    s = MakePlan(opts.size, approaches, &matrix);
    if (s.ok() && !opts.scenarios.empty()) s = SelectScenarios(opts.scenarios, &matrix);
    if (!s.ok()) return s;
  }

  std::error_code ec;
  fs::create_directories(opts.out_dir, ec);
  if (ec) return Status::IOError("cannot create " + opts.out_dir + ": " + ec.message());
  const auto t0 = Clock::now();
  results::Run r;
  r.schema = results::kSchema;
  r.command = opts.command_line;
  r.size = opts.size;
  r.seed = opts.seed;
  r.started_at = UtcNowIso();
  r.errors = std::vector<std::string>();

  std::unique_ptr<Lab> lab;
  Lab::Options lo;
  lo.dsn = opts.dsn;
  lo.binary = opts.binary;
  lo.log = &log;
  std::string work;
  s = Lab::OpenScratch("dw-compare", lo, &lab, &work);
  if (!s.ok()) return s;
  log << "compare: " << opts.size << " run, scratch in " << work << "\n";
  std::unique_ptr<SinkServer> sink_server;
  if (real_sink) {
    s = StartRunSink(sink, work, "compare", log, &sink_server);
    if (!s.ok()) {
      lab.reset();
      if (!opts.keep_cells) fs::remove_all(work, ec);
      return s;
    }
  }
  r.machine = DescribeMachine(lab->admin_dsn());
  results::Settings settings = RunSettings(opts, plan, *lab, measured);
  settings.sink = std::string(SinkName(sink));
  if (real_sink) {
    settings.broker = std::string(SinkTitle(sink)) + ", one server for the run (" +
                      sink_server->url() + "); the outbox relays publish there";
    settings.not_measured = not_measured;
  }
  std::vector<results::ApproachInfo> infos;
  for (const auto& a : approaches) {
    results::ApproachInfo& info = infos.emplace_back();
    info.name = a.name;
    info.family = FamilyName(a.family);
    info.description = a.description;
    info.guaranteed = a.guaranteed;
  }
  r.approaches = std::move(infos);

  // With a real sink: the order-per-key cells of the approaches it measures
  // only, and not the failure scenarios that are not with_sink (recorded as
  // not run).
  auto order_cells = PlannedOrderCells(plan);
  size_t planned = PlannedCells(plan);
  if (real_sink) {
    std::erase_if(order_cells, [](const auto& c) { return !NotWithSink(*c.first).empty(); });
    for (const auto& sc : plan.scenarios) {
      if (RunsWithSink(sc.name)) continue;
      for (const auto& name : plan.failure_approaches) planned -= FailureCellRuns(sc.name, name);
    }
  }
  Progress progress(planned + order_cells.size(), opts.progress && isatty(STDERR_FILENO), log);
  CellContext ctx;
  ctx.lab = lab.get();
  ctx.binary = opts.binary;
  ctx.work_dir = work;
  ctx.external_broker = opts.broker;
  ctx.sink = sink_server.get();
  ctx.seed = opts.seed;
  ctx.run_nonce = std::random_device{}() % 8'000'000;
  ctx.keep_cells = opts.keep_cells;
  ctx.log = &log;
  auto report_error = [&](const results::LoadCell& cell, const std::string& what) {
    if (cell.error) log << "compare: " << what << ": " << *cell.error << "\n";
  };

  // Section 1: closed loop, repeated.
  std::vector<results::LoadCell> latency;
  for (const auto& a : measured) {
    for (int c : plan.concurrency) {
      progress.Cell("latency " + a.name + " C=" + std::to_string(c));
      LoadSpec spec;
      spec.warmup_s = plan.warmup_s;
      spec.concurrency = c;
      spec.duration_s = plan.cell_s;
      results::LoadCell cell = RunLoadCellRepeated(ctx, a, spec, plan, plan.repetitions);
      report_error(cell, a.name + " C=" + std::to_string(c));
      latency.push_back(std::move(cell));
    }
  }
  r.latency = std::move(latency);
  // Section 1: the same offered rates for every approach.
  r.rate_grid = RunRateGrid(ctx, plan, plan.e2e_bound_ms, progress);
  // Contention (the stock reservation with N hot rows) and relay scaling
  // (delivered throughput with 1..3 relay instances): closed loop.
  auto closed = [&](const std::string& name, const std::string& what, int hot_rows, int instances) {
    progress.Cell(what);
    LoadSpec spec;
    spec.warmup_s = plan.warmup_s;
    spec.concurrency = plan.contention_concurrency;
    spec.duration_s = plan.cell_s;
    spec.hot_rows = hot_rows;
    spec.relay_instances = instances;
    results::LoadCell cell = MeasureLoadCell(ctx, *FindApproach(name), spec, plan);
    report_error(cell, what);
    return cell;
  };
  results::Contention& contention = r.contention.emplace();
  contention.concurrency = plan.contention_concurrency;
  contention.hot_rows = std::vector<int64_t>(plan.hot_rows.begin(), plan.hot_rows.end());
  std::vector<results::LoadCell>& hot = contention.cells.emplace();
  for (int n : plan.hot_rows) {
    for (const auto& name : plan.contention_approaches) {
      hot.push_back(closed(name, "contention " + name + " hot rows " + std::to_string(n), n, 0));
    }
  }
  results::RelayScaling& scaling = r.relay_scaling.emplace();
  scaling.concurrency = plan.contention_concurrency;
  std::vector<results::LoadCell>& scaled = scaling.cells.emplace();
  for (const auto& name : plan.scaling_approaches) {
    for (int k : plan.scaling_instances) {
      scaled.push_back(closed(name, "relay scaling " + name + " x" + std::to_string(k), 0, k));
    }
  }

  // Section 2: the failure matrix, every cell at the same arrival rate.
  const double failure_rate = FailureRate(plan, *r.rate_grid, opts.failure_rate);
  settings.failure_rate_per_s = failure_rate;
  r.settings = std::move(settings);
  results::Failures& failures = r.failures.emplace();
  failures.rate_per_s = failure_rate;
  std::vector<results::ScenarioInfo>& scenarios = failures.scenarios.emplace();
  for (const auto& sc : matrix.scenarios) {
    results::ScenarioInfo& info = scenarios.emplace_back();
    info.name = sc.name;
    info.title = sc.title;
    info.description = sc.description;
    info.fault_s = sc.fault_s;
  }
  std::vector<results::FailureCell>& fcells = failures.cells.emplace();
  for (const auto& sc : real_sink ? matrix.scenarios : std::vector<Scenario>()) {
    for (const auto& name : matrix.failure_approaches) {
      const Approach& a = *FindApproach(name);
      if (!FailureCellRuns(sc.name, name)) {
        fcells.push_back(RunFailureCell(ctx, a, sc, plan, failure_rate));  // n/a: not run
      } else if (auto it = not_measured.find(name); it != not_measured.end()) {
        fcells.push_back(UnrunFailureCell(a, sc.name, "n/a", it->second));
      } else if (RunsWithSink(sc.name)) {
        progress.Cell("failure " + sc.name + " x " + name);
        fcells.push_back(RunFailureCell(ctx, a, sc, plan, failure_rate));
      } else {
        fcells.push_back(
            UnrunFailureCell(a, sc.name, "skipped", "not run with --sink " + opts.sink + " yet"));
      }
    }
  }
  for (const auto& sc : real_sink ? std::vector<Scenario>() : plan.scenarios) {
    for (const auto& name : plan.failure_approaches) {
      // An n/a cell is recorded without running: not a step of the progress.
      if (FailureCellRuns(sc.name, name)) progress.Cell("failure " + sc.name + " x " + name);
      fcells.push_back(RunFailureCell(ctx, *FindApproach(name), sc, plan, failure_rate));
    }
  }

  // Order per key: present only when the plan has cells for it, so a report
  // of a run without it (and of every older run) has no such section.
  if (!order_cells.empty()) {
    results::OrderPerKey& section = r.order_per_key.emplace();
    section.orders = plan.ordering_orders;
    section.events_per_order = plan.ordering_events;
    section.writers = OrderSpec().writers;
    section.batch = OrderSpec().batch;
    section.fault_s = plan.ordering_fault_s;
    std::vector<results::OrderCell>& ocells = section.cells.emplace();
    for (const auto& [a, spec] : order_cells) {
      const std::string what = "order per key " + a->name + " K=" + std::to_string(spec.instances) +
                               (spec.partitioned ? " partitioned" : "") +
                               (spec.fault.empty() ? "" : " " + spec.fault);
      progress.Cell(what);
      results::OrderCell cell = RunOrderCell(ctx, *a, spec);
      if (cell.status.value_or("") == "error") {
        log << "compare: " << what << ": " << cell.reason.value_or("") << "\n";
      }
      ocells.push_back(std::move(cell));
    }
  }
  progress.Done();

  if (sink_server) {
    s = sink_server->Stop(&log);
    if (!s.ok()) log << "compare: stopping the sink: " << s.ToString() << "\n";
  }
  lab.reset();  // stops and purges the embedded cluster
  if (!opts.keep_cells) fs::remove_all(work, ec);
  r.finished_at = UtcNowIso();
  r.duration_s = std::chrono::duration<double>(Clock::now() - t0).count();
  *results = results::Write(r);
  return WriteFile(opts.out_dir + "/results.json", results->dump(1) + "\n");
}

}  // namespace dw::compare
