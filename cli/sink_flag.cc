#include "cli/sink_flag.h"

#include "cli/commands.h"

namespace dw::cli {

void AddSinkOption(CLI::App* cmd, std::string* value, const std::string& help) {
  cmd->add_option("--sink", *value, help)->check(CLI::IsMember({"dualwrite", "nats", "rabbitmq"}));
}

compare::SinkKind CheckedSink(const std::string& value) {
  compare::SinkKind sink = compare::SinkKind::kDualwrite;
  Check(compare::ParseSinkKind(value, &sink));
  if (sink != compare::SinkKind::kDualwrite) {
    Status installed = compare::CheckSinkInstalled(sink);
    if (!installed.ok()) throw CliError("--sink " + value + ": " + installed.ToString(), 2);
  }
  return sink;
}

}  // namespace dw::cli
