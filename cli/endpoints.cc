#include <iostream>

#include "cli/commands.h"
#include "env/environment.h"

namespace dw::cli {

ResolvedEndpoints ResolveEndpoints(const Globals& g) {
  env::Endpoints ep;
  Status s = env::Resolve(g.state_dir, g.dsn, g.broker, &ep, &std::cerr);
  if (!s.ok()) throw CliError(s.ToString());
  return {ep.dsn, ep.broker_url};
}

}  // namespace dw::cli
