// Probes: the sections of `dualwrite env`. Each subsystem that has something
// worth watching (in-doubt transactions, an outbox backlog, replication
// slots) contributes one probe; Describe runs them all. Adding a section is
// adding a probe: no change to Describe itself.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "env/layout.h"

namespace dw::env {

// What a probe can see: the environment as Describe found it.
struct ProbeContext {
  const Layout* layout = nullptr;
  bool postgres_running = false;
  bool broker_running = false;
  std::string dsn;         // of database `dualwrite`; empty if never configured
  std::string broker_url;  // empty if never configured
  int broker_port = 0;
};

// Fills `*section` (a JSON object) or leaves it null to say "nothing to
// report" (e.g. the service it looks at is not running): the key is then
// left out rather than filled with placeholders. A failing probe returns
// an error; Describe records it as {"error": "..."} under the probe's key,
// so one broken subsystem never hides the others.
using ProbeFn = std::function<Status(const ProbeContext& ctx, nlohmann::json* section)>;

struct Probe {
  std::string key;  // top-level key in `env --json`
  ProbeFn fn;
};

// Prepared (in-doubt) transactions in Postgres: pg_prepared_xacts.
//   {"count": N, "oldest_age_s": S, "items": [{"gid", "age_s", "database", "owner",
//    "prepared_at"}, ...]}  (items: the 100 oldest)
Status ProbePreparedTransactions(const ProbeContext& ctx, nlohmann::json* section);

// Transactions prepared on the broker: GET /transactions?state=prepared.
//   {"count": N, "oldest_age_s": S (when the broker reports times), "gids": [...]}
Status ProbeBrokerPrepared(const ProbeContext& ctx, nlohmann::json* section);

// The probes of the environment itself, in report order.
std::vector<Probe> BuiltinProbes();

}  // namespace dw::env
