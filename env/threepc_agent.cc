#include "env/threepc_agent.h"

#include <vector>

#include "env/http_get.h"

namespace dw::env {

ServerKind ThreePcAgentKind(ThreePcAgentSpec spec) {
  ServerKind k;
  k.name = "3pc-agent-" + std::to_string(spec.id);
  k.argv = [spec](int port, const std::string&) {
    std::vector<std::string> argv = {spec.binary};
    if (!spec.dsn.empty()) argv.insert(argv.end(), {"--dsn", spec.dsn});
    if (!spec.broker_url.empty()) argv.insert(argv.end(), {"--broker", spec.broker_url});
    argv.insert(argv.end(),
                {"3pc", "agent", "--participant", spec.participant, "--id", std::to_string(spec.id),
                 "--listen", "127.0.0.1:" + std::to_string(port), "--timeout",
                 std::to_string(spec.timeout_ms)});
    if (!spec.peers.empty()) argv.insert(argv.end(), {"--peers", spec.peers});
    if (spec.parent_pid > 0) {
      argv.insert(argv.end(), {"--parent-pid", std::to_string(spec.parent_pid)});
    }
    return argv;
  };
  k.ready = [](int port) {
    HttpReply r;
    return HttpGet(port, "/healthz", std::chrono::milliseconds(500), &r).ok() && r.status == 200;
  };
  return k;
}

}  // namespace dw::env
