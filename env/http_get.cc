#include "env/http_get.h"

#include <memory>
#include <utility>

#include "broker/http_transport.h"

namespace dw::env {

Status HttpGet(const std::string& url, const std::string& target, std::chrono::milliseconds timeout,
               HttpReply* reply, const TlsFiles& tls) {
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    return Status::InvalidArgument("bad broker URL '" + url + "': want http[s]://HOST:PORT");
  }
  broker::HttpTransport::Options o;
  o.url = url;
  o.timeout = timeout;
  o.ca_file = tls.ca_file;
  o.cert_file = tls.cert_file;
  o.key_file = tls.key_file;
  o.max_idle_connections = 0;  // one request: "Connection: close", nothing pooled
  // `up` waits on this probe: an unreadable token file sends no token rather
  // than failing it; BrokerClient reports the file itself.
  o.token_file_optional = true;
  std::unique_ptr<broker::HttpTransport> transport;
  if (Status s = broker::HttpTransport::Create(o, &transport); !s.ok()) return s;
  HttpResponse r;
  Status s = transport->Exchange("GET", target, "", &r);
  // A GET changes nothing, so a connection lost before the answer is just
  // no answer, not an outcome to find out.
  if (s.code() == Status::Code::kInDoubt) return Status::Unavailable(s.message());
  if (!s.ok()) return s;
  reply->status = r.status;
  reply->body = std::move(r.body);
  return Status::OK();
}

Status HttpGet(int port, const std::string& target, std::chrono::milliseconds timeout,
               HttpReply* reply) {
  return HttpGet("http://127.0.0.1:" + std::to_string(port), target, timeout, reply);
}

}  // namespace dw::env
