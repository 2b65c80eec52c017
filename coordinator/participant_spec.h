// `--participants`: which databases and which broker take part.
//
// Syntax: a comma-separated list of items
//   pg            the default Postgres (--dsn, or the embedded environment's)
//   pg:DSN        a Postgres database (libpq key=value or a postgresql:// URI)
//   broker        the default broker (--broker, or the embedded one)
//   broker:URL    a broker (http://HOST:PORT)
// e.g. `--participants "pg:dbname=shard0 host=..., pg:dbname=shard1 host=..., broker"`.
// A DSN may itself contain commas: the list is split only at a comma that is
// followed by (spaces and) `pg`, `postgres` or `broker` and then `:`, `,` or
// the end. At least one Postgres database and exactly one broker. Postgres
// item k is shard k (see order_work.h); the first one also holds the
// coordinator's tables (dw_decisions, dw_coordinators) and the order id
// sequence.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "coordinator/member.h"
#include "coordinator/order_work.h"

namespace dw::coord {

struct ParticipantSpec {
  enum class Kind { kPostgres, kBroker };
  Kind kind = Kind::kPostgres;
  std::string target;  // DSN or URL; empty = the default endpoint
};

Status ParseParticipants(const std::string& text, std::vector<ParticipantSpec>* out);

struct BuildOptions {
  std::string default_dsn;
  std::string default_broker;
  std::chrono::milliseconds timeout{5000};  // statement_timeout, HTTP deadline
  int pg_connections = 16;                  // per database
  // Postgres sessions say whose they are: `2pc recover` waits for a dead
  // coordinator's sessions to end (see session_wait.h). SessionName(id).
  std::string application_name = "dualwrite-2pc";
};

struct Built {
  std::vector<Member> members;
  Topology topology;
  std::vector<std::string> dsns;  // DSN of shard k
  std::string broker_url;
};

// Connects (checks 2PC is enabled on every database) and builds the members.
Status BuildMembers(const std::vector<ParticipantSpec>& specs, const BuildOptions& opts,
                    Built* out);

}  // namespace dw::coord
