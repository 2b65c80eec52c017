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
#include "compare/plan.h"
#include "compare/plots.h"
#include "compare/report.h"

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
  void Done() {
    if (tty_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  const size_t total_;
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

Status RunCompare(const CompareOptions& opts, std::ostream& log, json* results) {
  std::vector<Approach> approaches;
  Status s = SelectApproaches(opts.only, &approaches);
  if (!s.ok()) return s;
  Plan plan;
  s = MakePlan(opts.size, approaches, &plan);
  if (!s.ok()) return s;

  std::error_code ec;
  fs::create_directories(opts.out_dir, ec);
  if (ec) return Status::IOError("cannot create " + opts.out_dir + ": " + ec.message());
  const auto t0 = Clock::now();
  json r;
  r["schema"] = "dualwrite-compare/1";
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
  settings["concurrency"] = plan.concurrency;
  settings["cell_duration_s"] = plan.cell_s;
  settings["open_loop_duration_s"] = plan.open_s;
  settings["open_loop_fractions"] = plan.open_fractions;
  settings["open_loop_concurrency"] = plan.open_concurrency;
  settings["fault_s"] = plan.scenarios.empty() ? 0 : plan.scenarios[0].fault_s;
  settings["steady_s"] = plan.steady_s;
  settings["after_s"] = plan.after_s;
  settings["failure_concurrency"] = plan.failure_concurrency;
  settings["converge_timeout_s"] = plan.converge_timeout_s;
  settings["only"] = opts.only.empty() ? json(nullptr) : json(opts.only);
  json rates = json::object();

  json approaches_json = json::array();
  for (const auto& a : approaches) {
    approaches_json.push_back({{"name", a.name},
                               {"family", a.family},
                               {"description", a.description},
                               {"guaranteed", a.guaranteed}});
  }
  r["approaches"] = approaches_json;

  const size_t total = approaches.size() * plan.concurrency.size() +
                       plan.open_approaches.size() * plan.open_fractions.size() +
                       plan.scenarios.size() * plan.failure_approaches.size();
  Progress progress(total, opts.progress && isatty(STDERR_FILENO), log);
  CellContext ctx;
  ctx.lab = lab.get();
  ctx.binary = opts.binary;
  ctx.work_dir = work;
  ctx.external_broker = opts.broker;
  ctx.seed = opts.seed;
  ctx.run_nonce = std::random_device{}() % 8'000'000;
  ctx.keep_cells = opts.keep_cells;
  ctx.log = &log;

  // Section 1: closed loop.
  r["latency"] = json::array();
  for (const auto& a : approaches) {
    for (int c : plan.concurrency) {
      progress.Cell("latency " + a.name + " C=" + std::to_string(c));
      json cell = RunLoadCell(ctx, a, c, 0, plan.cell_s, plan);
      if (!cell["error"].is_null())
        log << "compare: " << a.name << " C=" << c << ": " << cell["error"].get<std::string>()
            << "\n";
      r["latency"].push_back(cell);
    }
  }
  // Section 1: open loop, at fractions of the approach's own saturation
  // throughput (its closed-loop figure at the highest concurrency).
  r["open_loop"] = json::array();
  for (const auto& name : plan.open_approaches) {
    const Approach* a = FindApproach(name);
    double sat = 0;
    for (const auto& cell : r["latency"]) {
      if (cell["approach"] == name && cell["concurrency"] == plan.concurrency.back() &&
          cell["throughput_per_s"].is_number()) {
        sat = cell["throughput_per_s"].get<double>();
      }
    }
    json list = json::array();
    for (double f : plan.open_fractions) {
      progress.Cell("open loop " + name + " at " + std::to_string(static_cast<int>(f * 100)) +
                    "% of saturation");
      if (sat <= 0) {
        r["errors"].push_back("open loop " + name + ": no closed-loop throughput to scale from");
        continue;
      }
      const double rate = std::max(1.0, std::round(sat * f));
      list.push_back(rate);
      json cell = RunLoadCell(ctx, *a, plan.open_concurrency, rate, plan.open_s, plan);
      cell["fraction_of_saturation"] = f;
      r["open_loop"].push_back(cell);
    }
    rates[name] = list;
  }
  settings["open_loop_rates"] = rates;
  r["settings"] = settings;

  // Section 2: the failure matrix.
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
      progress.Cell("failure " + sc.name + " x " + name);
      cells.push_back(RunFailureCell(ctx, *FindApproach(name), sc, plan));
    }
  }
  r["failures"] = {{"scenarios", scenarios}, {"cells", cells}};
  progress.Done();

  lab.reset();  // stops and purges the embedded cluster
  if (!opts.keep_cells) fs::remove_all(work, ec);
  r["finished_at"] = UtcNowIso();
  r["duration_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
  *results = r;
  return WriteFile(opts.out_dir + "/results.json", r.dump(1) + "\n");
}

}  // namespace dw::compare
