// dualwrite: a laboratory for the dual-write problem. See README.md.
#include <cstdlib>
#include <exception>
#include <iostream>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"dualwrite: two-phase commit vs the transactional outbox, measured side by side"};
  app.set_version_flag("--version", "dualwrite 0.1");
  app.require_subcommand(1);
  app.fallthrough();

  dw::cli::Globals g;
  const char* env_dir = std::getenv("DUALWRITE_STATE_DIR");
  g.state_dir = env_dir && *env_dir ? env_dir : "./.dualwrite";
  app.add_option("--state-dir", g.state_dir,
                 "environment folder (default ./.dualwrite, or $DUALWRITE_STATE_DIR)");
  app.add_option("--dsn", g.dsn, "Postgres connection string; default: the embedded cluster");
  app.add_option("--broker", g.broker,
                 "broker URL (http://HOST:PORT); default: the embedded broker");

  dw::cli::AddEnvCommands(app, g);
  dw::cli::AddBrokerCommands(app, g);
  dw::cli::AddVerifyCommands(app, g);
  dw::cli::Add2pcCommands(app, g);
  dw::cli::AddOutboxCommands(app, g);
  dw::cli::AddProxyCommands(app, g);
  dw::cli::AddFloorCommand(app, g);
  dw::cli::AddCompareCommand(app, g);
  dw::cli::AddChaosCommand(app, g);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const dw::cli::CliError& e) {
    std::cerr << "dualwrite: error: " << e.what() << "\n";
    return e.exit_code;
  } catch (const std::exception& e) {
    std::cerr << "dualwrite: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
