#include "compare/rig.h"

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <pqxx/pqxx>

#include "common/dsn.h"
#include "common/process.h"
#include "compare/monitor.h"
#include "env/layout.h"
#include "env/pgqd_daemon.h"
#include "outbox/partitions.h"
#include "outbox/schema.h"
#include "participants/broker_client.h"
#include "rabbitmq/client.h"
#include "saga/schema.h"
#include "workload/orders.h"

namespace dw::compare {
namespace {

using std::chrono::milliseconds;
using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr int64_t kIdRange = 1'000'000'000;  // order ids per cell

// pgqd, when a PgQ command of the cell started one for its state folder:
// it runs detached (it outlives the relay that started it, as it should
// when the relay is killed), so the cell ends it itself.
void StopPgqd(const Rig& rig, std::ostream* log) {
  if (rig.dir.empty()) return;
  env::PgqdDaemon pgqd{env::Layout(rig.dir + "/state")};
  Status s = pgqd.Stop(nullptr);
  if (!s.ok() && log) *log << "compare: " << s.ToString() << "\n";
}

// Waits (at most 10 s) until RabbitMQ's queue `topic` holds `n` ready
// messages again: a consumer's unacknowledged deliveries go back to a quorum
// queue through its log, which may lag the channel's close.
void WaitQueueHolds(const std::string& url, const std::string& topic, uint64_t n) {
  rabbitmq::ClientOptions o;
  o.url = url;
  std::unique_ptr<rabbitmq::Client> c;
  if (!rabbitmq::Client::Connect(o, &c).ok()) return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  uint64_t ready = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (c->QueueCount(topic, &ready).ok() && ready >= n) return;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

}  // namespace

void SleepS(double s) {
  if (s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

std::string Fmt(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

std::string LastLine(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

int64_t NowUs() { return workload::NowMicros(); }

bool Proc::Wait(milliseconds timeout) {
  if (pid <= 0 || status != -1) return true;
  auto st = WaitChild(pid, timeout);
  if (!st) return false;
  status = *st;
  return true;
}

void Proc::Signal(int sig) {
  if (running()) kill(pid, sig);
}

void Proc::Stop(milliseconds grace) {
  Signal(SIGTERM);
  if (!Wait(grace)) {
    Signal(SIGKILL);
    Wait(milliseconds(10000));
  }
}

bool Proc::ok() const { return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0; }

std::string Proc::ErrorLine() const {
  std::string e = LastLine(err);
  std::string how = status == -1          ? "still running"
                    : WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                          : "exit " + std::to_string(WEXITSTATUS(status));
  return tag + " (" + how + ")" + (e.empty() ? "" : ": " + e);
}

Rig::~Rig() {
  if (tail) tail->Stop();
  for (auto& p : procs) {
    if (p.running()) {
      p.Signal(SIGKILL);
      p.Wait(milliseconds(10000));
    }
  }
  StopPgqd(*this, nullptr);
}

Status PrepareRig(CellContext& ctx, const Approach& a, const std::string& slug, Rig* rig) {
  rig->index = ++ctx.next_cell;
  rig->db = "dw_cmp_" + std::to_string(rig->index);
  rig->dir = ctx.work_dir + "/cells/" + std::to_string(rig->index) + "-" + slug;
  std::error_code ec;
  fs::create_directories(rig->dir + "/state", ec);
  if (ec) return Status::IOError("creating " + rig->dir + ": " + ec.message());
  Status s = ctx.lab->FreshDatabase(rig->db, &rig->dsn);
  if (!s.ok()) return s;
  s = workload::EnsureOrdersSchema(rig->dsn);
  if (!s.ok()) return s;
  // Disjoint order ids per cell: cells may share one (external) broker.
  rig->min_id =
      static_cast<int64_t>(ctx.run_nonce % 8'000'000 * 1000 + rig->index % 1000) * kIdRange;
  rig->max_id = rig->min_id + kIdRange - 1;
  rig->coordinator_id = "cmp" + std::to_string(ctx.run_nonce) + "-" + std::to_string(rig->index);
  try {
    pqxx::connection c{rig->dsn};
    pqxx::nontransaction tx{c};
    tx.exec_params("SELECT setval('orders_id_seq', $1)", rig->min_id);
  } catch (const std::exception& e) {
    return Status::IOError(std::string("setting the cell's id range: ") + e.what());
  }
  s = EnsureHotRow(rig->dsn);
  if (!s.ok()) return s;
  if (a.is_outbox()) {
    // Schema and partitions before any process starts, so the writer and the
    // relay never race to create them.
    s = outbox::EnsureSchema(rig->dsn);
    if (!s.ok()) return s;
    outbox::MaintenanceReport mr;
    s = outbox::MaintainPartitions(rig->dsn, outbox::PartitionOptions{}, &mr);
    if (!s.ok()) return s;
  }
  if (a.def().judge == Judge::kSaga) {
    // Before any process: the judges read saga_orders even if the load died first.
    s = saga::EnsureSagaSchema(rig->dsn);
    if (!s.ok()) return s;
  }
  if (a.uses_broker() && ctx.sink) {
    // The run's real sink: no broker of the cell's own. Only the outbox
    // publishes through a sink (compare/sink.h says why the others cannot).
    if (const std::string why = NotWithSink(a); !why.empty()) {
      return Status::FailedPrecondition(a.name + " with --sink " + SinkName(ctx.sink->kind()) +
                                        ": " + why);
    }
    s = ctx.sink->Empty(workload::kOrdersTopic);
    if (!s.ok()) return s;
    rig->sink_url = ctx.sink->url();
    rig->sink_pid = ctx.sink->pid();
    rig->tail = std::make_unique<BrokerTail>(rig->sink_url, workload::kOrdersTopic, rig->min_id,
                                             rig->max_id);
    rig->tail->Start();
  } else if (a.uses_broker()) {
    s = ctx.external_broker.empty()
            ? CellBroker::StartOwn(ctx.binary, rig->dir + "/broker", &rig->broker)
            : CellBroker::UseExternal(ctx.external_broker, &rig->broker);
    if (!s.ok()) return s;
    rig->client_broker = rig->broker.url();
    rig->tail = std::make_unique<BrokerTail>(rig->broker.url(), workload::kOrdersTopic, rig->min_id,
                                             rig->max_id);
    rig->tail->Start();
  }
  return Status::OK();
}

void CleanupRig(CellContext& ctx, Rig* rig, bool failed) {
  if (rig->tail) rig->tail->Stop();
  for (auto& p : rig->procs) {
    if (p.running()) p.Stop(milliseconds(5000));
  }
  StopPgqd(*rig, ctx.log);   // before its database is dropped under it
  (void)rig->broker.Stop();  // a broker that will not stop is SIGKILLed by its destructor
  Status s = ctx.lab->DropDatabase(rig->db);
  if (!s.ok() && ctx.log) *ctx.log << "compare: " << s.ToString() << "\n";
  if (!failed && !ctx.keep_cells) {
    std::error_code ec;
    fs::remove_all(rig->dir, ec);
  }
}

Status StartProc(CellContext& ctx, Rig* rig, const std::string& tag,
                 const std::vector<std::string>& args, Proc** out,
                 const std::string& coordinator_id) {
  Proc p;
  p.tag = tag;
  p.args = args;
  // 2PC: a coordinator id of the cell's own. Gids are dw:<id>:<seq> and the
  // sequence restarts with each cell's fresh decision log, so cells sharing a
  // broker (--broker) would otherwise reuse gids the broker already settled.
  if (!args.empty() && args[0] == "2pc") {
    p.args.insert(p.args.end(), {"--coordinator-id",
                                 coordinator_id.empty() ? rig->coordinator_id : coordinator_id});
  }
  // 3PC: the coordinator talks to the cell's agents, which outlive it (a
  // killed or restarted coordinator finds them there, as in a deployment).
  if (args.size() > 1 && args[0] == "3pc" && args[1] == "run") {
    Status s = StartAgents(ctx, rig);
    if (!s.ok()) return s;
    const std::vector<std::string> agents = AgentsArgs(*rig);
    p.args.insert(p.args.end(), agents.begin(), agents.end());
    p.args.insert(p.args.end(), {"--coordinator-id",
                                 coordinator_id.empty() ? rig->coordinator_id : coordinator_id});
  }
  p.out = rig->dir + "/" + tag + ".out";
  p.err = rig->dir + "/" + tag + ".err";
  // The password goes to the child's environment, not its command line.
  std::optional<std::string> password = DsnPassword(rig->dsn);
  std::vector<std::string> argv = {ctx.binary, "--dsn", password ? RedactDsn(rig->dsn) : rig->dsn,
                                   "--state-dir", rig->dir + "/state"};
  if (!rig->client_broker.empty()) {
    argv.push_back("--broker");
    argv.push_back(rig->client_broker);
  }
  // A real sink: the relay publishes there (every relay the cell starts,
  // restarts included), and the command in the report says so.
  if (!rig->sink_url.empty() && p.args.size() > 1 && p.args[0] == "outbox" &&
      p.args[1] == "relay") {
    p.args.insert(p.args.end(),
                  {"--sink", rig->client_sink_url.empty() ? rig->sink_url : rig->client_sink_url});
    if (ctx.dedupe_window.count() > 0 && rig->sink_url.starts_with("nats://")) {
      p.args.insert(p.args.end(),
                    {"--dedupe-window", std::to_string(ctx.dedupe_window.count()) + "ms"});
    }
  }
  argv.insert(argv.end(), p.args.begin(), p.args.end());
  SpawnOptions so;
  so.stdout_path = p.out;
  so.stderr_path = p.err;
  if (password) so.env.push_back("PGPASSWORD=" + *password);
  Status s = Spawn(argv, so, &p.pid);
  if (!s.ok()) return s;
  rig->procs.push_back(std::move(p));
  *out = &rig->procs.back();
  return Status::OK();
}

std::vector<std::string> LoadArgs(const Approach& a, const LoadShape& shape,
                                  const std::string& samples, uint64_t seed) {
  std::vector<std::string> v = a.load;
  v.insert(v.end(),
           {"--concurrency", std::to_string(shape.concurrency), "--transactions", "0", "--duration",
            Fmt(shape.seconds), "--seed", std::to_string(seed), "--json", "--samples", samples});
  if (shape.rate > 0) v.insert(v.end(), {"--rate", Fmt(shape.rate)});
  if (shape.hot_rows > 0) v.insert(v.end(), {"--hot-rows", std::to_string(shape.hot_rows)});
  if (shape.hot_skew > 0) v.insert(v.end(), {"--hot-skew", Fmt(shape.hot_skew)});
  if (shape.min_ops > 0) v.insert(v.end(), {"--min-transactions", std::to_string(shape.min_ops)});
  const int batch = a.LockstepBatch(shape.concurrency, shape.rate > 0, shape.hot_rows);
  if (batch > 1) v.insert(v.end(), {"--batch", std::to_string(batch)});
  return v;
}

std::vector<std::string> RelayArgs(const Approach& a, bool by_time, int instances) {
  std::vector<std::string> v = a.relay;
  if (a.relay_batch > 0) v.insert(v.end(), {"--batch", std::to_string(a.relay_batch)});
  const int k = instances > 0 ? instances : a.relay_instances;
  if (k > 1) v.insert(v.end(), {"--instances", std::to_string(k)});
  if (by_time) v.insert(v.end(), {"--by", "time"});
  v.push_back("--json");
  return v;
}

Status StartRelay(CellContext& ctx, Rig* rig, const Approach& a, bool by_time, int instances,
                  Proc** out) {
  Status s = StartProc(ctx, rig, "relay", RelayArgs(a, by_time, instances), out);
  if (!s.ok()) return s;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!(*out)->running() || (*out)->Wait(milliseconds(0))) {
      return Status::IOError("the relay stopped at start: " + (*out)->ErrorLine());
    }
    try {
      pqxx::connection c{rig->dsn};
      pqxx::nontransaction tx{c};
      auto r = tx.exec1(a.relay_ready_sql);
      if (r[0].as<int>() > 0) {
        SleepS(0.2);
        return Status::OK();
      }
    } catch (const std::exception&) {
    }
    SleepS(0.05);
  }
  return Status::Timeout("the relay did not start within 20 s");
}

uint64_t CountRows(const Rig& rig) {
  try {
    pqxx::connection c{rig.dsn};
    pqxx::nontransaction tx{c};
    return tx
        .exec_params1("SELECT count(*) FROM orders WHERE id BETWEEN $1 AND $2", rig.min_id,
                      rig.max_id)[0]
        .as<uint64_t>();
  } catch (const std::exception&) {
    return 0;
  }
}

double Drain(const Rig& rig, double timeout_s) {
  if (!rig.tail) return 0;
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t rows = CountRows(rig);
  for (;;) {
    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rig.tail->unique() >= rows) return el;
    if (el > timeout_s) return -1;
    SleepS(0.01);
  }
}

double CatchUp(const Rig& rig, double timeout_s, uint64_t min_messages) {
  if (!rig.tail) return 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const uint64_t read = rig.tail->unique();
    if (read >= min_messages && CountRows(rig) >= read) return el;
    if (el > timeout_s) return -1;
    SleepS(0.02);
  }
}

double Settle(const Rig& rig, const Approach& a, double timeout_s, uint64_t min_messages) {
  return a.def().rows_follow_messages ? CatchUp(rig, timeout_s, min_messages)
                                      : Drain(rig, timeout_s);
}

json VerifyJson(const Rig& rig, const std::string& broker_url, workload::VerifyReport* out) {
  workload::VerifyOptions vo;
  vo.dsn = rig.dsn;
  if (rig.sink_url.starts_with("nats://")) {
    vo.nats_url = rig.sink_url;  // what `verify --sink URL` reads
  } else if (rig.sink_url.starts_with("amqp://")) {
    // The tail browses the queue by taking its messages unacknowledged:
    // while it reads, verify would not see them. The cell has settled.
    if (rig.tail) {
      rig.tail->Stop();
      WaitQueueHolds(rig.sink_url, workload::kOrdersTopic, rig.tail->browsed());
    }
    vo.amqp_url = rig.sink_url;
  } else {
    vo.broker_url = broker_url;
  }
  vo.min_id = rig.min_id;
  vo.max_id = rig.max_id;
  workload::VerifyReport r;
  Status s = workload::Verify(vo, &r);
  if (!s.ok()) return {{"ok", false}, {"error", s.ToString()}};
  if (out) *out = r;
  return {{"ok", r.ok()},
          {"missing", r.missing.size()},
          {"orphans", r.orphans.size()},
          {"duplicates", r.duplicates.size()},
          {"in_doubt", r.prepared_postgres.size() + r.prepared_broker.size()}};
}

namespace {

json SagaVerifyJson(const Rig& rig, workload::VerifyReport* out) {
  workload::VerifyOptions vo;
  vo.dsn = rig.dsn;
  vo.broker_url = rig.broker.url();
  vo.min_id = rig.min_id;
  vo.max_id = rig.max_id;
  workload::SagaVerifyReport r;
  Status s = workload::VerifySaga(vo, &r);
  if (!s.ok()) return {{"ok", false}, {"error", s.ToString()}};
  if (out) {
    *out = workload::VerifyReport();
    out->rows = r.orders;
    out->messages = r.messages;
    out->missing = r.placed_missing;
    out->orphans = r.orphans;
    out->duplicates = r.placed_duplicates;
  }
  return {{"ok", r.ok()},
          {"missing", r.placed_missing.size()},
          {"orphans", r.orphans.size()},
          {"duplicates", r.placed_duplicates.size()},
          {"in_doubt", r.pending.size() + r.compensating.size()},
          {"saga_violations", r.placed_cancelled.size() + r.cancelled_unannounced.size()},
          {"saga", r.ToJson()}};
}

}  // namespace

json JudgeJson(const Rig& rig, const Approach& a, workload::VerifyReport* out) {
  switch (a.def().judge) {
    case Judge::kNone:
      return FloorVerifyJson(rig);
    case Judge::kSaga:
      return SagaVerifyJson(rig, out);
    case Judge::kOrdersTopic:
      break;
  }
  return VerifyJson(rig, rig.broker.url(), out);
}

json FloorVerifyJson(const Rig& rig) {
  try {
    pqxx::connection c{rig.dsn};
    pqxx::nontransaction tx{c};
    auto n =
        tx.exec1("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()")[0]
            .as<uint64_t>();
    return {{"ok", n == 0},
            {"missing", nullptr},
            {"orphans", nullptr},
            {"duplicates", nullptr},
            {"in_doubt", n}};
  } catch (const std::exception& e) {
    return {{"ok", false}, {"error", e.what()}};
  }
}

std::string CommandLine(const Proc* load, const Proc* relay) {
  std::string c = "dualwrite " + Join(load->args);
  if (relay) c += " & dualwrite " + Join(relay->args);
  return c;
}

void RunRecover(CellContext& ctx, Rig* rig, const Approach& a, json* notes,
                const std::string& coordinator_id) {
  std::vector<std::string> args = a.recover;
  args.push_back("--json");
  Proc* p = nullptr;
  Status s = StartProc(ctx, rig, "recover", args, &p, coordinator_id);
  if (!s.ok() || !p->Wait(milliseconds(60000))) {
    notes->push_back("`dualwrite " + Join(a.recover) +
                     "` did not run: " + (s.ok() ? p->ErrorLine() : s.ToString()));
    return;
  }
  json r = json::parse(LastLine(p->out), nullptr, false);
  if (!r.is_object()) {
    notes->push_back("`dualwrite " + Join(a.recover) + "` failed: " + p->ErrorLine());
  } else if (r.value("listed", 0) > 0 && a.def().judge == Judge::kSaga) {
    notes->push_back("sagas were left open; `dualwrite " + Join(a.recover) +
                     "` finished them: placed " + std::to_string(r.value("placed", 0)) +
                     ", cancelled " + std::to_string(r.value("cancelled", 0)) + ", still open " +
                     std::to_string(r.value("still_open", 0)));
  } else if (r.value("listed", 0) > 0) {
    notes->push_back("transactions were left in doubt; `dualwrite " + Join(a.recover) +
                     "` resolved them: committed " + std::to_string(r.value("committed", 0)) +
                     ", aborted " + std::to_string(r.value("aborted", 0)));
  }
}

Status PostProxyFaults(int control_port, const std::string& body) {
  std::unique_ptr<BrokerClient> c;
  BrokerClient::Options o;
  o.url = "http://127.0.0.1:" + std::to_string(control_port);
  o.timeout = milliseconds(3000);
  Status s = BrokerClient::Create(o, &c);
  if (!s.ok()) return s;
  HttpResponse r;
  s = c->Request("POST", "/faults", body, &r);
  if (!s.ok()) return s;
  if (r.status / 100 != 2) return Status::IOError("proxy POST /faults: " + r.body);
  return Status::OK();
}

}  // namespace dw::compare
