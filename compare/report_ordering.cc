// The "Order per key" section (compare/order_cell.h): per cell, the events
// written and read, the keys a consumer would see out of order, and the
// drain rate. Rendered only when results.json has `order_per_key`: runs made
// before the section existed have none, and their reports stay as they were.
#include "compare/report_sections.h"

namespace dw::compare::rpt {
namespace {

// 2PC, 3PC and event sourcing publish each event themselves: their cells
// have no relay (instances null).
std::string RelayText(const OrderCell& c) {
  if (!c.instances) return "- (no relay)";
  std::string out = "K=" + Int(Num(c.instances));
  if (IsTrue(c.partitioned)) out += ", `--partition-by key`";
  return out;
}

std::string FaultText(const OrderCell& c) {
  const std::string f = Str(c.fault);
  return f.empty() ? "healthy" : f;
}

// "order 42: v3 at offset 17 before v2 at offset 20".
std::string InversionText(const results::Inversion& i) {
  // Order ids and offsets as written: a cell's ids start far above 2^53.
  return "order " + Plain(i.order) + ": v" + Plain(i.later_version) + " at offset " +
         Plain(i.later_offset) + " before v" + Plain(i.version) + " at offset " + Plain(i.offset);
}

// The healthy drain rate of skip-locked with `instances`, partitioned or not.
Opt HealthyDrain(const std::vector<OrderCell>& cells, int instances, bool partitioned) {
  for (const OrderCell& c : cells) {
    if (Str(c.approach) == "outbox-skip-locked" && Str(c.status) == "ran" && !c.fault &&
        Num(c.instances) == Opt(instances) && IsTrue(c.partitioned) == partitioned) {
      return Num(c.drain_rate_per_s);
    }
  }
  return std::nullopt;
}

}  // namespace

std::string RenderOrderPerKey(const Data& d) {
  const results::OrderPerKey* section = d.order_per_key();
  if (!section || !section->cells || section->cells->empty()) return "";
  const results::OrderPerKey& s = *section;
  const std::vector<OrderCell>& cells = *s.cells;
  std::string out = "## Order per key\n\n";
  out += "Each order gets " + Int(Num(s.events_per_order)) +
         " events (OrderPlaced, OrderPaid, ...), each its own business transaction, issued once "
         "the previous one was acknowledged: a consumer must read them in that order. " +
         Int(Num(s.orders)) + " orders from " + Int(Num(s.writers)) + " writers per cell.\n\n";
  // compare --sink: the broker-down fault SIGKILLs the real server and
  // starts it again, and only the outbox family runs there.
  const std::string sink = Str(d.settings().sink);
  const bool real_sink = !sink.empty() && sink != "dualwrite";
  out += "- **Outbox:** the relay (`--batch " + Int(Num(s.batch)) +
         "`) is stopped (SIGSTOP) while the load writes, then resumed; the drain of that backlog "
         "is timed until every event is readable. `broker-down`: " +
         (real_sink ? "the server is SIGKILLed as the relay resumes and started again after "
                    : "the broker is down for ") +
         Secs(Num(s.fault_s)) + " s" + (real_sink ? "" : " as the relay resumes") +
         "; `relay-kill`: the relay is SIGKILLed once its first message "
         "is readable, and started again.\n";
  if (!real_sink) {
    out +=
        "- **2PC:** each event is its own 2PC transaction; the rate is events per second of the "
        "load itself (no backlog); `broker-down` takes the broker away during the load.\n";
  }
  bool three_pc = false, es = false;
  for (const OrderCell& c : cells) {
    three_pc = three_pc || Str(c.family) == "3pc";
    es = es || Str(c.family) == "event-sourced";
  }
  if (three_pc) out += "- **3PC:** as 2PC, each event its own 3PC transaction.\n";
  if (es) {
    out +=
        "- **Event sourcing:** `es write` publishes event n once event n-1 was acknowledged; "
        "the projector applies each to the order's row as it arrives, and the cell waits until "
        "it applied every event read. The rate is events per second of the load.\n";
  }
  out +=
      "- *Keys reordered*: orders whose events were first read out of version order (verify's "
      "order-per-key check); *gaps*: orders with an event never read.\n\n";
  Table t({"approach", "relay", "fault", "events written", "events read", "keys reordered", "gaps",
           "duplicates", "drain (events/s)"},
          {0, 1, 2});
  std::vector<std::string> inversions, problems, commands;
  for (const OrderCell& c : cells) {
    const std::string status = Str(c.status);
    const std::string name = Code(Str(c.approach));
    if (status != "ran") {
      problems.push_back(name + " " + RelayText(c) + " " + FaultText(c) + ": " + status + " (" +
                         Plain(c.reason) + ")");
      continue;
    }
    t.Add({name, RelayText(c), FaultText(c), Int(Num(c.events_written)), Int(Num(c.events_read)),
           Int(Num(c.keys_reordered)), Int(Num(c.gaps)), Int(Num(c.duplicates)),
           Int(Num(c.drain_rate_per_s))});
    if (c.first_inversion) {
      inversions.push_back(name + " " + RelayText(c) + " " + FaultText(c) + ": " +
                           InversionText(*c.first_inversion));
    }
    if (!c.fault && !Str(c.command).empty()) commands.push_back(Str(c.command));
  }
  if (!t.empty()) out += t.Render() + "\n";
  const Opt part = HealthyDrain(cells, 3, true), plain = HealthyDrain(cells, 3, false);
  if (Valid(part) && Valid(plain) && *plain > 0) {
    out += "Healthy `outbox-skip-locked` with K=3: the partitioned drain is " +
           Ratio(*part / *plain) + " the unpartitioned one's (" + Int(part) + " vs " + Int(plain) +
           " events/s).\n\n";
  }
  // A 2PC load stops an order's events at the first later event that aborts
  // (the load's `later_events_failed`): fewer events written, none lost.
  std::vector<std::string> cut;
  bool only_2pc = true;
  for (const OrderCell& c : cells) {
    const Opt failed = Num(c.later_events_failed);
    if (Str(c.status) != "ran" || !Valid(failed) || *failed <= 0) continue;
    only_2pc = only_2pc && Str(c.family) == "2pc";
    cut.push_back(Code(Str(c.approach)) + " " + FaultText(c) + ": " + Int(failed) + " of " +
                  Int(Num(c.orders)) + " orders (" + Int(Num(c.events_written)) +
                  " events written of " +
                  Int(Num(c.orders).value_or(0) * Num(c.events_per_order).value_or(0)) + ")");
  }
  if (!cut.empty()) {
    out += std::string(only_2pc ? "2PC orders" : "Orders") +
           " whose later event aborted, which ends the order's events (nothing lost: an "
           "aborted event is neither committed nor published). Under `broker-down` the "
           "broker's " +
           (only_2pc ? "prepare" : "prepare (for event sourcing, the publish)") +
           " failed. With `--ack-after decision` the 2PC coordinator acknowledges once its "
           "decision is durable, before COMMIT PREPARED, so the next event's UPDATE, issued right "
           "after that acknowledgement, can find the order not yet at its version: that "
           "acknowledgement does not promise read-your-writes.\n\n";
    for (const auto& x : cut) out += "- " + x + "\n";
    out += "\n";
  }
  if (!inversions.empty()) {
    out += "First inversion per reordering cell:\n\n";
    for (const auto& x : inversions) out += "- " + x + "\n";
    out += "\n";
  }
  if (!problems.empty()) {
    out += "Not measured:\n\n";
    for (const auto& x : problems) out += "- " + x + "\n";
    out += "\n";
  }
  if (!commands.empty()) {
    out += "Commands (healthy cells; `--events-per-order` on the load, the relay as deployed):\n\n";
    out += "```sh\n";
    for (const auto& x : commands) out += x + "\n";
    out += "```\n\n";
  }
  return out;
}

}  // namespace dw::compare::rpt
