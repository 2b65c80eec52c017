// How a command names its sink: dualwrite's own broker, or a NATS JetStream
// server (`--sink dualwrite|nats|nats://HOST:PORT`). `nats` alone means the
// embedded nats-server of the state folder (`dualwrite up --sinks nats`);
// a nats:// URL is used as given and nothing is started.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace dw::jetstream {

struct SinkChoice {
  bool nats = false;     // false: dualwrite's broker
  std::string nats_url;  // empty with nats: the embedded nats-server
};

// InvalidArgument, in one line, for anything else (http(s):// names the
// broker: that is --broker's business, so it is refused here too).
Status ParseSink(const std::string& text, SinkChoice* out);

// A JetStream duplicate window: "120" (seconds), "90s", "1500ms", "2m".
// Between 100 ms and 24 h.
Status ParseDedupeWindow(const std::string& text, std::chrono::milliseconds* out);

}  // namespace dw::jetstream
