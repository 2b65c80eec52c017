// `dualwrite 3pc agent | run`: three-phase commit with its participants as
// agents, processes of their own (threepc/agent.h) that finish a
// transaction without the coordinator.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/load_flags.h"
#include "common/crash_exit.h"
#include "common/process.h"
#include "coordinator/gid.h"
#include "coordinator/order_work.h"
#include "env/server_process.h"
#include "env/threepc_agent.h"
#include "participants/broker_client.h"
#include "participants/broker_participant.h"
#include "participants/pg_pool.h"
#include "participants/postgres_participant.h"
#include "proxy/control.h"
#include "proxy/host_port.h"
#include "threepc/agent.h"
#include "threepc/agent_client.h"
#include "threepc/coordinator.h"
#include "threepc/crash_points.h"
#include "threepc/participant_state.h"
#include "workload/load_runner.h"
#include "workload/order_events.h"
#include "workload/orders.h"
#include "workload/stock.h"

namespace dw::cli {
namespace {

using std::chrono::milliseconds;

// Requests block on Postgres or the broker while they run: enough threads
// for a coordinator's workers (compare's failure cells run 64) plus the
// termination traffic between agents.
constexpr int kAgentThreads = 96;
// The Postgres agent's connections, opened as needed: more than the
// coordinator's workers. A CanCommit waiting on a row lock holds its
// connection until the transaction holding the lock, prepared, gets its
// DoCommit; with fewer connections than workers, the waiters (hot rows,
// --hot-rows) could take them all and leave no connection to run that
// COMMIT PREPARED, stalling the agent until statement_timeout.
constexpr int kPostgresAgentConnections = 80;

// An agent's peer calls wait for a whole termination at the peer (which
// may itself wait for a silent peer): longer than one timeout.
milliseconds PeerTimeout(int64_t timeout_ms) { return milliseconds(2 * timeout_ms + 1000); }

void AddAgent(CLI::App* group, Globals& g) {
  auto* cmd = group->add_subcommand(
      "agent",
      "serve one participant's side of three-phase commit over HTTP; finishes a transaction "
      "whose coordinator went silent with the other agents (termination protocol)");
  struct Opts {
    std::string participant;
    int id = 0;
    std::string listen;
    std::string peers;
    int64_t timeout_ms = 2000;
    int64_t parent_pid = 0;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--participant", o->participant, "postgres (--dsn) or broker (--broker)")
      ->required()
      ->check(CLI::IsMember({"postgres", "broker"}));
  cmd->add_option("--id", o->id,
                  "this agent's id, 1..1000 (the lowest reachable one leads a "
                  "termination)")
      ->required()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--listen", o->listen, "HOST:PORT to serve on (127.0.0.1:PORT)")->required();
  cmd->add_option("--peers", o->peers,
                  "the other agents: id=host:port,... (through the fault proxy in experiments)");
  cmd->add_option("--timeout", o->timeout_ms,
                  "ms without a word from the coordinator before an undecided transaction is "
                  "terminated (default 2000)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--parent-pid", o->parent_pid,
                  "exit once this process is gone and nothing is undecided here (`3pc run` "
                  "starts its agents with it)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([&g, o] {
    std::map<int, std::string> peers;
    if (!o->peers.empty()) Check(threepc::ParseAgentList(o->peers, "--peers", &peers));
    if (peers.count(o->id)) {
      throw CliError("--peers: names this agent's own id " + std::to_string(o->id));
    }
    proxy::HostPort hp;
    Check(proxy::ParseHostPort(o->listen, "127.0.0.1", "--listen", &hp));
    beast::error_code ec;
    const auto addr = asio::ip::make_address(hp.host, ec);
    if (ec) throw CliError("--listen: not an IP address: '" + hp.host + "'");

    std::shared_ptr<Participant> participant;
    std::unique_ptr<threepc::ParticipantState> state;
    if (o->participant == "postgres") {
      const std::string dsn = g.dsn.empty() ? ResolveEndpoints(g).dsn : g.dsn;
      Check(threepc::EnsurePgStateSchema(dsn));
      PgPool::Options po;
      po.dsn = dsn;
      po.max_connections = kPostgresAgentConnections;
      po.application_name = "dualwrite-3pc-agent";
      std::shared_ptr<PgPool> pool;
      Check(PgPool::Create(po, &pool));
      std::unique_ptr<PostgresParticipant> p;
      Check(PostgresParticipant::Create(pool, {}, &p));
      participant = std::move(p);
      state = std::make_unique<threepc::PgParticipantState>(pool);
    } else {
      BrokerClient::Options bo;
      bo.url = g.broker.empty() ? ResolveEndpoints(g).broker_url : g.broker;
      std::unique_ptr<BrokerClient> c;
      Check(BrokerClient::Create(bo, &c));
      std::shared_ptr<BrokerClient> client(std::move(c));
      participant = std::make_shared<BrokerParticipant>(client);
      state = std::make_unique<threepc::BrokerParticipantState>(client);
    }
    std::unique_ptr<threepc::HttpPeerLink> link;
    Check(threepc::HttpPeerLink::Create(peers, PeerTimeout(o->timeout_ms), &link));
    threepc::AgentOptions ao;
    ao.id = o->id;
    ao.participant_kind = o->participant;
    for (const auto& p : peers) ao.peers.push_back(p.first);
    ao.timeout = milliseconds(o->timeout_ms);
    threepc::Agent agent(participant.get(), state.get(), link.get(), ao, &std::cerr);
    // Before serving: what a previous incarnation left undecided is timed from now.
    Check(agent.Adopt());

    asio::io_context ioc;
    proxy::ControlServer server(
        ioc, [&agent](const std::string& m, const std::string& t, const std::string& b) {
          threepc::AgentReply r = agent.Handle(m, t, b);
          return proxy::ControlReply{r.status, std::move(r.body), std::move(r.allow)};
        });
    Check(server.Start(tcp::endpoint(addr, hp.port)));
    std::cout << "3pc agent " << o->id << " (" << o->participant << ") listening on "
              << server.endpoint().address().to_string() << ":" << server.endpoint().port() << ", "
              << agent.undecided() << " undecided" << std::endl;
    std::vector<std::thread> threads;
    for (int i = 0; i < kAgentThreads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
    const milliseconds period =
        std::clamp(milliseconds(o->timeout_ms / 4), milliseconds(10), milliseconds(250));
    for (;;) {
      std::this_thread::sleep_for(period);
      agent.Tick();
      // Re-parented: the process that started us is gone.
      if (o->parent_pid > 0 && getppid() != static_cast<pid_t>(o->parent_pid) &&
          agent.undecided() == 0) {
        break;
      }
    }
    server.Stop();
    ioc.stop();
    for (auto& t : threads) t.join();
  });
}

// The embedded default of `3pc run`: a Postgres agent (id 1) and a broker
// agent (id 2), children of this process on free loopback ports, each the
// other's peer.
void StartAgents(const Globals& g, const ResolvedEndpoints& ep, int64_t timeout_ms,
                 std::map<int, std::string>* agents, std::vector<env::ServerProcess>* started) {
  const std::string binary = SelfExe();
  const std::map<int, std::string> kinds = {{1, "postgres"}, {2, "broker"}};
  std::map<int, int> ports;
  for (const auto& k : kinds) ports[k.first] = FreeTcpPort();
  for (const auto& [id, kind] : kinds) {
    std::string peers;
    for (const auto& [other, port] : ports) {
      if (other == id) continue;
      if (!peers.empty()) peers += ",";
      peers += std::to_string(other) + "=127.0.0.1:" + std::to_string(port);
    }
    env::ThreePcAgentSpec spec;
    spec.binary = binary;
    spec.participant = kind;
    spec.id = id;
    spec.peers = peers;
    spec.timeout_ms = timeout_ms;
    spec.dsn = ep.dsn;
    spec.broker_url = ep.broker_url;
    spec.parent_pid = getpid();
    env::ServerOptions so;
    so.data_dir = std::filesystem::absolute(g.state_dir + "/3pc/agent-" + std::to_string(id))
                      .lexically_normal()
                      .string();
    so.port = ports[id];
    so.start_attempts = 3;
    started->emplace_back(env::ThreePcAgentKind(spec), so);
    Check(started->back().Start());
    (*agents)[id] = started->back().url();
  }
}

struct Members {
  std::vector<std::unique_ptr<threepc::AgentParticipant>> participants;
  std::vector<std::unique_ptr<threepc::AgentParticipantState>> states;
  std::vector<std::shared_ptr<threepc::AgentClient>> clients;
  nlohmann::json names = nlohmann::json::array();
};

// One member per agent, in id order; each says what it serves.
void BuildAgentMembers(const std::map<int, std::string>& agents, milliseconds timeout,
                       Members* out) {
  bool postgres = false, broker = false;
  for (const auto& [id, url] : agents) {
    std::unique_ptr<threepc::AgentClient> c;
    Check(threepc::AgentClient::Create(url, timeout, &c));
    std::shared_ptr<threepc::AgentClient> client(std::move(c));
    std::string kind;
    int64_t undecided = 0;
    Status s = client->Health(&kind, &undecided);
    if (!s.ok()) throw CliError("agent " + std::to_string(id) + ": " + s.ToString());
    postgres |= kind == "postgres";
    broker |= kind == "broker";
    const std::string name = "agent " + std::to_string(id) + " (" + kind + ")";
    out->participants.push_back(std::make_unique<threepc::AgentParticipant>(client, name));
    out->states.push_back(std::make_unique<threepc::AgentParticipantState>(client));
    out->clients.push_back(client);
    out->names.push_back(name);
  }
  if (!postgres || !broker) {
    throw CliError(
        "--agents: want a postgres agent and a broker agent (their /healthz says which)");
  }
}

// Undecided transactions left at the agents, after waiting up to `wait` for
// their terminations (-1: an agent did not answer).
int64_t WaitUndecided(const Members& m, milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    int64_t total = 0;
    for (const auto& c : m.clients) {
      int64_t n = 0;
      if (!c->Health(nullptr, &n).ok()) return -1;
      total += n;
    }
    if (total == 0 || std::chrono::steady_clock::now() >= deadline) return total;
    std::this_thread::sleep_for(milliseconds(50));
  }
}

void AddRun(CLI::App* group, Globals& g) {
  auto* cmd = group->add_subcommand(
      "run",
      "place orders with three-phase commit (CanCommit, PreCommit, DoCommit) through a Postgres "
      "agent and a broker agent; the coordinator logs nothing");
  struct Opts {
    LoadFlags load;
    std::string agents;
    std::string coordinator_id = "c1";
    std::string crash_at;
    int64_t crash_after = 0;
    int64_t timeout_ms = 5000;
    int64_t agent_timeout_ms = 2000;
    uint64_t seed = 1;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  o->load.Add(cmd);
  cmd->add_option("--agents", o->agents,
                  "the participant agents, id=URL,... (`3pc agent`); default: start a Postgres "
                  "agent (id 1) and a broker agent (id 2) here and stop them at the end");
  cmd->add_option("--coordinator-id", o->coordinator_id,
                  "gids are dw3:<id>:<order id>, and dw3:<id>:<order id>-<n> for event n >= 2 of "
                  "--events-per-order (default c1)");
  cmd->add_option("--crash-at", o->crash_at,
                  "die abruptly (_exit " + std::to_string(kCrashExitCode) + ") at " +
                      threepc::StepNames() + "; the agents finish without it");
  cmd->add_option("--crash-after", o->crash_after,
                  "arm --crash-at only after this many transactions finished (default 0)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--timeout-ms", o->timeout_ms,
                  "deadline of every call to an agent (default 5000)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--agent-timeout", o->agent_timeout_ms,
                  "the started agents' --timeout: ms of coordinator silence before they "
                  "terminate a transaction (default 2000)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o->seed, "seed of the generated orders (default 1)");
  cmd->add_flag("--json", o->json, "print the result as one JSON object");

  cmd->callback([&g, o, cmd] {
    std::optional<threepc::Step> crash;
    if (!o->crash_at.empty()) {
      crash = threepc::ParseStep(o->crash_at);
      if (!crash) throw CliError("--crash-at: want one of " + threepc::StepNames());
    }
    if (!crash && cmd->count("--crash-after") > 0) {
      throw CliError("--crash-after: arms --crash-at, which is not given");
    }
    if (!coord::ValidCoordinatorId(o->coordinator_id)) {
      throw CliError("invalid --coordinator-id '" + o->coordinator_id +
                     "': want [A-Za-z0-9_-]{1,64}");
    }
    std::map<int, std::string> agents;
    if (!o->agents.empty()) Check(threepc::ParseAgentList(o->agents, "--agents", &agents));
    o->load.Validate();
    // The coordinator itself needs Postgres only (schema, order ids); the
    // broker's URL goes to the agents it starts.
    ResolvedEndpoints ep;
    if (!g.dsn.empty() && (!agents.empty() || !g.broker.empty())) {
      ep = {g.dsn, g.broker};
    } else {
      ep = ResolveEndpoints(g);
    }
    Check(workload::EnsureOrdersSchema(ep.dsn));
    Check(workload::EnsureStockTable(ep.dsn, workload::CurrentHotRows().rows));
    const int events = o->load.events_per_order;
    if (events > 1) Check(workload::EnsureOrderVersionColumns(ep.dsn));

    std::vector<env::ServerProcess> started;
    if (agents.empty()) StartAgents(g, ep, o->agent_timeout_ms, &agents, &started);
    Members members;
    BuildAgentMembers(agents, milliseconds(o->timeout_ms), &members);

    const threepc::Coordinator coordinator(crash, o->crash_after);
    coord::Topology topo;  // one Postgres database (member 0) and the broker (member 1)
    topo.shards = {0};
    topo.broker = 1;
    topo.members = 2;
    workload::OrderIdAllocator ids(ep.dsn);
    // One 3PC transaction: every agent gets the whole work and takes its part.
    auto execute = [&](const std::string& gid, const Work& w) {
      std::vector<threepc::Member> m;
      for (size_t k = 0; k < members.participants.size(); ++k) {
        m.push_back({members.participants[k].get(), members.states[k].get(), gid, w});
      }
      return coordinator.Execute(gid, m);
    };
    std::atomic<uint64_t> later_events_failed{0};
    FirstErrors first_errors;
    workload::LoadSummary sum;
    Check(workload::RunLoad(
        o->load.ToOptions("3pc"),
        [&](int, int64_t i, int64_t* key) {
          int64_t id = 0;
          Status s = ids.Next(&id);
          if (!s.ok()) {
            first_errors.Add("order id: " + s.ToString());
            return workload::Outcome::kAborted;  // nothing was sent anywhere
          }
          *key = id;
          const std::vector<Work> works =
              coord::PlaceOrderWork(workload::MakeOrder(id, i, o->seed), topo);
          Work w;
          w.statements = works[0].statements;
          w.messages = works[1].messages;
          const std::string gid = "dw3:" + o->coordinator_id + ":" + std::to_string(id);
          s = execute(gid, w);
          // Events 2..E, each its own transaction once the previous one
          // committed at every agent. An UPDATE that does not find the order
          // at version n-1 votes no, so its event is never published; the
          // first event not committed ends the order's chain.
          if (s.ok()) {
            s = workload::RunFollowUpEvents(events, [&](int n) {
              Work e;
              e.statements = {workload::AdvanceOrderStatement(id, n)};
              e.messages = {workload::OrderEventMessage(id, n)};
              Status st = execute(gid + "-" + std::to_string(n), e);
              if (!st.ok()) later_events_failed.fetch_add(1);
              return st;
            });
          }
          if (s.ok()) return workload::Outcome::kCommitted;
          first_errors.Add(s.ToString());
          return s.IsAborted() ? workload::Outcome::kAborted : workload::Outcome::kFailed;
        },
        &sum));

    // A transaction left undecided (an unanswered PreCommit or DoCommit) is
    // the agents' to finish: wait for them before stopping agents we own.
    const int64_t undecided = WaitUndecided(
        members, started.empty() ? milliseconds(0) : milliseconds(3 * o->agent_timeout_ms + 5000));
    for (auto& a : started) {
      Status s = a.Stop(std::chrono::seconds(5));
      if (!s.ok()) std::cerr << "warning: " << a.name() << ": " << s.ToString() << "\n";
    }
    nlohmann::json urls = nlohmann::json::object();
    for (const auto& [id, url] : agents) urls[std::to_string(id)] = url;
    if (events > 1) {
      sum.extra["events_per_order"] = events;
      sum.extra["later_events_failed"] = later_events_failed.load();
    }
    sum.extra["coordinator_id"] = o->coordinator_id;
    sum.extra["participants"] = members.names;
    sum.extra["agents"] = urls;
    sum.extra["agents_started"] = !started.empty();
    sum.extra["undecided_at_exit"] = undecided;
    first_errors.Print(std::cerr, "not committed");
    if (undecided != 0) {
      std::cerr << (undecided < 0 ? std::string("an agent did not answer")
                                  : std::to_string(undecided) + " transaction(s) still undecided")
                << " at the agents: their termination protocol finishes them\n";
    }
    PrintSummary(sum, o->json);
  });
}

}  // namespace

void Add3pcCommands(CLI::App& app, Globals& g) {
  auto* group = app.add_subcommand("3pc", "three-phase commit: participant agents, coordinator");
  group->require_subcommand(1);
  AddAgent(group, g);
  AddRun(group, g);
}

}  // namespace dw::cli
