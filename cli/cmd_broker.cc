#include "cli/commands.h"
namespace dw::cli {
void AddBrokerCommands(CLI::App&, Globals&) {}
}  // namespace dw::cli
