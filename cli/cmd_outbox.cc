// `dualwrite outbox write | relay | maintain`: the transactional outbox.
#include <signal.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/load_flags.h"
#include "cli/pgq_setup.h"
#include "common/trace.h"
#include "env/environment.h"
#include "jetstream/url.h"
#include "outbox/partitions.h"
#include "outbox/partman.h"
#include "outbox/relay.h"
#include "outbox/relay_runner.h"
#include "outbox/schema.h"
#include "outbox/writer.h"
#include "rabbitmq/url.h"
#include "workload/load_runner.h"

namespace dw::cli {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

// Postgres only, the embedded one brought up if needed: a relay publishing
// to JetStream has no use for the broker.
std::string DsnWithoutBroker(const Globals& g) {
  if (!g.dsn.empty()) return g.dsn;
  env::UpOptions uo;
  uo.broker = false;
  uo.report_running = false;
  env::Endpoints ep;
  Check(env::Environment(g.state_dir).Up(uo, &ep, &std::cerr));
  return ep.dsn;
}

// Commands that need only Postgres do not bring up the embedded broker.
std::string DsnOnly(const Globals& g) { return g.dsn.empty() ? ResolveEndpoints(g).dsn : g.dsn; }

struct PartitionFlags {
  std::string width = "1d";
  int ahead = 2;
  int64_t grace_s = 60;
  std::string partitioner = "builtin";
};

// relay and maintain only: writers follow whatever manages the table.
void AddPartitionerFlag(CLI::App* cmd, PartitionFlags* f) {
  cmd->add_option("--partitioner", f->partitioner,
                  "who creates partitions ahead: builtin (default) or partman (pg_partman's "
                  "run_maintenance; dropping stays dualwrite's). A table registered with "
                  "pg_partman stays pg_partman's whatever this says")
      ->check(CLI::IsMember({"builtin", "partman"}));
}

void AddPartitionFlags(CLI::App* cmd, PartitionFlags* f) {
  cmd->add_option("--partition-width", f->width,
                  "outbox partition width: 1d (default), 1h, 1min for experiments, ... (1s..7d)");
  cmd->add_option("--ahead", f->ahead, "partitions kept ready past the current one (default 2)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--grace-s", f->grace_s,
                  "drop a partition only once its upper bound is this many seconds old "
                  "(default 60)")
      ->check(CLI::NonNegativeNumber);
}

// --trace, --trace-format, --trace-limit: the same meaning as in `2pc run`.
struct TraceFlags {
  bool on = false;
  std::string format = "text";
  size_t limit = 20;

  void Add(CLI::App* cmd, const std::string& unit) {
    cmd->add_flag("--trace", on, "print each step (SQL, broker call) with timestamps");
    cmd->add_option("--trace-format", format,
                    "text (default) or mermaid (a sequence diagram; implies --trace)")
        ->check(CLI::IsMember({"text", "mermaid"}));
    cmd->add_option("--trace-limit", limit, unit + " traced (default 20)");
  }
  // The Trace to hand to the writer / relays, or null (tracing off).
  std::unique_ptr<Trace> Make(CLI::App* cmd, const std::string& origin) {
    if (cmd->count("--trace-format") > 0) on = true;  // asking for a format asks for a trace
    return on ? std::make_unique<Trace>(limit, origin) : nullptr;
  }
  void Print(const Trace* t, bool json) const {
    if (!t) return;
    t->Write(json ? std::cerr : std::cout,
             format == "mermaid" ? Trace::Format::kMermaid : Trace::Format::kText);
  }
};

outbox::PartitionOptions ToPartitionOptions(const PartitionFlags& f) {
  outbox::PartitionOptions po;
  Check(outbox::ParseWidth(f.width, &po.width));
  po.ahead = f.ahead;
  po.grace = seconds(f.grace_s);
  Check(outbox::ParsePartitioner(f.partitioner, &po.partitioner));
  return po;
}

void AddWrite(CLI::App* group, Globals& g) {
  auto* cmd = group->add_subcommand(
      "write",
      "place orders the outbox way: the orders row and its outbox row in ONE local transaction "
      "(a relay publishes the event later)");
  struct Opts {
    LoadFlags load;
    bool trigger = false;
    std::string notify = "after-commit";
    uint64_t seed = 1;
    bool json = false;
    int64_t clock_skew_ms = 0;
    std::string queue = "table";
    bool emit = false;
    PartitionFlags partitions;
    TraceFlags trace;
  };
  auto o = std::make_shared<Opts>();
  o->load.Add(cmd);
  cmd->add_option("--queue", o->queue,
                  "where the event goes in the order's transaction: table (default: an "
                  "outbox_table row) or pgq (pgq.insert_event into PgQ's queue dw_outbox; "
                  "creates the extension and queue and starts pgqd if needed; relay with "
                  "--strategy pgq)")
      ->check(CLI::IsMember({"table", "pgq"}));
  cmd->add_flag("--emit-message", o->emit,
                "no outbox table: pg_logical_emit_message(true, 'dw_outbox', event) in the "
                "order's transaction, read from the WAL by `outbox relay --strategy cdc` (which "
                "must have created its slot first)");
  o->trace.Add(cmd, "orders");
  cmd->add_option("--clock-skew-ms", o->clock_skew_ms,
                  "stamp created_dttm with this writer's clock, off by this many ms (may be "
                  "negative), instead of the server's now(): the clock-skew experiment of "
                  "`relay --strategy offset-naive --by time`");
  cmd->add_flag("--trigger", o->trigger,
                "trigger-based capture: insert only the order; a trigger on orders writes the "
                "outbox row (installed if absent)");
  cmd->add_option("--notify", o->notify,
                  "wake-ups for the relays: after-commit (default: one coalescing NOTIFY "
                  "outbox_new after commits), in-tx (pg_notify inside each transaction: "
                  "serialises commits), off (relays poll)")
      ->check(CLI::IsMember({"after-commit", "in-tx", "off"}));
  cmd->add_option("--seed", o->seed, "seed of the generated orders (default 1)");
  cmd->add_flag("--json", o->json, "print the summary as one JSON object");
  AddPartitionFlags(cmd, &o->partitions);
  cmd->callback([&g, o, cmd] {
    o->load.Validate();
    // Every flag is checked before anything is started or connected to.
    outbox::PartitionOptions partitions = ToPartitionOptions(o->partitions);
    if (o->clock_skew_ms != 0 && o->trigger) {
      throw CliError(
          "--clock-skew-ms stamps the outbox row the writer inserts: not with --trigger");
    }
    const bool pgq = o->queue == "pgq";
    if (pgq && (o->trigger || o->clock_skew_ms != 0)) {
      throw CliError("--queue pgq inserts a PgQ event: not with --trigger or --clock-skew-ms");
    }
    if (o->emit && (pgq || o->trigger || o->clock_skew_ms != 0)) {
      throw CliError(
          "--emit-message writes no row: not with --queue pgq, --trigger or --clock-skew-ms");
    }
    std::unique_ptr<Trace> trace = o->trace.Make(cmd, "writer");
    outbox::WriterOptions wo;
    wo.events_per_order = o->load.events_per_order;
    wo.trace = trace.get();
    wo.dsn = DsnOnly(g);
    wo.connections = o->load.concurrency;
    wo.trigger = o->trigger;
    using Mode = outbox::WriterOptions::NotifyMode;
    wo.notify = o->notify == "off"     ? Mode::kOff
                : o->notify == "in-tx" ? Mode::kInTransaction
                                       : Mode::kAfterCommit;
    wo.seed = o->seed;
    wo.clock_skew_ms = o->clock_skew_ms;
    wo.partitions = partitions;
    if (o->emit) wo.sink = outbox::WriterOptions::Sink::kEmit;
    if (pgq) {
      wo.sink = outbox::WriterOptions::Sink::kPgq;
      // Events wait in the queue until a tick: make sure one will come.
      EnsurePgq(g, wo.dsn, nullptr, /*pgqd=*/true, std::cerr);
    }
    std::unique_ptr<outbox::OutboxWriter> writer;
    Check(outbox::OutboxWriter::Open(wo, &writer));

    FirstErrors first_errors;
    workload::LoadOptions lo = o->load.ToOptions("outbox");
    workload::LoadSummary sum;
    Check(workload::RunLoad(
        lo,
        [&](int worker, int64_t i, int64_t* key) {
          Status s = writer->PlaceOrder(worker, i, key);
          if (s.ok()) return workload::Outcome::kCommitted;
          first_errors.Add(s.ToString());
          return s.IsAborted() ? workload::Outcome::kAborted : workload::Outcome::kFailed;
        },
        &sum));
    writer.reset();  // releases the writers' lock after the last commit
    sum.extra["approach"] = "outbox";
    sum.extra["capture"] = o->trigger ? "trigger" : "explicit";
    sum.extra["queue"] = o->emit ? "emit-message" : o->queue;
    sum.extra["notify"] = o->notify;
    if (o->load.events_per_order > 1) sum.extra["events_per_order"] = o->load.events_per_order;
    o->trace.Print(trace.get(), o->json);
    first_errors.Print(std::cerr, "not committed");
    PrintSummary(sum, o->json);
  });
}

void AddRelay(CLI::App* group, Globals& g) {
  auto* cmd = group->add_subcommand(
      "relay", "publish outbox rows to the broker with one of the relay strategies");
  struct Opts {
    std::string strategy;
    int batch = 100;
    int instances = 1;
    std::string partition_by;
    bool until_drained = false;
    std::string by = "id";
    int64_t poll_interval_ms = 1000;
    bool no_listen = false;
    int64_t lease_ms = 30000;
    bool mark = false;
    bool pipeline = false;
    std::string ticker = "pgqd";
    std::string slot;
    int64_t slot_warn_mb = 1024;
    std::string cdc_read = "stream";
    int64_t cdc_sql_chunk = 300000;
    int64_t broker_timeout_ms = 5000;
    bool no_maintain = false;
    int64_t maintain_interval_s = 30;
    double max_run_s = 0;
    bool json = false;
    std::string sink = "dualwrite";
    std::string dedupe_window = "2m";
    int nats_max_pending = 4096;
    PartitionFlags partitions;
    TraceFlags trace;
  };
  auto o = std::make_shared<Opts>();
  o->trace.Add(cmd, "batches");
  cmd->add_option("--strategy", o->strategy,
                  "skip-locked | status | offset-naive | offset-safe | cdc | pgq")
      ->required();
  cmd->add_option("--batch", o->batch, "events per batch (default 100)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--instances", o->instances,
                  "concurrent relay workers, each with its own connections (default 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--partition-by", o->partition_by,
                  "skip-locked: key = instance i of --instances K claims only the rows whose key "
                  "hashes to i mod K and waits on its own locked rows instead of skipping them, "
                  "so each key's events are published in order")
      ->check(CLI::IsMember({"key"}));
  cmd->add_flag("--until-drained", o->until_drained,
                "exit once no writer is running (no `outbox write` holds the writers' lock) and "
                "nothing is left to send");
  cmd->add_option("--by", o->by, "offset-naive position: id (default) or time (created_dttm)")
      ->check(CLI::IsMember({"id", "time"}));
  cmd->add_option("--poll-interval-ms", o->poll_interval_ms,
                  "poll this often even without a NOTIFY (default 1000)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--no-listen", o->no_listen, "do not LISTEN: poll only");
  cmd->add_option("--lease-ms", o->lease_ms,
                  "status: rows locked longer than this go back to 'new' (default 30000)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--mark", o->mark,
                "skip-locked: mark sent rows status = 'sent' instead of deleting them (they leave "
                "when their partition is dropped)");
  cmd->add_flag("--pipeline", o->pipeline,
                "skip-locked: claim the next batch on a second connection while this one is "
                "published (publishes stay in claim order; not with --partition-by key)");
  cmd->add_option("--ticker", o->ticker,
                  "pgq: who takes the ticks: pgqd (default; started for the state folder if not "
                  "running) or self (the relay calls pgq.ticker() when it finds no batch)")
      ->check(CLI::IsMember({"pgqd", "self"}));
  // The name is spliced into replication commands (CREATE_REPLICATION_SLOT,
  // START_REPLICATION): only Postgres' own slot alphabet may pass.
  cmd->add_option("--slot", o->slot, "cdc: replication slot (default dw_outbox_<database>)")
      ->check(CLI::Validator(
          [](std::string& v) {
            return outbox::ValidReplicationName(v)
                       ? std::string()
                       : "'" + v + "' is not a slot name: want [a-z0-9_]{1,63}";
          },
          "", "SlotName"));
  cmd->add_option("--slot-warn-mb", o->slot_warn_mb,
                  "cdc: warn when the slot retains more WAL than this (default 1024)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--cdc-read", o->cdc_read,
                  "cdc: read the slot through a WAL sender's stream (default) or with sql: "
                  "chunks of pg_logical_slot_get_binary_changes from a temporary copy of the "
                  "slot, the next one read while this one is published, the slot advanced by "
                  "pg_replication_slot_advance after the broker's ack (less CPU per event on a "
                  "backlog; each read re-decodes the WAL since the last running-xacts record)")
      ->check(CLI::IsMember({"stream", "sql"}));
  cmd->add_option("--cdc-sql-chunk", o->cdc_sql_chunk,
                  "cdc --cdc-read sql: pgoutput rows per read (default 300000; a read ends on a "
                  "transaction's boundary)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd->add_option("--broker-timeout-ms", o->broker_timeout_ms,
                  "deadline of each broker request (default 5000)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--sink", o->sink,
                  "where batches go: dualwrite (the broker, default), nats (the state folder's "
                  "nats-server with JetStream, started if needed), a nats://HOST:PORT URL (used "
                  "as given), rabbitmq (the state folder's rabbitmq-server, a durable quorum "
                  "queue per topic, publisher confirms; started if needed) or an "
                  "amqp://USER:PASS@HOST:PORT/VHOST URL; every strategy publishes through it");
  cmd->add_option("--dedupe-window", o->dedupe_window,
                  "nats: the stream's duplicate window, within which a republished event id is "
                  "dropped by the server (default 2m; e.g. 90s, 1500ms)");
  cmd->add_option("--nats-max-pending", o->nats_max_pending,
                  "nats: publishes awaiting their ack at most (default 4096)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--no-maintain", o->no_maintain, "no partition maintenance loop in the relay");
  cmd->add_option("--maintain-interval-s", o->maintain_interval_s,
                  "partition maintenance period (default 30)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-run-s", o->max_run_s, "stop after this many seconds whatever the state")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", o->json, "print the report as one JSON object");
  AddPartitionFlags(cmd, &o->partitions);
  AddPartitionerFlag(cmd, &o->partitions);
  cmd->callback([&g, o, cmd] {
    outbox::RelayOptions ro;
    Check(outbox::ParseStrategy(o->strategy, &ro.strategy));
    if (o->mark && ro.strategy != outbox::Strategy::kSkipLocked) {
      throw CliError("--mark is for --strategy skip-locked (status marks rows by design)");
    }
    ro.mark_sent = o->mark;
    if (o->pipeline && (ro.strategy != outbox::Strategy::kSkipLocked || !o->partition_by.empty())) {
      throw CliError(
          "--pipeline is for --strategy skip-locked without --partition-by key (a partitioned "
          "claim waits on its own locked rows: nothing would overlap)");
    }
    ro.pipeline = o->pipeline;
    if (!o->partition_by.empty() && ro.strategy != outbox::Strategy::kSkipLocked) {
      throw CliError(
          "--partition-by key is for --strategy skip-locked (status and offset-* claim rows "
          "without key partitions yet; cdc and pgq run one instance, which keeps order)");
    }
    const bool pgq = ro.strategy == outbox::Strategy::kPgq;
    if (cmd->count("--ticker") > 0 && !pgq) throw CliError("--ticker is for --strategy pgq");
    if (pgq && o->instances != 1) {
      throw CliError("--strategy pgq runs one instance: a PgQ consumer reads one batch at a time");
    }
    ro.pgq_self_tick = o->ticker == "self";
    outbox::PartitionOptions partitions = ToPartitionOptions(o->partitions);  // checks the flags
    std::unique_ptr<Trace> trace = o->trace.Make(cmd, "relay");
    ro.trace = trace.get();
    jetstream::SinkChoice sink;
    std::string amqp_given;
    const bool rabbit = rabbitmq::IsRabbitmqSink(o->sink, &amqp_given);
    if (!rabbit) Check(jetstream::ParseSink(o->sink, &sink));
    if (!sink.nats && (cmd->count("--dedupe-window") > 0 || cmd->count("--nats-max-pending") > 0)) {
      throw CliError("--dedupe-window and --nats-max-pending are for --sink nats");
    }
    if (rabbit) {
      // RabbitMQ instead of the broker: the broker is not started.
      if (!amqp_given.empty()) {
        rabbitmq::AmqpAddress a;
        Check(rabbitmq::ParseAmqpUrl(amqp_given, &a));
      }
      ro.dsn = DsnWithoutBroker(g);
      Check(env::ResolveRabbitmq(g.state_dir, amqp_given, &ro.amqp_url, &std::cerr));
    } else if (sink.nats) {
      // JetStream instead of the broker: the broker is not started.
      Check(jetstream::ParseDedupeWindow(o->dedupe_window, &ro.dedupe_window));
      ro.nats_max_pending = o->nats_max_pending;
      ro.dsn = DsnWithoutBroker(g);
      Check(env::ResolveNats(g.state_dir, sink.nats_url, &ro.nats_url, &std::cerr));
    } else {
      ResolvedEndpoints ep = ResolveEndpoints(g);
      ro.dsn = ep.dsn;
      ro.broker_url = ep.broker_url;
    }
    ro.batch = o->batch;
    ro.by_time = o->by == "time";
    ro.poll_interval = milliseconds(o->poll_interval_ms);
    ro.listen = !o->no_listen;
    ro.lease = milliseconds(o->lease_ms);
    ro.slot = o->slot;
    ro.slot_warn_bytes = o->slot_warn_mb << 20;
    ro.cdc_read = o->cdc_read == "sql" ? outbox::RelayOptions::CdcRead::kSql
                                       : outbox::RelayOptions::CdcRead::kStream;
    ro.cdc_sql_chunk_changes = static_cast<int>(o->cdc_sql_chunk);
    ro.broker_timeout = milliseconds(o->broker_timeout_ms);
    outbox::RunnerOptions rn;
    rn.instances = o->instances;
    rn.partition_by_key = o->partition_by == "key";
    rn.until_drained = o->until_drained;
    rn.maintain = !o->no_maintain;
    rn.partitions = partitions;
    if (rn.maintain && partitions.partitioner == outbox::Partitioner::kPartman) {
      // The loop only logs a failed pass and relays on: say it now, once.
      Check(outbox::EnsurePartmanExtension(ro.dsn));
    }
    if (pgq) EnsurePgq(g, ro.dsn, &ro.pgq_ticker, /*pgqd=*/!ro.pgq_self_tick, std::cerr);
    rn.maintain_interval = seconds(o->maintain_interval_s);
    rn.max_run = milliseconds(static_cast<int64_t>(o->max_run_s * 1000));
    rn.stop = &g_stop;
    rn.log = &std::cerr;
    signal(SIGINT, OnSignal);
    signal(SIGTERM, OnSignal);
    outbox::RelayReport report;
    Check(outbox::RunRelays(ro, rn, &report));
    o->trace.Print(trace.get(), o->json);
    if (o->json) {
      std::cout << report.ToJson().dump() << "\n";
    } else {
      std::cout << report.ToText();
    }
  });
}

void AddMaintain(CLI::App* group, Globals& g) {
  auto* cmd = group->add_subcommand(
      "maintain",
      "one partition maintenance pass: create partitions ahead, detach and drop old ones whose "
      "rows are all sent");
  struct Opts {
    std::string strategy = "skip-locked";
    std::string by = "id";
    bool mark = false;
    bool no_drop = false;
    bool remove_trigger = false;
    bool json = false;
    PartitionFlags partitions;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--strategy", o->strategy,
                  "whose notion of 'sent' decides what may be dropped (default skip-locked: a "
                  "row still present is unsent; status: status <> 'sent'; offset-*/cdc: behind "
                  "their outbox_counter position)");
  cmd->add_option("--by", o->by, "with --strategy offset-naive: id (default) or time")
      ->check(CLI::IsMember({"id", "time"}));
  cmd->add_flag("--mark", o->mark,
                "with --strategy skip-locked: its relay runs with --mark (a row is sent when "
                "status = 'sent')");
  cmd->add_flag("--no-drop", o->no_drop, "only create partitions");
  cmd->add_flag("--remove-trigger", o->remove_trigger,
                "also remove the capture trigger `outbox write --trigger` installed on orders");
  cmd->add_flag("--json", o->json, "print the report as one JSON object");
  AddPartitionFlags(cmd, &o->partitions);
  AddPartitionerFlag(cmd, &o->partitions);
  cmd->callback([&g, o] {
    outbox::RelayOptions ro;
    Check(outbox::ParseStrategy(o->strategy, &ro.strategy));
    ro.by_time = o->by == "time";
    ro.mark_sent = o->mark;
    outbox::PartitionOptions po = ToPartitionOptions(o->partitions);  // checks the flags
    std::string dsn = DsnOnly(g);
    Check(outbox::EnsureSchema(dsn));
    if (o->remove_trigger) Check(outbox::RemoveCaptureTrigger(dsn));
    po.drop = !o->no_drop;
    po.unsent_predicate = outbox::UnsentPredicate(ro);
    outbox::MaintenanceReport report;
    Check(outbox::MaintainPartitions(dsn, po, &report));
    if (o->json) {
      std::cout << report.ToJson().dump() << "\n";
    } else {
      std::cout << report.ToText();
    }
    if (!report.errors.empty()) throw CliError("maintenance finished with errors", 2);
  });
}

}  // namespace

// cmd_outbox_consume.cc
void AddConsume(CLI::App* group, Globals& g);

void AddOutboxCommands(CLI::App& app, Globals& g) {
  auto* group =
      app.add_subcommand("outbox", "the transactional outbox: write, relay, maintain, consume");
  group->require_subcommand(1);
  AddWrite(group, g);
  AddRelay(group, g);
  AddMaintain(group, g);
  AddConsume(group, g);
}

}  // namespace dw::cli
