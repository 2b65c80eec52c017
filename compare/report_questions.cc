// "The seed's three questions" of report.md, answered from the failure
// matrix (section 2): what each family did while the database or the broker
// was unavailable, and how each handled delays.
#include "compare/report_sections.h"

namespace dw::compare::rpt {
namespace {

using results::FaultWindow;
using results::Ops;

// Sums over several failure cells (one family in one scenario).
struct Sums {
  double offered = 0, succeeded = 0, failed = 0, lost = 0, orphans = 0, redelivered = 0;
  int cells = 0;
};

Sums Sum(const std::vector<const FailureCell*>& cells) {
  Sums t;
  for (const FailureCell* c : cells) {
    ++t.cells;
    t.offered += OfferedDuringFault(*c).value_or(0);
    t.succeeded += Num(c->ops, &Ops::succeeded).value_or(0);
    t.failed += Num(c->ops, &Ops::failed).value_or(0);
    t.lost += Num(c->lost).value_or(0);
    t.orphans += Num(c->orphans).value_or(0);
    t.redelivered += Num(c->duplicates_before_dedupe).value_or(0);
  }
  return t;
}

std::vector<const FailureCell*> OfFamily(const Data& d,
                                         const std::vector<const FailureCell*>& cells,
                                         const std::string& family) {
  std::vector<const FailureCell*> out;
  for (const FailureCell* c : cells) {
    if (d.Family(Str(c->approach)) == family) out.push_back(c);
  }
  return out;
}

std::string Names(const std::vector<const FailureCell*>& cells) {
  std::vector<std::string> n;
  for (const FailureCell* c : cells) n.push_back(Code(Str(c->approach)));
  return Join(n, ", ");
}

// "S of the N operations offered during the fault succeeded (P%) and F failed".
std::string OpsText(const Sums& t, const std::string& verb) {
  std::string ops = " operations " + verb + " during the fault";
  if (t.offered == 0) return "no operation was " + verb + " during the fault";
  if (t.succeeded == t.offered) return "all " + Int(t.offered) + ops + " succeeded";
  if (t.succeeded == 0) {
    return "none of the " + Int(t.offered) + ops + " succeeded (" + Int(t.failed) + " failed)";
  }
  return Int(t.succeeded) + " of the " + Int(t.offered) + ops + " succeeded (" +
         Percent(t.succeeded / t.offered) + ") and " + Int(t.failed) + " failed";
}

// Seconds from the end of the fault until the backlog was empty again.
Opt FaultLength(const FailureCell& c) {
  Opt start = Num(c.fault, &FaultWindow::start_s);
  Opt end = Num(c.fault, &FaultWindow::end_s);
  if (!Valid(start) || !Valid(end)) return std::nullopt;
  return *end - *start;
}

const std::vector<results::BacklogPoint>& Backlog(const FailureCell& c) {
  static const std::vector<results::BacklogPoint> none;
  return c.backlog ? *c.backlog : none;
}

Opt BacklogDrained(const FailureCell& c) {
  Opt fault = FaultLength(c);
  if (!Valid(fault)) return std::nullopt;
  double len = *fault;
  bool seen = false;
  for (const results::BacklogPoint& p : Backlog(c)) {
    Opt t = Num(p.t_s);
    Opt rows = Num(p.rows);
    if (!Valid(t) || !Valid(rows)) continue;
    if (*rows > 0) seen = true;
    if (seen && *t >= len && *rows == 0) return std::max(0.0, *t - len);
  }
  return std::nullopt;
}

// "4016 rows 2.5 s after the fault ended": the backlog's last sample.
std::string BacklogLast(const FailureCell& c) {
  const auto& b = Backlog(c);
  if (b.empty()) return "no samples";
  std::string t = Int(Num(b.back().rows)) + " rows";
  Opt at = Num(b.back().t_s);
  Opt fault = FaultLength(c);
  if (Valid(at) && Valid(fault)) t += " " + Secs(*at - *fault) + " s after the fault ended";
  return t;
}

class Questions {
 public:
  explicit Questions(const Data& d) : d_(d), verb_(d.v1() ? "attempted" : "offered") {}

  std::string Render() {
    out_ =
        "## The seed's three questions\n\nEach answer is built from the failure matrix "
        "above.\n\n";
    Database();
    Broker();
    Delays();
    return out_;
  }

 private:
  std::string Lasting(const std::string& scen) const {
    Opt f = d_.FaultSeconds(scen);
    return Valid(f) ? ", " + Secs(f) + " s" : "";
  }

  std::string Missing(const std::string& scen) const {
    if (!d_.HasScenario(scen)) return "`" + scen + "` was not part of this run.";
    std::string nr = d_.NotRun(scen);
    return "`" + scen + "` did not run for any approach" + (nr.empty() ? "" : ": " + nr) + ".";
  }

  std::string NotRunTail(const std::string& scen) const {
    std::string nr = d_.NotRun(scen);
    return nr.empty() ? "" : " Not run in `" + scen + "`: " + nr + ".";
  }

  // The slowest convergence among cells, as a phrase.
  std::string ConvergeText(const std::vector<const FailureCell*>& cells) const {
    const FailureCell* slow = nullptr;
    std::vector<std::string> never;
    for (const FailureCell* c : cells) {
      Opt v = Num(c->converge_s);
      if (!Valid(v)) {
        never.push_back(Code(Str(c->approach)));
      } else if (!slow || *v > *Num(slow->converge_s)) {
        slow = c;
      }
    }
    std::string t;
    if (slow) {
      t = cells.size() - never.size() > 1
              ? "all converged within " + Secs(Num(slow->converge_s)) + " s after the fault"
              : "it converged " + Secs(Num(slow->converge_s)) + " s after the fault";
    }
    if (!never.empty()) {
      t += std::string(t.empty() ? "" : ", except ") + List(never) +
           ", which did not converge within " + Secs(Num(d_.settings().converge_timeout_s)) + " s";
    }
    return t;
  }

  std::string BacklogText(const std::vector<const FailureCell*>& cells) const {
    const FailureCell* peak = nullptr;
    for (const FailureCell* c : cells) {
      Opt p = BacklogPeak(*c);
      if (Valid(p) && (!peak || *p > *BacklogPeak(*peak))) peak = c;
    }
    if (!peak) return "";
    std::string line = "the unsent backlog peaked at " + Int(BacklogPeak(*peak)) + " rows (" +
                       Code(Str(peak->approach)) + ")";
    // A backlog still there at the last sample must not hide behind the
    // slowest one that did drain.
    const FailureCell* slow = nullptr;
    int drained = 0;
    std::vector<std::string> undrained;
    for (const FailureCell* c : cells) {
      if (Backlog(*c).empty()) continue;
      Opt t = BacklogDrained(*c);
      if (Valid(t)) {
        ++drained;
        if (!slow || *t > *BacklogDrained(*slow)) slow = c;
      } else {
        undrained.push_back(Code(Str(c->approach)) + " (" + BacklogLast(*c) + ")");
      }
    }
    if (slow) {
      line += "; it was empty again " + Secs(BacklogDrained(*slow)) + " s after the fault ended" +
              (drained > 1        ? " (slowest to drain: " + Code(Str(slow->approach)) + ")"
               : cells.size() > 1 ? " for " + Code(Str(slow->approach))
                                  : "");
    }
    if (!undrained.empty()) line += "; not yet empty at the last sample: " + List(undrained);
    return line;
  }

  // Per family: what happened to operations, orphans and losses in a
  // scenario, as a bullet with one sub-bullet per kind of figure.
  std::string FamilyLines(const std::string& scen, bool with_backlog) const {
    std::string out;
    auto ran = d_.Ran(scen);
    std::vector<std::string> families = SendingFamilies();
    families.push_back("floor");
    for (const std::string& family : families) {
      auto cells = OfFamily(d_, ran, family);
      if (cells.empty()) continue;
      Sums t = Sum(cells);
      out += "- " + Capitalized(FamilyTitle(family)) + " (" + Names(cells) +
             "): " + OpsText(t, verb_) + ".\n";
      if (family == "floor") continue;
      out +=
          "  - Orphans (messages without a row): " + Int(t.orphans) +
          "; lost (rows without a message): " + Int(t.lost) +
          (t.redelivered > 0 ? "; the broker deduplicated " + Int(t.redelivered) + " redeliveries"
                             : "") +
          ".\n";
      std::string backlog = with_backlog ? BacklogText(cells) : "";
      if (!backlog.empty()) out += "  - " + Capitalized(backlog) + ".\n";
      std::string conv = ConvergeText(cells);
      if (!conv.empty()) out += "  - " + Capitalized(conv) + ".\n";
    }
    return out;
  }

  void Database() {
    out_ += "### Should the message be sent if the database is unavailable?\n\n";
    const std::string scen = "postgres-restart";
    auto ran = d_.Ran(scen);
    if (ran.empty()) {
      out_ += Missing(scen) + " The matrix cannot answer this question for this run.\n\n";
      return;
    }
    out_ += "While Postgres was stopped (`" + scen + "`" + Lasting(scen) + "):\n\n";
    out_ += FamilyLines(scen, false);
    out_ += "\n";
    Sums all = Sum(ran);
    if (all.orphans == 0) {
      out_ +=
          "No cell produced an orphan: no approach sent a message for an operation whose row "
          "was not saved while the database was unavailable.";
    } else {
      std::vector<std::string> who;
      for (const FailureCell* c : ran) {
        if (Num(c->orphans).value_or(0) > 0) {
          who.push_back(Code(Str(c->approach)) + " (" + Int(Num(c->orphans)) + ")");
        }
      }
      out_ += Int(all.orphans) + " messages went out without their row: " + List(who) + ".";
    }
    out_ += NotRunTail(scen) + "\n\n";
  }

  void Broker() {
    out_ += "### Should the row be saved if the broker is unavailable?\n\n";
    bool any = false;
    for (const std::string scen : {"broker-down", "partition"}) {
      auto ran = d_.Ran(scen);
      if (ran.empty()) {
        out_ += Missing(scen) + "\n\n";
        continue;
      }
      any = true;
      out_ += "With the broker unreachable (`" + scen + "`" + Lasting(scen) + "):\n\n";
      out_ += FamilyLines(scen, true);
      out_ += "\n";
      std::vector<std::string> saved;
      for (const std::string& family : SendingFamilies()) {
        Sums t = Sum(OfFamily(d_, ran, family));
        if (t.cells == 0 || t.offered == 0) continue;
        saved.push_back(FamilyTitle(family) + " saved the row for " +
                        Percent(t.succeeded / t.offered) + " of the operations " + verb_ +
                        " during the fault, and " + Int(t.lost) +
                        " saved rows ended without their message");
      }
      if (!saved.empty()) out_ += Capitalized(Join(saved, "; ")) + ".";
      out_ += NotRunTail(scen) + "\n\n";
    }
    if (!any) out_ += "The matrix cannot answer this question for this run.\n\n";
  }

  // The figures of one delay cell: latency impact, stalls, losses.
  std::string DelayFigures(const std::string& scen, const FailureCell& c) const {
    std::vector<std::string> f;
    Opt b = Num(c.p99_before_ms);
    Opt x = P99OkDuringFault(c);
    if (Valid(b) && Valid(x)) {
      f.push_back("p99 " + Ms(b) + " -> " + Ms(x) + " ms" +
                  (*b > 0 ? " (" + Ratio(*x / *b) + ")" : std::string()));
    } else if (OfferedDuringFault(c) == Opt(0)) {
      f.push_back("no operation arrived during the fault");
    }
    if (scen == "in-doubt-held") {
      if (Valid(Num(c.probe_blocked_ms))) {
        f.push_back("probe blocked " + Ms(Num(c.probe_blocked_ms)) + " ms");
      }
      if (Valid(Num(c.in_doubt_max_age_s))) {
        f.push_back("oldest in doubt " + Secs(Num(c.in_doubt_max_age_s)) + " s");
      }
    }
    Opt conv = Num(c.converge_s);
    f.push_back(Valid(conv) ? "converged in " + Secs(conv) + " s" : "did not converge");
    Opt lost = Num(c.lost);
    f.push_back(Valid(lost) && *lost > 0 ? "LOST " + Int(lost) : "lost " + Int(lost));
    return Code(Str(c.approach)) + ": " + Join(f, ", ");
  }

  void Delays() {
    out_ += "### How should delays be handled?\n\n";
    out_ += d_.v1() ? "p99: business latency before the fault -> during it.\n\n"
                    : "p99: business latency before the fault -> of the successes during it.\n\n";
    static const char* kScenarios[] = {"broker-slow", "in-doubt-held", "clock-skew"};
    bool any = false;
    for (const std::string scen : kScenarios) {
      auto ran = d_.Ran(scen);
      if (ran.empty()) {
        out_ += "- " + Missing(scen) + "\n";
        continue;
      }
      any = true;
      Opt f = d_.FaultSeconds(scen);
      out_ += "- `" + scen + "`" + (Valid(f) ? " (" + Secs(f) + " s fault)" : "") + ":\n";
      for (const FailureCell* c : ran) out_ += "  - " + DelayFigures(scen, *c) + "\n";
      std::string nr = d_.NotRun(scen);
      if (!nr.empty()) out_ += "  - not run: " + nr + "\n";
    }
    out_ += "\n";
    if (!any) {
      out_ += "None of the delay scenarios ran, so the matrix cannot answer this question.\n\n";
      return;
    }
    std::vector<std::string> lost;
    bool others = false;
    for (const std::string scen : kScenarios) {
      for (const FailureCell* c : d_.Ran(scen)) {
        Opt l = Num(c->lost);
        if (Valid(l) && *l > 0) {
          lost.push_back(Code(Str(c->approach)) + " lost " + Int(l) + " under `" + scen + "`" +
                         (Str(c->verdict) == "expected-loss" ? " (expected)" : " (a bug)"));
        } else {
          others = true;
        }
      }
    }
    if (lost.empty()) {
      out_ += "No approach lost a message because something was late.\n\n";
    } else {
      out_ += "Delays cost messages only where shown: " + Join(lost, "; ") +
              (others ? "; every other delay cell lost nothing" : "") + ".\n\n";
    }
  }

  const Data& d_;
  const std::string verb_;
  std::string out_;
};

}  // namespace

std::string RenderQuestions(const Data& d) { return Questions(d).Render(); }

}  // namespace dw::compare::rpt
