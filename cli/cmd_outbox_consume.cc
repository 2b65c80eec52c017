// `dualwrite outbox consume --sink rabbitmq|amqp://...`: the consumer side
// of the outbox against RabbitMQ, with the inbox of outbox/inbox.h (or
// without it, --no-inbox, to show what duplicates do to the consumer's work).
#include <iostream>

#include "cli/commands.h"
#include "env/environment.h"
#include "outbox/inbox.h"
#include "rabbitmq/url.h"

namespace dw::cli {

void AddConsume(CLI::App* group, Globals& g) {
  auto* cmd = group->add_subcommand(
      "consume",
      "consume the topic's RabbitMQ queue into this database, each message in one transaction "
      "with its id checked in the inbox table (a redelivery is absorbed), acked after COMMIT");
  struct Opts {
    std::string sink = "rabbitmq";
    std::string topic = "orders";
    bool no_inbox = false;
    int64_t idle_ms = 2000;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--sink", o->sink,
                  "rabbitmq (the state folder's rabbitmq-server, started if needed, default) or "
                  "an amqp://USER:PASS@HOST:PORT/VHOST URL");
  cmd->add_option("--topic", o->topic, "the queue to consume (default orders)");
  cmd->add_flag("--no-inbox", o->no_inbox,
                "do the work for every delivery, duplicates included (consumer_orders.events "
                "then counts an event twice)");
  cmd->add_option("--idle-ms", o->idle_ms,
                  "return after this long without a message (default 2000)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", o->json, "print the report as one JSON object");
  cmd->callback([&g, o] {
    std::string given;
    if (!rabbitmq::IsRabbitmqSink(o->sink, &given)) {
      throw CliError("--sink '" + o->sink + "': want rabbitmq or an amqp:// URL");
    }
    if (!given.empty()) {
      rabbitmq::AmqpAddress a;
      Check(rabbitmq::ParseAmqpUrl(given, &a));
    }
    outbox::InboxOptions io;
    io.dsn = g.dsn;
    if (io.dsn.empty()) {
      // Postgres only: the consumer has no use for dualwrite's broker.
      env::UpOptions uo;
      uo.broker = false;
      uo.report_running = false;
      env::Endpoints ep;
      Check(env::Environment(g.state_dir).Up(uo, &ep, &std::cerr));
      io.dsn = ep.dsn;
    }
    Check(env::ResolveRabbitmq(g.state_dir, given, &io.amqp_url, &std::cerr));
    io.topic = o->topic;
    io.inbox = !o->no_inbox;
    io.idle = std::chrono::milliseconds(o->idle_ms);
    outbox::InboxReport r;
    Status s = outbox::ConsumeWithInbox(io, &r);
    if (o->json) {
      std::cout << r.ToJson().dump() << "\n";
    } else {
      std::cout << r.ToText() << "\n";
    }
    if (!s.ok()) throw CliError("consume: " + s.ToString());
  });
}

}  // namespace dw::cli
