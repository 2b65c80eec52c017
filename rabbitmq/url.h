// How a command names a RabbitMQ sink (`--sink rabbitmq|amqp://...`), and
// the parts of an amqp:// URL. `rabbitmq` alone means the embedded
// rabbitmq-server of the state folder (`dualwrite up --sinks rabbitmq`); an
// amqp:// URL is used as given and nothing is started.
#pragma once

#include <string>

#include "common/status.h"

namespace dw::rabbitmq {

// True when `text` names RabbitMQ: "rabbitmq" (*url left empty: the
// embedded server) or an amqp:// URL (*url = text).
bool IsRabbitmqSink(const std::string& text, std::string* url);

struct AmqpAddress {
  std::string host;
  int port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
};

// amqp://[USER[:PASS]@]HOST[:PORT][/VHOST]. The vhost is percent-decoded
// ("%2f" is "/"); an empty one ("amqp://h:p/", as the embedded server's URL
// is written) is the default vhost "/". InvalidArgument, one line, else.
Status ParseAmqpUrl(const std::string& url, AmqpAddress* out);

}  // namespace dw::rabbitmq
