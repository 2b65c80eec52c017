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
#include <random>

#include "common/dsn.h"
#include "compare/approaches.h"
#include "compare/cells.h"
#include "compare/lab.h"
#include "compare/machine.h"
#include "compare/order_cell.h"
#include "compare/plan.h"
#include "compare/plots.h"
#include "compare/report.h"
#include "compare/rig.h"
#include "compare/sustain.h"

namespace dw::compare {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

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
json RunRateGrid(CellContext& ctx, const Plan& plan, double bound_ms, Progress& progress) {
  json cells = json::array();
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
      json cell = RunLoadCell(ctx, *a, spec, plan);
      const bool ok = cell["error"].is_null() && cell.value("sustained", false);
      cells.push_back(cell);
      if (!ok) {
        progress.Skip(plan.rates.size() - i - 1);
        break;
      }
    }
  }
  json sustainable = SustainableRates(cells);
  return {{"rates", plan.rates},
          {"e2e_bound_ms", bound_ms},
          {"cells", cells},
          {"sustainable", sustainable}};
}

// The failure matrix's arrival rate: half the lowest sustainable grid rate
// among the matrix's approaches (they all get the same load).
double FailureRate(const Plan& plan, const json& grid, double given) {
  if (given > 0) return given;
  double lowest = 0;
  for (const auto& name : plan.failure_approaches) {
    const json& s = grid["sustainable"].value(name, json());
    if (s.is_object() && s["rate_per_s"].is_number()) {
      const double r = s["rate_per_s"].get<double>();
      lowest = lowest == 0 ? r : std::min(lowest, r);
    }
  }
  return lowest > 0 ? lowest / 2 : kFallbackFailureRate;
}

}  // namespace

Status RunCompare(const CompareOptions& opts, std::ostream& log, json* results) {
  std::vector<Approach> approaches;
  Status s = SelectApproaches(opts.only, &approaches);
  if (!s.ok()) return s;
  if (opts.size != "full") LeaveOutFullSizeOnly(opts.only, &approaches);
  Plan plan;
  s = MakePlan(opts.size, approaches, &plan);
  if (!s.ok()) return s;
  plan.e2e_bound_ms = opts.e2e_bound_ms;

  std::error_code ec;
  fs::create_directories(opts.out_dir, ec);
  if (ec) return Status::IOError("cannot create " + opts.out_dir + ": " + ec.message());
  const auto t0 = Clock::now();
  json r;
  r["schema"] = "dualwrite-compare/2";
  r["command"] = opts.command_line;
  r["size"] = opts.size;
  r["seed"] = opts.seed;
  r["started_at"] = UtcNowIso();
  r["errors"] = json::array();

  std::unique_ptr<Lab> lab;
  Lab::Options lo;
  lo.dsn = opts.dsn;
  lo.binary = opts.binary;
  lo.log = &log;
  std::string work;
  s = Lab::OpenScratch("dw-compare", lo, &lab, &work);
  if (!s.ok()) return s;
  log << "compare: " << opts.size << " run, scratch in " << work << "\n";
  r["machine"] = DescribeMachine(lab->admin_dsn());

  json settings;
  settings["environment"] = lab->embedded() ? "embedded" : "external";
  settings["dsn"] = lab->embedded() ? json(nullptr) : json(RedactDsn(opts.dsn));
  settings["broker"] =
      opts.broker.empty() ? json("a fresh broker process per cell") : json(opts.broker);
  settings["repetitions"] = plan.repetitions;
  settings["concurrency"] = plan.concurrency;
  settings["cell_duration_s"] = plan.cell_s;
  settings["warmup_s"] = plan.warmup_s;
  settings["min_ops_per_cell"] = plan.min_ops;
  settings["rate_grid"] = plan.rates;
  settings["open_loop_duration_s"] = plan.open_s;
  settings["open_loop_concurrency"] = plan.open_concurrency;
  settings["e2e_bound_ms"] = plan.e2e_bound_ms;
  settings["hot_rows"] = plan.hot_rows;
  settings["contention_concurrency"] = plan.contention_concurrency;
  settings["fault_s"] = plan.scenarios.empty() ? 0 : plan.scenarios[0].fault_s;
  settings["steady_s"] = plan.steady_s;
  settings["after_s"] = plan.after_s;
  settings["failure_concurrency"] = plan.open_concurrency;
  settings["converge_timeout_s"] = plan.converge_timeout_s;
  settings["only"] = opts.only.empty() ? json(nullptr) : json(opts.only);
  json relays = json::object();
  json approaches_json = json::array();
  for (const auto& a : approaches) {
    approaches_json.push_back({{"name", a.name},
                               {"family", FamilyName(a.family)},
                               {"description", a.description},
                               {"guaranteed", a.guaranteed}});
    if (a.is_outbox()) {
      relays[a.name] = {{"strategy", a.relay.size() > 3 ? json(a.relay[3]) : json(nullptr)},
                        {"batch", a.relay_batch},
                        {"instances", a.relay_instances}};
    }
  }
  settings["relays"] = relays;
  r["approaches"] = approaches_json;

  const auto order_cells = PlannedOrderCells(plan);
  Progress progress(PlannedCells(plan) + order_cells.size(), opts.progress && isatty(STDERR_FILENO),
                    log);
  CellContext ctx;
  ctx.lab = lab.get();
  ctx.binary = opts.binary;
  ctx.work_dir = work;
  ctx.external_broker = opts.broker;
  ctx.seed = opts.seed;
  ctx.run_nonce = std::random_device{}() % 8'000'000;
  ctx.keep_cells = opts.keep_cells;
  ctx.log = &log;
  auto report_error = [&](const json& cell, const std::string& what) {
    if (!cell["error"].is_null()) {
      log << "compare: " << what << ": " << cell["error"].get<std::string>() << "\n";
    }
  };

  // Section 1: closed loop, repeated.
  r["latency"] = json::array();
  for (const auto& a : approaches) {
    for (int c : plan.concurrency) {
      progress.Cell("latency " + a.name + " C=" + std::to_string(c));
      LoadSpec spec;
      spec.warmup_s = plan.warmup_s;
      spec.concurrency = c;
      spec.duration_s = plan.cell_s;
      json cell = RunLoadCellRepeated(ctx, a, spec, plan, plan.repetitions);
      report_error(cell, a.name + " C=" + std::to_string(c));
      r["latency"].push_back(cell);
    }
  }
  // Section 1: the same offered rates for every approach.
  r["rate_grid"] = RunRateGrid(ctx, plan, plan.e2e_bound_ms, progress);
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
    json cell = RunLoadCell(ctx, *FindApproach(name), spec, plan);
    report_error(cell, what);
    return cell;
  };
  json contention = json::array();
  for (int n : plan.hot_rows) {
    for (const auto& name : plan.contention_approaches) {
      contention.push_back(
          closed(name, "contention " + name + " hot rows " + std::to_string(n), n, 0));
    }
  }
  r["contention"] = {{"concurrency", plan.contention_concurrency},
                     {"hot_rows", plan.hot_rows},
                     {"cells", contention}};
  json scaling = json::array();
  for (const auto& name : plan.scaling_approaches) {
    for (int k : plan.scaling_instances) {
      scaling.push_back(closed(name, "relay scaling " + name + " x" + std::to_string(k), 0, k));
    }
  }
  r["relay_scaling"] = {{"concurrency", plan.contention_concurrency}, {"cells", scaling}};

  // Section 2: the failure matrix, every cell at the same arrival rate.
  const double failure_rate = FailureRate(plan, r["rate_grid"], opts.failure_rate);
  settings["failure_rate_per_s"] = failure_rate;
  r["settings"] = settings;
  json scenarios = json::array();
  for (const auto& sc : plan.scenarios) {
    scenarios.push_back({{"name", sc.name},
                         {"title", sc.title},
                         {"description", sc.description},
                         {"fault_s", sc.fault_s}});
  }
  json cells = json::array();
  for (const auto& sc : plan.scenarios) {
    for (const auto& name : plan.failure_approaches) {
      // An n/a cell is recorded without running: not a step of the progress.
      if (FailureCellRuns(sc.name, name)) progress.Cell("failure " + sc.name + " x " + name);
      cells.push_back(RunFailureCell(ctx, *FindApproach(name), sc, plan, failure_rate));
    }
  }
  r["failures"] = {{"rate_per_s", failure_rate}, {"scenarios", scenarios}, {"cells", cells}};

  // Order per key: present only when the plan has cells for it, so a report
  // of a run without it (and of every older run) has no such section.
  if (!order_cells.empty()) {
    json order_json = json::array();
    for (const auto& [a, spec] : order_cells) {
      const std::string what = "order per key " + a->name + " K=" + std::to_string(spec.instances) +
                               (spec.partitioned ? " partitioned" : "") +
                               (spec.fault.empty() ? "" : " " + spec.fault);
      progress.Cell(what);
      json cell = RunOrderCell(ctx, *a, spec);
      if (cell["status"] == "error") {
        log << "compare: " << what << ": " << cell["reason"].get<std::string>() << "\n";
      }
      order_json.push_back(cell);
    }
    r["order_per_key"] = {
        {"orders", plan.ordering_orders},   {"events_per_order", plan.ordering_events},
        {"writers", OrderSpec().writers},   {"batch", OrderSpec().batch},
        {"fault_s", plan.ordering_fault_s}, {"cells", order_json}};
  }
  progress.Done();

  lab.reset();  // stops and purges the embedded cluster
  if (!opts.keep_cells) fs::remove_all(work, ec);
  r["finished_at"] = UtcNowIso();
  r["duration_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
  *results = r;
  return WriteFile(opts.out_dir + "/results.json", r.dump(1) + "\n");
}

}  // namespace dw::compare
