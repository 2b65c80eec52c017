#include "compare/plan.h"

#include <algorithm>

#include "compare/faults.h"

namespace dw::compare {
namespace {

std::vector<Scenario> MatrixScenarios(double fault_s, double held_s, bool full) {
  std::vector<Scenario> v;
  for (const auto& d : Scenarios()) {
    if (!d.in_matrix || (d.full_only && !full)) continue;
    v.push_back({d.name, d.title, d.description, d.name == "in-doubt-held" ? held_s : fault_s});
  }
  return v;
}

void SetMatrix(double fault_s, double held_s, bool full, Plan* p) {
  p->fault_s = fault_s;
  p->held_s = held_s;
  p->scenarios = MatrixScenarios(fault_s, held_s, full);
}

std::vector<std::string> Names(const std::vector<Approach>& v) {
  std::vector<std::string> out;
  for (const auto& a : v) out.push_back(a.name);
  return out;
}

}  // namespace

Status MakePlan(const std::string& size, const std::vector<Approach>& approaches, Plan* p) {
  *p = Plan();
  p->size = size;
  p->approaches = approaches;
  std::vector<std::string> matrix;
  const std::vector<std::string> all = Names(approaches);
  if (size == "smoke") {
    p->concurrency = {2};
    p->warmup_s = 0.2;
    p->cell_s = 0.7;
    p->rates = {250, 1000};
    p->grid_approaches = {"2pc-pg", "outbox-skip-locked"};
    p->open_s = 0.7;
    p->hot_rows = {1};
    p->contention_approaches = {"2pc-pg", "outbox-skip-locked"};
    p->contention_concurrency = 4;
    p->scaling_approaches = {"outbox-skip-locked"};
    p->scaling_instances = {1, 2};
    SetMatrix(1.0, 1.5, false, p);
    matrix = {"2pc-pg", "outbox-skip-locked", "outbox-offset-naive"};
    p->steady_s = 0.7;
    p->after_s = 0.7;
    p->converge_timeout_s = 20;
    // One cell: the partitioned relay with three instances keeps order.
    p->ordering_approaches = {"outbox-skip-locked"};
    p->ordering_relays = {{3, true}};
    p->ordering_faults = {""};
    p->ordering_orders = 100;
  } else if (size == "quick") {
    // The quick size must finish within the 6 minutes `scripts/run.sh`
    // promises on two busy cores. Its cuts against the full size: 1.5 s
    // cells at two concurrencies, one 2PC variant on the rate grid, the
    // hot-row counts 1 and 10000 (the extremes) and 1.5 s fault windows.
    p->concurrency = {1, 16};
    p->cell_s = 1.5;
    p->rates = {500, 2000, 8000};
    p->grid_approaches = {"floor",      "2pc-pg", "outbox-skip-locked",
                          "outbox-cdc", "saga",   "event-sourced"};
    p->open_s = 2.0;
    p->hot_rows = {1, 10000};
    p->contention_approaches = {"floor", "2pc-pg", "outbox-skip-locked"};
    p->scaling_approaches = {"outbox-skip-locked"};
    p->scaling_instances = {1, 2, 3};
    SetMatrix(1.5, 3.0, false, p);
    // One 2PC, one outbox and the outbox's negative control: with the saga
    // and event sourcing added (35 cells) the quick size took 7m40s, over
    // its 6-minute budget, and with 3PC's six cells 7m32s (452 s); the full
    // size's matrix has every approach, and `demo 3pc-partition` shows 3PC's
    // split in a minute.
    matrix = {"2pc-pg", "outbox-skip-locked", "outbox-offset-naive"};
    p->steady_s = 1.0;
    p->after_s = 1.0;
    p->converge_timeout_s = 30;
    // Two healthy cells, SKIP LOCKED with three instances with and without
    // --partition-by key (about 8-11 s each on 2 busy cores): the faults,
    // K=1, the other strategies and 2PC are the full size's, for want of room
    // in the 6-minute budget.
    p->ordering_approaches = {"outbox-skip-locked"};
    p->ordering_relays = {{3, false}, {3, true}};
    p->ordering_faults = {""};
    p->ordering_orders = 300;
  } else if (size == "full") {
    p->repetitions = 3;
    p->warmup_s = 1.0;
    p->concurrency = {1, 4, 16, 64};
    p->cell_s = 5.0;
    p->rates = {250, 500, 1000, 2000, 4000, 8000, 16000};
    p->grid_approaches = all;
    p->open_s = 4.0;
    p->hot_rows = {1, 16, 10000};
    p->contention_approaches = all;
    p->scaling_approaches = {"outbox-skip-locked", "outbox-status"};
    p->scaling_instances = {1, 2, 3};
    SetMatrix(5.0, 15.0, true, p);
    matrix = all;
    p->steady_s = 2.0;
    p->after_s = 3.0;
    p->converge_timeout_s = 60;
    p->ordering_approaches = all;  // those whose load has events 2..E (order_cell.h)
    p->ordering_relays = {{1, false}, {1, true}, {3, false}, {3, true}};
    p->ordering_faults = {"", "broker-down", "relay-kill"};
    p->ordering_orders = 1000;
    p->ordering_fault_s = 2;
  } else {
    return Status::InvalidArgument("unknown size '" + size + "' (want smoke, quick or full)");
  }
  p->open_concurrency = 64;
  // Keep only approaches that were selected (--only); --only naming
  // approaches outside the size's lists still gets them a place.
  auto keep = [&](std::vector<std::string>* v) {
    std::erase_if(*v, [&](const std::string& n) {
      return std::find(all.begin(), all.end(), n) == all.end();
    });
    if (v->empty()) *v = all;
  };
  keep(&p->grid_approaches);
  keep(&p->contention_approaches);
  // Contention reserves a stock row in the write's transaction: approaches
  // whose write has no such transaction (saga, event-sourced) have no place.
  std::erase_if(p->contention_approaches, [&](const std::string& n) {
    const Approach* a = FindApproach(n);
    return a && !a->def().reserves_stock;
  });
  keep(&matrix);
  p->failure_approaches = matrix;
  std::erase_if(p->scaling_approaches, [&](const std::string& n) {
    return std::find(all.begin(), all.end(), n) == all.end();
  });
  // Unlike the grid, an --only that names none of the section's approaches
  // leaves the section out rather than filling it with every approach.
  std::erase_if(p->ordering_approaches, [&](const std::string& n) {
    return std::find(all.begin(), all.end(), n) == all.end();
  });
  return Status::OK();
}

Status SelectScenarios(const std::string& list, Plan* p) {
  if (list == "none") {
    p->scenarios.clear();
    return Status::OK();
  }
  const std::vector<Scenario> menu = MatrixScenarios(p->fault_s, p->held_s, true);
  std::vector<std::string> names;
  for (size_t start = 0; start <= list.size();) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    const std::string name = list.substr(start, comma - start);
    start = comma + 1;
    const bool known =
        std::any_of(menu.begin(), menu.end(), [&](const Scenario& sc) { return sc.name == name; });
    if (!known) {
      std::string all;
      for (const auto& sc : menu) all += sc.name + ", ";
      return Status::InvalidArgument("--scenarios: unknown scenario '" + name + "' (want " + all +
                                     "or none)");
    }
    names.push_back(name);
  }
  p->scenarios.clear();
  for (const auto& sc : menu) {
    if (std::find(names.begin(), names.end(), sc.name) != names.end()) p->scenarios.push_back(sc);
  }
  return Status::OK();
}

bool FailureCellRuns(const std::string& scenario, const std::string& approach) {
  const ScenarioDef* def = FindScenario(scenario);
  const Approach* a = FindApproach(approach);
  return !(def && a && !def->not_applicable(*a).empty());
}

size_t PlannedCells(const Plan& plan) {
  size_t failures = 0;
  for (const auto& sc : plan.scenarios) {
    for (const auto& name : plan.failure_approaches) failures += FailureCellRuns(sc.name, name);
  }
  return plan.approaches.size() * plan.concurrency.size() +
         plan.grid_approaches.size() * plan.rates.size() +
         plan.contention_approaches.size() * plan.hot_rows.size() +
         plan.scaling_approaches.size() * plan.scaling_instances.size() + failures;
}

}  // namespace dw::compare
