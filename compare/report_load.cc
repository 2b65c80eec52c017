// Section 1 of report.md: the ranking, the closed loop and the cost per
// operation. The rate grid, contention and relay scaling are report_grid.cc.
#include <algorithm>

#include "compare/report_sections.h"

namespace dw::compare::rpt {
namespace {

using results::Cost;
using results::CpuPerOp;
using results::Percentiles;
using results::Ranges;

Opt Delivered(const LoadCell& c) { return Num(c.delivered_per_s); }
// Family figures (compare/family_figures.h): the saga's pending age and the
// event-sourced projector's lag.
Opt PendingP99(const LoadCell& c) { return Num(c.pending_age_ms, &Percentiles::p99); }
Opt LagP99(const LoadCell& c) { return Num(c.projection_lag_ms, &Percentiles::p99); }
Opt AgentsCpu(const LoadCell& c) { return Num(c.cpu_us_per_op, &CpuPerOp::agents); }
Opt Drain(const LoadCell& c) { return Num(c.drain_s); }
Opt SeenPending(const LoadCell& c) {
  return Num(c.dirty_reads, &results::DirtyReads::orders_seen_pending);
}

bool AnyClosed(const Data& d, Opt (*get)(const LoadCell&)) {
  for (const LoadCell* c : d.closed()) {
    if (Valid(get(*c))) return true;
  }
  return false;
}

std::string Noise(const std::vector<std::string>& names) {
  return names.empty() ? "" : ", within noise of " + List(names) + " (their ranges overlap)";
}

// ---- Ranking ----

void Ranking(const Data& d, std::string& out) {
  int c = d.MaxConcurrency();
  bool grid = d.has_grid();
  bool delivered = AnyClosed(d, Delivered);
  bool cpu = AnyClosed(d, CpuTotal);
  out += "### Ranking\n\n";
  out += grid ? "Ranked by the highest offered rate each approach sustained on the common rate "
                "grid (below), then by delivered throughput. "
              : "Sustainable rate: " + d.NotMeasured() +
                    "; ranked by closed-loop business throughput instead. ";
  out += std::string("Throughput") + (cpu ? " and CPU" : "") +
         " from the closed loop at concurrency " + std::to_string(c) +
         (Num(d.settings().repetitions).value_or(0) > 1 ? ", median (min–max) over the repetitions"
                                                        : "") +
         ". Business throughput counts acknowledged operations per second of load" +
         (delivered ? "; delivered counts operations whose message was readable, per second "
                      "until the last one was"
                    : "") +
         ".\n\n";
  std::vector<const Approach*> order;
  for (const auto& a : d.approaches()) order.push_back(&a);
  auto key = [&](const Approach* a) {
    const LoadCell* cell = d.Closed(a->name, c);
    Opt thr = cell ? Delivered(*cell) : std::nullopt;
    if (!Valid(thr) && cell) thr = Business(*cell);
    return std::make_pair(d.SustainableRate(a->name).value_or(-1), thr.value_or(-1));
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](const Approach* a, const Approach* b) { return key(a) > key(b); });
  std::vector<std::string> header = {"approach", "family"};
  if (grid) header.insert(header.end(), {"sustained /s", "first unsustained /s"});
  header.push_back("business /s");
  if (delivered) header.push_back("delivered /s");
  if (cpu) header.push_back("CPU µs/op");
  header.push_back("failure matrix");
  Table t(header, {0, 1, header.size() - 1});
  for (const Approach* a : order) {
    const LoadCell* cell = d.Closed(a->name, c);
    const LoadCell& j = cell ? *cell : NoCell();
    std::vector<std::string> row = {a->name, a->family.empty() ? "-" : a->family};
    if (grid) {
      row.insert(row.end(), {SustainableText(d, a->name), Int(d.FirstUnsustained(a->name))});
    }
    row.push_back(WithRange(Business(j), j, &Ranges::throughput_per_s, Int));
    if (delivered) row.push_back(WithRange(Delivered(j), j, &Ranges::delivered_per_s, Int));
    if (cpu) row.push_back(WithRange(CpuTotal(j), j, &Ranges::cpu_total_us_per_op, Us));
    row.push_back(MatrixSummary(d, a->name));
    t.Add(row);
  }
  out += t.Render() + "\n";
}

// ---- Closed loop ----

void ClosedTable(const Data& d, int c, bool delivered, std::string& out) {
  out += "#### Concurrency " + std::to_string(c) + "\n\n";
  Opt floor = d.FloorFigure(c, Business);
  const bool pending = AnyClosed(d, PendingP99);
  const bool lag = AnyClosed(d, LagP99);
  std::vector<std::string> header = {"approach", "business /s"};
  if (delivered) header.push_back("delivered /s");
  header.insert(header.end(), {"vs floor", "p50", "p99", "e2e p50", "e2e p99", "drain s"});
  if (pending) header.push_back("pending p50 / p99");
  if (lag) header.push_back("projection lag p50 / p99");
  const bool dirty = AnyClosed(d, SeenPending);
  if (dirty) header.push_back("dirty reads (cancelled)");
  header.push_back("verify");
  Table t(header, {0, header.size() - 1});
  for (const auto& a : d.approaches()) {
    const LoadCell* cell = d.Closed(a.name, c);
    if (!cell) continue;
    const LoadCell& j = *cell;
    Opt thr = Business(j);
    std::vector<std::string> row = {a.name, WithRange(thr, j, &Ranges::throughput_per_s, Int)};
    if (delivered) row.push_back(WithRange(Delivered(j), j, &Ranges::delivered_per_s, Int));
    std::string verify = VerifyText(j.verify);
    if (j.error) verify = "error: " + Plain(j.error);
    row.insert(row.end(), {Valid(thr) && Valid(floor) ? Ratio(*thr / *floor) : "-",
                           WithRange(P50(j), j, &Ranges::latency_p50_ms, Ms),
                           WithRange(P99(j), j, &Ranges::latency_p99_ms, Ms),
                           WithRange(E2eP50(j), j, &Ranges::e2e_p50_ms, Ms),
                           WithRange(E2eP99(j), j, &Ranges::e2e_p99_ms, Ms), Secs(Drain(j))});
    auto pair = [&](const Field<Percentiles>& p) {
      Opt p50 = Num(p, &Percentiles::p50);
      return Valid(p50) ? Ms(p50) + " / " + Ms(Num(p, &Percentiles::p99)) : std::string("-");
    };
    if (pending) row.push_back(pair(j.pending_age_ms));
    if (lag) row.push_back(pair(j.projection_lag_ms));
    if (dirty) {
      row.push_back(Valid(SeenPending(j))
                        ? Int(SeenPending(j)) + " (" +
                              Int(Num(j.dirty_reads, &results::DirtyReads::then_cancelled)) + ")"
                        : "-");
    }
    row.push_back(verify);
    t.Add(row);
  }
  out += t.Render() + "\n";
}

std::vector<std::string> ClosedReading(const Data& d) {
  std::vector<std::string> s;
  int c = d.MaxConcurrency();
  std::string at = " at concurrency " + std::to_string(c);
  Opt floor = d.FloorFigure(c, Business);
  auto x_floor = [&](double v) {
    return Valid(floor) ? " (" + Ratio(v / *floor) + " the floor)" : std::string();
  };
  if (Valid(floor)) {
    s.push_back("The floor (the orders insert alone, no message) committed " + Int(floor) +
                " operations/s" + at + ".");
  }
  auto thr = d.Collect(c, Business, false);
  if (const Fig* best = MaxFig(thr)) {
    std::string t = "Highest business throughput" + at + ": " + Code(best->approach) + ", " +
                    Int(best->value) + "/s" + x_floor(best->value) +
                    Noise(WithinNoise(*best, thr, &Ranges::throughput_per_s));
    const Fig* worst = MinFig(thr);
    if (worst && worst->approach != best->approach) {
      t += "; lowest: " + Code(worst->approach) + ", " + Int(worst->value) + "/s" +
           x_floor(worst->value);
    }
    s.push_back(t + ".");
  }
  // Best of each family, and whether the families are apart beyond noise.
  std::vector<const Fig*> bests;
  for (const char* f : {"2pc", "outbox"}) {
    std::vector<const Fig*> in;
    for (const Fig& g : thr) {
      if (g.family == f && (in.empty() || g.value > in.front()->value)) in = {&g};
    }
    if (!in.empty()) bests.push_back(in.front());
  }
  if (bests.size() == 2) {
    const Fig* a = bests[0];
    const Fig* b = bests[1];
    s.push_back("Fastest of each family: 2PC " + Code(a->approach) + " " + Int(a->value) +
                "/s, the outbox " + Code(b->approach) + " " + Int(b->value) + "/s (" +
                SeparationText(Separate(*a->cell, *b->cell, &Ranges::throughput_per_s)) + ").");
  }
  // Delivery that trailed the business throughput: the relay's share.
  for (const Fig& g : thr) {
    Opt del = Delivered(*g.cell);
    if (Valid(del) && *del < 0.97 * g.value) {
      // No drain time: some message never became readable (a loss), so
      // there is no "last message" to time.
      Opt drain = Drain(*g.cell);
      s.push_back(Code(g.approach) + " delivered " + Int(del) + "/s against " + Int(g.value) +
                  "/s acknowledged: " +
                  (Valid(drain)
                       ? "its last message was readable " + Secs(drain) + " s after the load ended."
                       : "not every message became readable (verify: " +
                             VerifyText(g.cell->verify) + ")."));
    }
  }
  auto e2e = d.Collect(c, E2eP99, false);
  if (const Fig* lo = MinFig(e2e)) {
    std::string t =
        "Lowest end-to-end p99 (operation start to message read): " + Code(lo->approach) + ", " +
        Ms(lo->value) + " ms" + Noise(WithinNoise(*lo, e2e, &Ranges::e2e_p99_ms));
    if (const Fig* hi = MaxFig(e2e); hi && hi->approach != lo->approach) {
      t += "; highest " + Code(hi->approach) + ", " + Ms(hi->value) + " ms";
    }
    s.push_back(t + ".");
  }
  if (d.concurrency().size() > 1) {
    int c0 = d.MinConcurrency();
    std::vector<Fig> growth;
    for (const Fig& g : thr) {
      const LoadCell* x = d.Closed(g.approach, c0);
      Opt t0 = x ? Business(*x) : std::nullopt;
      if (Valid(t0) && *t0 > 0) growth.push_back({g.approach, g.family, g.value / *t0, g.cell});
    }
    const Fig* hi = MaxFig(growth);
    const Fig* lo = MinFig(growth);
    if (hi && lo && hi->approach != lo->approach) {
      s.push_back("From concurrency " + std::to_string(c0) + " to " + std::to_string(c) +
                  " throughput grew most for " + Code(hi->approach) + " (" + Ratio(hi->value) +
                  ") and least for " + Code(lo->approach) + " (" + Ratio(lo->value) + ").");
    }
  }
  // The windows only one family has (docs/compare-results.md).
  for (const Fig& g : d.Collect(c, PendingP99, false)) {
    s.push_back(Code(g.approach) + "'s orders stayed 'pending' " +
                Ms(Num(g.cell->pending_age_ms, &Percentiles::p50)) + " ms at p50 and " +
                Ms(g.value) + " ms at p99" + at +
                ": for that long another session reads an order whose OrderPlaced does not "
                "exist yet (the dirty-read window), and that may still be cancelled.");
  }
  for (const Fig& g : d.Collect(c, SeenPending, false)) {
    const results::DirtyReads& r = *g.cell->dirty_reads;
    s.push_back("A reader polling " + Code(g.approach) + "'s open sagas every " +
                Int(Num(r.interval_ms)) + " ms read " + Int(g.value) +
                " orders while they were pending" + at + ": " + DirtyOutcome(r) + ".");
  }
  for (const Fig& g : d.Collect(c, LagP99, false)) {
    s.push_back(Code(g.approach) + "'s read model lagged the broker by " +
                Ms(Num(g.cell->projection_lag_ms, &Percentiles::p50)) + " ms at p50 and " +
                Ms(g.value) + " ms at p99" + at +
                ": for that long a reader of Postgres misses an order the broker already "
                "acknowledged.");
  }
  std::vector<std::string> bad;
  int checked = 0;
  for (const LoadCell* cell : d.closed()) {
    std::string who = Code(Str(cell->approach)) + " at concurrency " + Int(Num(cell->concurrency));
    if (cell->error) {
      bad.push_back(who + " (error: " + Plain(cell->error) + ")");
      continue;
    }
    const Field<results::Verify>& v = cell->verify;
    if (!v) continue;
    ++checked;
    if (VerifyText(v) != "clean") bad.push_back(who + " (" + VerifyText(v) + ")");
  }
  if (!bad.empty()) {
    s.push_back("Cells that did not finish clean: " + Join(bad, "; ") + ".");
  } else if (checked > 0) {
    s.push_back("Verify was clean after all " + std::to_string(checked) + " closed-loop cells.");
  }
  return s;
}

// ---- Cost ----

void Cost(const Data& d, std::string& out) {
  int c = d.MaxConcurrency();
  out += "### Cost per operation\n\n";
  bool cpu = AnyClosed(d, CpuTotal);
  out += "Closed loop at concurrency " + std::to_string(c) +
         ", per committed operation, the relay's work included (a cell ends when every message "
         "was delivered).";
  // 3PC's agents get a column only in runs that measured them: older runs
  // render as they always did.
  const bool agents = AnyClosed(d, AgentsCpu);
  out += cpu ? std::string(
                   " CPU is user + system time from /proc of each party: Postgres (every "
                   "backend and the WAL sender), the broker, the load command, the relay") +
                   (agents ? ", 3PC's participant agents." : ".")
             : " CPU per operation: " + d.NotMeasured() + ".";
  out += "\n\n";
  std::vector<std::string> header = {"approach"};
  if (cpu) {
    header.insert(header.end(), {"CPU postgres µs", "broker µs", "load µs", "relay µs"});
    if (agents) header.push_back("agents µs");
    header.push_back("total µs");
  }
  header.insert(header.end(), {"WAL B", "WAL fsyncs", "broker fsyncs", "dead tuples"});
  Table t(header);
  for (const auto& a : d.approaches()) {
    const LoadCell* cell = d.Closed(a.name, c);
    if (!cell) continue;
    const LoadCell& j = *cell;
    std::vector<std::string> row = {a.name};
    if (cpu) {
      for (auto party :
           {&CpuPerOp::postgres, &CpuPerOp::broker, &CpuPerOp::load, &CpuPerOp::relay}) {
        row.push_back(Us(Num(j.cpu_us_per_op, party)));
      }
      if (agents) row.push_back(Us(AgentsCpu(j)));
      row.push_back(WithRange(CpuTotal(j), j, &Ranges::cpu_total_us_per_op, Us));
    }
    row.insert(row.end(), {Int(Wal(j)), Per(Num(j.cost, &Cost::wal_syncs_per_op)),
                           Per(Num(j.cost, &Cost::broker_fsyncs_per_op)),
                           Per(Num(j.cost, &Cost::dead_tuples_per_op))});
    t.Add(row);
  }
  out += t.Render() + "\n";

  std::vector<std::string> s;
  Opt cores = Num(d.machine().cores);
  if (auto busy = BusyShare(d, c)) {
    std::string range = SpanText(busy->lo, busy->hi, PercentOpt);
    std::string n = Int(cores) + (*cores == 1 ? " core" : " cores");
    if (busy->lo >= kCpuBound) {
      s.push_back("Throughput follows total CPU per operation: every party shares the same " + n +
                  ", and at concurrency " + std::to_string(c) + " they were " + range +
                  " busy (throughput × CPU µs/op), so an approach that spends less CPU per "
                  "operation commits more per second.");
    } else {
      s.push_back("The " + n + " were " + range + " busy at concurrency " + std::to_string(c) +
                  " (throughput × CPU µs/op): below saturation, so waiting (fsync, network), "
                  "not CPU alone, set the throughput.");
    }
  }
  auto wal = d.Collect(c, Wal, false);
  Opt floor_wal = d.FloorFigure(c, Wal);
  auto x_wal = [&](double v) {
    return Valid(floor_wal) ? ", " + Ratio(v / *floor_wal) + " the floor's " + Int(floor_wal) + " B"
                            : std::string();
  };
  if (const Fig* w_lo = MinFig(wal); w_lo && MaxFig(wal)->approach != w_lo->approach) {
    const Fig* w_hi = MaxFig(wal);
    s.push_back("WAL per operation: from " + Int(w_lo->value) + " B (" + Code(w_lo->approach) +
                x_wal(w_lo->value) + ") to " + Int(w_hi->value) + " B (" + Code(w_hi->approach) +
                x_wal(w_hi->value) + ").");
  }
  auto syncs = d.Collect(
      c, [](const LoadCell& j) { return Num(j.cost, &Cost::wal_syncs_per_op); }, false);
  if (const Fig* m = MaxFig(syncs)) {
    s.push_back(Code(m->approach) + " flushed the WAL most often: " + Per(m->value) +
                " fsyncs per operation (below 1 means group commit).");
  }
  auto dead = d.Collect(
      c, [](const LoadCell& j) { return Num(j.cost, &Cost::dead_tuples_per_op); }, false);
  if (const Fig* m = MaxFig(dead); m && m->value > 0) {
    s.push_back(Code(m->approach) + " left the most dead tuples for vacuum: " + Per(m->value) +
                " per operation.");
  }
  for (const auto& line : s) out += "- " + line + "\n";
  if (!s.empty()) out += "\n";
}

}  // namespace

std::string DirtyOutcome(const results::DirtyReads& r) {
  const double cancelled = Num(r.then_cancelled).value_or(0);
  const double pending = Num(r.still_pending).value_or(0);
  if (cancelled == 0 && pending == 0) return "all were placed later";
  std::vector<std::string> parts;
  if (cancelled > 0) {
    parts.push_back(Int(cancelled) +
                    " were cancelled afterwards (reads of orders that never "
                    "happened)");
  }
  if (pending > 0) parts.push_back(Int(pending) + " still pending at the end");
  return Join(parts, ", ");
}

std::optional<Span> BusyShare(const Data& d, int c) {
  Opt cores = Num(d.machine().cores);
  if (!Valid(cores) || *cores <= 0) return std::nullopt;
  std::optional<Span> out;
  for (const Fig& f : d.Collect(c, CpuTotal, true)) {
    Opt thr = Business(*f.cell);
    if (!Valid(thr)) continue;
    double busy = *thr * f.value / (*cores * 1e6);
    if (!out) out = Span{busy, busy};
    out->lo = std::min(out->lo, busy);
    out->hi = std::max(out->hi, busy);
  }
  return out;
}

std::string RenderLoad(const Data& d) {
  std::string out = "## 1. Throughput, latency and cost\n\n";
  if (d.closed().empty()) {
    out += "No closed-loop load cell was measured in this run.\n\n";
  } else {
    Ranking(d, out);
    Opt secs = Num(d.settings().cell_duration_s);
    Opt reps = Num(d.settings().repetitions);
    Opt min_ops = Num(d.settings().min_ops_per_cell);
    out += "### Closed loop\n\nEach worker starts its next operation when the previous one ends, " +
           Secs(secs) + " s per cell" +
           (Valid(min_ops) ? " (and on until " + Int(min_ops) + " operations completed)"
                           : std::string()) +
           (Valid(reps) && *reps > 1 ? ", " + Int(reps) + " repetitions, median (min–max)"
            : Valid(reps)            ? ", one run per cell"
                                     : std::string()) +
           ". Latencies in ms: business from the operation's start to its acknowledgement, "
           "end-to-end (e2e) until a consumer read the message. \"vs floor\": business "
           "throughput / the floor's. Drain: from the load's end until the last message was "
           "readable.\n\n";
    Opt batch = Num(d.settings().coordinator_batch);
    Opt batch_from = Num(d.settings().coordinator_batch_from);
    // Said only where a closed-loop cell reached that concurrency.
    const std::vector<int>& cs = d.concurrency();
    const bool batched =
        !cs.empty() && Valid(batch_from) && *std::max_element(cs.begin(), cs.end()) >= *batch_from;
    if (Valid(batch) && *batch > 1 && batched) {
      out += "2PC at concurrency " + Int(batch_from) +
             " and above: one coordinator thread drives " + Int(batch) +
             " orders in lockstep (`2pc run --batch " + Int(batch) +
             "`): their prepares are sent before any answer is read and their decisions are "
             "made together (one forced log write; with `--lrco`, the one-phase commits started "
             "together), each order keeping its own transaction, votes and decision. Below "
             "that, and in the open-loop, contention and failure cells, one order per "
             "coordinator thread.\n\n";
    }
    if (AnyClosed(d, PendingP99)) {
      out +=
          "Saga: business /s counts placed orders, delivered those that reached their final "
          "state (placed or cancelled) with their event readable; pending: how long orders "
          "stayed 'pending' (T1's commit to T3 or the compensation).\n\n";
    }
    if (AnyClosed(d, LagP99)) {
      out +=
          "Event-sourced: delivered counts events readable and projected into the read "
          "model, and drain runs until the projector wrote the last row; projection lag: "
          "broker visibility to the row's commit, as the projector measured it.\n\n";
    }
    bool delivered = AnyClosed(d, Delivered);
    if (!delivered) out += "Delivered throughput: " + d.NotMeasured() + ".\n\n";
    for (int c : d.concurrency()) ClosedTable(d, c, delivered, out);
    out += "Reading:\n\n";
    for (const auto& line : ClosedReading(d)) out += "- " + line + "\n";
    out += "\n";
  }
  out += RenderRateGrid(d);
  if (!d.closed().empty()) Cost(d, out);
  out += RenderContention(d);
  out += RenderRelayScaling(d);
  return out;
}

}  // namespace dw::compare::rpt
