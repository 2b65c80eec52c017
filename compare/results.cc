// The keys of the run: the top level, `machine`, `settings` and the section
// objects that hold the cells (docs/compare-results.md, "Top level").
#include "compare/results.h"

namespace dw::compare::results {
namespace {

constexpr auto kMachine = [](auto& io, auto& c) {
  io("cpu", c.cpu);
  io("cores", c.cores);
  io("memory_gib", c.memory_gib);
  io("kernel", c.kernel);
  io("postgres_version", c.postgres_version);
  io("postgres_settings", c.postgres_settings);
  io("fsync_method", c.fsync_method);
  io("broker_fsync", c.broker_fsync);
  io("dualwrite_commit", c.dualwrite_commit);
};

constexpr auto kRelayDeployment = [](auto& io, auto& c) {
  io("strategy", c.strategy);
  io("batch", c.batch);
  io("instances", c.instances);
};

constexpr auto kSettings = [](auto& io, auto& c) {
  io("environment", c.environment);
  io("dsn", c.dsn);
  io("broker", c.broker);
  io("repetitions", c.repetitions);
  io("concurrency", c.concurrency);
  io("cell_duration_s", c.cell_duration_s);
  io("warmup_s", c.warmup_s);
  io("min_ops_per_cell", c.min_ops_per_cell);
  io("rate_grid", c.rate_grid);
  io("open_loop_duration_s", c.open_loop_duration_s);
  io("open_loop_concurrency", c.open_loop_concurrency);
  io("e2e_bound_ms", c.e2e_bound_ms);
  io("hot_rows", c.hot_rows);
  io("contention_concurrency", c.contention_concurrency);
  io("fault_s", c.fault_s);
  io("steady_s", c.steady_s);
  io("after_s", c.after_s);
  io("failure_concurrency", c.failure_concurrency);
  io("converge_timeout_s", c.converge_timeout_s);
  io("only", c.only);
  io("scenarios", c.scenarios);
  io("relays", c.relays);
  io("coordinator_batch", c.coordinator_batch);
  io("coordinator_batch_from", c.coordinator_batch_from);
  io("failure_rate_per_s", c.failure_rate_per_s);
  io("sink", c.sink);
  io("not_measured", c.not_measured);
  io("open_loop_fractions", c.open_loop_fractions);
  io("open_loop_rates", c.open_loop_rates);
};

constexpr auto kApproachInfo = [](auto& io, auto& c) {
  io("name", c.name);
  io("family", c.family);
  io("description", c.description);
  io("guaranteed", c.guaranteed);
};

constexpr auto kSustainable = [](auto& io, auto& c) {
  io("rate_per_s", c.rate_per_s);
  io("first_unsustained_per_s", c.first_unsustained_per_s);
};

constexpr auto kRateGrid = [](auto& io, auto& c) {
  io("rates", c.rates);
  io("e2e_bound_ms", c.e2e_bound_ms);
  io("cells", c.cells);
  io("sustainable", c.sustainable);
};

constexpr auto kContention = [](auto& io, auto& c) {
  io("concurrency", c.concurrency);
  io("hot_rows", c.hot_rows);
  io("cells", c.cells);
};

constexpr auto kRelayScaling = [](auto& io, auto& c) {
  io("concurrency", c.concurrency);
  io("cells", c.cells);
};

constexpr auto kScenarioInfo = [](auto& io, auto& c) {
  io("name", c.name);
  io("title", c.title);
  io("description", c.description);
  io("fault_s", c.fault_s);
};

constexpr auto kFailures = [](auto& io, auto& c) {
  io("rate_per_s", c.rate_per_s);
  io("scenarios", c.scenarios);
  io("cells", c.cells);
};

constexpr auto kRun = [](auto& io, auto& c) {
  io("schema", c.schema);
  io("command", c.command);
  io("size", c.size);
  io("seed", c.seed);
  io("started_at", c.started_at);
  io("finished_at", c.finished_at);
  io("duration_s", c.duration_s);
  io("machine", c.machine);
  io("settings", c.settings);
  io("approaches", c.approaches);
  io("latency", c.latency);
  io("open_loop", c.open_loop);
  io("rate_grid", c.rate_grid);
  io("contention", c.contention);
  io("relay_scaling", c.relay_scaling);
  io("failures", c.failures);
  io("order_per_key", c.order_per_key);
  io("errors", c.errors);
};

}  // namespace

bool Read(const json& j, Machine* out) { return ReadStruct(j, out, kMachine); }
json Write(const Machine& v) { return WriteStruct(v, kMachine); }

bool Read(const json& j, RelayDeployment* out) { return ReadStruct(j, out, kRelayDeployment); }
json Write(const RelayDeployment& v) { return WriteStruct(v, kRelayDeployment); }

bool Read(const json& j, Settings* out) { return ReadStruct(j, out, kSettings); }
json Write(const Settings& v) { return WriteStruct(v, kSettings); }

bool Read(const json& j, ApproachInfo* out) { return ReadStruct(j, out, kApproachInfo); }
json Write(const ApproachInfo& v) { return WriteStruct(v, kApproachInfo); }

bool Read(const json& j, Sustainable* out) { return ReadStruct(j, out, kSustainable); }
json Write(const Sustainable& v) { return WriteStruct(v, kSustainable); }

bool Read(const json& j, RateGrid* out) { return ReadStruct(j, out, kRateGrid); }
json Write(const RateGrid& v) { return WriteStruct(v, kRateGrid); }

bool Read(const json& j, Contention* out) { return ReadStruct(j, out, kContention); }
json Write(const Contention& v) { return WriteStruct(v, kContention); }

bool Read(const json& j, RelayScaling* out) { return ReadStruct(j, out, kRelayScaling); }
json Write(const RelayScaling& v) { return WriteStruct(v, kRelayScaling); }

bool Read(const json& j, ScenarioInfo* out) { return ReadStruct(j, out, kScenarioInfo); }
json Write(const ScenarioInfo& v) { return WriteStruct(v, kScenarioInfo); }

bool Read(const json& j, Failures* out) { return ReadStruct(j, out, kFailures); }
json Write(const Failures& v) { return WriteStruct(v, kFailures); }

bool Read(const json& j, Run* out) { return ReadStruct(j, out, kRun); }
json Write(const Run& v) { return WriteStruct(v, kRun); }

Run ParseRun(const json& j) {
  Run r;
  if (!Read(j, &r)) r = Run();
  return r;
}

}  // namespace dw::compare::results
