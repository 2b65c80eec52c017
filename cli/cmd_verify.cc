// `dualwrite verify`: is every order in both places exactly once?
#include <iostream>

#include "cli/commands.h"
#include "env/environment.h"
#include "jetstream/url.h"
#include "rabbitmq/url.h"
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
    std::string sink = "dualwrite";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_flag("--json", o->json, "print the report as one JSON object");
  cmd->add_option("--topic", o->topic, "the broker topic to compare (default orders)");
  cmd->add_option("--max-listed", o->max_listed, "keys named per category in the text report")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--sink", o->sink,
                  "where the messages are: dualwrite (the broker, default), nats (the state "
                  "folder's nats-server), a nats://HOST:PORT URL, rabbitmq (the state "
                  "folder's rabbitmq-server) or an amqp:// URL; with nats the topic's "
                  "JetStream stream is read back by sequence, with rabbitmq its quorum queue "
                  "is consumed without acks and so left as it was");
  cmd->callback([&g, o] {
    jetstream::SinkChoice sink;
    std::string amqp_given;
    const bool rabbit = rabbitmq::IsRabbitmqSink(o->sink, &amqp_given);
    if (!rabbit) Check(jetstream::ParseSink(o->sink, &sink));
    if (rabbit && !amqp_given.empty()) {
      rabbitmq::AmqpAddress a;
      Check(rabbitmq::ParseAmqpUrl(amqp_given, &a));
    }
    workload::VerifyOptions vo;
    if (sink.nats || rabbit) {
      // JetStream or RabbitMQ holds the messages: the broker is neither
      // needed nor started.
      env::Endpoints ep{g.dsn, ""};
      if (ep.dsn.empty()) {
        env::UpOptions uo;
        uo.broker = false;
        uo.report_running = false;
        Check(env::Environment(g.state_dir).Up(uo, &ep, &std::cerr));
      }
      vo.dsn = ep.dsn;
      if (rabbit) {
        Check(env::ResolveRabbitmq(g.state_dir, amqp_given, &vo.amqp_url, &std::cerr));
      } else {
        Check(env::ResolveNats(g.state_dir, sink.nats_url, &vo.nats_url, &std::cerr));
      }
    } else {
      ResolvedEndpoints ep = ResolveEndpoints(g);
      vo.dsn = ep.dsn;
      vo.broker_url = ep.broker_url;
    }
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
