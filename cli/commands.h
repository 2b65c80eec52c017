// Each command group of the `dualwrite` CLI lives in its own cmd_*.cc and
// registers its subcommands here. Callbacks report failure by throwing
// CliError (or any std::exception): main() prints one line and exits non-zero.
#pragma once

#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "common/status.h"

namespace dw::cli {

struct CliError : std::runtime_error {
  explicit CliError(const std::string& m, int code = 1) : std::runtime_error(m), exit_code(code) {}
  int exit_code;
};

// Throws CliError with the status's text when it is not OK.
inline void Check(const Status& s) {
  if (!s.ok()) throw CliError(s.ToString());
}

// Options every command accepts (registered on the top-level app; CLI11's
// fallthrough lets them appear after the subcommand too).
struct Globals {
  std::string state_dir;  // --state-dir, $DUALWRITE_STATE_DIR, default ./.dualwrite
  std::string dsn;        // --dsn: use this Postgres instead of the embedded one
  std::string broker;     // --broker: use this broker URL instead of the embedded one
  // --broker-ca/-cert/-key/-token-file: exported as $DUALWRITE_BROKER_CA/
  // _CERT/_KEY/_TOKEN_FILE (absolute paths) as they are parsed, which is how
  // BrokerClient and child processes get them (see participants/broker_client.h).
  std::string broker_ca, broker_cert, broker_key, broker_token_file;
};

// The global --broker-ca/-cert/-key/-token-file flags (cmd_broker.cc).
void AddBrokerCredentialFlags(CLI::App& app, Globals& g);

void AddEnvCommands(CLI::App& app, Globals& g);     // up, down, env
void AddBrokerCommands(CLI::App& app, Globals& g);  // broker serve
void AddVerifyCommands(CLI::App& app, Globals& g);  // verify
void Add2pcCommands(CLI::App& app, Globals& g);     // 2pc run, 2pc recover
void Add3pcCommands(CLI::App& app, Globals& g);     // 3pc agent, 3pc run
void AddOutboxCommands(CLI::App& app, Globals& g);  // outbox write, relay, maintain
void AddSagaCommands(CLI::App& app, Globals& g);    // saga run, recover, verify
void AddProxyCommands(CLI::App& app, Globals& g);   // proxy
void AddFloorCommand(CLI::App& app, Globals& g);    // floor (the baseline)
void AddCompareCommand(CLI::App& app, Globals& g);  // compare (the report)
void AddChaosCommand(CLI::App& app, Globals& g);    // chaos (crash campaign)
void AddDemoCommand(CLI::App& app, Globals& g);     // demo LESSON (narrated lessons)
void AddEsCommands(CLI::App& app, Globals& g);      // es write, es project (event sourcing)

// The Postgres DSN and broker URL a command should use: --dsn / --broker as
// given, the embedded environment (started if needed) for what is missing.
// Throws CliError on failure.
struct ResolvedEndpoints {
  std::string dsn;
  std::string broker_url;
};
ResolvedEndpoints ResolveEndpoints(const Globals& g);

}  // namespace dw::cli
