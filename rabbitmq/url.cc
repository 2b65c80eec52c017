#include "rabbitmq/url.h"

#include <amqp.h>

#include <vector>

namespace dw::rabbitmq {

bool IsRabbitmqSink(const std::string& text, std::string* url) {
  url->clear();
  if (text == "rabbitmq") return true;
  if (text.rfind("amqp://", 0) == 0) {
    *url = text;
    return true;
  }
  return false;
}

Status ParseAmqpUrl(const std::string& url, AmqpAddress* out) {
  // amqp_parse_url writes into its argument and points the result into it.
  std::vector<char> buf(url.begin(), url.end());
  buf.push_back('\0');
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (url.rfind("amqp://", 0) != 0 || amqp_parse_url(buf.data(), &info) != AMQP_STATUS_OK ||
      info.host == nullptr || *info.host == '\0' || info.ssl) {
    return Status::InvalidArgument("'" + url + "': want amqp://[USER[:PASS]@]HOST[:PORT][/VHOST]");
  }
  out->host = info.host;
  out->port = info.port;
  out->user = info.user;
  out->password = info.password;
  // librabbitmq follows the AMQP URI spec: "amqp://h:p/" names the vhost ""
  // (which no server has: the login is refused), and only "amqp://h:p" the
  // default "/". Both mean the default here.
  out->vhost = (info.vhost == nullptr || *info.vhost == '\0') ? "/" : info.vhost;
  return Status::OK();
}

}  // namespace dw::rabbitmq
