// `dualwrite compare`: the side-by-side report, the project's main job.
// All the work is in compare/; this file is flags and output.
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/sink_flag.h"
#include "common/dsn.h"
#include "common/process.h"
#include "compare/compare.h"
#include "compare/results.h"
#include "compare/sink.h"

namespace dw::cli {
namespace {

std::string Fmt(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

std::string DefaultOut() {
  std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "compare-%Y%m%d-%H%M%S", std::gmtime(&t));
  return buf;
}

}  // namespace

void AddCompareCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "compare",
      "measure 2PC and every outbox strategy side by side (latency, throughput, cost, failure "
      "behaviour) and write report.md, results.json and plots");
  struct Opts {
    bool quick = false;
    bool smoke = false;
    std::string out;
    std::string only;
    std::string scenarios;
    uint64_t seed = 1;
    std::string from;
    bool keep = false;
    double e2e_bound_ms = 250;
    double failure_rate = 0;
    std::string sink = "dualwrite";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_flag("--quick", o->quick, "the quick size: at most 6 minutes on 2 cores");
  cmd->add_flag("--smoke", o->smoke, "the smallest size, for tests (with or without --quick)");
  cmd->add_option("--out", o->out, "output folder (default ./compare-<UTC time>)");
  cmd->add_option("--only", o->only,
                  "comma-separated approaches or families to run (floor, 2pc, outbox, saga, "
                  "event-sourced, 2pc-pg, outbox-cdc, ...)");
  cmd->add_option("--scenarios", o->scenarios,
                  "comma-separated failure scenarios of the failure matrix to run (broker-down, "
                  "partition, ...), or none to leave the matrix out (default: the size's)");
  cmd->add_option("--seed", o->seed, "seed of the generated orders and fault moments (default 1)");
  cmd->add_option("--from", o->from,
                  "re-render report.md and plots from this results.json without running anything");
  cmd->add_flag("--keep-cells", o->keep, "keep each cell's folder (process logs, samples)");
  cmd->add_option("--e2e-bound-ms", o->e2e_bound_ms,
                  "a rate is sustained only while the end-to-end p99 stays under this (default "
                  "250)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--failure-rate", o->failure_rate,
                  "arrivals per second of every failure cell (default: half the lowest "
                  "sustainable rate of the matrix's approaches)")
      ->check(CLI::PositiveNumber);
  AddSinkOption(cmd, &o->sink,
                "where the outbox publishes: dualwrite (its broker, a fresh process per cell; "
                "default), nats (one nats-server with JetStream for the run) or rabbitmq (one "
                "rabbitmq-server for the run); with nats or rabbitmq section 1 and the failure "
                "matrix measure the outbox family and the floor only");
  cmd->callback([&g, o, cmd] {
    if (!o->from.empty()) {
      std::ifstream in(o->from);
      if (!in) throw CliError("cannot read " + o->from);
      nlohmann::json results = nlohmann::json::parse(in, nullptr, false);
      // Read as the typed results: a schema of the wrong type reads as none.
      const std::string schema = compare::results::ParseRun(results).schema.value_or("");
      if (schema != compare::results::kSchemaV1 && schema != compare::results::kSchema) {
        throw CliError(o->from +
                       " is not a dualwrite-compare results file (want schema "
                       "dualwrite-compare/1 or /2)");
      }
      std::string dir =
          o->out.empty() ? std::filesystem::absolute(o->from).parent_path().string() : o->out;
      std::vector<std::string> written, warnings;
      Status s = compare::RenderOutputs(results, dir, &written, &warnings);
      if (!s.ok()) throw CliError(s.ToString());
      for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
      std::cout << "rendered " << dir << "/report.md (" << written.size() << " files)\n";
      return;
    }
    const compare::SinkKind sink = CheckedSink(o->sink);
    if (sink != compare::SinkKind::kDualwrite) {
      if (!g.broker.empty()) {
        throw CliError(
            "--broker names dualwrite's broker, which no cell of --sink " + o->sink + " uses", 2);
      }
    }
    compare::CompareOptions co;
    co.size = o->smoke ? "smoke" : o->quick ? "quick" : "full";
    co.out_dir = o->out.empty() ? DefaultOut() : o->out;
    co.dsn = g.dsn;
    co.broker = g.broker;
    co.only = o->only;
    co.scenarios = o->scenarios;
    co.seed = o->seed;
    co.binary = SelfExe();
    co.keep_cells = o->keep;
    co.e2e_bound_ms = o->e2e_bound_ms;
    co.failure_rate = o->failure_rate;
    co.sink = o->sink;
    std::string line = "dualwrite";
    if (!g.dsn.empty()) line += " --dsn '" + RedactDsn(g.dsn) + "'";
    if (!g.broker.empty()) line += " --broker " + g.broker;
    line += " compare";
    if (o->quick) line += " --quick";
    if (o->smoke) line += " --smoke";
    if (!o->out.empty()) line += " --out " + o->out;
    if (!o->only.empty()) line += " --only " + o->only;
    if (!o->scenarios.empty()) line += " --scenarios " + o->scenarios;
    if (cmd->count("--seed") > 0) line += " --seed " + std::to_string(o->seed);
    if (cmd->count("--e2e-bound-ms") > 0) line += " --e2e-bound-ms " + Fmt(o->e2e_bound_ms);
    if (cmd->count("--failure-rate") > 0) line += " --failure-rate " + Fmt(o->failure_rate);
    if (cmd->count("--sink") > 0) line += " --sink " + o->sink;
    co.command_line = line;
    nlohmann::json results;
    Status s = compare::RunCompare(co, std::cerr, &results);
    if (!s.ok()) throw CliError(s.ToString());
    std::vector<std::string> written, warnings;
    s = compare::RenderOutputs(results, co.out_dir, &written, &warnings);
    if (!s.ok()) throw CliError(s.ToString());
    for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
    size_t violations = 0;
    for (const auto& c : results["failures"]["cells"]) violations += c["verdict"] == "violations";
    std::cout << "results: " << co.out_dir << "/results.json\nreport:  " << co.out_dir
              << "/report.md\n";
    if (violations > 0) {
      throw CliError(std::to_string(violations) +
                         " failure cell(s) broke a guarantee: see the report's section 2",
                     3);
    }
  });
}

}  // namespace dw::cli
