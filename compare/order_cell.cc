#include "compare/order_cell.h"

#include <signal.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include <pqxx/pqxx>

#include "compare/rig.h"

namespace dw::compare {
namespace {

using std::chrono::milliseconds;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

json ReadJson(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return json::parse(ss.str(), nullptr, false);
}

std::string Strategy(const Approach& a) { return a.relay.size() > 3 ? a.relay[3] : ""; }

// The events the committed rows stand for: each order's version (1..E).
int64_t EventsWritten(const Rig& rig) {
  try {
    pqxx::connection c{rig.dsn};
    pqxx::nontransaction tx{c};
    return tx
        .exec_params1("SELECT coalesce(sum(version), 0) FROM orders WHERE id BETWEEN $1 AND $2",
                      rig.min_id, rig.max_id)[0]
        .as<int64_t>();
  } catch (const std::exception&) {
    return -1;
  }
}

// Messages of the cell's orders read so far, first copies and redeliveries.
uint64_t Read(const Rig& rig) { return rig.tail->unique() + rig.tail->redundant(); }

// Until the tail has read `events` messages: the seconds since `t0`, or < 0.
double WaitRead(const Rig& rig, int64_t events, Clock::time_point t0, double timeout_s) {
  while (static_cast<int64_t>(Read(rig)) < events) {
    if (Since(t0) > timeout_s) return -1;
    SleepS(0.005);
  }
  return Since(t0);
}

// Event sourcing: until the projector has applied every event the tail read
// (the sum of the rows' versions reaches the messages read) and the tail
// reads nothing new for a moment. The events written, or < 0 on timeout.
int64_t WaitProjected(const Rig& rig, double timeout_s) {
  const auto t0 = Clock::now();
  int64_t last_read = -1;
  int stable = 0;
  while (Since(t0) < timeout_s) {
    const int64_t read = static_cast<int64_t>(Read(rig));
    const int64_t applied = EventsWritten(rig);
    stable = read == last_read ? stable + 1 : 0;
    last_read = read;
    if (applied >= 0 && applied >= read && stable >= 5) return applied;
    SleepS(0.05);
  }
  return -1;
}

// broker-down: dualwrite's broker refuses for `seconds` (its fault knob);
// a real sink's server (compare --sink) is SIGKILLed, as the failure matrix
// does to it, and BrokerUp starts it again on its port and data folder.
Status BrokerDown(CellContext& ctx, Rig* rig, double seconds) {
  return ctx.sink ? ctx.sink->Kill() : rig->broker.Down(seconds);
}

Status BrokerUp(CellContext& ctx, Rig* rig) {
  return ctx.sink ? ctx.sink->Restart(ctx.log) : rig->broker.Up();
}

}  // namespace

bool PublishesItself(const Approach& a) {
  return a.is_2pc() || a.is_3pc() || a.family == Family::kEventSourced;
}

std::string OrderCellNotApplicable(const Approach& a, const OrderSpec& spec) {
  const bool relay = a.is_outbox() && a.has_relay();
  if (!PublishesItself(a) && !relay) return "its load has no events 2..E";
  if (spec.fault == "relay-kill" && !relay) return "no relay: each event is its own transaction";
  if (spec.instances > 1 && !a.relay_scales()) return "one reader by construction";
  if (spec.partitioned && Strategy(a) != "skip-locked") {
    return "--partition-by key is a skip-locked relay mode";
  }
  return "";
}

std::vector<std::pair<const Approach*, OrderSpec>> PlannedOrderCells(const Plan& plan) {
  std::vector<std::pair<const Approach*, OrderSpec>> out;
  for (const auto& name : plan.ordering_approaches) {
    const Approach* a = FindApproach(name);
    if (!a) continue;
    for (const auto& [k, partitioned] : plan.ordering_relays) {
      // 2PC, 3PC and event sourcing have no relay: one deployment, listed once.
      if (PublishesItself(*a) &&
          (k != plan.ordering_relays[0].first || partitioned != plan.ordering_relays[0].second)) {
        continue;
      }
      for (const auto& fault : plan.ordering_faults) {
        OrderSpec spec;
        spec.instances = PublishesItself(*a) ? 1 : k;
        spec.partitioned = PublishesItself(*a) ? false : partitioned;
        spec.fault = fault;
        spec.orders = plan.ordering_orders;
        spec.events = plan.ordering_events;
        spec.fault_s = plan.ordering_fault_s;
        spec.drain_timeout_s = plan.drain_timeout_s;
        if (OrderCellNotApplicable(*a, spec).empty()) out.emplace_back(a, spec);
      }
    }
  }
  return out;
}

results::OrderCell RunOrderCell(CellContext& ctx, const Approach& a, const OrderSpec& spec) {
  using results::Field;
  results::OrderCell cell;
  cell.approach = a.name;
  cell.family = FamilyName(a.family);
  cell.instances = PublishesItself(a) ? Field<int64_t>(nullptr) : Field<int64_t>(spec.instances);
  cell.partitioned = spec.partitioned;
  cell.fault = spec.fault.empty() ? Field<std::string>(nullptr) : Field<std::string>(spec.fault);
  cell.orders = spec.orders;
  cell.events_per_order = spec.events;
  cell.batch = a.is_outbox() ? Field<int64_t>(spec.batch) : Field<int64_t>(nullptr);
  cell.status = "ran";
  cell.reason = nullptr;
  if (std::string why = OrderCellNotApplicable(a, spec); !why.empty()) {
    cell.status = "n/a";
    cell.reason = why;
    return cell;
  }
  Approach b = a;
  if (a.is_outbox()) {
    b.relay_instances = spec.instances;
    b.relay_batch = spec.batch;
    if (spec.partitioned) b.relay.insert(b.relay.end(), {"--partition-by", "key"});
  }
  b.load.insert(b.load.end(), {"--events-per-order", std::to_string(spec.events)});
  std::string slug = "order-" + a.name + "-k" + std::to_string(spec.instances) +
                     (spec.partitioned ? "-part" : "") +
                     (spec.fault.empty() ? "" : "-" + spec.fault);
  Rig rig;
  Status s = PrepareRig(ctx, b, slug, &rig);
  auto fail = [&](const std::string& why) {
    CleanupRig(ctx, &rig, true);
    cell.status = "error";
    cell.reason = why + " (logs in " + rig.dir + ")";
    return cell;
  };
  if (!s.ok()) return fail(s.ToString());
  std::vector<std::string> notes;

  Proc* relay = nullptr;
  if (b.is_outbox()) {
    s = StartRelay(ctx, &rig, b, false, 0, &relay);
    if (!s.ok()) return fail(s.ToString());
    relay->Signal(SIGSTOP);  // the backlog builds up while it is stopped
  }
  // Event sourcing: the projector builds the rows from the topic as the load
  // publishes (the rows follow the messages; nothing is held back).
  Proc* projector = nullptr;
  if (!b.is_outbox() && b.has_relay()) {
    s = StartRelay(ctx, &rig, b, false, 0, &projector);
    if (!s.ok()) return fail(s.ToString());
  }
  std::vector<std::string> load_args = b.load;
  load_args.insert(load_args.end(),
                   {"--concurrency", std::to_string(spec.writers), "--transactions",
                    std::to_string(spec.orders), "--seed", std::to_string(ctx.seed), "--json"});
  Proc* load = nullptr;
  s = StartProc(ctx, &rig, "load", load_args, &load);
  if (!s.ok()) return fail(s.ToString());
  const std::string command = CommandLine(load, relay ? relay : projector);
  if (PublishesItself(b) && spec.fault == "broker-down") {
    SleepS(0.2);
    s = BrokerDown(ctx, &rig, spec.fault_s);
    SleepS(spec.fault_s);
    if (s.ok()) s = BrokerUp(ctx, &rig);
    if (!s.ok()) return fail("broker-down: " + s.ToString());
  }
  if (!load->Wait(milliseconds(180000))) return fail("the load command did not finish");
  if (!load->ok()) notes.push_back("load: " + load->ErrorLine());
  const json load_json = ReadJson(load->out);
  const int64_t written = projector ? WaitProjected(rig, spec.drain_timeout_s) : EventsWritten(rig);
  if (written < 0) {
    return fail(projector ? "the projector did not apply every event read"
                          : "cannot count the events written");
  }
  cell.events_written = written;

  // The drain (outbox) or what is left to read (2PC: nothing, normally).
  const auto t0 = Clock::now();
  double drain_s = -1;
  if (relay) {
    if (spec.fault == "broker-down") s = BrokerDown(ctx, &rig, spec.fault_s);
    if (!s.ok()) return fail("broker-down: " + s.ToString());
    relay->Signal(SIGCONT);
    if (spec.fault == "broker-down") {
      SleepS(spec.fault_s);
      s = BrokerUp(ctx, &rig);
      if (!s.ok()) return fail("broker-down: " + s.ToString());
    } else if (spec.fault == "relay-kill") {
      if (WaitRead(rig, 1, t0, 10) < 0) return fail("relay-kill: nothing was read in 10 s");
      relay->Signal(SIGKILL);
      (void)relay->Wait(milliseconds(5000));
      s = StartRelay(ctx, &rig, b, false, 0, &relay);
      if (!s.ok()) return fail("restarting the relay: " + s.ToString());
      notes.push_back(
          "the relay was SIGKILLed after its first message was readable, and started "
          "again");
    }
  }
  // A relay known to lose rows (offset-naive) never reads them all: a short wait.
  drain_s = WaitRead(rig, written, t0, a.guaranteed ? spec.drain_timeout_s : 3.0);
  if (drain_s < 0) notes.push_back("not every event was readable within the drain timeout");
  if (relay) relay->Stop(milliseconds(15000));
  if (projector) projector->Stop(milliseconds(15000));

  workload::VerifyReport vr;
  cell.verify = results::ReadField<results::Verify>(JudgeJson(rig, b, &vr));
  cell.events_read = static_cast<int64_t>(vr.messages);
  cell.keys = static_cast<int64_t>(vr.keys_checked);
  cell.keys_reordered = static_cast<int64_t>(vr.reordered.size());
  cell.first_inversion = vr.reordered.empty()
                             ? Field<results::Inversion>(nullptr)
                             : results::ReadField<results::Inversion>(vr.reordered[0].ToJson());
  cell.gaps = static_cast<int64_t>(vr.gaps.size());
  cell.ahead = static_cast<int64_t>(vr.ahead.size());
  cell.duplicates = static_cast<int64_t>(vr.duplicates.size());
  cell.lost = static_cast<int64_t>(vr.missing.size());
  auto rate = [&](double seconds) {
    return seconds > 0 ? Field<double>(written / seconds) : Field<double>(nullptr);
  };
  if (relay) {
    cell.drain_s = drain_s >= 0 ? Field<double>(drain_s) : Field<double>(nullptr);
    cell.drain_rate_per_s = rate(drain_s);
  } else {
    // 2PC: the events of the committed orders over the load's own time (the
    // load command's --json summary).
    const double el = load_json.is_object() ? load_json.value("elapsed_s", 0.0) : 0.0;
    cell.drain_s = nullptr;
    cell.drain_rate_per_s = rate(el);
    if (load_json.is_object()) {
      results::Take(load_json, "later_events_failed", &cell.later_events_failed, &cell.extra);
    }
  }
  cell.notes = notes;
  cell.command = command;
  // Reordering is what some cells are there to show: the folder is kept
  // (as a failed cell's) only for lost or orphan events.
  const bool clean = vr.missing.empty() && vr.orphans.empty() && drain_s >= 0;
  CleanupRig(ctx, &rig, !clean && a.guaranteed);
  return cell;
}

}  // namespace dw::compare
