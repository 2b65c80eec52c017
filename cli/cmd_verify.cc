// `dualwrite verify`: is every order in both places exactly once?
#include <iostream>

#include "cli/commands.h"
#include "workload/verify.h"

namespace dw::cli {

void AddVerifyCommands(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "verify",
      "compare the orders table with the broker's topic: missing, orphan and duplicate messages, "
      "transactions left prepared; exit 3 on any violation");
  struct Opts {
    bool json = false;
    std::string topic = "orders";
    size_t max_listed = 20;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_flag("--json", o->json, "print the report as one JSON object");
  cmd->add_option("--topic", o->topic, "the broker topic to compare (default orders)");
  cmd->add_option("--max-listed", o->max_listed, "keys named per category in the text report")
      ->check(CLI::PositiveNumber);
  cmd->callback([&g, o] {
    ResolvedEndpoints ep = ResolveEndpoints(g);
    workload::VerifyOptions vo;
    vo.dsn = ep.dsn;
    vo.broker_url = ep.broker_url;
    vo.topic = o->topic;
    workload::VerifyReport r;
    Status s = workload::Verify(vo, &r);
    if (!s.ok()) throw CliError("verify: " + s.ToString());
    if (o->json) {
      std::cout << r.ToJson().dump() << "\n";
    } else {
      std::cout << r.ToText(o->max_listed);
    }
    if (!r.ok()) throw CliError("verify found violations", 3);
  });
}

}  // namespace dw::cli
