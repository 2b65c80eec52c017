// dualwrite: a laboratory for the dual-write problem. See README.md.
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "cli/load_flags.h"

namespace {

// Errors are ONE line on stderr (README): library messages (libpq's above
// all) span lines and end in newlines; runs of whitespace become one space.
void PrintError(const std::string& what) {
  std::string line;
  for (char c : what) {
    bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
    if (!space) {
      line += c;
    } else if (!line.empty() && line.back() != ' ') {
      line += ' ';
    }
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  std::cerr << "dualwrite: error: " << line << "\n";
}

}  // namespace

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
                 "broker URL (http[s]://HOST:PORT); default: the embedded broker");
  dw::cli::AddBrokerCredentialFlags(app, g);

  dw::cli::AddEnvCommands(app, g);
  dw::cli::AddBrokerCommands(app, g);
  dw::cli::AddVerifyCommands(app, g);
  dw::cli::Add2pcCommands(app, g);
  dw::cli::Add3pcCommands(app, g);
  dw::cli::AddOutboxCommands(app, g);
  dw::cli::AddSagaCommands(app, g);
  dw::cli::AddProxyCommands(app, g);
  dw::cli::AddFloorCommand(app, g);
  dw::cli::AddCompareCommand(app, g);
  dw::cli::AddChaosCommand(app, g);
  dw::cli::AddDemoCommand(app, g);
  dw::cli::AddEsCommands(app, g);

  dw::cli::TightenNumberChecks(&app);

  // DUALWRITE_PARSE_ONLY=1: parse the command line (subcommands, flags, the
  // values validators accept) and exit 0, or with the parse error's code,
  // without running any command: scripts/check-docs.sh checks that every
  // command the docs quote still parses. The top-level parse-complete
  // callback runs after every check and before any command's callback;
  // CLI::Success ends the parse with exit code 0 and no output. (Clearing the
  // commands' callbacks instead would free the option storage they own.)
  const char* parse_only = std::getenv("DUALWRITE_PARSE_ONLY");
  if (parse_only && std::string(parse_only) == "1") {
    app.parse_complete_callback([] { throw CLI::Success(); });
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0: CLI11 prints them.
    if (e.get_exit_code() == 0) return app.exit(e);
    // Not app.exit(e): it adds a second line ("Run with --help ...").
    PrintError(std::string(e.what()) + " (see --help)");
    return e.get_exit_code();
  } catch (const dw::cli::CliError& e) {
    PrintError(e.what());
    return e.exit_code;
  } catch (const std::exception& e) {
    PrintError(e.what());
    return 1;
  }
  return 0;
}
