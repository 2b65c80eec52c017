// `dualwrite es write` and `dualwrite es project`: event sourcing, broker
// first ("listen to yourself"). The operation writes ONE thing, the
// OrderPlaced event at the broker, and returns once the broker has it
// durably: there is no dual write to get wrong. The `orders` table becomes a
// read model that `es project` builds from the topic, so what was a dual
// write becomes a projection lag: a reader of Postgres does not see an
// acknowledged order until the projector has caught up.
//
// With --events-per-order E the order's later events (OrderPaid, ...;
// workload/order_events.h) are published the same way, event n once event
// n-1 was acknowledged, and the projector applies each as the UPDATE of the
// row's status and version (es/projector.h).
#include <signal.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "cli/commands.h"
#include "cli/load_flags.h"
#include "es/id_blocks.h"
#include "es/projector.h"
#include "participants/broker_client.h"
#include "participants/pg_pool.h"
#include "workload/load_runner.h"
#include "workload/order_events.h"
#include "workload/orders.h"

namespace dw::cli {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

// Read-your-writes probe: right after the broker acknowledged an order, one
// SELECT asks the read model for its row. A miss is what a user who reloads
// the page right after "order placed" would see.
class RywProbe {
 public:
  RywProbe(const std::string& dsn, int workers) {
    PgPool::Options po;
    po.dsn = dsn;
    po.max_connections = workers;
    po.application_name = "dualwrite-es-probe";
    Check(PgPool::Create(po, &pool_));
  }
  void Look(int64_t id) {
    PgPool::Lease lease;
    if (!pool_->Acquire(&lease).ok()) {
      ++errors_;
      return;
    }
    try {
      pqxx::nontransaction tx(lease.conn());
      if (tx.exec_params("SELECT 1 FROM orders WHERE id = $1", id).empty()) ++misses_;
      ++reads_;
    } catch (const std::exception&) {
      lease.MarkBroken();
      ++errors_;
    }
  }
  nlohmann::json ToJson() const {
    return {{"reads", reads_.load()}, {"misses", misses_.load()}, {"errors", errors_.load()}};
  }

 private:
  std::shared_ptr<PgPool> pool_;
  std::atomic<uint64_t> reads_{0}, misses_{0}, errors_{0};
};

void AddWrite(CLI::App* group, Globals& g) {
  auto* cmd = group->add_subcommand(
      "write",
      "place orders by publishing OrderPlaced to the broker only (the event is the source of "
      "truth; `es project` builds the orders table from it); with --events-per-order E, "
      "events 2..E follow, each published once the previous one was acknowledged");
  struct Opts {
    LoadFlags load;
    uint64_t seed = 1;
    bool json = false;
    std::string topic = workload::kOrdersTopic;
    bool ryw_probe = false;
    int64_t id_reserve = 10000;
  };
  auto o = std::make_shared<Opts>();
  o->load.Add(cmd);
  cmd->add_option("--seed", o->seed, "seed of the generated orders (default 1)");
  cmd->add_flag("--json", o->json, "print the summary as one JSON object");
  cmd->add_option("--topic", o->topic, "the broker topic of the events (default orders)");
  cmd->add_flag("--ryw-probe", o->ryw_probe,
                "after each acknowledged OrderPlaced, read the order's row from Postgres and count "
                "the misses (read-your-writes violations of the read model)");
  cmd->add_option("--id-reserve", o->id_reserve,
                  "order ids reserved ahead from Postgres, so writes go on while it is down "
                  "(default 10000)")
      ->check(Positive);
  cmd->callback([&g, o] {
    o->load.Validate();
    if (o->load.hot_rows > 0) {
      throw CliError(
          "--hot-rows: an event-sourced write touches no row when it is acknowledged, so there "
          "is no stock row to reserve in its transaction (validation against the read model is "
          "this design's known weakness)");
    }
    ResolvedEndpoints ep = ResolveEndpoints(g);
    Check(workload::EnsureOrdersSchema(ep.dsn));
    const int events = o->load.events_per_order;
    // The read model's version columns, for the projector's UPDATEs (it adds
    // them itself too, for a topic written elsewhere).
    if (events > 1) Check(workload::EnsureOrderVersionColumns(ep.dsn));
    std::unique_ptr<es::IdBlocks> ids;
    Check(es::IdBlocks::Open(ep.dsn, o->id_reserve, &ids));
    BrokerClient::Options bo;
    bo.url = ep.broker_url;
    bo.max_idle_connections = std::max(64, o->load.concurrency);
    std::unique_ptr<BrokerClient> broker;
    Check(BrokerClient::Create(bo, &broker));
    std::unique_ptr<RywProbe> probe;
    if (o->ryw_probe) probe = std::make_unique<RywProbe>(ep.dsn, o->load.concurrency);

    auto publish = [&](const OutMessage& m) {
      uint64_t offset = 0;
      Status s = broker->Publish(o->topic, m, &offset);
      // A lost response leaves the outcome unknown: the same id again is
      // safe (the broker keeps one message per id) and settles it.
      if (s.IsOutcomeUnknown()) s = broker->Publish(o->topic, m, &offset);
      return s;
    };
    std::atomic<uint64_t> later_events_failed{0};
    FirstErrors first_errors;
    workload::LoadSummary sum;
    Check(workload::RunLoad(
        o->load.ToOptions("es write"),
        [&](int, int64_t i, int64_t* key) {
          int64_t id = 0;
          Status s = ids->Next(&id);
          if (s.ok()) {
            *key = id;
            workload::Order order = workload::MakeOrder(id, i, o->seed);
            s = publish(workload::OrderPlacedMessage(order, o->topic));
            if (s.ok() && probe) probe->Look(id);
            // Events 2..E: the first not acknowledged ends the order's chain
            // (a later event must never overtake it at the broker).
            if (s.ok() && events > 1) {
              s = workload::RunFollowUpEvents(events, [&](int n) {
                Status st = publish(workload::OrderEventMessage(id, n, o->topic));
                if (!st.ok()) later_events_failed.fetch_add(1);
                return st;
              });
            }
          }
          if (s.ok()) return workload::Outcome::kCommitted;
          first_errors.Add(s.ToString());
          return s.IsAborted() ? workload::Outcome::kAborted : workload::Outcome::kFailed;
        },
        &sum));
    sum.extra["approach"] = "event-sourced";
    sum.extra["id_blocks_reserved"] = ids->blocks_reserved();
    if (events > 1) {
      sum.extra["events_per_order"] = events;
      sum.extra["later_events_failed"] = later_events_failed.load();
    }
    if (probe) sum.extra["read_your_writes"] = probe->ToJson();
    first_errors.Print(std::cerr, "not written");
    PrintSummary(sum, o->json);
  });
}

void AddProject(CLI::App* group, Globals& g) {
  auto* cmd = group->add_subcommand(
      "project",
      "build the orders read model from the topic: each batch's rows and the consumed offset "
      "commit in one Postgres transaction (runs until SIGINT/SIGTERM, --until-caught-up or "
      "--max-run-s)");
  struct Opts {
    es::ProjectorOptions p;
    bool until_caught_up = false;
    double max_run_s = 0;
    bool json = false;
    int64_t crash_after_insert = 0;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--topic", o->p.topic, "the topic to project (default orders)");
  cmd->add_option("--name", o->p.name,
                  "the projector's name: its row in es_offsets (default orders)");
  cmd->add_option("--batch", o->p.batch, "events per transaction (default 1000)")->check(Positive);
  cmd->add_flag("--until-caught-up", o->until_caught_up,
                "stop as soon as a read finds nothing beyond the stored offset");
  cmd->add_option("--max-run-s", o->max_run_s, "stop after this many seconds")->check(NonNegative);
  cmd->add_flag("--json", o->json, "print the report as one JSON object");
  cmd->add_option("--crash-after-insert", o->crash_after_insert,
                  "SIGKILL this process after the INSERT of batch N, before its COMMIT (for "
                  "crash tests)")
      ->check(NonNegative);
  cmd->callback([&g, o] {
    ResolvedEndpoints ep = ResolveEndpoints(g);
    es::ProjectorOptions po = o->p;
    po.dsn = ep.dsn;
    po.broker_url = ep.broker_url;
    po.crash_after_insert_of_batch = o->crash_after_insert;
    std::unique_ptr<es::Projector> p;
    Check(es::Projector::Open(po, &p));
    signal(SIGINT, OnSignal);
    signal(SIGTERM, OnSignal);
    Status s = p->Run(g_stop, o->until_caught_up,
                      std::chrono::milliseconds(static_cast<int64_t>(o->max_run_s * 1000)));
    if (o->json) {
      std::cout << p->stats().ToJson().dump() << "\n";
    } else {
      std::cout << p->stats().ToText();
    }
    Check(s);
  });
}

}  // namespace

void AddEsCommands(CLI::App& app, Globals& g) {
  auto* group = app.add_subcommand(
      "es", "event sourcing, broker first: write the event only, project the read model");
  group->require_subcommand(1);
  AddWrite(group, g);
  AddProject(group, g);
}

}  // namespace dw::cli
