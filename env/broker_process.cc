#include "env/broker_process.h"

#include <cstdlib>
#include <sstream>

#include "env/http_get.h"

namespace dw::env {

using std::chrono::milliseconds;

Status ReadBrokerCounters(const std::string& url, std::map<std::string, uint64_t>* out,
                          const TlsFiles& tls) {
  HttpReply r;
  Status s = HttpGet(url, "/metrics", milliseconds(3000), &r, tls);
  if (!s.ok()) return s;
  if (r.status != 200) return Status::IOError("GET /metrics answered " + std::to_string(r.status));
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#' || line.find('{') != std::string::npos) continue;
    auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    (*out)[line.substr(0, sp)] = std::strtoull(line.c_str() + sp + 1, nullptr, 10);
  }
  return Status::OK();
}

std::string BrokerUrl(int port) { return "http://127.0.0.1:" + std::to_string(port); }

bool BrokerHealthy(int port, milliseconds timeout) {
  return BrokerHealthy(BrokerUrl(port), TlsFiles{}, timeout);
}

bool BrokerHealthy(const std::string& url, const TlsFiles& tls, milliseconds timeout) {
  HttpReply reply;
  return HttpGet(url, "/healthz", timeout, &reply, tls).ok() && reply.status == 200;
}

ServerKind BrokerKind(std::string binary, std::vector<std::string> extra, TlsFiles tls) {
  ServerKind k;
  k.name = "broker";
  k.argv = [binary = std::move(binary), extra = std::move(extra)](int port,
                                                                  const std::string& dir) {
    std::vector<std::string> argv = {
        binary,       "broker", "serve", "--listen", "127.0.0.1:" + std::to_string(port),
        "--data-dir", dir};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  };
  if (!tls.ca_file.empty()) k.scheme = "https";
  k.ready = [tls = std::move(tls), scheme = k.scheme](int port) {
    return BrokerHealthy(scheme + "://127.0.0.1:" + std::to_string(port), tls, milliseconds(500));
  };
  return k;
}

BrokerProcess::BrokerProcess(std::string binary, ServerOptions opts, std::vector<std::string> extra,
                             TlsFiles tls)
    : server_(BrokerKind(std::move(binary), std::move(extra), tls), std::move(opts)),
      tls_(std::move(tls)) {}

void BrokerProcess::CarryCounters() {
  if (!carry_counters_ || !server_.Running()) return;
  std::map<std::string, uint64_t> m;
  if (!ReadBrokerCounters(server_.url(), &m, tls_).ok()) return;
  for (const auto& [k, v] : m) carried_[k] += v;
}

Status BrokerProcess::Kill() {
  CarryCounters();
  return server_.Kill();
}

Status BrokerProcess::Stop(milliseconds grace, bool* killed) {
  CarryCounters();
  return server_.Stop(grace, killed);
}

Status BrokerProcess::Restart(milliseconds grace) {
  Status s = Stop(grace);
  if (!s.ok()) return s;
  return Start();
}

Status BrokerProcess::Counter(const std::string& name, uint64_t* value) {
  std::map<std::string, uint64_t> m;
  Status s = ReadBrokerCounters(server_.url(), &m, tls_);
  if (!s.ok()) return s;
  *value = carried_[name] + m[name];
  return Status::OK();
}

}  // namespace dw::env
