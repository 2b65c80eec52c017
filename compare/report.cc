#include "compare/report.h"

#include "compare/json_view.h"

#include <cctype>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "compare/plots.h"

namespace dw::compare {
namespace {

using nlohmann::json;
using Opt = std::optional<double>;

// Access that never throws: compare/json_view.h.
using jv::Arr;
using jv::Get;
using jv::Null;
using jv::Num;
using jv::Str;

// A scalar of any type as plain text (settings mix strings, numbers, booleans).
std::string Plain(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "on" : "off";
  return v.dump();
}

// ---- Number formatting: null -> "-", units chosen by the caller. ----

std::string Printf(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

bool Valid(Opt v) { return v.has_value() && std::isfinite(*v); }

// Milliseconds: two decimals where they carry information, fewer where they
// would only be noise (a 5-second timeout does not need 5012.34).
std::string Ms(Opt v) {
  if (!Valid(v)) return "-";
  double a = std::fabs(*v);
  if (a < 100) return Printf("%.2f", *v);
  if (a < 1000) return Printf("%.1f", *v);
  return Printf("%.0f", *v);
}

// Rates and counts are integers.
std::string Int(Opt v) {
  if (!Valid(v)) return "-";
  return std::to_string(std::llround(*v));
}

// Per-operation costs and other small ratios: about three significant digits.
std::string Per(Opt v) {
  if (!Valid(v)) return "-";
  double a = std::fabs(*v);
  if (a == 0) return "0";
  if (a >= 100) return Printf("%.0f", *v);
  if (a >= 10) return Printf("%.1f", *v);
  if (a >= 1) return Printf("%.2f", *v);
  return Printf("%.2g", *v);
}

std::string Secs(Opt v) {
  if (!Valid(v)) return "-";
  return Printf(std::fabs(*v) < 1 ? "%.2f" : "%.1f", *v);
}

std::string Ratio(double v) { return Printf("%.2fx", v); }

std::string Percent(double fraction) { return Printf("%.0f%%", 100 * fraction); }

// Text inside a markdown table cell.
std::string Cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string Code(const std::string& name) { return "`" + name + "`"; }

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

// "a", "a and b", "a, b and c".
std::string List(const std::vector<std::string>& parts) {
  if (parts.size() <= 1) return parts.empty() ? "" : parts[0];
  std::vector<std::string> head(parts.begin(), parts.end() - 1);
  return Join(head, ", ") + " and " + parts.back();
}

// A table: the first column left-aligned, the others right-aligned unless
// `left` says otherwise.
class Table {
 public:
  Table(std::vector<std::string> header, std::set<size_t> left = {0})
      : header_(std::move(header)), left_(std::move(left)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  std::string Render() const {
    std::string out = Line(header_);
    std::vector<std::string> sep;
    for (size_t i = 0; i < header_.size(); ++i) sep.push_back(left_.count(i) ? "---" : "---:");
    out += Line(sep);
    for (const auto& r : rows_) out += Line(r);
    return out;
  }

 private:
  static std::string Line(const std::vector<std::string>& cells) {
    std::string out = "|";
    for (const auto& c : cells) out += " " + Cell(c) + " |";
    return out + "\n";
  }
  std::vector<std::string> header_;
  std::set<size_t> left_;
  std::vector<std::vector<std::string>> rows_;
};

struct ApproachRow {
  std::string name;
  std::string family;  // floor, 2pc, outbox
  std::string description;
};

std::string FamilyTitle(const std::string& family) {
  if (family == "2pc") return "2PC";
  if (family == "outbox") return "the outbox";
  if (family == "floor") return "the floor";
  return family.empty() ? "unknown family" : family;
}

std::string Capitalized(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// One figure of one approach, for min/max sentences.
struct Fig {
  std::string approach;
  std::string family;
  double value;
};

const Fig* MinFig(const std::vector<Fig>& v) {
  auto it = std::min_element(v.begin(), v.end(),
                             [](const Fig& a, const Fig& b) { return a.value < b.value; });
  return it == v.end() ? nullptr : &*it;
}

const Fig* MaxFig(const std::vector<Fig>& v) {
  auto it = std::max_element(v.begin(), v.end(),
                             [](const Fig& a, const Fig& b) { return a.value < b.value; });
  return it == v.end() ? nullptr : &*it;
}

// Sums over several failure cells (one family in one scenario).
struct Sums {
  double attempted = 0, succeeded = 0, failed = 0, lost = 0, orphans = 0, redelivered = 0;
  int cells = 0;
};

class Renderer {
 public:
  explicit Renderer(const json& r) : r_(r) { Index(); }

  std::string Render() {
    Title();
    Headline();
    LoadSection();
    FailureSection();
    Questions();
    PlotLinks();
    Errors();
    return out_.str();
  }

 private:
  // ---- Indexing the JSON ----

  void Index() {
    for (const json& a : Arr(r_, "approaches")) {
      std::string name = Str(a, "name");
      if (!name.empty()) approaches_.push_back({name, Str(a, "family"), Str(a, "description")});
    }
    for (const json& c : Arr(r_, "latency")) {
      if (Str(c, "mode") == "open") continue;
      closed_.push_back(&c);
      NoteApproach(Str(c, "approach"));
      if (auto cc = Num(c, "concurrency")) {
        int n = static_cast<int>(*cc);
        if (std::find(concurrency_.begin(), concurrency_.end(), n) == concurrency_.end()) {
          concurrency_.push_back(n);
        }
      }
    }
    std::sort(concurrency_.begin(), concurrency_.end());
    for (const json& c : Arr(r_, "open_loop")) {
      open_.push_back(&c);
      NoteApproach(Str(c, "approach"));
    }
    const json& failures = Get(r_, "failures");
    for (const json& s : Arr(failures, "scenarios")) {
      std::string name = Str(s, "name");
      if (!name.empty()) scenarios_.push_back({name, &s});
    }
    for (const json& c : Arr(failures, "cells")) {
      fcells_.push_back(&c);
      NoteApproach(Str(c, "approach"));
      std::string s = Str(c, "scenario");
      if (!s.empty() && !Scenario(s)) scenarios_.push_back({s, nullptr});
    }
  }

  // An approach that appears in cells but not in `approaches` still gets a row.
  void NoteApproach(const std::string& name) {
    if (name.empty()) return;
    for (const auto& a : approaches_) {
      if (a.name == name) return;
    }
    approaches_.push_back({name, "", ""});
  }

  std::string Family(const std::string& name) const {
    for (const auto& a : approaches_) {
      if (a.name == name) return a.family;
    }
    return "";
  }

  const json* Scenario(const std::string& name) const {
    for (const auto& s : scenarios_) {
      if (s.first == name) return s.second ? s.second : &Null();
    }
    return nullptr;
  }

  const json* LoadCell(const std::string& approach, int c) const {
    for (const json* cell : closed_) {
      if (Str(*cell, "approach") == approach && Num(*cell, "concurrency") == Opt(c)) return cell;
    }
    return nullptr;
  }

  const json* FailureCell(const std::string& scenario, const std::string& approach) const {
    for (const json* cell : fcells_) {
      if (Str(*cell, "scenario") == scenario && Str(*cell, "approach") == approach) return cell;
    }
    return nullptr;
  }

  // The cells of a scenario that ran, in approach order.
  std::vector<const json*> Ran(const std::string& scenario) const {
    std::vector<const json*> out;
    for (const auto& a : approaches_) {
      const json* c = FailureCell(scenario, a.name);
      if (c && Str(*c, "status") == "ran") out.push_back(c);
    }
    return out;
  }

  // "a (n/a: reason), b (skipped: reason)" for the cells of a scenario that did not run.
  std::string NotRun(const std::string& scenario) const {
    std::vector<std::string> parts;
    for (const auto& a : approaches_) {
      const json* c = FailureCell(scenario, a.name);
      if (!c) continue;
      std::string status = Str(*c, "status");
      if (status == "ran") continue;
      std::string reason = Str(*c, "reason");
      parts.push_back(Code(a.name) + " (" + (status.empty() ? "unknown status" : status) +
                      (reason.empty() ? "" : ": " + reason) + ")");
    }
    return Join(parts, ", ");
  }

  int MaxConcurrency() const { return concurrency_.empty() ? 0 : concurrency_.back(); }

  // The floor's throughput at concurrency c, if measured.
  Opt FloorThroughput(int c) const {
    for (const auto& a : approaches_) {
      if (a.family != "floor") continue;
      if (const json* cell = LoadCell(a.name, c)) {
        if (auto t = Num(*cell, "throughput_per_s"); Valid(t) && *t > 0) return t;
      }
    }
    return std::nullopt;
  }

  // The value of `get` for each approach's usable cell at concurrency c.
  std::vector<Fig> Collect(int c, const std::function<Opt(const json&)>& get,
                           bool include_floor) const {
    std::vector<Fig> out;
    for (const auto& a : approaches_) {
      if (!include_floor && a.family == "floor") continue;
      const json* cell = LoadCell(a.name, c);
      if (!cell || !Get(*cell, "error").is_null()) continue;
      if (auto v = get(*cell); Valid(v)) out.push_back({a.name, a.family, *v});
    }
    return out;
  }

  // Fault duration of a scenario: its declared fault_s, else the first cell's window.
  Opt FaultSeconds(const std::string& scenario) const {
    if (const json* s = Scenario(scenario)) {
      if (auto f = Num(*s, "fault_s")) return f;
    }
    for (const json* c : Ran(scenario)) {
      auto start = Num(*c, "fault", "start_s");
      auto end = Num(*c, "fault", "end_s");
      if (Valid(start) && Valid(end)) return *end - *start;
    }
    return std::nullopt;
  }

  std::string Lasting(const std::string& scenario) const {
    Opt f = FaultSeconds(scenario);
    return Valid(f) ? ", " + Secs(f) + " s" : "";
  }

  // ---- Title and machine ----

  void Title() {
    out_ << "# dualwrite compare: 2PC vs the transactional outbox\n\n";
    const json& m = Get(r_, "machine");
    std::vector<std::string> parts;
    parts.push_back(Str(m, "cpu").empty() ? "CPU -" : Str(m, "cpu"));
    parts.push_back(Int(Num(m, "cores")) + " cores");
    parts.push_back(Per(Num(m, "memory_gib")) + " GiB memory");
    parts.push_back("kernel " + Plain(Get(m, "kernel")));
    std::string pg = "PostgreSQL " + Plain(Get(m, "postgres_version"));
    std::vector<std::string> settings;
    static const char* kSettings[] = {
        "fsync",          "synchronous_commit",        "wal_sync_method", "full_page_writes",
        "shared_buffers", "max_prepared_transactions", "wal_level",       "checkpoint_timeout",
        "max_wal_size"};
    const json& ps = Get(m, "postgres_settings");
    for (const char* k : kSettings) settings.push_back(std::string(k) + "=" + Plain(Get(ps, k)));
    // Settings the runner added later than this renderer are shown too.
    if (ps.is_object()) {
      for (auto it = ps.begin(); it != ps.end(); ++it) {
        if (std::find_if(std::begin(kSettings), std::end(kSettings),
                         [&](const char* k) { return it.key() == k; }) == std::end(kSettings)) {
          settings.push_back(it.key() + "=" + Plain(it.value()));
        }
      }
    }
    pg += " (" + Join(settings, ", ") + ")";
    parts.push_back(pg);
    parts.push_back("fsync method " + Plain(Get(m, "fsync_method")));
    parts.push_back("broker --fsync " + Plain(Get(m, "broker_fsync")));
    parts.push_back("dualwrite commit " + Plain(Get(m, "dualwrite_commit")));
    out_ << "**Machine:** " << Join(parts, "; ") << ".\n\n";

    out_ << "**Command:**\n\n```sh\n" << Plain(Get(r_, "command")) << "\n```\n\n";
    const json& s = Get(r_, "settings");
    std::vector<std::string> conc;
    for (const json& c : Arr(s, "concurrency")) conc.push_back(Int(Num(c)));
    out_ << "**Size:** " << Plain(Get(r_, "size")) << "; **seed:** " << Plain(Get(r_, "seed"))
         << "; **duration:** " << DurationText(Num(r_, "duration_s")) << "; **date:** "
         << Plain(Get(r_, "started_at")) << " to " << Plain(Get(r_, "finished_at")) << ".\n\n";
    out_ << "**Settings:** environment " << Plain(Get(s, "environment")) << ", broker "
         << Plain(Get(s, "broker")) << ", concurrency " << (conc.empty() ? "-" : Join(conc, ", "))
         << ", " << Secs(Num(s, "cell_duration_s")) << " s per closed-loop cell, "
         << Secs(Num(s, "open_loop_duration_s")) << " s per open-loop rate, faults of "
         << Secs(Num(s, "fault_s")) << " s after " << Secs(Num(s, "steady_s"))
         << " s of steady load, convergence timeout " << Secs(Num(s, "converge_timeout_s")) << " s";
    const json& only = Get(s, "only");
    if (only.is_array()) {
      std::vector<std::string> names;
      for (const json& n : only) names.push_back(Plain(n));
      out_ << ", only " << Join(names, ", ");
    }
    out_ << ".\n\n";
  }

  static std::string DurationText(Opt s) {
    if (!Valid(s)) return "-";
    long total = std::lround(*s);
    if (total < 60) return std::to_string(total) + " s";
    return std::to_string(total / 60) + " min " + std::to_string(total % 60) + " s";
  }

  // ---- Headline ----

  // "7/7 clean", "2/3 clean; loses messages (clock-skew); 1 n/a".
  std::string MatrixSummary(const std::string& approach) const {
    int ran = 0, clean = 0, na = 0, skipped = 0;
    std::vector<std::string> loses, violations, errors, notrun;
    for (const json* c : fcells_) {
      if (Str(*c, "approach") != approach) continue;
      std::string status = Str(*c, "status");
      std::string scen = Str(*c, "scenario");
      if (status == "n/a") {
        ++na;
      } else if (status == "skipped") {
        ++skipped;
      } else if (status == "error") {
        errors.push_back(scen);
      } else if (status == "ran") {
        std::string v = Str(*c, "verdict");
        if (v == "not-run") {
          notrun.push_back(scen);
          continue;
        }
        ++ran;
        if (v == "clean") ++clean;
        if (v == "expected-loss") loses.push_back(scen);
        if (v == "violations") violations.push_back(scen);
      }
    }
    std::vector<std::string> parts;
    if (ran > 0) parts.push_back(std::to_string(clean) + "/" + std::to_string(ran) + " clean");
    if (!loses.empty()) parts.push_back("loses messages (" + Join(loses, ", ") + ")");
    if (!violations.empty()) parts.push_back("VIOLATIONS (" + Join(violations, ", ") + ")");
    if (!errors.empty()) parts.push_back("error (" + Join(errors, ", ") + ")");
    if (!notrun.empty()) parts.push_back("not run (" + Join(notrun, ", ") + ")");
    if (na > 0) parts.push_back(std::to_string(na) + " n/a");
    if (skipped > 0) parts.push_back(std::to_string(skipped) + " skipped");
    return parts.empty() ? "-" : Join(parts, "; ");
  }

  void Headline() {
    int c = MaxConcurrency();
    out_ << "## Headline\n\n";
    if (closed_.empty()) {
      out_ << "No closed-loop load cell was measured in this run.\n\n";
      return;
    }
    out_ << "Closed loop at concurrency " << c
         << ", the highest measured. Latencies in ms; business latency from the intended start "
            "of the operation, end-to-end (e2e) until a consumer read the message.\n\n";
    Table t({"approach", "family", "throughput/s", "p50", "p99", "e2e p50", "e2e p99", "WAL B/op",
             "failure matrix"},
            {0, 1, 8});
    for (const auto& a : approaches_) {
      const json* cell = LoadCell(a.name, c);
      const json& j = cell ? *cell : Null();
      t.Add({a.name, a.family.empty() ? "-" : a.family, Int(Num(j, "throughput_per_s")),
             Ms(Num(j, "latency_ms", "p50")), Ms(Num(j, "latency_ms", "p99")),
             Ms(Num(j, "e2e_ms", "p50")), Ms(Num(j, "e2e_ms", "p99")),
             Int(Num(j, "cost", "wal_bytes_per_op")), MatrixSummary(a.name)});
    }
    out_ << t.Render() << "\n";
  }

  // ---- Section 1 ----

  static std::string VerifyText(const json& v) {
    if (!v.is_object()) return "-";
    if (Get(v, "ok").is_boolean() && Get(v, "ok").get<bool>()) return "clean";
    std::vector<std::string> parts;
    static const std::pair<const char*, const char*> kFields[] = {{"missing", "missing"},
                                                                  {"orphans", "orphans"},
                                                                  {"duplicates", "dup"},
                                                                  {"in_doubt", "in doubt"}};
    for (const auto& [key, label] : kFields) {
      Opt n = Num(v, key);
      if (Valid(n) && *n != 0) parts.push_back(std::string(label) + " " + Int(n));
    }
    return parts.empty() ? "not ok" : Join(parts, ", ");
  }

  void LoadSection() {
    out_ << "## 1. Latency, throughput and cost\n\n";
    const json& s = Get(r_, "settings");
    out_ << "Closed loop: each worker starts its next operation when the previous one ends, for "
         << Secs(Num(s, "cell_duration_s"))
         << " s per cell. Latencies in ms. \"vs floor\" is the throughput divided by the floor's "
            "at the same concurrency. Costs are per committed operation, including the relay's "
            "work (a cell ends when every message was delivered).\n\n";
    if (closed_.empty()) out_ << "No closed-loop cell was measured.\n\n";
    for (int c : concurrency_) {
      out_ << "### Concurrency " << c << "\n\n";
      Opt floor = FloorThroughput(c);
      Table t(
          {"approach", "throughput/s", "vs floor", "p50", "p95", "p99", "p99.9", "max", "e2e p50",
           "e2e p99", "WAL B/op", "WAL syncs/op", "dead tuples/op", "broker fsyncs/op", "verify"},
          {0, 14});
      for (const auto& a : approaches_) {
        const json* cell = LoadCell(a.name, c);
        if (!cell) continue;
        const json& j = *cell;
        Opt thr = Num(j, "throughput_per_s");
        std::string ratio = Valid(thr) && Valid(floor) ? Ratio(*thr / *floor) : "-";
        std::string verify = VerifyText(Get(j, "verify"));
        if (!Get(j, "error").is_null()) verify = "error: " + Plain(Get(j, "error"));
        t.Add({a.name, Int(thr), ratio, Ms(Num(j, "latency_ms", "p50")),
               Ms(Num(j, "latency_ms", "p95")), Ms(Num(j, "latency_ms", "p99")),
               Ms(Num(j, "latency_ms", "p999")), Ms(Num(j, "latency_ms", "max")),
               Ms(Num(j, "e2e_ms", "p50")), Ms(Num(j, "e2e_ms", "p99")),
               Int(Num(j, "cost", "wal_bytes_per_op")), Per(Num(j, "cost", "wal_syncs_per_op")),
               Per(Num(j, "cost", "dead_tuples_per_op")),
               Per(Num(j, "cost", "broker_fsyncs_per_op")), verify});
      }
      out_ << t.Render() << "\n";
    }
    OpenLoopTable();
    out_ << "### Reading\n\n" << LoadReading() << "\n\n";
  }

  // Open-loop cells of one approach, by offered rate.
  std::vector<const json*> OpenSeries(const std::string& approach) const {
    std::vector<const json*> out;
    for (const json* c : open_) {
      if (Str(*c, "approach") == approach) out.push_back(c);
    }
    std::stable_sort(out.begin(), out.end(), [](const json* a, const json* b) {
      return Num(*a, "rate").value_or(0) < Num(*b, "rate").value_or(0);
    });
    return out;
  }

  void OpenLoopTable() {
    out_ << "### Open loop\n\n";
    if (open_.empty()) {
      out_ << "No open-loop series was measured in this run.\n\n";
      return;
    }
    out_ << "Operations arrive at a fixed rate whatever the system does; latency counts from the "
            "intended start, so queueing behind a slow operation is included (no coordinated "
            "omission). Latencies in ms.\n\n";
    Table t({"approach", "offered/s", "achieved/s", "achieved", "p50", "p99", "p99.9", "e2e p99",
             "verify"},
            {0, 8});
    for (const auto& a : approaches_) {
      for (const json* c : OpenSeries(a.name)) {
        Opt rate = Num(*c, "rate");
        Opt thr = Num(*c, "throughput_per_s");
        std::string verify = VerifyText(Get(*c, "verify"));
        if (!Get(*c, "error").is_null()) verify = "error: " + Plain(Get(*c, "error"));
        t.Add({a.name, Int(rate), Int(thr),
               Valid(rate) && Valid(thr) && *rate > 0 ? Percent(*thr / *rate) : "-",
               Ms(Num(*c, "latency_ms", "p50")), Ms(Num(*c, "latency_ms", "p99")),
               Ms(Num(*c, "latency_ms", "p999")), Ms(Num(*c, "e2e_ms", "p99")), verify});
      }
    }
    out_ << t.Render() << "\n";
  }

  std::string LoadReading() const {
    std::vector<std::string> s;
    if (closed_.empty() && open_.empty()) return "There are no load figures to read.";
    if (!closed_.empty()) {
      int c = MaxConcurrency();
      Opt floor = FloorThroughput(c);
      auto x_floor = [&](double v) {
        return Valid(floor) ? " (" + Ratio(v / *floor) + " the floor)" : std::string();
      };
      if (Valid(floor)) {
        s.push_back("At concurrency " + std::to_string(c) +
                    " the floor (the orders insert alone, no message) committed " + Int(floor) +
                    " operations/s.");
      } else {
        s.push_back("At concurrency " + std::to_string(c) +
                    " there is no floor measurement, so no ratio to it can be given.");
      }
      auto thr = Collect(
          c, [](const json& j) { return Num(j, "throughput_per_s"); }, false);
      const Fig* best = MaxFig(thr);
      const Fig* worst = MinFig(thr);
      if (best) {
        std::string t = "The cheapest approach after the floor was " + Code(best->approach) +
                        " at " + Int(best->value) + "/s" + x_floor(best->value);
        if (worst && worst != best && worst->value < best->value) {
          t += "; the most expensive was " + Code(worst->approach) + " at " + Int(worst->value) +
               "/s" + x_floor(worst->value);
        }
        s.push_back(t + ".");
      }
      // The best of each family, when there is more than one family to compare.
      std::vector<std::string> fam;
      for (const char* f : {"2pc", "outbox"}) {
        std::vector<Fig> in;
        for (const auto& g : thr) {
          if (g.family == f) in.push_back(g);
        }
        if (const Fig* b = MaxFig(in)) {
          fam.push_back(FamilyTitle(f) + " " + Code(b->approach) + " at " + Int(b->value) + "/s" +
                        (Valid(floor) ? " (" + Ratio(b->value / *floor) + ")" : ""));
        }
      }
      if (fam.size() > 1) s.push_back("Fastest of each family: " + List(fam) + ".");

      auto p99 = Collect(
          c, [](const json& j) { return Num(j, "latency_ms", "p99"); }, false);
      const Fig* lo = MinFig(p99);
      const Fig* hi = MaxFig(p99);
      if (lo && hi && lo != hi) {
        s.push_back("Business-operation p99 ranged from " + Ms(lo->value) + " ms (" +
                    Code(lo->approach) + ") to " + Ms(hi->value) + " ms (" + Code(hi->approach) +
                    ").");
      }
      auto e2e = Collect(
          c, [](const json& j) { return Num(j, "e2e_ms", "p99"); }, false);
      lo = MinFig(e2e);
      hi = MaxFig(e2e);
      if (lo) {
        std::string t = "The lowest end-to-end p99 (operation start to message read) was " +
                        Code(lo->approach) + " (" + Ms(lo->value) + " ms)";
        if (hi && hi != lo) {
          t += ", the highest " + Code(hi->approach) + " (" + Ms(hi->value) + " ms)";
        }
        s.push_back(t + ".");
      }
      auto wal = Collect(
          c, [](const json& j) { return Num(j, "cost", "wal_bytes_per_op"); }, false);
      Opt floor_wal;
      for (const auto& g : Collect(
               c, [](const json& j) { return Num(j, "cost", "wal_bytes_per_op"); }, true)) {
        if (g.family == "floor") floor_wal = g.value;
      }
      auto x_wal = [&](double v) {
        return Valid(floor_wal) && *floor_wal > 0
                   ? ", " + Ratio(v / *floor_wal) + " the floor's " + Int(floor_wal) + " B"
                   : std::string();
      };
      lo = MinFig(wal);
      hi = MaxFig(wal);
      if (lo && hi && lo != hi) {
        s.push_back("WAL per operation ranged from " + Int(lo->value) + " B (" +
                    Code(lo->approach) + x_wal(lo->value) + ") to " + Int(hi->value) + " B (" +
                    Code(hi->approach) + x_wal(hi->value) + ").");
      }
      auto syncs = Collect(
          c, [](const json& j) { return Num(j, "cost", "wal_syncs_per_op"); }, false);
      if (const Fig* m = MaxFig(syncs)) {
        s.push_back(Code(m->approach) + " flushed the WAL most often: " + Per(m->value) +
                    " syncs per operation.");
      }
      auto dead = Collect(
          c, [](const json& j) { return Num(j, "cost", "dead_tuples_per_op"); }, false);
      if (const Fig* m = MaxFig(dead); m && m->value > 0) {
        s.push_back(Code(m->approach) + " left the most dead tuples for vacuum: " + Per(m->value) +
                    " per operation.");
      }
      auto fs = Collect(
          c, [](const json& j) { return Num(j, "cost", "broker_fsyncs_per_op"); }, false);
      lo = MinFig(fs);
      hi = MaxFig(fs);
      if (lo && hi && lo != hi) {
        s.push_back("Broker fsyncs per operation ranged from " + Per(lo->value) + " (" +
                    Code(lo->approach) + ") to " + Per(hi->value) + " (" + Code(hi->approach) +
                    ").");
      }
      // Scaling from the lowest to the highest concurrency.
      if (concurrency_.size() > 1) {
        int c0 = concurrency_.front();
        std::vector<Fig> growth;
        for (const auto& a : approaches_) {
          const json* x = LoadCell(a.name, c0);
          const json* y = LoadCell(a.name, c);
          if (!x || !y) continue;
          Opt t0 = Num(*x, "throughput_per_s");
          Opt t1 = Num(*y, "throughput_per_s");
          if (Valid(t0) && Valid(t1) && *t0 > 0) growth.push_back({a.name, a.family, *t1 / *t0});
        }
        const Fig* g_hi = MaxFig(growth);
        const Fig* g_lo = MinFig(growth);
        if (g_hi && g_lo && g_hi != g_lo) {
          s.push_back("From concurrency " + std::to_string(c0) + " to " + std::to_string(c) +
                      " throughput grew most for " + Code(g_hi->approach) + " (" +
                      Ratio(g_hi->value) + ") and least for " + Code(g_lo->approach) + " (" +
                      Ratio(g_lo->value) + ").");
        }
      }
      // Verification after the load cells.
      std::vector<std::string> bad;
      int checked = 0;
      for (const json* cell : closed_) {
        std::string who =
            Code(Str(*cell, "approach")) + " at concurrency " + Int(Num(*cell, "concurrency"));
        if (!Get(*cell, "error").is_null()) {
          bad.push_back(who + " (error: " + Plain(Get(*cell, "error")) + ")");
          continue;
        }
        const json& v = Get(*cell, "verify");
        if (!v.is_object()) continue;
        ++checked;
        if (VerifyText(v) != "clean") bad.push_back(who + " (" + VerifyText(v) + ")");
      }
      if (bad.empty()) {
        if (checked > 0) {
          s.push_back("Verify was clean after all " + std::to_string(checked) +
                      " closed-loop cells.");
        }
      } else {
        s.push_back("Cells that did not finish clean: " + Join(bad, "; ") + ".");
      }
    }
    // Open loop: how far each approach kept up with the offered rate.
    for (const auto& a : approaches_) {
      auto series = OpenSeries(a.name);
      if (series.empty()) continue;
      const json* kept = nullptr;
      const json* fell = nullptr;
      for (const json* c : series) {
        Opt rate = Num(*c, "rate");
        Opt thr = Num(*c, "throughput_per_s");
        if (!Valid(rate) || !Valid(thr) || *rate <= 0) continue;
        if (*thr >= 0.95 * *rate) {
          if (!fell) kept = c;
        } else if (!fell) {
          fell = c;
        }
      }
      std::string t = "Open loop, " + Code(a.name) + ": ";
      if (kept) {
        t += "kept up with offered rates up to " + Int(Num(*kept, "rate")) + "/s (p99 " +
             Ms(Num(*kept, "latency_ms", "p99")) + " ms)";
      } else {
        t += "kept up with none of the offered rates";
      }
      if (fell) {
        Opt rate = Num(*fell, "rate");
        Opt thr = Num(*fell, "throughput_per_s");
        t += "; at " + Int(rate) + "/s it achieved " + Int(thr) + "/s (" + Percent(*thr / *rate) +
             ") and p99 was " + Ms(Num(*fell, "latency_ms", "p99")) + " ms";
      } else if (kept) {
        t += ", the highest rate offered";
      }
      s.push_back(t + ".");
    }
    return Join(s, " ");
  }

  // ---- Section 2 ----

  static std::string ProblemText(const json& c) {
    std::vector<std::string> parts;
    static const std::pair<const char*, const char*> kFields[] = {{"lost", "lost"},
                                                                  {"orphans", "orphans"},
                                                                  {"duplicates", "dup"},
                                                                  {"in_doubt_at_end", "in doubt"}};
    for (const auto& [key, label] : kFields) {
      Opt n = Num(c, key);
      if (Valid(n) && *n != 0) parts.push_back(std::string(label) + " " + Int(n));
    }
    return parts.empty() ? VerifyText(Get(c, "verify")) : Join(parts, ", ");
  }

  static std::string ShortVerdict(const json* c) {
    if (!c) return "-";
    std::string status = Str(*c, "status");
    if (status == "n/a" || status == "skipped" || status == "error") return status;
    std::string v = Str(*c, "verdict");
    if (v == "clean") return "clean";
    if (v == "expected-loss") {
      Opt lost = Num(*c, "lost");
      return Valid(lost) && *lost > 0 ? "LOST " + Int(lost) + " (expected)"
                                      : "expected-loss: " + ProblemText(*c);
    }
    if (v == "violations") return "VIOLATION: " + ProblemText(*c);
    if (v == "not-run") return "not run";
    return v.empty() ? "-" : v;
  }

  static std::string LongVerdict(const json& c) {
    std::string status = Str(c, "status");
    if (status != "ran") {
      std::string reason = Str(c, "reason");
      return (status.empty() ? "unknown" : status) + (reason.empty() ? "" : ": " + reason);
    }
    std::string v = Str(c, "verdict");
    if (v == "clean") return "clean";
    if (v == "expected-loss") return "expected loss: " + ProblemText(c);
    if (v == "violations") return "VIOLATION: " + ProblemText(c);
    return v.empty() ? "-" : v;
  }

  static Opt BacklogPeak(const json& c) {
    Opt peak;
    for (const json& p : Arr(c, "backlog")) {
      Opt rows = Num(p, "rows");
      if (Valid(rows) && (!peak || *rows > *peak)) peak = rows;
    }
    return peak;
  }

  // Seconds from the end of the fault until the backlog was empty again.
  static Opt BacklogDrained(const json& c) {
    auto start = Num(c, "fault", "start_s");
    auto end = Num(c, "fault", "end_s");
    if (!Valid(start) || !Valid(end)) return std::nullopt;
    double len = *end - *start;
    bool seen = false;
    for (const json& p : Arr(c, "backlog")) {
      Opt t = Num(p, "t_s");
      Opt rows = Num(p, "rows");
      if (!Valid(t) || !Valid(rows)) continue;
      if (*rows > 0) seen = true;
      if (seen && *t >= len && *rows == 0) return std::max(0.0, *t - len);
    }
    return std::nullopt;
  }

  // "4000 rows at 2.5 s after the fault ended": the backlog's last sample.
  static std::string BacklogLast(const json& c) {
    const json& b = Arr(c, "backlog");
    if (b.empty()) return "no samples";
    const json& last = b.back();
    std::string t = Int(Num(last, "rows")) + " rows";
    Opt at = Num(last, "t_s");
    auto start = Num(c, "fault", "start_s");
    auto end = Num(c, "fault", "end_s");
    if (Valid(at) && Valid(start) && Valid(end)) {
      t += " " + Secs(*at - (*end - *start)) + " s after the fault ended";
    }
    return t;
  }

  void FailureSection() {
    out_ << "## 2. Failure behaviour\n\n";
    const json& s = Get(r_, "settings");
    out_ << "Each cell runs " << Secs(Num(s, "steady_s"))
         << " s of steady load, injects the fault, removes it, waits (up to "
         << Secs(Num(s, "converge_timeout_s"))
         << " s) until every committed operation's message is readable and nothing is in doubt, "
            "then runs verify. Operation counts are those whose intended start fell inside the "
            "fault window.\n\n";
    if (scenarios_.empty()) {
      out_ << "No failure scenario was run.\n\n";
      out_ << "### Reading\n\nThere is no failure matrix to read.\n\n";
      return;
    }
    out_ << "### Matrix\n\n";
    std::vector<std::string> header = {"scenario"};
    for (const auto& a : approaches_) header.push_back(a.name);
    std::set<size_t> left;
    for (size_t i = 0; i < header.size(); ++i) left.insert(i);
    Table m(header, left);
    for (const auto& [name, scen] : scenarios_) {
      std::vector<std::string> row = {name};
      for (const auto& a : approaches_) row.push_back(ShortVerdict(FailureCell(name, a.name)));
      m.Add(row);
    }
    out_ << m.Render() << "\n";

    for (const auto& [name, scen] : scenarios_) {
      const json& sj = scen ? *scen : Null();
      std::string title = Str(sj, "title");
      out_ << "### " << name << (title.empty() ? "" : ": " + title) << "\n\n";
      std::string desc = Str(sj, "description");
      // A sentence starts with a capital, unless its first word is a name
      // (pg_ctl, a flag) that must keep its spelling.
      const std::string first_word = desc.substr(0, desc.find(' '));
      if (!first_word.empty() && std::all_of(first_word.begin(), first_word.end(), [](char ch) {
            return std::islower(static_cast<unsigned char>(ch));
          })) {
        desc[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(desc[0])));
      }
      if (!desc.empty()) {
        // Descriptions are sentences without a final period (they also
        // appear in results.json); end them here.
        out_ << desc << (desc.back() == '.' ? " " : ". ");
      }
      out_ << "Fault: " << Secs(FaultSeconds(name)) << " s.\n\n";
      bool backlog = false;
      for (const json* c : Ran(name)) backlog = backlog || Get(*c, "backlog").is_array();
      std::vector<std::string> header = {"approach",
                                         "attempted",
                                         "succeeded",
                                         "failed",
                                         "lost",
                                         "dup before dedupe",
                                         "orphans",
                                         "in doubt max (age s)",
                                         "probe blocked ms",
                                         "converge s",
                                         "p99 before ms",
                                         "p99 during ms"};
      if (backlog) header.push_back("backlog peak");
      header.push_back("verdict");
      Table t(header, {0, header.size() - 1});
      std::vector<std::string> notes;
      for (const auto& a : approaches_) {
        const json* c = FailureCell(name, a.name);
        if (!c) continue;
        std::vector<std::string> row = {a.name};
        if (Str(*c, "status") != "ran") {
          row.resize(header.size() - 1, "-");
        } else {
          std::string doubt = Int(Num(*c, "in_doubt_max"));
          if (Valid(Num(*c, "in_doubt_max_age_s"))) {
            doubt += " (" + Secs(Num(*c, "in_doubt_max_age_s")) + ")";
          }
          row.insert(row.end(),
                     {Int(Num(*c, "ops", "attempted")), Int(Num(*c, "ops", "succeeded")),
                      Int(Num(*c, "ops", "failed")), Int(Num(*c, "lost")),
                      Int(Num(*c, "duplicates_before_dedupe")), Int(Num(*c, "orphans")), doubt,
                      Ms(Num(*c, "probe_blocked_ms")), Secs(Num(*c, "converge_s")),
                      Ms(Num(*c, "p99_before_ms")), Ms(Num(*c, "p99_during_ms"))});
          if (backlog) row.push_back(Int(BacklogPeak(*c)));
        }
        row.push_back(LongVerdict(*c));
        t.Add(row);
        for (const json& n : Arr(*c, "notes")) notes.push_back(Code(a.name) + ": " + Plain(n));
      }
      out_ << t.Render() << "\n";
      if (!notes.empty()) {
        out_ << "Notes:\n\n";
        for (const auto& n : notes) out_ << "- " << n << "\n";
        out_ << "\n";
      }
    }
    out_ << "### Reading\n\n" << FailureReading() << "\n\n";
  }

  std::string Who(const json& c) const {
    return Code(Str(c, "approach")) + " under `" + Str(c, "scenario") + "`";
  }

  std::string FailureReading() const {
    std::vector<std::string> s;
    int total = 0, ran = 0, clean = 0, na = 0, skipped = 0, errors = 0;
    std::vector<const json*> violations, losses, ran_cells;
    for (const json* c : fcells_) {
      ++total;
      std::string status = Str(*c, "status");
      if (status == "n/a") ++na;
      if (status == "skipped") ++skipped;
      if (status == "error") ++errors;
      if (status != "ran" || Str(*c, "verdict") == "not-run") continue;
      ++ran;
      ran_cells.push_back(c);
      std::string v = Str(*c, "verdict");
      if (v == "clean") ++clean;
      if (v == "violations") violations.push_back(c);
      if (v == "expected-loss") losses.push_back(c);
    }
    std::string t = "Of " + std::to_string(total) + " cells, " + std::to_string(ran) +
                    " ran: " + std::to_string(clean) + " clean, " + std::to_string(losses.size()) +
                    " with an expected loss, " + std::to_string(violations.size()) +
                    " with violations";
    std::vector<std::string> rest;
    if (na) rest.push_back(std::to_string(na) + " did not apply");
    if (skipped) rest.push_back(std::to_string(skipped) + " were skipped");
    if (errors) rest.push_back(std::to_string(errors) + " failed to run");
    s.push_back(t + (rest.empty() ? "" : "; " + List(rest)) + ".");
    if (violations.empty()) {
      if (ran > 0) {
        s.push_back("Every approach that promises atomicity in a scenario passed verify there.");
      }
    } else {
      std::vector<std::string> v;
      for (const json* c : violations) v.push_back(Who(*c) + " (" + ProblemText(*c) + ")");
      s.push_back("Violations, i.e. an approach that promises atomicity failed verify (a bug): " +
                  Join(v, "; ") + ".");
    }
    for (const json* c : losses) {
      s.push_back(Who(*c) + " lost " + Int(Num(*c, "lost")) +
                  " messages, a loss the approach does not promise to avoid.");
    }
    // Extremes over the cells that ran.
    auto extreme = [&](const char* key) -> const json* {
      const json* best = nullptr;
      for (const json* c : ran_cells) {
        Opt v = Num(*c, key);
        if (Valid(v) && *v > 0 && (!best || *v > *Num(*best, key))) best = c;
      }
      return best;
    };
    if (const json* c = extreme("in_doubt_max_age_s")) {
      s.push_back("The oldest in-doubt transaction was " + Secs(Num(*c, "in_doubt_max_age_s")) +
                  " s old (" + Who(*c) + ", up to " + Int(Num(*c, "in_doubt_max")) +
                  " in doubt at once).");
    }
    std::vector<std::string> left;
    for (const json* c : ran_cells) {
      Opt n = Num(*c, "in_doubt_at_end");
      if (Valid(n) && *n > 0) left.push_back(Who(*c) + ": " + Int(n));
    }
    if (!left.empty()) {
      s.push_back("Transactions still in doubt after convergence: " + Join(left, "; ") + ".");
    }
    if (const json* c = extreme("probe_blocked_ms")) {
      s.push_back("The hot-row probe waited longest in " + Who(*c) + ": " +
                  Ms(Num(*c, "probe_blocked_ms")) + " ms.");
    }
    if (const json* c = extreme("converge_s")) {
      s.push_back("The slowest convergence after a fault was " + Who(*c) + ": " +
                  Secs(Num(*c, "converge_s")) + " s.");
    }
    std::vector<std::string> never;
    for (const json* c : ran_cells) {
      if (!Valid(Num(*c, "converge_s"))) never.push_back(Who(*c));
    }
    if (!never.empty()) {
      s.push_back("No convergence time was recorded (it did not converge within " +
                  Secs(Num(Get(r_, "settings"), "converge_timeout_s")) + " s) for " + List(never) +
                  ".");
    }
    const json* jump = nullptr;
    double jump_ratio = 0;
    for (const json* c : ran_cells) {
      Opt b = Num(*c, "p99_before_ms");
      Opt d = Num(*c, "p99_during_ms");
      if (Valid(b) && Valid(d) && *b > 0 && *d / *b > jump_ratio) {
        jump = c;
        jump_ratio = *d / *b;
      }
    }
    if (jump && jump_ratio > 1) {
      s.push_back("The largest rise in business p99 during a fault was " + Who(*jump) + ": " +
                  Ms(Num(*jump, "p99_before_ms")) + " -> " + Ms(Num(*jump, "p99_during_ms")) +
                  " ms (" + Ratio(jump_ratio) + ").");
    }
    if (const json* c = extreme("duplicates_before_dedupe")) {
      s.push_back("The broker recognised at most " + Int(Num(*c, "duplicates_before_dedupe")) +
                  " redelivered messages in one cell (" + Who(*c) + ").");
    }
    return Join(s, " ");
  }

  // ---- The seed's three questions ----

  Sums Sum(const std::vector<const json*>& cells) const {
    Sums t;
    for (const json* c : cells) {
      ++t.cells;
      t.attempted += Num(*c, "ops", "attempted").value_or(0);
      t.succeeded += Num(*c, "ops", "succeeded").value_or(0);
      t.failed += Num(*c, "ops", "failed").value_or(0);
      t.lost += Num(*c, "lost").value_or(0);
      t.orphans += Num(*c, "orphans").value_or(0);
      t.redelivered += Num(*c, "duplicates_before_dedupe").value_or(0);
    }
    return t;
  }

  std::vector<const json*> OfFamily(const std::vector<const json*>& cells,
                                    const std::string& family) const {
    std::vector<const json*> out;
    for (const json* c : cells) {
      if (Family(Str(*c, "approach")) == family) out.push_back(c);
    }
    return out;
  }

  static std::string Names(const std::vector<const json*>& cells) {
    std::vector<std::string> n;
    for (const json* c : cells) n.push_back(Code(Str(*c, "approach")));
    return Join(n, ", ");
  }

  // "S of A operations attempted during the fault succeeded and F failed".
  static std::string OpsText(const Sums& t) {
    if (t.attempted == 0) return "no operation was attempted during the fault";
    if (t.succeeded == t.attempted) {
      return "all " + Int(t.attempted) + " operations attempted during the fault succeeded";
    }
    if (t.succeeded == 0) {
      return "none of the " + Int(t.attempted) +
             " operations attempted during the fault succeeded (" + Int(t.failed) + " failed)";
    }
    return Int(t.succeeded) + " of the " + Int(t.attempted) +
           " operations attempted during the fault succeeded (" +
           Percent(t.succeeded / t.attempted) + ") and " + Int(t.failed) + " failed";
  }

  // The slowest convergence among cells, as a phrase.
  std::string ConvergeText(const std::vector<const json*>& cells) const {
    const json* slow = nullptr;
    std::vector<std::string> never;
    for (const json* c : cells) {
      Opt v = Num(*c, "converge_s");
      if (!Valid(v)) {
        never.push_back(Code(Str(*c, "approach")));
      } else if (!slow || *v > *Num(*slow, "converge_s")) {
        slow = c;
      }
    }
    std::string t;
    if (slow) {
      t = cells.size() - never.size() > 1
              ? "all converged within " + Secs(Num(*slow, "converge_s")) + " s after the fault"
              : "it converged " + Secs(Num(*slow, "converge_s")) + " s after the fault";
    }
    if (!never.empty()) {
      t += std::string(t.empty() ? "" : ", except ") + List(never) +
           (never.size() > 1 ? ", which" : ", which") + " did not converge within " +
           Secs(Num(Get(r_, "settings"), "converge_timeout_s")) + " s";
    }
    return t;
  }

  // Per family: what happened to operations, orphans and losses in a scenario.
  std::vector<std::string> FamilyLines(const std::string& scenario, bool with_backlog) const {
    std::vector<std::string> out;
    auto ran = Ran(scenario);
    for (const char* family : {"2pc", "outbox", "floor"}) {
      auto cells = OfFamily(ran, family);
      if (cells.empty()) continue;
      Sums t = Sum(cells);
      std::string line =
          Capitalized(FamilyTitle(family)) + " (" + Names(cells) + "): " + OpsText(t);
      if (std::string(family) != "floor") {
        line += "; messages without a row (orphans): " + Int(t.orphans) +
                "; rows without a message (lost): " + Int(t.lost);
        if (t.redelivered > 0) {
          line += "; the broker deduplicated " + Int(t.redelivered) + " redeliveries";
        }
      }
      if (with_backlog) {
        const json* peak = nullptr;
        for (const json* c : cells) {
          Opt p = BacklogPeak(*c);
          if (Valid(p) && (!peak || *p > *BacklogPeak(*peak))) peak = c;
        }
        if (peak) {
          line += "; the unsent backlog peaked at " + Int(BacklogPeak(*peak)) + " rows (" +
                  Code(Str(*peak, "approach")) + ")";
          // A backlog that was still there at the last sample must not
          // hide behind the slowest one that did drain.
          const json* slow = nullptr;
          int drained = 0;
          std::vector<std::string> undrained;
          for (const json* c : cells) {
            if (Arr(*c, "backlog").empty()) continue;
            Opt d = BacklogDrained(*c);
            if (Valid(d)) {
              ++drained;
              if (!slow || *d > *BacklogDrained(*slow)) slow = c;
            } else {
              undrained.push_back(Code(Str(*c, "approach")) + " (" + BacklogLast(*c) + ")");
            }
          }
          if (slow) {
            line += "; it was empty again " + Secs(BacklogDrained(*slow)) +
                    " s after the fault ended" +
                    (drained > 1 ? " (slowest to drain: " + Code(Str(*slow, "approach")) + ")"
                     : cells.size() > 1 ? " for " + Code(Str(*slow, "approach"))
                                        : "");
          }
          if (!undrained.empty()) {
            line += "; not yet empty at the last sample: " + List(undrained);
          }
        }
      }
      std::string conv = ConvergeText(cells);
      if (!conv.empty() && std::string(family) != "floor") line += "; " + conv;
      out.push_back(line + ".");
    }
    return out;
  }

  // What a question needs when a scenario did not run anywhere.
  std::string Missing(const std::string& scenario) const {
    if (!Scenario(scenario)) return "`" + scenario + "` was not part of this run.";
    std::string nr = NotRun(scenario);
    return "`" + scenario + "` did not run for any approach" + (nr.empty() ? "" : ": " + nr) + ".";
  }

  std::string NotRunTail(const std::string& scenario) const {
    std::string nr = NotRun(scenario);
    return nr.empty() ? "" : " Not run in `" + scenario + "`: " + nr + ".";
  }

  void Questions() {
    out_ << "## The seed's three questions\n\n"
            "Each answer is built from the failure matrix above.\n\n";

    out_ << "### Should the message be sent if the database is unavailable?\n\n";
    {
      const std::string scen = "postgres-restart";
      auto ran = Ran(scen);
      if (ran.empty()) {
        out_ << Missing(scen) << " The matrix cannot answer this question for this run.\n\n";
      } else {
        out_ << "While Postgres was stopped (`" << scen << "`" << Lasting(scen) << "):\n\n";
        for (const auto& l : FamilyLines(scen, false)) out_ << "- " << l << "\n";
        Sums all = Sum(ran);
        out_ << "\n";
        if (all.orphans == 0) {
          out_ << "No cell produced an orphan: no approach sent a message for an operation whose "
                  "row was not saved while the database was unavailable.";
        } else {
          std::vector<std::string> who;
          for (const json* c : ran) {
            if (Num(*c, "orphans").value_or(0) > 0) {
              who.push_back(Code(Str(*c, "approach")) + " (" + Int(Num(*c, "orphans")) + ")");
            }
          }
          out_ << Int(all.orphans) << " messages went out without their row: " << List(who) << ".";
        }
        out_ << NotRunTail(scen) << "\n\n";
      }
    }

    out_ << "### Should the row be saved if the broker is unavailable?\n\n";
    {
      bool any = false;
      for (const std::string scen : {"broker-down", "partition"}) {
        auto ran = Ran(scen);
        if (ran.empty()) {
          out_ << Missing(scen) << "\n\n";
          continue;
        }
        any = true;
        out_ << "With the broker unreachable (`" << scen << "`" << Lasting(scen) << "):\n\n";
        for (const auto& l : FamilyLines(scen, true)) out_ << "- " << l << "\n";
        out_ << "\n";
        std::vector<std::string> saved;
        for (const char* family : {"2pc", "outbox"}) {
          Sums t = Sum(OfFamily(ran, family));
          if (t.cells == 0 || t.attempted == 0) continue;
          saved.push_back(FamilyTitle(family) + " saved the row for " +
                          Percent(t.succeeded / t.attempted) +
                          " of the operations attempted during the fault, and " + Int(t.lost) +
                          " saved rows ended without their message");
        }
        if (!saved.empty()) out_ << Capitalized(Join(saved, "; ")) << ".";
        out_ << NotRunTail(scen) << "\n\n";
      }
      if (!any) out_ << "The matrix cannot answer this question for this run.\n\n";
    }

    out_ << "### How should delays be handled?\n\n";
    {
      bool any = false;
      for (const std::string scen : {"broker-slow", "in-doubt-held", "clock-skew"}) {
        auto ran = Ran(scen);
        if (ran.empty()) {
          out_ << "- " << Missing(scen) << "\n";
          continue;
        }
        any = true;
        std::vector<std::string> parts;
        for (const json* c : ran) parts.push_back(DelayFigures(scen, *c));
        out_ << "- `" << scen << "`"
             << (Valid(FaultSeconds(scen)) ? " (" + Secs(FaultSeconds(scen)) + " s fault)" : "")
             << ": " << Join(parts, "; ") << "." << NotRunTail(scen) << "\n";
      }
      out_ << "\n";
      if (!any) {
        out_ << "None of the delay scenarios ran, so the matrix cannot answer this question.\n\n";
        return;
      }
      // Who lost messages when something was late.
      std::vector<std::string> lost, clean;
      for (const std::string scen : {"broker-slow", "in-doubt-held", "clock-skew"}) {
        for (const json* c : Ran(scen)) {
          Opt l = Num(*c, "lost");
          if (Valid(l) && *l > 0) {
            lost.push_back(Code(Str(*c, "approach")) + " lost " + Int(l) + " under `" + scen + "`" +
                           (Str(*c, "verdict") == "expected-loss" ? " (expected)" : " (a bug)"));
          } else {
            clean.push_back(Code(Str(*c, "approach")) + " (`" + scen + "`)");
          }
        }
      }
      if (lost.empty()) {
        out_ << "No approach lost a message because something was late.\n\n";
      } else {
        out_ << "Delays cost messages only where shown: " << Join(lost, "; ")
             << (clean.empty() ? "" : "; every other delay cell lost nothing") << ".\n\n";
      }
    }
  }

  // The figures of one delay cell: latency impact, stalls, losses.
  std::string DelayFigures(const std::string& scen, const json& c) const {
    std::vector<std::string> f;
    Opt b = Num(c, "p99_before_ms");
    Opt d = Num(c, "p99_during_ms");
    if (Valid(b) || Valid(d)) {
      std::string p = "p99 " + Ms(b) + " -> " + Ms(d) + " ms";
      if (Valid(b) && Valid(d) && *b > 0) p += " (" + Ratio(*d / *b) + ")";
      f.push_back(p);
    }
    if (scen == "in-doubt-held") {
      if (Valid(Num(c, "probe_blocked_ms"))) {
        f.push_back("probe blocked " + Ms(Num(c, "probe_blocked_ms")) + " ms");
      }
      if (Valid(Num(c, "in_doubt_max_age_s"))) {
        f.push_back("oldest in doubt " + Secs(Num(c, "in_doubt_max_age_s")) + " s");
      }
    }
    Opt conv = Num(c, "converge_s");
    f.push_back(Valid(conv) ? "converged in " + Secs(conv) + " s" : "did not converge");
    Opt lost = Num(c, "lost");
    f.push_back(Valid(lost) && *lost > 0 ? "LOST " + Int(lost) : "lost " + Int(lost));
    return Code(Str(c, "approach")) + " " + Join(f, ", ");
  }

  // ---- Plots, errors ----

  void PlotLinks() {
    out_ << "## Plots\n\n";
    auto plots = PlannedPlots(r_);
    if (plots.empty()) out_ << "There is no data to plot.\n";
    for (const auto& p : plots) {
      out_ << "- [" << p.title << "](plots/" << p.name << ".svg) ([png](plots/" << p.name
           << ".png))\n";
    }
    out_ << "\nEvery figure above comes from `results.json` next to this report; its fields are "
            "described in docs/compare-results.md of the dualwrite repository. `dualwrite compare "
            "--from results.json` re-renders this report and the plots.\n";
  }

  void Errors() {
    const json& e = Arr(r_, "errors");
    if (e.empty()) return;
    out_ << "\n## Errors during the run\n\n";
    for (const json& x : e) out_ << "- " << Plain(x) << "\n";
  }

  const json& r_;
  std::vector<ApproachRow> approaches_;
  std::vector<const json*> closed_;
  std::vector<const json*> open_;
  std::vector<int> concurrency_;
  std::vector<std::pair<std::string, const json*>> scenarios_;
  std::vector<const json*> fcells_;
  std::ostringstream out_;
};

}  // namespace

std::string RenderReport(const nlohmann::json& results) {
  // The accessors above do not throw; this guard is for the one thing they
  // cannot rule out (a bug in a branch no run exercised yet): a report with
  // a note is more use to the caller than an exception out of `compare`.
  try {
    return Renderer(results).Render();
  } catch (const std::exception& e) {
    return std::string("# dualwrite compare\n\nThe report could not be rendered: ") + e.what() +
           "\n";
  }
}

}  // namespace dw::compare
