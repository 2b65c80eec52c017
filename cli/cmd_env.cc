// `dualwrite up | down | env`: the embedded environment (env/environment.h).
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/pgq_setup.h"
#include "env/environment.h"

namespace dw::cli {
namespace {

std::string Seconds(double s) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(1) << s << " s";
  return o.str();
}

// The human form of Describe. Keys of sections this file does not know
// (added by later subsystems' probes) are printed as compact JSON, so a new
// probe shows up here without a change.
void PrintHuman(const nlohmann::json& j, std::ostream& out) {
  const auto& pg = j["postgres"];
  const auto& br = j["broker"];
  out << "state dir    " << j["state_dir"].get<std::string>() << "\n";
  out << "running      " << (j["running"].get<bool>() ? "yes" : "no") << "\n";
  out << "postgres     ";
  if (pg["running"].get<bool>()) {
    out << "running, pid " << pg["pid"] << ", 127.0.0.1:" << pg["port"];
    if (pg.contains("os_user")) out << ", OS user " << pg["os_user"].get<std::string>();
    out << "\n";
  } else {
    out << (pg["created"].get<bool>() ? "stopped" : "not created") << "\n";
  }
  out << "broker       ";
  if (br["running"].get<bool>()) {
    out << "running, pid " << br["pid"] << ", " << br["url"].get<std::string>() << "\n";
  } else {
    out << "stopped\n";
  }
  if (j.contains("nats")) {
    const auto& nats = j["nats"];
    out << "nats-server  ";
    if (nats["running"].get<bool>()) {
      out << "running, pid " << nats["pid"] << ", " << nats["url"].get<std::string>()
          << ", JetStream store " << nats["store"].get<std::string>() << "\n";
    } else {
      out << "stopped"
          << (nats["port"].get<int>() > 0 ? ", last on " + nats["url"].get<std::string>()
                                          : std::string())
          << "\n";
    }
  }
  if (j.contains("rabbitmq")) {
    const auto& rmq = j["rabbitmq"];
    out << "rabbitmq     ";
    if (rmq["running"].get<bool>()) {
      out << "running, pid " << rmq["pid"] << ", " << rmq["url"].get<std::string>() << ", node "
          << rmq["node"].get<std::string>() << ", data " << rmq["data"].get<std::string>() << "\n";
    } else {
      out << "stopped"
          << (rmq["port"].get<int>() > 0 ? ", last on " + rmq["url"].get<std::string>()
                                         : std::string())
          << "\n";
    }
  }
  std::string dsn = j["dsn"].get<std::string>();
  if (!dsn.empty()) {
    out << "dsn          " << dsn << "\n";
    if (pg.contains("unix_socket")) {
      out << "unix socket  " << pg["unix_socket"].get<std::string>() << "\n";
    }
    out << "psql         psql '" << dsn << "'\n";
  }
  if (!j["broker_url"].get<std::string>().empty()) {
    out << "broker url   " << j["broker_url"].get<std::string>() << "\n";
  }
  if (j.value("probed", "embedded") == "given") {
    out << "probed       the given --dsn / --broker (sections below), not the embedded ones\n";
  }
  out << "data         " << pg["data_dir"].get<std::string>() << ", "
      << br["data_dir"].get<std::string>() << "\n";
  out << "logs         " << pg["log"].get<std::string>() << ", " << br["log"].get<std::string>()
      << "\n";

  // Sections: the environment's own first, then the others (JSON objects
  // iterate in key order).
  std::vector<std::string> keys = {"prepared_transactions", "broker_prepared"};
  static const std::set<std::string> kSummarised = {
      "state_dir", "running", "dsn",    "broker_url", "postgres_pid", "broker_pid",
      "postgres",  "broker",  "probed", "nats",       "rabbitmq"};
  for (const auto& [key, value] : j.items()) {
    if (!kSummarised.count(key) && key != keys[0] && key != keys[1]) keys.push_back(key);
  }
  for (const auto& key : keys) {
    if (!j.contains(key)) continue;
    const auto& value = j[key];
    if (value.is_object() && value.contains("error")) {
      out << key << ": " << value["error"].get<std::string>() << "\n";
    } else if (key == "prepared_transactions") {
      out << "prepared transactions (postgres): " << value["count"];
      if (value["count"].get<int64_t>() > 0) {
        out << ", oldest " << Seconds(value["oldest_age_s"].get<double>());
      }
      out << "\n";
      for (const auto& item : value["items"]) {
        out << "  " << item["gid"].get<std::string>() << "  "
            << Seconds(item["age_s"].get<double>()) << "  db "
            << item["database"].get<std::string>() << "\n";
      }
    } else if (key == "broker_prepared") {
      out << "prepared transactions (broker): " << value["count"];
      if (value["count"].get<int64_t>() > 0) {
        out << ", oldest " << Seconds(value["oldest_age_s"].get<double>());
      }
      out << "\n";
      for (const auto& gid : value["gids"]) out << "  " << gid.get<std::string>() << "\n";
    } else {
      out << key << ": " << value.dump() << "\n";
    }
  }
}

}  // namespace

void AddEnvCommands(CLI::App& app, Globals& g) {
  CLI::App* up = app.add_subcommand(
      "up", "create (first time) and start the embedded Postgres cluster and broker");
  static bool up_pgq = false;
  up->add_flag("--pgq", up_pgq,
               "also create PgQ's extension, queue and consumer in database dualwrite and start "
               "pgqd (`outbox write --queue pgq` and `outbox relay --strategy pgq` do it when "
               "needed)");
  static std::vector<std::string> up_sinks;
  up->add_option("--sinks", up_sinks,
                 "also start these real brokers in the state folder: nats (nats-server with "
                 "JetStream, for `outbox relay --sink nats`), rabbitmq (rabbitmq-server with "
                 "its own epmd)")
      ->delimiter(',')
      ->check(CLI::IsMember({"nats", "rabbitmq"}));
  up->callback([&g] {
    env::Environment e(g.state_dir);
    env::Endpoints ep;
    env::UpOptions uo;
    for (const auto& sink : up_sinks) {
      uo.nats = uo.nats || sink == "nats";
      uo.rabbitmq = uo.rabbitmq || sink == "rabbitmq";
    }
    Check(e.Up(uo, &ep, &std::cout));
    if (up_pgq) {
      outbox::PgqTickerSettings ticker;
      EnsurePgq(g, ep.dsn, &ticker, /*pgqd=*/true, std::cout);
    }
    nlohmann::json j;
    Check(e.Describe(&j));
    std::cout << "\n";
    PrintHuman(j, std::cout);
  });

  // Option storage must outlive parsing: AddEnvCommands runs once per process.
  static bool purge = false;
  static bool as_json = false;

  CLI::App* down = app.add_subcommand("down", "stop the embedded broker and Postgres cluster");
  down->add_flag("--purge", purge, "also delete the state folder (cluster data, broker log)");
  down->callback([&g] {
    env::Environment e(g.state_dir);
    Check(e.Down(purge, &std::cout));
  });

  CLI::App* envc = app.add_subcommand(
      "env", "show the embedded environment: pids, DSN, broker URL, in-doubt transactions");
  envc->add_flag("--json", as_json, "print JSON (keys: see env/environment.h)");
  envc->callback([&g] {
    env::Environment e(g.state_dir);
    nlohmann::json j;
    Check(e.Describe(&j, env::Endpoints{g.dsn, g.broker}));
    if (as_json) {
      std::cout << j.dump(2) << "\n";
    } else {
      PrintHuman(j, std::cout);
    }
  });
}

}  // namespace dw::cli
