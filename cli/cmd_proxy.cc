// `dualwrite proxy`: the fault proxy (proxy/proxy.h) in the foreground until
// SIGTERM/SIGINT. Faults come from --faults-file at start, from the control
// endpoint (--control) at run time, and from the faults file again on SIGHUP.
#include <pthread.h>
#include <signal.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "proxy/proxy.h"

namespace dw::cli {
namespace {

struct ProxyFlags {
  std::string listen;
  std::string upstream;
  std::string control;
  std::string faults_file;
  int threads = 2;
};

proxy::HostPort Parse(const std::string& s, const std::string& what) {
  proxy::HostPort hp;
  Status st = proxy::ParseHostPort(s, "127.0.0.1", what, &hp);
  if (!st.ok()) throw CliError(st.message());
  return hp;
}

// The whole file, as faults on top of the defaults: a faults file states
// every fault in force (what it does not name is off), unlike a POST.
proxy::ProxyFaults ReadFaultsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CliError("cannot read --faults-file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  proxy::ProxyFaults f;
  Status s = proxy::MergeFaultsJson(ss.str(), &f);
  if (!s.ok()) throw CliError("--faults-file " + path + ": " + s.message());
  return f;
}

void Run(const ProxyFlags& flags) {
  proxy::ProxyOptions o;
  o.listen = Parse(flags.listen, "--listen");
  o.upstream = Parse(flags.upstream, "--upstream");
  if (o.upstream.port == 0) throw CliError("--upstream port must be 1..65535");
  if (!flags.control.empty()) o.control = Parse(flags.control, "--control");
  o.threads = flags.threads;
  if (!flags.faults_file.empty()) o.faults = ReadFaultsFile(flags.faults_file);

  // Signals are taken synchronously by this thread (sigwait): blocked before
  // the proxy's threads exist, so they inherit the mask and never see them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a vanished peer is an error code, not a death

  std::unique_ptr<proxy::Proxy> p;
  Status s = proxy::Proxy::Start(o, &p);
  if (!s.ok()) throw CliError("proxy: " + s.message());
  std::cout << p->StartupLine() << std::endl;

  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig != SIGHUP) break;
    if (flags.faults_file.empty()) {
      std::cerr << "dualwrite proxy: SIGHUP ignored: no --faults-file" << std::endl;
      continue;
    }
    try {
      s = p->SetFaults(ReadFaultsFile(flags.faults_file));
      if (!s.ok()) throw CliError(s.message());
      std::cout << "dualwrite proxy: faults now " << proxy::FaultsToJson(p->faults()) << std::endl;
    } catch (const std::exception& e) {
      // A bad edit of the file must not take the proxy down mid-experiment.
      std::cerr << "dualwrite proxy: faults file not applied: " << e.what() << std::endl;
    }
  }
  p->Stop();
  std::cout << "dualwrite proxy: stopped" << std::endl;
}

}  // namespace

void AddProxyCommands(CLI::App& app, Globals&) {
  auto* cmd = app.add_subcommand(
      "proxy", "a TCP fault proxy (latency, bandwidth, blackhole, reset, refuse) until SIGTERM");
  auto f = std::make_shared<ProxyFlags>();
  cmd->add_option("--listen", f->listen, "[HOST:]PORT to listen on (host default 127.0.0.1)")
      ->required();
  cmd->add_option("--upstream", f->upstream, "HOST:PORT to forward every connection to")
      ->required();
  cmd->add_option("--control", f->control,
                  "[HOST:]PORT of the HTTP control endpoint (GET|POST /faults, GET /stats)");
  cmd->add_option("--faults-file", f->faults_file,
                  "JSON faults in force at start, re-read on SIGHUP (see proxy/faults.h)");
  cmd->add_option("--threads", f->threads, "I/O threads (default 2)")->check(CLI::Range(1, 64));
  cmd->callback([f] { Run(*f); });
}

}  // namespace dw::cli
