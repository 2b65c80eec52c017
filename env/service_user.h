// The OS user the embedded servers other than Postgres run as. Postgres
// refuses to run as root, so as root the cluster runs as `postgres` (the OS
// user the postgresql-15 package creates); nats-server, rabbitmq-server and
// pgqd need no privilege either and run as that same user, which can already
// reach the state folder. Not as root, every server runs as ourselves.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace dw::env {

// As root: hands `dir` and everything under it to the service user (the
// server writes its data, logs and pid file there) and sets *run_as to its
// name. Otherwise sets *run_as to "" and touches nothing. FailedPrecondition
// when the user does not exist, naming `server` and the package that brings
// the user; IOError when a chown fails.
Status PrepareServiceUser(const std::string& server, const std::string& dir, std::string* run_as);

// `argv` run as `run_as` through setpriv (its groups included), or `argv`
// unchanged when `run_as` is empty.
std::vector<std::string> RunAs(const std::string& run_as, std::vector<std::string> argv);

}  // namespace dw::env
