// A libnats status as one line of text for a Status message: the status's
// name, and the library's last error of this thread when it says more (the
// server's JetStream error, a connection's reason).
#pragma once

#include <nats/nats.h>

#include <string>

namespace dw::jetstream {

inline std::string NatsError(natsStatus s) {
  const char* last = nats_GetLastError(nullptr);
  std::string out = natsStatus_GetText(s);
  if (last && *last && out != last) out += std::string(" (") + last + ")";
  return out;
}

}  // namespace dw::jetstream
