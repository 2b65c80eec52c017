#include "cli/commands.h"
namespace dw::cli {
void AddEnvCommands(CLI::App&, Globals&) {}
}  // namespace dw::cli
