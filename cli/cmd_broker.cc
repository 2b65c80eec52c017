// `dualwrite broker serve`: runs the broker participant server in the
// foreground until SIGTERM/SIGINT. See participants/broker/service.h.
#include <charconv>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "participants/broker/service.h"

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

  std::unique_ptr<broker::BrokerService> svc;
  Status s = broker::BrokerService::Open(o, &svc);
  if (!s.ok()) throw CliError("broker: " + s.ToString());
  std::cout << svc->StartupLine() << std::endl;
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
  serve->callback([f] { Serve(*f); });
}

}  // namespace dw::cli
