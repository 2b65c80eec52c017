// The --sink flag shared by `compare` and `chaos`: where the outbox relays
// publish (dualwrite's broker, or one real NATS JetStream or RabbitMQ server
// for the whole run, compare/sink.h).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "compare/sink.h"

namespace dw::cli {

// Declares --sink on `cmd`, limited to dualwrite, nats and rabbitmq.
void AddSinkOption(CLI::App* cmd, std::string* value, const std::string& help);

// The sink --sink names. A real server whose package is missing is one line
// and exit 2 before anything starts (CliError).
compare::SinkKind CheckedSink(const std::string& value);

}  // namespace dw::cli
