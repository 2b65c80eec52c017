#include "compare/approaches.h"

#include <sstream>

namespace dw::compare {
namespace {

Approach Outbox(const std::string& strategy, const std::string& description,
                bool guaranteed = true) {
  Approach a;
  a.name = "outbox-" + strategy;
  a.family = "outbox";
  a.description = description;
  a.load = {"outbox", "write"};
  a.relay = {"outbox", "relay", "--strategy", strategy};
  a.guaranteed = guaranteed;
  return a;
}

std::vector<Approach> Build() {
  std::vector<Approach> v;
  v.push_back({"floor",
               "floor",
               "the orders INSERT alone, committed locally; no message (the baseline)",
               {"floor"},
               {},
               true});
  v.push_back({"2pc-file",
               "2pc",
               "two-phase commit, decision log in a local file (fdatasync)",
               {"2pc", "run", "--log", "file"},
               {},
               true});
  v.push_back({"2pc-pg",
               "2pc",
               "two-phase commit, decision log in a Postgres table",
               {"2pc", "run", "--log", "postgres"},
               {},
               true});
  v.push_back({"2pc-lrco",
               "2pc",
               "two-phase commit with the last-resource optimisation (Postgres commits in one "
               "phase with the decision row)",
               {"2pc", "run", "--lrco"},
               {},
               true});
  v.push_back({"2pc-ack-decision",
               "2pc",
               "two-phase commit answering once the decision is durable (phase 2 in the "
               "background)",
               {"2pc", "run", "--ack-after", "decision"},
               {},
               true});
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
    for (const auto& a : AllApproaches()) known |= a.name == w || a.family == w;
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
      if (a.name == w || a.family == w) {
        out->push_back(a);
        break;
      }
    }
  }
  return Status::OK();
}

}  // namespace dw::compare
