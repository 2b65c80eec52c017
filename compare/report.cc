// report.md from results.json: the title, then the sections (one file each,
// compare/report_sections.h) and what ran where.
#include "compare/report.h"

#include <algorithm>
#include <map>
#include <type_traits>

#include "compare/plots.h"
#include "compare/report_sections.h"
#include "compare/sustain.h"

namespace dw::compare {
namespace {

using namespace rpt;  // NOLINT: the report's own formatting vocabulary

// Items of a list setting as "a, b, c", or "-".
template <class T>
std::string ListText(const Field<std::vector<T>>& f) {
  std::vector<std::string> v;
  if (f) {
    for (const T& x : *f) {
      if constexpr (std::is_floating_point_v<T>) {
        v.push_back(Shortest(x));
      } else {
        v.push_back(std::to_string(x));
      }
    }
  }
  return v.empty() ? std::string("-") : Join(v, ", ");
}

// With a real sink (settings.sink nats | rabbitmq): which broker the outbox
// published to, and what did not run there. Nothing for dualwrite's broker,
// so the reports of such runs read as before.
std::string SinkLines(const Data& d) {
  const results::Settings& s = d.settings();
  const std::string sink = Str(s.sink);
  if (sink.empty() || sink == "dualwrite") return "";
  const std::string title = sink == "nats"       ? "NATS JetStream"
                            : sink == "rabbitmq" ? "RabbitMQ"
                                                 : sink;
  std::string out = "**Broker:** the outbox published to " + title + " (`--sink " + sink +
                    "`), one server for the run, not to dualwrite's broker; the floor sends "
                    "nothing.";
  if (s.not_measured && !s.not_measured->empty()) {
    std::vector<std::string> v;
    for (const auto& [name, why] : *s.not_measured) v.push_back(name + " (" + why + ")");
    out += " Not measured with this broker: " + Join(v, "; ") + ".";
  }
  // Which failure scenarios ran with this broker, read from the cells:
  // those of a scenario the run left out say "not run with --sink ... yet".
  std::vector<std::string> ran, unrun;
  for (const auto& [name, info] : d.scenarios()) {
    bool any_ran = false, any_unrun = false;
    for (const FailureCell* c : d.failure_cells()) {
      if (Str(c->scenario) != name) continue;
      any_ran = any_ran || Str(c->status) == "ran";
      any_unrun = any_unrun || (Str(c->status) == "skipped" &&
                                Str(c->reason).starts_with("not run with --sink"));
    }
    if (any_ran) ran.push_back(name);
    if (any_unrun) unrun.push_back(name);
  }
  // Runs made before the order-per-key section ran with a sink have none.
  const std::string order =
      d.order_per_key() ? "" : " The order-per-key section was not run with --sink yet.";
  if (ran.empty()) {
    out += d.order_per_key() ? " The failure matrix was not run with --sink yet: its cells say so."
                             : " The failure matrix and the order-per-key section were not run "
                               "with --sink yet: the matrix's cells say so.";
    out += "\n\n";
    return out;
  }
  out += " The failure matrix ran with this broker: " + Join(ran, ", ") + ".";
  if (!unrun.empty()) {
    out += " Not run with --sink yet: " + Join(unrun, ", ") + " (their cells say so).";
  }
  out += order + "\n\n";
  return out;
}

// One line under the title: what ran, where, when.
std::string Title(const Data& d) {
  const results::Run& r = d.run();
  const results::Machine& m = d.machine();
  std::string out = "# dualwrite compare: 2PC vs the transactional outbox\n\n";
  std::string size = Str(r.size);
  std::string date = Str(r.started_at).substr(0, 10);
  out += Capitalized(size.empty() ? "a" : size) + " run of " +
         std::to_string(d.approaches().size()) + " approaches on " +
         (Str(m.cpu).empty() ? "an unknown CPU" : Str(m.cpu)) + " (" + Int(Num(m.cores)) +
         " cores), PostgreSQL " + Plain(m.postgres_version) + ", " +
         Plain(d.settings().environment) + " environment" + (date.empty() ? "" : ", " + date) +
         ". Machine, command and settings: [About this run](#about-this-run).\n\n";
  return out + SinkLines(d);
}

std::string About(const Data& d) {
  const results::Run& r = d.run();
  const results::Machine& m = d.machine();
  std::string out = "## About this run\n\n";
  std::vector<std::string> parts;
  parts.push_back(Str(m.cpu).empty() ? "CPU -" : Str(m.cpu));
  parts.push_back(Int(Num(m.cores)) + " cores");
  parts.push_back(Per(Num(m.memory_gib)) + " GiB memory");
  parts.push_back("kernel " + Plain(m.kernel));
  static const char* kSettings[] = {
      "fsync",          "synchronous_commit",        "wal_sync_method", "full_page_writes",
      "shared_buffers", "max_prepared_transactions", "wal_level",       "checkpoint_timeout",
      "max_wal_size"};
  static const std::map<std::string, std::string> kNone;
  const auto& ps = m.postgres_settings ? *m.postgres_settings : kNone;
  std::vector<std::string> settings;
  for (const char* k : kSettings) {
    auto it = ps.find(k);
    settings.push_back(std::string(k) + "=" + (it == ps.end() ? "-" : it->second));
  }
  // Settings the runner added later than this renderer are shown too.
  for (const auto& [k, v] : ps) {
    if (std::find_if(std::begin(kSettings), std::end(kSettings),
                     [&](const char* s) { return k == s; }) == std::end(kSettings)) {
      settings.push_back(k + "=" + v);
    }
  }
  parts.push_back("PostgreSQL " + Plain(m.postgres_version) + " (" + Join(settings, ", ") + ")");
  parts.push_back("fsync method " + Plain(m.fsync_method));
  parts.push_back("broker --fsync " + Plain(m.broker_fsync));
  parts.push_back("dualwrite commit " + Plain(m.dualwrite_commit));
  out += "**Machine:** " + Join(parts, "; ") + ".\n\n";
  out += "**Command:**\n\n```sh\n" + Plain(r.command) + "\n```\n\n";
  out += "**Size:** " + Plain(r.size) + "; **schema:** " + Plain(r.schema) + "; **seed:** " +
         Plain(r.seed) + "; **duration:** " + DurationText(Num(r.duration_s)) + "; **date:** " +
         Plain(r.started_at) + " to " + Plain(r.finished_at) + ".\n\n";
  const results::Settings& s = d.settings();
  std::vector<std::string> set = {"environment " + Plain(s.environment),
                                  "broker " + Plain(s.broker),
                                  "concurrency " + ListText(s.concurrency),
                                  Secs(Num(s.cell_duration_s)) + " s per closed-loop cell",
                                  Secs(Num(s.open_loop_duration_s)) + " s per open-loop rate"};
  if (Opt reps = Num(s.repetitions); Valid(reps)) {
    set.push_back(Int(reps) + (*reps == 1 ? " repetition" : " repetitions"));
  }
  if (s.rate_grid && !s.rate_grid->empty()) {
    set.push_back("rate grid " + ListText(s.rate_grid) + " /s with an e2e bound of " +
                  Ms(Num(s.e2e_bound_ms)) + " ms");
  }
  if (s.hot_rows && !s.hot_rows->empty()) set.push_back("hot rows " + ListText(s.hot_rows));
  if (Valid(Num(s.failure_rate_per_s))) {
    set.push_back("failure cells at " + Int(Num(s.failure_rate_per_s)) + "/s");
  }
  set.push_back("faults of " + Secs(Num(s.fault_s)) + " s after " + Secs(Num(s.steady_s)) +
                " s of steady load");
  set.push_back("convergence timeout " + Secs(Num(s.converge_timeout_s)) + " s");
  if (!Str(s.only).empty()) set.push_back("only " + Str(s.only));
  out += "**Settings:** " + Join(set, ", ") + ".\n\n";
  Table t({"approach", "family", "what it is"}, {0, 1, 2});
  for (const auto& a : d.approaches()) {
    t.Add({a.name, a.family.empty() ? "-" : a.family, a.description.empty() ? "-" : a.description});
  }
  if (!t.empty()) out += t.Render() + "\n";
  return out;
}

std::string Plots(const json& r) {
  std::string out = "## Plots\n\n";
  auto plots = PlannedPlots(r);
  if (plots.empty()) out += "There is no data to plot.\n";
  for (const auto& p : plots) {
    out += "- [" + p.title + "](plots/" + p.name + ".svg) ([png](plots/" + p.name + ".png))\n";
  }
  out +=
      "\nEvery figure above comes from `results.json` next to this report; its fields are "
      "described in docs/compare-results.md of the dualwrite repository. `dualwrite compare "
      "--from results.json` re-renders this report and the plots.\n";
  return out;
}

std::string Errors(const results::Run& r) {
  if (!r.errors || r.errors->empty()) return "";
  std::string out = "\n## Errors during the run\n\n";
  for (const std::string& x : *r.errors) out += "- " + x + "\n";
  return out;
}

}  // namespace

std::string RenderReport(const nlohmann::json& results) {
  // The accessors never throw; this guard is for the one thing they cannot
  // rule out (a bug in a branch no run exercised yet): a report with a note
  // is more use to the caller than an exception out of `compare`.
  try {
    // Judged by the current rule whatever the run's own verdicts were.
    const Data d(Rejudged(results::ParseRun(results)));
    return Title(d) + RenderSummary(d) + RenderLoad(d) + RenderFailures(d) + RenderOrderPerKey(d) +
           RenderQuestions(d) + About(d) + Plots(results) + Errors(d.run());
  } catch (const std::exception& e) {
    return std::string("# dualwrite compare\n\nThe report could not be rendered: ") + e.what() +
           "\n";
  }
}

}  // namespace dw::compare
