// `dualwrite broker serve`: runs the broker participant server in the
// foreground until SIGTERM/SIGINT. See broker/service.h.
// Also the global --broker-ca/--broker-cert/--broker-key/--broker-token-file
// flags of every command (AddBrokerCredentialFlags). See docs/security.md.
#include <stdlib.h>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "broker/service.h"
#include "broker/tls_context.h"
#include "cli/commands.h"

namespace dw::cli {
namespace {

struct ServeFlags {
  std::string listen = "127.0.0.1:7070";
  std::string data_dir;
  std::string fsync = "batch";
  int threads = 2;
  size_t max_body = 1 << 20;
  int max_connections = 1024;
  int idle_timeout_ms = 30000;
  int read_timeout_ms = 10000;
  double latency_ms = 0;
  double jitter_ms = 0;
  double abort_prob = 0;
  std::string crash_at;
  std::string token_file;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
};

// "HOST:PORT" (HOST an IPv4 address or localhost; "[v6]:PORT" also works).
void ParseListen(const std::string& s, std::string* host, uint16_t* port) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) {
    throw CliError("--listen must be HOST:PORT, got '" + s + "'");
  }
  *host = s.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  std::string p = s.substr(colon + 1);
  unsigned v = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (ec != std::errc() || end != p.data() + p.size() || v > 65535) {
    throw CliError("--listen port must be 0..65535, got '" + p + "'");
  }
  *port = static_cast<uint16_t>(v);
}

std::string ReadToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CliError("cannot read --token-file " + path);
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) throw CliError("--token-file " + path + " is empty");
  return token;
}

void Serve(const ServeFlags& f) {
  broker::ServiceOptions o;
  ParseListen(f.listen, &o.host, &o.port);
  o.data_dir = f.data_dir;
  if (!broker::ParseFsyncPolicy(f.fsync, &o.fsync)) {
    throw CliError("--fsync must be always, batch or never");
  }
  o.threads = f.threads;
  o.http.max_body = f.max_body;
  o.http.max_connections = f.max_connections;
  o.http.idle_timeout = std::chrono::milliseconds(f.idle_timeout_ms);
  o.http.read_timeout = std::chrono::milliseconds(f.read_timeout_ms);
  o.http.write_timeout = std::chrono::milliseconds(f.read_timeout_ms);
  o.faults.latency_ms = f.latency_ms;
  o.faults.jitter_ms = f.jitter_ms;
  o.faults.abort_prob = f.abort_prob;
  if (!broker::ParseCrashPoint(f.crash_at, &o.faults.crash_at)) {
    throw CliError("--crash-at must be after-stage-before-vote or after-commit-before-reply");
  }
  if (!f.token_file.empty()) o.token = ReadToken(f.token_file);
  if (!f.tls_key.empty() && f.tls_cert.empty()) throw CliError("--tls-key needs --tls-cert");
  if (!f.tls_cert.empty() && f.tls_key.empty()) throw CliError("--tls-cert needs --tls-key");
  if (!f.tls_client_ca.empty() && f.tls_cert.empty()) {
    throw CliError("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS)");
  }
  o.http.tls = {f.tls_cert, f.tls_key, f.tls_client_ca};
  if (o.http.tls.enabled()) {
    // Checked before the data dir is locked and replayed: a typo in a path
    // should cost nothing. (Bind loads them again for real.)
    std::shared_ptr<asio::ssl::context> probe;
    Status s = broker::MakeServerTlsContext(o.http.tls, &probe);
    if (!s.ok()) throw CliError("broker: " + s.message());
  }

  std::unique_ptr<broker::BrokerService> svc;
  Status s = broker::BrokerService::Open(o, &svc);
  if (!s.ok()) throw CliError("broker: " + s.ToString());
  std::cout << svc->StartupLine() << std::endl;
  if (o.http.tls.enabled()) {
    std::cout << "dualwrite broker: TLS on (https), "
              << (f.tls_client_ca.empty() ? "no client certificate asked"
                                          : "client certificates required (mutual TLS)")
              << std::endl;
  }
  s = svc->Run();
  if (!s.ok()) throw CliError("broker: " + s.ToString());
  std::cout << "dualwrite broker: stopped" << std::endl;
}

}  // namespace

void AddBrokerCommands(CLI::App& app, Globals&) {
  auto* broker = app.add_subcommand("broker", "the broker participant (an HTTP message broker)");
  broker->require_subcommand(1);
  auto* serve =
      broker->add_subcommand("serve", "run a broker in the foreground until SIGTERM/SIGINT");
  auto f = std::make_shared<ServeFlags>();
  serve->add_option("--listen", f->listen, "HOST:PORT to listen on (default 127.0.0.1:7070)");
  serve->add_option("--data-dir", f->data_dir, "folder of the broker's log (created if absent)")
      ->required();
  serve->add_option("--fsync", f->fsync, "always | batch (group commit, default) | never")
      ->check(CLI::IsMember({"always", "batch", "never"}));
  serve->add_option("--threads", f->threads, "I/O threads (default 2)")->check(CLI::Range(1, 64));
  serve->add_option("--max-body", f->max_body, "largest request body in bytes (default 1 MiB)")
      ->check(CLI::Range(size_t{1}, size_t{32} << 20));
  serve
      ->add_option("--max-connections", f->max_connections,
                   "open connections beyond this are closed at accept (default 1024)")
      ->check(CLI::Range(1, 1 << 20));
  serve
      ->add_option("--idle-timeout-ms", f->idle_timeout_ms,
                   "close a keep-alive connection idle this long (default 30000)")
      ->check(CLI::Range(1, 3600000));
  serve
      ->add_option("--read-timeout-ms", f->read_timeout_ms,
                   "time to read a whole request, and to write a response (default 10000)")
      ->check(CLI::Range(1, 3600000));
  serve->add_option("--latency-ms", f->latency_ms, "fault: latency added to each request")
      ->check(CLI::Range(0.0, 3600e3));
  serve->add_option("--jitter-ms", f->jitter_ms, "fault: extra uniform random latency [0, X]")
      ->check(CLI::Range(0.0, 3600e3));
  serve->add_option("--abort-prob", f->abort_prob, "fault: probability a prepare votes abort")
      ->check(CLI::Range(0.0, 1.0));
  serve->add_option("--crash-at", f->crash_at,
                    "fault: after-stage-before-vote | after-commit-before-reply");
  serve->add_option("--token-file", f->token_file,
                    "file holding a bearer token every request but /healthz must carry");
  serve->add_option("--tls-cert", f->tls_cert,
                    "PEM certificate (chain) to serve HTTPS with (needs --tls-key)");
  serve->add_option("--tls-key", f->tls_key, "PEM private key of --tls-cert");
  serve->add_option("--tls-client-ca", f->tls_client_ca,
                    "PEM CA: require a client certificate signed by it (mutual TLS)");
  serve->callback([f] { Serve(*f); });
}

void AddBrokerCredentialFlags(CLI::App& app, Globals& g) {
  // Each flag exports its variable as soon as it is parsed, i.e. before any
  // command callback runs: BrokerClient::Create reads the variables, and
  // child processes (the runs compare and chaos start) inherit
  // them. Paths are made absolute first, because children may run
  // elsewhere (e.g. the broker daemon in its data dir).
  auto flag = [&app](const char* name, std::string* field, const char* var, const char* help) {
    app.add_option(name, *field, help)
        ->check(CLI::ExistingFile)
        ->trigger_on_parse()
        ->each([var, field](const std::string& v) {
          std::error_code ec;
          std::string abs = std::filesystem::absolute(v, ec).string();
          *field = ec ? v : abs;
          ::setenv(var, field->c_str(), 1);
        });
  };
  flag("--broker-ca", &g.broker_ca, "DUALWRITE_BROKER_CA",
       "PEM CA that an https:// broker's certificate must chain to (sets $DUALWRITE_BROKER_CA)");
  flag("--broker-cert", &g.broker_cert, "DUALWRITE_BROKER_CERT",
       "PEM client certificate for a broker that requires one (sets $DUALWRITE_BROKER_CERT)");
  flag("--broker-key", &g.broker_key, "DUALWRITE_BROKER_KEY",
       "PEM private key of --broker-cert (sets $DUALWRITE_BROKER_KEY)");
  flag("--broker-token-file", &g.broker_token_file, "DUALWRITE_BROKER_TOKEN_FILE",
       "file whose first line is the broker's bearer token (sets $DUALWRITE_BROKER_TOKEN_FILE)");
}

}  // namespace dw::cli
