#include "jetstream/url.h"

#include <cmath>
#include <cstdlib>

namespace dw::jetstream {

Status ParseSink(const std::string& text, SinkChoice* out) {
  *out = SinkChoice{};
  if (text.empty() || text == "dualwrite") return Status::OK();
  if (text == "nats") {
    out->nats = true;
    return Status::OK();
  }
  if (text.rfind("nats://", 0) == 0 && text.size() > 7) {
    out->nats = true;
    out->nats_url = text;
    return Status::OK();
  }
  return Status::InvalidArgument("--sink '" + text +
                                 "': want dualwrite, nats, rabbitmq, or a nats:// or amqp:// URL");
}

Status ParseDedupeWindow(const std::string& text, std::chrono::milliseconds* out) {
  const char* begin = text.c_str();
  char* end = nullptr;
  double v = std::strtod(begin, &end);
  std::string unit = end ? std::string(end) : "";
  double ms = 0;
  if (end == begin || !std::isfinite(v) || v < 0) {
    ms = -1;
  } else if (unit.empty() || unit == "s") {
    ms = v * 1000;
  } else if (unit == "ms") {
    ms = v;
  } else if (unit == "m") {
    ms = v * 60000;
  } else {
    ms = -1;
  }
  if (ms < 100 || ms > 24.0 * 3600 * 1000) {
    return Status::InvalidArgument("--dedupe-window '" + text +
                                   "': want a duration from 100ms to 24h, e.g. 2m, 90s, 1500ms");
  }
  *out = std::chrono::milliseconds(static_cast<int64_t>(ms));
  return Status::OK();
}

}  // namespace dw::jetstream
