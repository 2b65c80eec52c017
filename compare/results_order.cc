// The keys of the order-per-key section (docs/compare-results.md, "Order per
// key").
#include "compare/results.h"

namespace dw::compare::results {
namespace {

constexpr auto kInversion = [](auto& io, auto& c) {
  io("order", c.order);
  io("later_version", c.later_version);
  io("later_offset", c.later_offset);
  io("version", c.version);
  io("offset", c.offset);
};

constexpr auto kOrderCell = [](auto& io, auto& c) {
  io("approach", c.approach);
  io("family", c.family);
  io("instances", c.instances);
  io("partitioned", c.partitioned);
  io("fault", c.fault);
  io("orders", c.orders);
  io("events_per_order", c.events_per_order);
  io("batch", c.batch);
  io("status", c.status);
  io("reason", c.reason);
  io("events_written", c.events_written);
  io("events_read", c.events_read);
  io("keys", c.keys);
  io("keys_reordered", c.keys_reordered);
  io("first_inversion", c.first_inversion);
  io("gaps", c.gaps);
  io("ahead", c.ahead);
  io("duplicates", c.duplicates);
  io("lost", c.lost);
  io("drain_s", c.drain_s);
  io("drain_rate_per_s", c.drain_rate_per_s);
  io("later_events_failed", c.later_events_failed);
  io("verify", c.verify);
  io("notes", c.notes);
  io("command", c.command);
};

constexpr auto kOrderPerKey = [](auto& io, auto& c) {
  io("orders", c.orders);
  io("events_per_order", c.events_per_order);
  io("writers", c.writers);
  io("batch", c.batch);
  io("fault_s", c.fault_s);
  io("cells", c.cells);
};

}  // namespace

bool Read(const json& j, Inversion* out) { return ReadStruct(j, out, kInversion); }
json Write(const Inversion& v) { return WriteStruct(v, kInversion); }

bool Read(const json& j, OrderCell* out) { return ReadStruct(j, out, kOrderCell); }
json Write(const OrderCell& v) { return WriteStruct(v, kOrderCell); }

bool Read(const json& j, OrderPerKey* out) { return ReadStruct(j, out, kOrderPerKey); }
json Write(const OrderPerKey& v) { return WriteStruct(v, kOrderPerKey); }

}  // namespace dw::compare::results
