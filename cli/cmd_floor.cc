// `dualwrite floor`: the baseline every approach is measured against. The
// same "place order" INSERT as 2PC and the outbox, committed locally in one
// phase, with no message at all: what the business operation costs when
// nobody has to be told about it. With --hot-rows the same stock reservation
// as theirs joins the INSERT in that local transaction. With
// --events-per-order E, events 2..E are the order's UPDATEs alone, each
// committed locally before the next.
#include <iostream>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/load_flags.h"
#include "participants/postgres_participant.h"
#include "workload/load_runner.h"
#include "workload/order_events.h"
#include "workload/orders.h"
#include "workload/stock.h"

namespace dw::cli {
namespace {}  // namespace

void AddFloorCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "floor",
      "the baseline: place orders with a local commit of the orders INSERT alone, no message");
  struct Opts {
    LoadFlags load;
    uint64_t seed = 1;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  o->load.Add(cmd);
  cmd->add_option("--seed", o->seed, "seed of the generated orders (default 1)");
  cmd->add_flag("--json", o->json, "print the summary as one JSON object");
  cmd->callback([&g, o] {
    o->load.Validate();
    const std::string dsn = g.dsn.empty() ? ResolveEndpoints(g).dsn : g.dsn;
    Check(workload::EnsureOrdersSchema(dsn));
    Check(workload::EnsureStockTable(dsn, workload::CurrentHotRows().rows));
    const int events = o->load.events_per_order;
    if (events > 1) Check(workload::EnsureOrderVersionColumns(dsn));
    PgPool::Options po;
    po.dsn = dsn;
    po.max_connections = o->load.concurrency;
    po.application_name = "dualwrite-floor";
    std::unique_ptr<PostgresParticipant> pg;
    Check(PostgresParticipant::Create(po, PostgresParticipant::Options{}, &pg));
    workload::OrderIdAllocator ids(dsn);

    FirstErrors first_errors;
    workload::LoadSummary sum;
    Check(workload::RunLoad(
        o->load.ToOptions("floor"),
        [&](int, int64_t i, int64_t* key) {
          int64_t id = 0;
          Status s = ids.Next(&id);
          if (s.ok()) {
            *key = id;
            workload::Order order = workload::MakeOrder(id, i, o->seed);
            Work w;
            w.statements.push_back(workload::InsertOrderStatement(order));
            if (order.product > 0) w.statements.push_back(workload::ReserveStockStatement(order));
            s = pg->CommitOnePhase(w);
            // Events 2..E: the order's UPDATE alone, each committed before the next.
            if (s.ok()) {
              s = workload::RunFollowUpEvents(events, [&](int n) {
                Work u;
                u.statements.push_back(workload::AdvanceOrderStatement(id, n));
                return pg->CommitOnePhase(u);
              });
            }
          }
          if (s.ok()) return workload::Outcome::kCommitted;
          first_errors.Add(s.ToString());
          return s.IsAborted() ? workload::Outcome::kAborted : workload::Outcome::kFailed;
        },
        &sum));
    sum.extra["approach"] = "floor";
    if (events > 1) sum.extra["events_per_order"] = events;
    first_errors.Print(std::cerr, "not committed");
    PrintSummary(sum, o->json);
  });
}

}  // namespace dw::cli
