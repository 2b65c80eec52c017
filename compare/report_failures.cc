// Section 2 of report.md: the failure matrix, one table per scenario, and the
// per-family fault summary the answer-first bullets reuse.
#include <algorithm>
#include <cctype>
#include <set>

#include "compare/report_sections.h"

namespace dw::compare::rpt {
namespace {

using Cells = std::vector<const FailureCell*>;

bool RanCell(const FailureCell& c) { return Str(c.status) == "ran" && Str(c.verdict) != "not-run"; }

std::string ProblemText(const FailureCell& c) {
  std::string counts = NonZeroCounts({{Num(c.lost), "lost"},
                                      {Num(c.orphans), "orphans"},
                                      {Num(c.duplicates), "dup"},
                                      {Num(c.in_doubt_at_end), "in doubt"}});
  return counts.empty() ? VerifyText(c.verify) : counts;
}

std::string Verdict(const FailureCell& c, bool short_form) {
  std::string status = Str(c.status);
  if (status != "ran") {
    std::string reason = Str(c.reason);
    if (short_form || reason.empty()) return status.empty() ? "-" : status;
    return status + ": " + reason;
  }
  std::string v = Str(c.verdict);
  if (v == "expected-loss") {
    Opt lost = Num(c.lost);
    return short_form && Valid(lost) && *lost > 0 ? "LOST " + Int(lost) + " (expected)"
                                                  : "expected loss: " + ProblemText(c);
  }
  if (v == "violations") return "VIOLATION: " + ProblemText(c);
  if (v == "not-run") return "not run";
  return v.empty() ? "-" : v;
}

// A scenario's description as a sentence: capitalised unless its first word
// is a name that must keep its spelling (pg_ctl, a flag), with a final period.
std::string Sentence(std::string desc) {
  if (desc.empty()) return desc;
  const std::string first = desc.substr(0, desc.find(' '));
  if (std::all_of(first.begin(), first.end(),
                  [](char ch) { return std::islower(static_cast<unsigned char>(ch)); })) {
    desc[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(desc[0])));
  }
  return desc + (desc.back() == '.' ? " " : ". ");
}

// Who held stock row 1 in `in-doubt-held` (version 2): for 2PC its own
// in-doubt transaction, for the others only ordinary short transactions.
std::string HeldReading(const Data& d) {
  const FailureCell* held = nullptr;
  const FailureCell* other = nullptr;
  for (const FailureCell* c : d.Ran("in-doubt-held")) {
    Opt p = Num(c->probe_blocked_ms);
    if (!Valid(p)) continue;
    const FailureCell*& slot = d.Family(Str(c->approach)) == "2pc" ? held : other;
    if (!slot || *p > *Num(slot->probe_blocked_ms)) slot = c;
  }
  std::string out;
  if (held) {
    out +=
        "- The probe updates stock row 1 every 100 ms and waits for whoever holds it. For 2PC "
        "that is its own in-doubt transaction: the coordinator died after PREPARE with the row "
        "locked, so " +
        Code(Str(held->approach)) + "'s probe waited " + Ms(Num(held->probe_blocked_ms)) +
        " ms, until the restarted coordinator's recovery resolved the transaction.\n";
  }
  if (other) {
    out +=
        "- The other approaches have no transaction of their own held in doubt through the "
        "window: their probe waited at most " +
        Ms(Num(other->probe_blocked_ms)) + " ms (" + Code(Str(other->approach)) +
        "), behind ordinary short transactions.\n";
  }
  return out.empty() ? out : out + "\n";
}

void ScenarioTable(const Data& d, const std::string& name, const ScenarioInfo* scen,
                   std::string& out) {
  std::string title = scen ? Str(scen->title) : "";
  out += "### " + name + (title.empty() ? "" : ": " + title) + "\n\n";
  out += Sentence(scen ? Str(scen->description) : "") + "Fault: " + Secs(d.FaultSeconds(name)) +
         " s.\n\n";
  bool backlog = false;
  for (const FailureCell* c : d.Ran(name)) backlog = backlog || c->backlog.has_value();
  std::vector<std::string> header = {"approach"};
  if (d.v1()) {
    header.insert(header.end(), {"attempted", "succeeded", "p99 before ms", "p99 during ms"});
  } else {
    header.insert(header.end(), {"offered", "availability", "p99 ok ms", "failures p50 / p99 ms"});
  }
  header.insert(header.end(), {"lost", "orphans", "dup before dedupe", "in doubt max (age s)",
                               "probe blocked ms", "converge s"});
  if (backlog) header.push_back("backlog peak");
  header.push_back("verdict");
  Table t(header, {0, header.size() - 1});
  std::vector<std::string> notes;
  for (const auto& a : d.approaches()) {
    const FailureCell* c = d.Failure(name, a.name);
    if (!c) continue;
    std::vector<std::string> row = {a.name};
    if (Str(c->status) == "ran") {
      if (d.v1()) {
        row.insert(row.end(),
                   {Int(OfferedDuringFault(*c)), Int(Num(c->ops, &results::Ops::succeeded)),
                    Ms(Num(c->p99_before_ms)), Ms(Num(c->p99_during_ms))});
      } else {
        const Field<results::Percentiles>& f = c->fail_ms;
        row.insert(row.end(), {Int(OfferedDuringFault(*c)), PercentOpt(Availability(*c)),
                               Ms(Num(c->p99_ok_during_ms)),
                               f ? Ms(Num(f->p50)) + " / " + Ms(Num(f->p99)) : "-"});
      }
      std::string doubt = Int(Num(c->in_doubt_max));
      if (Valid(Num(c->in_doubt_max_age_s))) doubt += " (" + Secs(Num(c->in_doubt_max_age_s)) + ")";
      row.insert(row.end(),
                 {Int(Num(c->lost)), Int(Num(c->orphans)), Int(Num(c->duplicates_before_dedupe)),
                  doubt, Ms(Num(c->probe_blocked_ms)), Secs(Num(c->converge_s))});
      if (backlog) row.push_back(Int(BacklogPeak(*c)));
    }
    row.resize(header.size() - 1, "-");
    row.push_back(Verdict(*c, false));
    t.Add(row);
    if (c->notes) {
      for (const std::string& n : *c->notes) notes.push_back(Code(a.name) + ": " + n);
    }
    if (const auto& dr = c->dirty_reads; dr && Num(dr->orders_seen_pending).value_or(0) > 0) {
      notes.push_back(Code(a.name) + ": a reader polling the open sagas every " +
                      Int(Num(dr->interval_ms)) + " ms read " + Int(Num(dr->orders_seen_pending)) +
                      " orders while they were pending: " + DirtyOutcome(*dr));
    }
    const Field<results::Vacuum>& vac = c->vacuum;
    // Only a held transaction's xmin horizon keeps dead tuples: zeros say nothing.
    if (Opt kept = Num(vac, &results::Vacuum::dead_tuples_kept_while_held);
        Valid(kept) && *kept > 0) {
      notes.push_back(Code(a.name) + ": a manual VACUUM during the fault could not remove " +
                      Int(kept) +
                      " dead tuples (the held transaction kept the xmin horizon "
                      "back); after the release it left " +
                      Int(Num(vac, &results::Vacuum::dead_tuples_left_after_release)));
    }
  }
  out += t.Render() + "\n";
  if (name == "in-doubt-held" && !d.v1()) out += HeldReading(d);
  if (!notes.empty()) {
    out += "Notes:\n\n";
    for (const auto& n : notes) out += "- " + n + "\n";
    out += "\n";
  }
}

void Matrix(const Data& d, std::string& out) {
  out += "### Matrix\n\n";
  out += d.v1() ? "Each cell: the share of operations attempted during the fault that succeeded "
                  "(closed loop), and the verdict.\n\n"
                : "Each cell: availability during the fault (operations that succeeded / "
                  "operations offered), and the verdict.\n\n";
  std::vector<std::string> header = {"scenario"};
  for (const auto& a : d.approaches()) header.push_back(a.name);
  std::set<size_t> left;
  for (size_t i = 0; i < header.size(); ++i) left.insert(i);
  Table m(header, left);
  for (const auto& [name, scen] : d.scenarios()) {
    std::vector<std::string> row = {name};
    for (const auto& a : d.approaches()) {
      const FailureCell* c = d.Failure(name, a.name);
      if (!c) {
        row.push_back("-");
        continue;
      }
      Opt avail = Availability(*c);
      row.push_back((RanCell(*c) && Valid(avail) ? Percent(*avail) + " · " : "") +
                    Verdict(*c, true));
    }
    m.Add(row);
  }
  out += m.Render() + "\n";
}

std::string Who(const FailureCell& c) {
  return Code(Str(c.approach)) + " under `" + Str(c.scenario) + "`";
}

// The cell with the largest positive `get` among `cells`.
const FailureCell* Largest(const Cells& cells, Opt (*get)(const FailureCell&)) {
  const FailureCell* best = nullptr;
  for (const FailureCell* c : cells) {
    Opt v = get(*c);
    if (Valid(v) && *v > 0 && (!best || *v > *get(*best))) best = c;
  }
  return best;
}

Opt FailP99(const FailureCell& c) { return Num(c.fail_ms, &results::Percentiles::p99); }
Opt DoubtAge(const FailureCell& c) { return Num(c.in_doubt_max_age_s); }
Opt DoubtMax(const FailureCell& c) { return Num(c.in_doubt_max); }
Opt Probe(const FailureCell& c) { return Num(c.probe_blocked_ms); }
Opt Converge(const FailureCell& c) { return Num(c.converge_s); }
Opt Redelivered(const FailureCell& c) { return Num(c.duplicates_before_dedupe); }

std::vector<std::string> FailureReading(const Data& d) {
  std::vector<std::string> s;
  int total = 0, na = 0, skipped = 0, errors = 0, clean = 0;
  Cells ran, violations, losses;
  for (const FailureCell* c : d.failure_cells()) {
    ++total;
    std::string status = Str(c->status);
    na += status == "n/a";
    skipped += status == "skipped";
    errors += status == "error";
    if (!RanCell(*c)) continue;
    ran.push_back(c);
    std::string v = Str(c->verdict);
    clean += v == "clean";
    if (v == "violations") violations.push_back(c);
    if (v == "expected-loss") losses.push_back(c);
  }
  std::vector<std::string> rest;
  if (na) rest.push_back(std::to_string(na) + " did not apply");
  if (skipped) rest.push_back(std::to_string(skipped) + " were skipped");
  if (errors) rest.push_back(std::to_string(errors) + " failed to run");
  s.push_back("Of " + std::to_string(total) + " cells, " + std::to_string(ran.size()) +
              " ran: " + std::to_string(clean) + " clean, " + std::to_string(losses.size()) +
              " with an expected loss, " + std::to_string(violations.size()) + " with violations" +
              (rest.empty() ? "" : "; " + List(rest)) + ".");
  if (!violations.empty()) {
    std::vector<std::string> v;
    for (const FailureCell* c : violations) v.push_back(Who(*c) + " (" + ProblemText(*c) + ")");
    s.push_back(
        "VIOLATIONS: an approach that promises atomicity failed verify or the history "
        "check (a bug): " +
        Join(v, "; ") + ".");
  } else if (!ran.empty()) {
    s.push_back("Every approach that promises atomicity in a scenario kept it there.");
  }
  for (const FailureCell* c : losses) {
    s.push_back(Who(*c) + " lost " + Int(Num(c->lost)) +
                " messages, a loss the approach does not promise to avoid.");
  }
  const FailureCell* fast = nullptr;
  for (const FailureCell* c : ran) {
    Opt v = FailP99(*c);
    if (Valid(v) && (!fast || *v < *FailP99(*fast))) fast = c;
  }
  if (const FailureCell* slow = Largest(ran, FailP99); slow && fast && slow != fast) {
    s.push_back("Failed operations failed fastest in " + Who(*fast) + " (p99 " +
                Ms(FailP99(*fast)) + " ms) and slowest in " + Who(*slow) + " (p99 " +
                Ms(FailP99(*slow)) + " ms): a caller waits that long to learn of a failure.");
  }
  if (const FailureCell* c = Largest(ran, DoubtAge)) {
    s.push_back("The oldest in-doubt transaction was " + Secs(DoubtAge(*c)) + " s old (" + Who(*c) +
                "); the most in doubt at once: " + Int(DoubtMax(*Largest(ran, DoubtMax))) + " (" +
                Who(*Largest(ran, DoubtMax)) + ").");
  }
  std::vector<std::string> left;
  for (const FailureCell* c : ran) {
    if (Opt n = Num(c->in_doubt_at_end); Valid(n) && *n > 0) {
      left.push_back(Who(*c) + ": " + Int(n));
    }
  }
  if (!left.empty()) {
    s.push_back("Still in doubt after convergence: " + Join(left, "; ") + ".");
  }
  if (const FailureCell* c = Largest(ran, Probe)) {
    s.push_back("The hot-row probe waited longest in " + Who(*c) + ": " + Ms(Probe(*c)) + " ms.");
  }
  if (const FailureCell* c = Largest(ran, Converge)) {
    s.push_back("The slowest convergence after a fault: " + Who(*c) + ", " + Secs(Converge(*c)) +
                " s.");
  }
  std::vector<std::string> never;
  for (const FailureCell* c : ran) {
    if (!Valid(Converge(*c))) never.push_back(Who(*c));
  }
  if (!never.empty()) {
    s.push_back("Did not converge within " + Secs(Num(d.settings().converge_timeout_s)) +
                " s: " + List(never) + ".");
  }
  const FailureCell* jump = nullptr;
  double jump_ratio = 1;
  for (const FailureCell* c : ran) {
    Opt b = Num(c->p99_before_ms);
    Opt x = P99OkDuringFault(*c);
    if (Valid(b) && Valid(x) && *b > 0 && *x / *b > jump_ratio) {
      jump = c;
      jump_ratio = *x / *b;
    }
  }
  if (jump) {
    s.push_back(std::string("The largest rise in business p99 ") +
                (d.v1() ? "during a fault" : "of the successes during a fault") + ": " +
                Who(*jump) + ", " + Ms(Num(jump->p99_before_ms)) + " -> " +
                Ms(P99OkDuringFault(*jump)) + " ms (" + Ratio(jump_ratio) + ").");
  }
  if (const FailureCell* c = Largest(ran, Redelivered)) {
    s.push_back("The broker absorbed at most " + Int(Redelivered(*c)) +
                " redelivered messages in one cell (" + Who(*c) + ").");
  }
  return s;
}

}  // namespace

std::string MatrixSummary(const Data& d, const std::string& approach) {
  int ran = 0, clean = 0, na = 0, skipped = 0;
  std::vector<std::string> loses, violations, errors, notrun;
  for (const FailureCell* c : d.failure_cells()) {
    if (Str(c->approach) != approach) continue;
    std::string status = Str(c->status);
    std::string scen = Str(c->scenario);
    if (status == "n/a") {
      ++na;
    } else if (status == "skipped") {
      ++skipped;
    } else if (status == "error") {
      errors.push_back(scen);
    } else if (status == "ran") {
      std::string v = Str(c->verdict);
      if (v == "not-run") {
        notrun.push_back(scen);
        continue;
      }
      ++ran;
      clean += v == "clean";
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

std::string LossesByApproach(const std::vector<const FailureCell*>& cells) {
  struct Loss {
    std::string approach;
    double lost = 0;
    std::vector<std::string> scenarios;
    bool expected = true;
  };
  std::vector<Loss> by;
  for (const FailureCell* c : cells) {
    Opt lost = Num(c->lost);
    if (!Valid(lost) || *lost <= 0) continue;
    std::string a = Str(c->approach);
    auto it = std::find_if(by.begin(), by.end(), [&](const Loss& l) { return l.approach == a; });
    if (it == by.end()) it = by.insert(by.end(), Loss{a, 0, {}, true});
    it->lost += *lost;
    it->scenarios.push_back("`" + Str(c->scenario) + "`");
    it->expected = it->expected && Str(c->verdict) == "expected-loss";
  }
  std::vector<std::string> out;
  for (const Loss& l : by) {
    out.push_back(Code(l.approach) + " lost " + Int(l.lost) + " under " +
                  (l.scenarios.size() > 2 ? std::to_string(l.scenarios.size()) + " scenarios"
                                          : List(l.scenarios)) +
                  (l.expected ? " (expected)" : " (a bug)"));
  }
  return Join(out, "; ");
}

std::string FamilyUnderFaults(const Data& d, const std::string& family) {
  Cells cells;
  // In version 1, in-doubt-held's prepared transaction was compare's own,
  // not the approach's: its in-doubt and probe figures say nothing about it.
  Cells own;
  // Scenarios grouped by the availability they left, in scenario order.
  std::vector<std::pair<std::string, std::vector<std::string>>> avail;
  for (const auto& [name, scen] : d.scenarios()) {
    Opt lo, hi;
    for (const FailureCell* c : d.Ran(name)) {
      if (d.Family(Str(c->approach)) != family) continue;
      cells.push_back(c);
      if (!d.v1() || name != "in-doubt-held") own.push_back(c);
      Opt a = Availability(*c);
      if (!Valid(a)) continue;
      lo = Valid(lo) ? std::min(*lo, *a) : *a;
      hi = Valid(hi) ? std::max(*hi, *a) : *a;
    }
    if (!Valid(lo)) continue;
    std::string v = SpanText(*lo, *hi, PercentOpt);
    auto it = std::find_if(avail.begin(), avail.end(), [&](const auto& p) { return p.first == v; });
    if (it == avail.end()) it = avail.insert(avail.end(), {v, {}});
    it->second.push_back(name);
  }
  if (cells.empty()) return "";
  std::vector<std::string> parts;
  if (!avail.empty()) {
    std::vector<std::string> groups;
    for (const auto& [v, names] : avail) groups.push_back(v + " (" + Join(names, ", ") + ")");
    parts.push_back(
        (d.v1() ? "succeeded during the fault (closed loop): " : "available during the fault: ") +
        Join(groups, ", "));
  }
  if (const FailureCell* c = Largest(cells, FailP99)) {
    parts.push_back("failing took up to " + Ms(FailP99(*c)) + " ms (p99, " + Str(c->scenario) +
                    ")");
  }
  double orphans = 0, dups = 0;
  for (const FailureCell* c : cells) {
    orphans += Num(c->orphans).value_or(0);
    dups += Num(c->duplicates).value_or(0);
  }
  std::string who = LossesByApproach(cells);
  parts.push_back((who.empty() ? "lost 0" : who) + ", orphans " + Int(orphans) + ", duplicates " +
                  Int(dups));
  if (const FailureCell* c = Largest(own, DoubtMax)) {
    const FailureCell* age = Largest(own, DoubtAge);
    parts.push_back("in doubt: up to " + Int(DoubtMax(*c)) + " at once" +
                    (age ? ", the oldest " + Secs(DoubtAge(*age)) + " s" : std::string()));
  } else {
    parts.push_back("nothing in doubt");
  }
  if (const FailureCell* c = Largest(own, Probe)) {
    parts.push_back("hot-row probe blocked up to " + Ms(Probe(*c)) + " ms (" + Str(c->scenario) +
                    ")");
  }
  return Join(parts, "; ");
}

std::string RenderFailures(const Data& d) {
  std::string out = "## 2. Failure behaviour\n\n";
  const results::Settings& s = d.settings();
  Opt rate = d.FailureRate();
  if (Valid(rate)) {
    out += "Every cell offers operations at the same fixed rate, " + Int(rate) +
           "/s (open loop: arrivals do not wait for the system), runs " + Secs(Num(s.steady_s)) +
           " s of steady load, injects the fault, removes it, waits "
           "(up to " +
           Secs(Num(s.converge_timeout_s)) +
           " s) until every committed operation's message is readable and nothing is in doubt, "
           "then runs verify and the history check. Counts are of operations whose intended "
           "start fell inside the fault window; p99 ok: business p99 of those that "
           "succeeded.\n\n";
  } else {
    out += "Each cell runs " + Secs(Num(s.steady_s)) +
           " s of steady closed-loop load, injects the fault, removes it, waits (up to " +
           Secs(Num(s.converge_timeout_s)) +
           " s) until every committed operation's message is readable and nothing is in doubt, "
           "then runs verify. Fixed arrival rate and availability: " +
           d.NotMeasured() + "; counts are of operations attempted inside the fault window.\n\n";
  }
  if (d.scenarios().empty()) {
    const bool left_out = s.scenarios.value_or("") == "none";
    return out + "No failure scenario was run" + (left_out ? " (`--scenarios none`)" : "") +
           ".\n\n";
  }
  Matrix(d, out);
  for (const auto& [name, scen] : d.scenarios()) ScenarioTable(d, name, scen, out);
  out += "### Reading\n\n";
  for (const auto& l : FailureReading(d)) out += "- " + l + "\n";
  return out + "\n";
}

}  // namespace dw::compare::rpt
