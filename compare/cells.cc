#include "compare/cells.h"

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include <pqxx/pqxx>

#include "common/dsn.h"
#include "common/process.h"
#include "compare/broker_tail.h"
#include "compare/cell_broker.h"
#include "compare/cost.h"
#include "compare/history.h"
#include "compare/monitor.h"
#include "compare/samples.h"
#include "outbox/partitions.h"
#include "outbox/schema.h"
#include "participants/broker_client.h"
#include "workload/orders.h"
#include "workload/verify.h"

namespace dw::compare {
namespace {

using std::chrono::milliseconds;
using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr int64_t kIdRange = 1'000'000'000;  // order ids per cell

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

// A `dualwrite` child process of a cell, its output in the cell's folder.
struct Proc {
  pid_t pid = -1;
  std::string tag, out, err;
  std::vector<std::string> args;  // after the global flags, for the report
  int status = -1;                // raw wait status once reaped

  bool running() const { return pid > 0 && status == -1; }
  // True when it exited (or was reaped) within `timeout`.
  bool Wait(milliseconds timeout) {
    if (pid <= 0 || status != -1) return true;
    auto st = WaitChild(pid, timeout);
    if (!st) return false;
    status = *st;
    return true;
  }
  void Signal(int sig) {
    if (running()) kill(pid, sig);
  }
  // SIGTERM, then SIGKILL if it does not stop.
  void Stop(milliseconds grace) {
    Signal(SIGTERM);
    if (!Wait(grace)) {
      Signal(SIGKILL);
      Wait(milliseconds(10000));
    }
  }
  bool ok() const { return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0; }
  std::string ErrorLine() const {
    std::string e = LastLine(err);
    std::string how = status == -1          ? "still running"
                      : WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                            : "exit " + std::to_string(WEXITSTATUS(status));
    return tag + " (" + how + ")" + (e.empty() ? "" : ": " + e);
  }
};

// One cell's world: database, broker, consumer, folder.
struct Rig {
  int index = 0;
  std::string db, dir, dsn;
  CellBroker broker;
  std::string client_broker;  // what the coordinator/relay talk to (maybe through the proxy)
  int64_t min_id = 0, max_id = 0;
  std::string coordinator_id;  // 2PC: unique per cell and run
  std::unique_ptr<BrokerTail> tail;
  std::deque<Proc> procs;  // every process started (stable addresses), stopped at the end

  ~Rig() {
    if (tail) tail->Stop();
    for (auto& p : procs) {
      if (p.running()) {
        p.Signal(SIGKILL);
        p.Wait(milliseconds(10000));
      }
    }
  }
};

Status Prepare(CellContext& ctx, const Approach& a, const std::string& slug, Rig* rig) {
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
  if (a.uses_broker()) {
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

void Cleanup(CellContext& ctx, Rig* rig, bool failed) {
  if (rig->tail) rig->tail->Stop();
  for (auto& p : rig->procs) {
    if (p.running()) p.Stop(milliseconds(5000));
  }
  (void)rig->broker.Stop();
  Status s = ctx.lab->DropDatabase(rig->db);
  if (!s.ok() && ctx.log) *ctx.log << "compare: " << s.ToString() << "\n";
  if (!failed && !ctx.keep_cells) {
    std::error_code ec;
    fs::remove_all(rig->dir, ec);
  }
}

Status StartProc(CellContext& ctx, Rig* rig, const std::string& tag,
                 const std::vector<std::string>& args, Proc** out) {
  Proc p;
  p.tag = tag;
  p.args = args;
  // 2PC: a coordinator id of the cell's own. Gids are dw:<id>:<seq> and the
  // sequence restarts with each cell's fresh decision log, so cells sharing a
  // broker (--broker) would otherwise reuse gids the broker already settled.
  if (!args.empty() && args[0] == "2pc") {
    p.args.insert(p.args.end(), {"--coordinator-id", rig->coordinator_id});
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

std::vector<std::string> LoadArgs(const Approach& a, int concurrency, double rate, double seconds,
                                  const std::string& samples, uint64_t seed) {
  std::vector<std::string> v = a.load;
  v.insert(v.end(),
           {"--concurrency", std::to_string(concurrency), "--transactions", "0", "--duration",
            Fmt(seconds), "--seed", std::to_string(seed), "--json", "--samples", samples});
  if (rate > 0) v.insert(v.end(), {"--rate", Fmt(rate)});
  return v;
}

std::vector<std::string> RelayArgs(const Approach& a, bool by_time) {
  std::vector<std::string> v = a.relay;
  if (by_time) v.insert(v.end(), {"--by", "time"});
  v.push_back("--json");
  return v;
}

// The relay must be listening before the first row is written; CDC must
// have its slot (rows written before it exists are not in its stream).
Status StartRelay(CellContext& ctx, Rig* rig, const Approach& a, bool by_time, Proc** out) {
  Status s = StartProc(ctx, rig, "relay", RelayArgs(a, by_time), out);
  if (!s.ok()) return s;
  const bool cdc = a.name == "outbox-cdc";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!(*out)->running() || (*out)->Wait(milliseconds(0))) {
      return Status::IOError("the relay stopped at start: " + (*out)->ErrorLine());
    }
    try {
      pqxx::connection c{rig->dsn};
      pqxx::nontransaction tx{c};
      auto r = cdc ? tx.exec_params1(
                         "SELECT count(*) FROM pg_replication_slots WHERE database = $1", rig->db)
                   : tx.exec1(
                         "SELECT count(*) FROM pg_stat_activity"
                         " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                         " AND application_name LIKE 'dualwrite-relay-%'");
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

// Waits until the broker holds a message for every committed row. Returns the
// seconds it took, or a negative value on timeout.
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

json VerifyJson(const Rig& rig, const std::string& broker_url, workload::VerifyReport* out) {
  workload::VerifyOptions vo;
  vo.dsn = rig.dsn;
  vo.broker_url = broker_url;
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

// The floor's verify: only in-doubt transactions matter (it sends nothing).
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

json NullLoadCell(const Approach& a, int concurrency, double rate, const std::string& error) {
  return {{"approach", a.name},          {"mode", rate > 0 ? "open" : "closed"},
          {"concurrency", concurrency},  {"rate", rate},
          {"committed", nullptr},        {"aborted", nullptr},
          {"failed", nullptr},           {"elapsed_s", nullptr},
          {"throughput_per_s", nullptr}, {"latency_ms", nullptr},
          {"e2e_ms", nullptr},           {"cdf", nullptr},
          {"e2e_cdf", nullptr},          {"cost", nullptr},
          {"drain_s", nullptr},          {"verify", nullptr},
          {"command", nullptr},          {"error", error}};
}

}  // namespace

json RunLoadCell(CellContext& ctx, const Approach& a, int concurrency, double rate,
                 double duration_s, const Plan& plan) {
  Rig rig;
  const std::string slug =
      a.name + (rate > 0 ? "-r" + Fmt(rate) : "-c" + std::to_string(concurrency));
  Status s = Prepare(ctx, a, slug, &rig);
  auto fail = [&](const std::string& why) {
    Cleanup(ctx, &rig, true);
    return NullLoadCell(a, concurrency, rate, why + " (logs in " + rig.dir + ")");
  };
  if (!s.ok()) return fail(s.ToString());

  CostSnapshot before, after;
  s = TakeCost(rig.dsn, &before);
  if (!s.ok()) return fail(s.ToString());
  if (a.uses_broker()) (void)rig.broker.Counter("dw_broker_fsyncs_total", &before.broker_fsyncs);

  Proc* relay = nullptr;
  if (a.is_outbox()) {
    s = StartRelay(ctx, &rig, a, false, &relay);
    if (!s.ok()) return fail(s.ToString());
  }
  const std::string samples = rig.dir + "/samples.csv";
  Proc* load = nullptr;
  s = StartProc(ctx, &rig, "load",
                LoadArgs(a, rate > 0 ? plan.open_concurrency : concurrency, rate, duration_s,
                         samples, ctx.seed),
                &load);
  if (!s.ok()) return fail(s.ToString());
  if (!load->Wait(milliseconds(static_cast<int64_t>(duration_s * 1000) + 120000))) {
    return fail("the load command did not finish");
  }
  if (!load->ok()) return fail(load->ErrorLine());
  json lj = json::parse(LastLine(load->out), nullptr, false);
  if (!lj.is_object()) return fail("the load command printed no JSON summary");

  // An approach known to lose messages never drains completely: do not wait
  // the full timeout for rows it skipped (verify reports them).
  const double drain = Drain(rig, a.guaranteed ? plan.drain_timeout_s : 2.0);
  if (relay) relay->Stop(milliseconds(15000));

  s = TakeCost(rig.dsn, &after);
  if (!s.ok()) return fail(s.ToString());
  if (a.uses_broker()) (void)rig.broker.Counter("dw_broker_fsyncs_total", &after.broker_fsyncs);

  std::vector<SampleRow> rows;
  (void)ReadSamples(samples, &rows);
  Histogram h;
  for (const auto& r : rows) h.Record(r.latency_us);

  json cell = {{"approach", a.name},
               {"mode", rate > 0 ? "open" : "closed"},
               {"concurrency", rate > 0 ? plan.open_concurrency : concurrency},
               {"rate", rate}};
  for (const char* k :
       {"committed", "aborted", "failed", "elapsed_s", "throughput_per_s", "latency_ms"}) {
    cell[k] = lj.value(k, json(nullptr));
  }
  const uint64_t committed = lj.value("committed", uint64_t{0});
  if (rig.tail) {
    Histogram e2e = rig.tail->e2e();
    cell["e2e_ms"] = PercentilesJson(e2e, true);
    cell["e2e_cdf"] = CdfJson(e2e);
    cell["drain_s"] = drain >= 0 ? json(drain) : json(nullptr);
  } else {
    cell["e2e_ms"] = nullptr;
    cell["e2e_cdf"] = nullptr;
    cell["drain_s"] = nullptr;
  }
  cell["cdf"] = CdfJson(h);
  cell["cost"] = CostJson(before, after, committed, a.uses_broker());
  cell["verify"] =
      a.uses_broker() ? VerifyJson(rig, rig.broker.url(), nullptr) : FloorVerifyJson(rig);
  cell["command"] = CommandLine(load, relay);
  cell["error"] = drain < 0 && a.guaranteed
                      ? json("not every message arrived within " + Fmt(plan.drain_timeout_s) +
                             " s of the load's end")
                      : json(nullptr);
  Cleanup(ctx, &rig, false);
  return cell;
}

namespace {

json FailureSkeleton(const Approach& a, const std::string& scenario) {
  return {{"scenario", scenario},
          {"approach", a.name},
          {"status", "ran"},
          {"reason", nullptr},
          {"guaranteed", a.guaranteed},
          {"fault", nullptr},
          {"ops", nullptr},
          {"ops_total", nullptr},
          {"lost", nullptr},
          {"orphans", nullptr},
          {"duplicates", nullptr},
          {"duplicates_before_dedupe", nullptr},
          {"in_doubt_max", nullptr},
          {"in_doubt_max_age_s", nullptr},
          {"in_doubt_at_end", nullptr},
          {"probe_blocked_ms", nullptr},
          {"converge_s", nullptr},
          {"p99_before_ms", nullptr},
          {"p99_during_ms", nullptr},
          {"timeline", nullptr},
          {"backlog", nullptr},
          {"verify", nullptr},
          {"verdict", "not-run"},
          {"notes", json::array()}};
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

// The prepared transaction of in-doubt-held: it updates the hot row, so the
// probe waits on it, and pins the xmin horizon, so vacuum keeps dead rows.
class HeldTransaction {
 public:
  Status Hold(const std::string& dsn) {
    try {
      c_ = std::make_unique<pqxx::connection>(dsn);
      pqxx::nontransaction tx{*c_};
      tx.exec0("BEGIN");
      tx.exec0("UPDATE dw_hot SET n = n + 1 WHERE id = 1");
      tx.exec0("PREPARE TRANSACTION 'dw-compare-held'");
    } catch (const std::exception& e) {
      return Status::IOError(std::string("preparing the held transaction: ") + e.what());
    }
    return Status::OK();
  }
  // VACUUM the database's tables and sum what it could not remove.
  static uint64_t VacuumKept(const std::string& dsn) {
    try {
      pqxx::connection c{dsn};
      pqxx::nontransaction tx{c};
      tx.exec0("VACUUM");
      return tx.exec1("SELECT COALESCE(sum(n_dead_tup), 0)::bigint FROM pg_stat_user_tables")[0]
          .as<uint64_t>();
    } catch (const std::exception&) {
      return 0;
    }
  }
  Status Release() {
    try {
      pqxx::nontransaction tx{*c_};
      tx.exec0("ROLLBACK PREPARED 'dw-compare-held'");
    } catch (const std::exception& e) {
      return Status::IOError(std::string("releasing the held transaction: ") + e.what());
    }
    return Status::OK();
  }

 private:
  std::unique_ptr<pqxx::connection> c_;
};

int64_t Now() { return workload::NowMicros(); }

// `2pc recover` for the cell's coordinator; what it did goes into the notes.
void RunRecover(CellContext& ctx, Rig* rig, const Approach& a, json* notes) {
  std::vector<std::string> args = a.recover;
  args.push_back("--json");
  Proc* p = nullptr;
  Status s = StartProc(ctx, rig, "recover", args, &p);
  if (!s.ok() || !p->Wait(milliseconds(60000))) {
    notes->push_back("2pc recover did not run: " + (s.ok() ? p->ErrorLine() : s.ToString()));
    return;
  }
  json r = json::parse(LastLine(p->out), nullptr, false);
  if (!r.is_object()) {
    notes->push_back("2pc recover failed: " + p->ErrorLine());
  } else if (r.value("listed", 0) > 0) {
    notes->push_back("the coordinator exited with transactions in doubt; `dualwrite " +
                     Join(a.recover) + "` resolved them: committed " +
                     std::to_string(r.value("committed", 0)) + ", aborted " +
                     std::to_string(r.value("aborted", 0)));
  }
}

}  // namespace

json RunFailureCell(CellContext& ctx, const Approach& a, const Scenario& sc, const Plan& plan) {
  if (std::string why = NotApplicable(sc, a); !why.empty()) {
    json cell = FailureSkeleton(a, sc.name);
    cell["status"] = "n/a";
    cell["reason"] = why;
    return cell;
  }
  FaultSpec f;
  f.scenario = sc.name;
  f.steady_s = plan.steady_s;
  f.fault_s = sc.fault_s;
  f.after_s = plan.after_s;
  f.concurrency = plan.failure_concurrency;
  f.converge_timeout_s = plan.converge_timeout_s;
  f.drain_timeout_s = plan.drain_timeout_s;
  return RunFault(ctx, a, f);
}

json RunFault(CellContext& ctx, const Approach& a, const FaultSpec& f) {
  json cell = FailureSkeleton(a, f.scenario);
  if (f.scenario == "postgres-restart" && !ctx.lab->embedded()) {
    cell["status"] = "skipped";
    cell["reason"] =
        "Postgres is external (--dsn): compare does not crash a server it did not start";
    return cell;
  }
  Rig rig;
  Status s = Prepare(ctx, a, f.scenario + "-" + a.name, &rig);
  auto fail = [&](const std::string& why) {
    Cleanup(ctx, &rig, true);
    cell["status"] = "error";
    cell["reason"] = why + " (logs in " + rig.dir + ")";
    return cell;
  };
  if (!s.ok()) return fail(s.ToString());
  json& notes = cell["notes"];
  std::mt19937_64 rng(ctx.seed * 7919 + static_cast<uint64_t>(rig.index));

  // partition: the coordinator/relay reach the broker only through the proxy;
  // the observers (tail, monitor, verify) talk to it directly.
  int control_port = 0;
  if (f.scenario == "partition") {
    const int port = FreeTcpPort();
    control_port = FreeTcpPort();
    const std::string upstream = rig.broker.url().substr(std::string("http://").size());
    Proc* proxy = nullptr;
    s = StartProc(ctx, &rig, "proxy",
                  {"proxy", "--listen", "127.0.0.1:" + std::to_string(port), "--upstream", upstream,
                   "--control", "127.0.0.1:" + std::to_string(control_port)},
                  &proxy);
    if (!s.ok()) return fail(s.ToString());
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
      up = PostProxyFaults(control_port, "{}").ok();
      if (!up) SleepS(0.05);
    }
    if (!up) return fail("the fault proxy did not start");
    rig.client_broker = "http://127.0.0.1:" + std::to_string(port);
  }

  Monitor::Options mo;
  mo.dsn = rig.dsn;
  mo.broker_url = a.uses_broker() ? rig.broker.url() : "";
  mo.tail = a.is_outbox() ? rig.tail.get() : nullptr;
  Monitor monitor(mo);
  monitor.Start();

  const bool by_time = f.scenario == "clock-skew" && a.name == "outbox-offset-naive";
  if (by_time) notes.push_back("offset-naive runs --by time in this scenario");
  std::optional<size_t> relay_i;
  if (a.is_outbox()) {
    Proc* relay = nullptr;
    s = StartRelay(ctx, &rig, a, by_time, &relay);
    if (!s.ok()) return fail(s.ToString());
    relay_i = rig.procs.size() - 1;
  }

  uint64_t dups_before = 0;
  if (a.uses_broker()) (void)rig.broker.Counter("dw_broker_duplicates_total", &dups_before);
  const std::string samples = rig.dir + "/samples.csv";
  const double total_s = f.steady_s + f.fault_s + f.after_s;
  const int c = f.concurrency;
  const int64_t load_start = Now();
  Proc* load = nullptr;
  std::vector<std::string> load_args = LoadArgs(a, c, 0, total_s, samples, ctx.seed);
  if (f.scenario == "crash-point") {
    load_args.insert(load_args.end(),
                     {"--crash-at", f.crash_at, "--crash-after", std::to_string(f.crash_after)});
  }
  s = StartProc(ctx, &rig, "load", load_args, &load);
  if (!s.ok()) return fail(s.ToString());
  size_t load_i = rig.procs.size() - 1;
  const std::string command =
      CommandLine(&rig.procs[load_i], relay_i ? &rig.procs[*relay_i] : nullptr);
  SleepS(f.steady_s);

  // ---- inject
  int64_t fault_start = Now();
  HeldTransaction held;
  std::optional<size_t> skewed_i;
  double kill_after_s = 0;
  if (f.scenario == "broker-down") {
    s = rig.broker.Down(f.fault_s);
  } else if (f.scenario == "broker-slow") {
    s = rig.broker.SetLatencyMs(50);
  } else if (f.scenario == "postgres-restart") {
    s = ctx.lab->CrashPostgres();
  } else if (f.scenario == "partition") {
    s = PostProxyFaults(control_port, "{\"blackhole\": true}");
  } else if (f.scenario == "clock-skew") {
    Proc* skewed = nullptr;
    std::vector<std::string> args = LoadArgs(a, 1, 0, f.fault_s, samples, ctx.seed + 1);
    args.insert(args.end(), {"--clock-skew-ms", "3000"});
    s = StartProc(ctx, &rig, "skewed-writer", args, &skewed);
    if (s.ok()) skewed_i = rig.procs.size() - 1;
    notes.push_back("a second writer with its clock 3 s ahead ran during the fault window");
  } else if (f.scenario == "in-doubt-held") {
    s = held.Hold(rig.dsn);
  } else if (f.scenario == "crash-point" || f.scenario == "broker-crash") {
    // The victim dies by itself when it reaches the crash point: the window
    // starts then. Not reaching it (the load ended first) is reported.
    if (f.scenario == "broker-crash") {
      s = rig.broker.SetCrashAt(f.crash_at);
    }
    Proc& coordinator = rig.procs[load_i];
    const auto give_up = std::chrono::steady_clock::now() +
                         std::chrono::duration<double>(f.fault_s + f.after_s + 10);
    bool died = false;
    while (s.ok() && !died && std::chrono::steady_clock::now() < give_up) {
      died = f.scenario == "crash-point" ? coordinator.Wait(milliseconds(0)) : !rig.broker.Alive();
      if (!died) SleepS(0.005);
    }
    fault_start = Now();
    const bool crashed = died && (f.scenario == "broker-crash" || !coordinator.ok());
    notes.push_back(
        crashed
            ? (f.scenario == "crash-point" ? "coordinator" : "broker") +
                  std::string(" died at crash point ") + f.crash_at +
                  (f.crash_after ? " after " + std::to_string(f.crash_after) + " transactions" : "")
            : "the crash point " + f.crash_at + " was not reached");
    if (f.scenario == "broker-crash" && !died) (void)rig.broker.SetCrashAt("");
  } else if (f.scenario == "process-kill") {
    std::uniform_real_distribution<double> d(0.0, std::min(1.0, f.fault_s / 2));
    kill_after_s = f.kill_after_s >= 0 ? std::min(f.kill_after_s, f.fault_s) : d(rng);
    SleepS(kill_after_s);
    Proc& victim = a.is_2pc() ? rig.procs[load_i] : rig.procs[*relay_i];
    victim.Signal(SIGKILL);
    victim.Wait(milliseconds(10000));
    notes.push_back(std::string(a.is_2pc() ? "coordinator" : "relay") + " killed with SIGKILL " +
                    Fmt(kill_after_s) + " s into the fault window, restarted at its end");
  }
  if (!s.ok()) return fail("injecting " + f.scenario + ": " + s.ToString());
  SleepS(f.fault_s - kill_after_s);

  // ---- heal
  uint64_t kept_while_held = 0;
  if (f.scenario == "in-doubt-held") kept_while_held = HeldTransaction::VacuumKept(rig.dsn);
  const int64_t fault_end = Now();
  if (f.scenario == "broker-down") {
    s = rig.broker.Up();
  } else if (f.scenario == "broker-slow") {
    s = rig.broker.SetLatencyMs(0);
  } else if (f.scenario == "postgres-restart") {
    s = ctx.lab->StartPostgres();
  } else if (f.scenario == "partition") {
    s = PostProxyFaults(control_port, "{\"blackhole\": false}");
  } else if (f.scenario == "in-doubt-held") {
    s = held.Release();
  } else if (f.scenario == "broker-crash") {
    s = rig.broker.Up();
  } else if (f.scenario == "crash-point" && !rig.procs[load_i].ok() &&
             !rig.procs[load_i].running()) {
    const double left = std::max(0.5, total_s - (Now() - load_start) / 1e6);
    Proc* again = nullptr;
    s = StartProc(ctx, &rig, "load-restarted", LoadArgs(a, c, 0, left, samples, ctx.seed + 2),
                  &again);
    if (s.ok()) load_i = rig.procs.size() - 1;
  } else if (f.scenario == "process-kill") {
    if (a.is_2pc()) {
      const double left = std::max(0.5, total_s - (Now() - load_start) / 1e6);
      Proc* again = nullptr;
      s = StartProc(ctx, &rig, "load-restarted", LoadArgs(a, c, 0, left, samples, ctx.seed + 2),
                    &again);
      if (s.ok()) load_i = rig.procs.size() - 1;
    } else {
      Proc* again = nullptr;
      s = StartProc(ctx, &rig, "relay-restarted", RelayArgs(a, by_time), &again);
      if (s.ok()) relay_i = rig.procs.size() - 1;
    }
  }
  if (!s.ok()) return fail("healing " + f.scenario + ": " + s.ToString());
  if (f.scenario == "in-doubt-held") {
    const uint64_t left_after = HeldTransaction::VacuumKept(rig.dsn);
    cell["vacuum"] = {{"dead_tuples_kept_while_held", kept_while_held},
                      {"dead_tuples_left_after_release", left_after}};
  }

  // ---- converge: every row committed by the end of the fault has its message
  // readable, and nothing has been in doubt for more than a second.
  const double converge_timeout =
      a.guaranteed ? f.converge_timeout_s : std::min(f.converge_timeout_s, 3.0);
  std::vector<int64_t> committed_at_heal;
  double converge_s = -1;
  bool recovered = false;
  {
    const auto t0 = std::chrono::steady_clock::now();
    bool have_ids = false;
    for (;;) {
      const double el =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (el > converge_timeout) break;
      if (!have_ids) {
        try {
          pqxx::connection pc{rig.dsn};
          pqxx::nontransaction tx{pc};
          for (const auto& r : tx.exec_params("SELECT id FROM orders WHERE id BETWEEN $1 AND $2",
                                              rig.min_id, rig.max_id)) {
            committed_at_heal.push_back(r[0].as<int64_t>());
          }
          have_ids = true;
        } catch (const std::exception&) {
          SleepS(0.1);  // Postgres still recovering
          continue;
        }
      }
      const auto doubt = monitor.Current();
      // A coordinator that exited with work for recovery: run `2pc recover`
      // once, as an operator (or the coordinator's next run) would.
      if (!recovered && !a.recover.empty() && !rig.procs[load_i].running() &&
          rig.procs[load_i].Wait(milliseconds(0)) && doubt.known && doubt.count > 0) {
        recovered = true;
        RunRecover(ctx, &rig, a, &notes);
        continue;
      }
      const bool messages = !rig.tail || rig.tail->SeenAll(committed_at_heal);
      if (messages && doubt.known && (doubt.count == 0 || doubt.max_age_s < 1.0)) {
        converge_s = (Now() - fault_end) / 1e6;
        break;
      }
      SleepS(0.1);
    }
  }

  // ---- let the load finish, drain, stop
  const double remaining = total_s - (Now() - load_start) / 1e6;
  if (!rig.procs[load_i].Wait(
          milliseconds(static_cast<int64_t>(std::max(0.0, remaining) * 1000) + 120000))) {
    return fail("the load command did not finish");
  }
  if (skewed_i) rig.procs[*skewed_i].Wait(milliseconds(60000));
  if (!rig.procs[load_i].ok()) notes.push_back("load: " + rig.procs[load_i].ErrorLine());
  if (!recovered && !a.recover.empty() && monitor.Current().count > 0) {
    recovered = true;
    RunRecover(ctx, &rig, a, &notes);
  }
  const double drain = Drain(rig, a.guaranteed ? f.drain_timeout_s : 2.0);
  if (drain < 0) notes.push_back("not every committed row's message arrived after the load");
  // A 2PC coordinator that exited with work for recovery: what `2pc recover` would do.
  if (relay_i) rig.procs[*relay_i].Stop(milliseconds(15000));
  for (auto& p : rig.procs) {
    if (p.running() && p.tag == "proxy") p.Stop(milliseconds(5000));
  }
  monitor.Stop();

  uint64_t dups_after = dups_before;
  if (a.uses_broker()) (void)rig.broker.Counter("dw_broker_duplicates_total", &dups_after);

  std::vector<SampleRow> rows;
  (void)ReadSamples(samples, &rows);
  const int64_t load_end = std::max<int64_t>(Now(), load_start);
  WindowStats during = Window(rows, fault_start, fault_end);
  WindowStats before = Window(rows, load_start, fault_start);
  WindowStats total = Window(rows, load_start, load_end);
  workload::VerifyReport vr;
  json v = a.uses_broker() ? VerifyJson(rig, rig.broker.url(), &vr) : FloorVerifyJson(rig);

  cell["fault"] = {{"start_s", (fault_start - load_start) / 1e6},
                   {"end_s", (fault_end - load_start) / 1e6}};
  cell["ops"] = during.ToJson();
  cell["ops_total"] = total.ToJson();
  cell["lost"] = a.uses_broker() ? json(vr.missing.size()) : json(nullptr);
  cell["orphans"] = a.uses_broker() ? json(vr.orphans.size()) : json(nullptr);
  cell["duplicates"] = a.uses_broker() ? json(vr.duplicates.size()) : json(nullptr);
  cell["duplicates_before_dedupe"] =
      a.uses_broker() ? json(dups_after - dups_before) : json(nullptr);
  cell["in_doubt_max"] = monitor.max_in_doubt();
  cell["in_doubt_max_age_s"] = monitor.max_in_doubt_age_s();
  cell["in_doubt_at_end"] = v.value("in_doubt", json(nullptr));
  cell["probe_blocked_ms"] = monitor.probe_max_wait_ms();
  cell["converge_s"] = converge_s >= 0 ? json(converge_s) : json(nullptr);
  cell["p99_before_ms"] =
      before.attempted ? json(before.latency.Percentile(0.99) / 1e3) : json(nullptr);
  cell["p99_during_ms"] =
      during.attempted ? json(during.latency.Percentile(0.99) / 1e3) : json(nullptr);
  cell["timeline"] = Timeline(rows, fault_start, load_start, load_end, 250000);
  if (a.is_outbox()) {
    json b = json::array();
    for (const auto& [at, n] : monitor.backlog()) {
      b.push_back({{"t_s", (at - fault_start) / 1e6}, {"rows", n}});
    }
    cell["backlog"] = b;
  }
  cell["verify"] = v;
  HistoryReport history;
  Status hs = CheckHistory(rows, rig.dsn, a.uses_broker() ? rig.broker.url() : "", rig.min_id,
                           rig.max_id, &history);
  cell["history"] = hs.ok() ? history.ToJson() : json({{"ok", false}, {"error", hs.ToString()}});
  const bool clean = v.value("ok", false) && hs.ok() && history.ok();
  cell["verdict"] = clean ? "clean" : a.guaranteed ? "violations" : "expected-loss";
  cell["command"] = command;
  if (!clean && ctx.log) {
    *ctx.log << "compare: " << f.scenario << " x " << a.name << ": verify " << v.dump() << "\n";
  }
  Cleanup(ctx, &rig, !clean && a.guaranteed);
  return cell;
}

}  // namespace dw::compare
