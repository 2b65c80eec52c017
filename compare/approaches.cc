#include "compare/approaches.h"

#include <sstream>

namespace dw::compare {
namespace {

Approach Outbox(const std::string& strategy, const std::string& description,
                bool guaranteed = true) {
  Approach a;
  a.name = "outbox-" + strategy;
  a.family = Family::kOutbox;
  a.relay_batch = 1000;
  a.relay_instances = strategy == "skip-locked" || strategy == "status" ? 2 : 1;
  a.description = description;
  a.load = {"outbox", "write"};
  a.relay = {"outbox", "relay", "--strategy", strategy};
  a.guaranteed = guaranteed;
  return a;
}

std::vector<Approach> Build() {
  std::vector<Approach> v;
  const std::vector<std::string> recover_pg = {"2pc", "recover", "--log", "postgres"};
  auto two_pc = [&](std::string name, std::string description, std::vector<std::string> load,
                    std::vector<std::string> recover) {
    Approach a;
    a.name = std::move(name);
    a.family = Family::kTwoPc;
    a.description = std::move(description);
    a.load = std::move(load);
    a.recover = std::move(recover);
    return a;
  };
  Approach floor;
  floor.name = "floor";
  floor.family = Family::kFloor;
  floor.description = "the orders INSERT alone, committed locally; no message (the baseline)";
  floor.load = {"floor"};
  v.push_back(floor);
  v.push_back(two_pc("2pc-file", "two-phase commit, decision log in a local file (fdatasync)",
                     {"2pc", "run", "--log", "file"}, {"2pc", "recover", "--log", "file"}));
  v.push_back(two_pc("2pc-pg", "two-phase commit, decision log in a Postgres table",
                     {"2pc", "run", "--log", "postgres"}, recover_pg));
  v.push_back(two_pc("2pc-lrco",
                     "two-phase commit with the last-resource optimisation (Postgres commits in "
                     "one phase with the decision row)",
                     {"2pc", "run", "--lrco"}, recover_pg));
  v.push_back(two_pc("2pc-ack-decision",
                     "two-phase commit answering once the decision is durable (phase 2 in the "
                     "background)",
                     {"2pc", "run", "--ack-after", "decision"}, recover_pg));
  v.push_back(Outbox("skip-locked",
                     "outbox; relay: SELECT ... FOR UPDATE SKIP LOCKED, publish, "
                     "delete"));
  v.push_back(Outbox("status",
                     "outbox; relay: claim with status='locked', publish, mark 'sent' "
                     "(+ reaper)"));
  v.push_back(Outbox("offset-naive",
                     "outbox; relay: read past a stored id, publish, advance (loses rows that "
                     "commit out of order)",
                     false));
  v.push_back(Outbox("offset-safe",
                     "outbox; relay: read past a stored (xid8, id) position, only "
                     "below the oldest running transaction"));
  v.push_back(Outbox("cdc", "outbox; relay: logical decoding (pgoutput) from a replication slot"));
  Approach trigger = Outbox("skip-locked",
                            "outbox written by a trigger on orders; relay: SKIP "
                            "LOCKED");
  trigger.name = "outbox-trigger";
  trigger.load = {"outbox", "write", "--trigger"};
  v.push_back(trigger);
  return v;
}

}  // namespace

const char* FamilyName(Family f) {
  switch (f) {
    case Family::kFloor:
      return "floor";
    case Family::kTwoPc:
      return "2pc";
    case Family::kOutbox:
      return "outbox";
  }
  return "floor";
}

const std::vector<Approach>& AllApproaches() {
  static const std::vector<Approach> all = Build();
  return all;
}

const Approach* FindApproach(const std::string& name) {
  for (const auto& a : AllApproaches()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

Status SelectApproaches(const std::string& only, std::vector<Approach>* out) {
  out->clear();
  if (only.empty()) {
    *out = AllApproaches();
    return Status::OK();
  }
  std::vector<std::string> wanted;
  std::stringstream ss(only);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) wanted.push_back(item);
  }
  for (const auto& w : wanted) {
    bool known = false;
    for (const auto& a : AllApproaches()) known |= a.name == w || FamilyName(a.family) == w;
    if (!known) {
      std::string names;
      for (const auto& a : AllApproaches()) names += (names.empty() ? "" : ", ") + a.name;
      return Status::InvalidArgument("--only: unknown approach '" + w +
                                     "' (want a family floor, 2pc, outbox or one of " + names +
                                     ")");
    }
  }
  for (const auto& a : AllApproaches()) {
    for (const auto& w : wanted) {
      if (a.name == w || FamilyName(a.family) == w) {
        out->push_back(a);
        break;
      }
    }
  }
  return Status::OK();
}

}  // namespace dw::compare
