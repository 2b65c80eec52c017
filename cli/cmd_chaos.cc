// `dualwrite chaos`: the randomized crash campaign. The work is in
// compare/chaos.h; this file is flags and the exit status.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/sink_flag.h"
#include "common/dsn.h"
#include "common/process.h"
#include "compare/chaos.h"

namespace dw::cli {

void AddChaosCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "chaos",
      "randomized crash campaign: each run draws an approach, a load and a fault (SIGKILL, crash "
      "point, Postgres crash, partition, slow or dead broker) from its seed, heals it, and checks "
      "verify plus the history of every acknowledged / aborted operation");
  struct Opts {
    int runs = 20;
    uint64_t seed = 1;
    int run = -1;
    std::string approach;
    std::string fault;
    std::string out;
    std::string sink = "dualwrite";
    std::string dedupe_window;
    bool keep = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--runs", o->runs, "number of runs (default 20)")->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o->seed,
                  "campaign seed: run K is drawn from (seed, K) alone (default 1)");
  cmd->add_option("--run", o->run, "only run number K (how a failure is reproduced)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option(
      "--approach", o->approach,
      "approaches or families to draw from (default 2pc,outbox,saga,event-sourced): e.g. "
      "2pc-pg,outbox-cdc,saga");
  cmd->add_option("--fault", o->fault,
                  "draw only these faults (e.g. process-kill,crash-point); agent-kill (3PC: a "
                  "participant agent SIGKILLed and restarted) and relay-outage (the outbox relay "
                  "SIGKILLed while it drains a backlog, restarted at the window's end) are drawn "
                  "only when named here (relay-outage also with --dedupe-window)");
  AddSinkOption(cmd, &o->sink,
                "where the outbox publishes: dualwrite (its broker, a fresh process per run; "
                "default), nats (one nats-server with JetStream for the campaign) or rabbitmq "
                "(one rabbitmq-server); with nats or rabbitmq only the outbox family is drawn, "
                "and broker-down SIGKILLs and restarts that server");
  cmd->add_option("--dedupe-window", o->dedupe_window,
                  "nats: the stream's duplicate window the relays set (default 2m; e.g. 2s, "
                  "1500ms); relay-outage is then drawn too, its relay down longer than the "
                  "window, so its replay delivers duplicates");
  cmd->add_option("--out", o->out, "write chaos.json and chaos.md into this folder");
  cmd->add_flag("--keep-cells", o->keep, "keep every run's folder (process logs, samples)");
  cmd->callback([&g, o, cmd] {
    if (!g.broker.empty()) {
      throw CliError("chaos kills and restarts its own brokers: --broker is not supported");
    }
    if (cmd->count("--dedupe-window") > 0 && o->sink != "nats") {
      throw CliError("--dedupe-window is for --sink nats", 2);
    }
    const compare::SinkKind sink = CheckedSink(o->sink);
    compare::ChaosOptions co;
    co.runs = o->runs;
    co.seed = o->seed;
    co.only_run = o->run;
    co.approaches = o->approach;
    co.faults = o->fault;
    if (sink != compare::SinkKind::kDualwrite) co.sink = o->sink;
    co.dedupe_window = o->dedupe_window;
    co.dsn = g.dsn;
    co.binary = SelfExe();
    co.out_dir = o->out;
    co.keep_cells = o->keep;
    std::string line = "dualwrite";
    if (!g.dsn.empty()) line += " --dsn '" + RedactDsn(g.dsn) + "'";
    line += " chaos --runs " + std::to_string(o->runs) + " --seed " + std::to_string(o->seed);
    if (o->run >= 0) line += " --run " + std::to_string(o->run);
    if (!o->approach.empty()) line += " --approach " + o->approach;
    if (!o->fault.empty()) line += " --fault " + o->fault;
    if (!co.sink.empty()) line += " --sink " + co.sink;
    if (!o->dedupe_window.empty()) line += " --dedupe-window " + o->dedupe_window;
    co.command_line = line;
    compare::ChaosSummary sum;
    Status s = compare::RunChaos(co, std::cout, &sum);
    if (!s.ok()) throw CliError(s.ToString());
    std::cout << "chaos: " << sum.runs << " runs, " << sum.violations << " violation(s), "
              << sum.expected_losses
              << " expected loss(es) found (offset-naive; 3PC under a partition)";
    if (!co.sink.empty()) {
      std::cout << ", " << sum.duplicates << " duplicate(s) delivered ("
                << (sink == compare::SinkKind::kRabbitmq
                        ? std::string("RabbitMQ keeps no message ids")
                    : o->dedupe_window.empty()
                        ? std::string("JetStream's 2 min duplicate window drops a replay")
                        : "replay past the " + o->dedupe_window + " duplicate window")
                << "; not violations: nothing lost)";
    }
    std::cout << "\n";
    if (sum.violations > 0) {
      for (const auto& r : sum.reproduce) std::cout << "  reproduce: " << r << "\n";
      throw CliError(std::to_string(sum.violations) + " run(s) broke a guarantee", 3);
    }
  });
}

}  // namespace dw::cli
