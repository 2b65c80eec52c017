#include "demo/stage.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include "common/process.h"
#include "env/scratch_database.h"
#include "outbox/partitions.h"
#include "outbox/schema.h"
#include "participants/pg_dsn.h"
#include "workload/orders.h"

namespace fs = std::filesystem;

namespace dw::demo {
namespace {

using std::chrono::milliseconds;

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string DbName(const std::string& lesson) {
  std::string out = "dw_demo_";
  for (char c : lesson) out.push_back(c == '-' ? '_' : c);
  return out;
}

RunResult Collect(const Child& child, std::optional<int> wait_status) {
  RunResult r;
  if (wait_status && WIFEXITED(*wait_status)) r.exit_code = WEXITSTATUS(*wait_status);
  r.out = Slurp(child.out_path);
  r.err = Slurp(child.err_path);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (!j.is_discarded() && j.is_object()) r.json = std::move(j);
  return r;
}

}  // namespace

int64_t MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t).count();
}

// --- Session ---------------------------------------------------------------

Session::Session(Narrator* n, std::string name, const std::string& dsn)
    : n_(n), name_(std::move(name)), conn_(dsn), pid_(conn_.backendpid()) {}

pqxx::result Session::Exec(const std::string& sql) {
  n_->Sql(name_, sql);
  return Quiet(sql);
}

pqxx::result Session::Quiet(const std::string& sql) {
  pqxx::nontransaction tx{conn_};
  pqxx::result r = tx.exec(sql);
  if (conn_.backendpid() != pid_) {
    throw std::runtime_error("session " + name_ + " lost its connection (backend " +
                             std::to_string(pid_) + " is gone)");
  }
  return r;
}

// --- Stage -----------------------------------------------------------------

Stage::Stage(const StageOptions& opts, Narrator* n) : opts_(opts), n_(n) {}

Status Stage::Open(const StageOptions& opts, Narrator* n, std::unique_ptr<Stage>* out) {
  std::unique_ptr<Stage> s(new Stage(opts, n));
  s->db_ = DbName(opts.lesson);
  Status st = DsnWithDatabase(opts.admin_dsn, s->db_, &s->dsn_);
  if (!st.ok()) return st;
  // key='value' -> key=value where the value needs no quotes: the DSN is
  // printed in command lines the class may copy into a shell.
  static const std::regex kPlain(R"(='([A-Za-z0-9_.:/@-]*)')");
  s->dsn_ = std::regex_replace(s->dsn_, kPlain, "=$1");
  st = env::RecreateScratchDatabase(opts.admin_dsn, s->db_);
  if (!st.ok()) return st;
  std::string tmpl = (fs::temp_directory_path() / ("dw-demo-" + opts.lesson + "-XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) return Status::IOError("mkdtemp " + tmpl + " failed");
  s->dir_ = tmpl;
  env::ServerOptions bo;
  bo.data_dir = s->dir_ + "/broker";
  bo.log_path = s->dir_ + "/broker.out";
  // After a SIGKILL the port may stay taken for a moment: StartBroker tries again.
  bo.start_attempts = 20;
  s->broker_proc_ = env::BrokerProcess(opts.binary, std::move(bo));
  s->broker_proc_.set_carry_counters(false);  // `kill -9` is narrated as immediate
  if (s->broker_proc_.port() <= 0) {
    return Status::IOError("no free TCP port for the lesson's broker");
  }
  s->broker_url_ = s->broker_proc_.url();
  st = s->StartBroker();
  if (!st.ok()) return st;
  BrokerClient::Options co;
  co.url = s->broker_url_;
  co.timeout = milliseconds(10000);
  st = BrokerClient::Create(co, &s->broker_);
  if (!st.ok()) return st;
  n->Note("parties: database " + s->db_ + " (fresh), broker " + s->broker_url_ + " (pid " +
          std::to_string(s->broker_proc_.pid()) + ", data in " + s->dir_ + "/broker)");
  *out = std::move(s);
  return Status::OK();
}

Stage::~Stage() { Cleanup(); }

void Stage::Cleanup() {
  for (pid_t pid : children_) {
    if (pid > 0 && ProcessAlive(pid)) {
      kill(pid, SIGKILL);
      WaitChild(pid, milliseconds(5000));
    }
  }
  children_.clear();
  (void)broker_proc_.Stop(milliseconds(10000));
  broker_.reset();
  if (!db_.empty()) {
    Status s = env::DropScratchDatabase(opts_.admin_dsn, db_);
    if (!s.ok()) std::cerr << "demo: " << s.message() << "\n";
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

Status Stage::StartBroker() {
  Status s = broker_proc_.Start();
  if (!s.ok()) return Status::Unavailable("the lesson's broker did not start: " + s.message());
  return s;
}

Status Stage::KillBroker() {
  if (!broker_proc_.Running()) return Status::FailedPrecondition("the broker is not running");
  n_->Output("$ kill -9 " + std::to_string(broker_proc_.pid()) + "    # the broker");
  return broker_proc_.Kill();
}

HttpResponse Stage::BrokerHttp(const std::string& method, const std::string& target,
                               const std::string& body) {
  n_->Http(method, target, body);
  HttpResponse resp;
  Status s = broker_->Request(method, target, body, &resp);
  if (!s.ok()) {
    n_->Output("no answer: " + s.ToString());
    resp.status = 0;
    return resp;
  }
  n_->HttpReply(resp.status, resp.body);
  return resp;
}

std::vector<std::string> Stage::DwArgv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {opts_.binary};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--dsn", dsn_, "--broker", broker_url_, "--state-dir", dir_ + "/state"});
  return argv;
}

Status Stage::Spawn(const std::vector<std::string>& args, Child* child) {
  static int n = 0;
  std::vector<std::string> argv = DwArgv(args);
  n_->Command(argv);
  std::string base = dir_ + "/run" + std::to_string(n++);
  child->out_path = base + ".out";
  child->err_path = base + ".err";
  SpawnOptions so;
  so.stdout_path = child->out_path;
  so.stderr_path = child->err_path;
  so.append = false;
  Status s = dw::Spawn(argv, so, &child->pid);
  if (s.ok()) children_.push_back(child->pid);
  return s;
}

RunResult Stage::Wait(Child* child, std::chrono::milliseconds timeout) {
  std::optional<int> st = WaitChild(child->pid, timeout);
  if (!st) {
    n_->Output("still running after " + std::to_string(timeout.count()) + " ms: killed");
    kill(child->pid, SIGKILL);
    st = WaitChild(child->pid, milliseconds(5000));
  }
  std::erase(children_, child->pid);
  child->pid = -1;
  return Collect(*child, st);
}

RunResult Stage::Signal(Child* child, int sig) {
  n_->Output("$ kill -" +
             std::string(sig == SIGKILL   ? "9"
                         : sig == SIGTERM ? "TERM"
                                          : "?") +
             " " + std::to_string(child->pid));
  kill(child->pid, sig);
  return Wait(child, std::chrono::seconds(30));
}

void Stage::ShowResult(const RunResult& r, const std::vector<std::string>& keys) {
  std::string line = "exit code " + std::to_string(r.exit_code);
  if (r.json.is_object()) {
    for (const auto& k : keys) {
      if (!r.json.contains(k)) continue;
      const auto& v = r.json[k];
      char buf[32];
      if (v.is_number_float()) std::snprintf(buf, sizeof buf, "%.1f", v.get<double>());
      line += ", " + k + " " + (v.is_number_float() ? std::string(buf) : v.dump());
    }
  }
  std::string err = r.err;
  while (!err.empty() && err.back() == '\n') err.pop_back();
  if (!err.empty()) {
    size_t lines = std::count(err.begin(), err.end(), '\n') + 1;
    line += "; stderr (" + std::to_string(lines) + " line(s)), last: " +
            OneLine(err.substr(err.rfind('\n') == std::string::npos ? 0 : err.rfind('\n') + 1));
  }
  n_->Output(line);
}

RunResult Stage::Run(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  Child c;
  Status s = Spawn(args, &c);
  if (!s.ok()) {
    RunResult r;
    r.err = s.ToString();
    return r;
  }
  return Wait(&c, timeout);
}

// --- read-backs -------------------------------------------------------------

Table Stage::Query(const std::string& caption, const std::string& sql, const std::string& dsn) {
  pqxx::connection c{dsn.empty() ? dsn_ : dsn};
  pqxx::nontransaction tx{c};
  pqxx::result r = tx.exec(sql);
  Table t;
  t.caption = caption;
  for (pqxx::row::size_type i = 0; i < r.columns(); ++i) t.header.push_back(r.column_name(i));
  for (const auto& row : r) {
    std::vector<std::string> cells;
    for (const auto& f : row) cells.push_back(f.is_null() ? "" : f.c_str());
    t.rows.push_back(std::move(cells));
  }
  return t;
}

int64_t Stage::Int(const std::string& sql, const std::string& dsn) {
  pqxx::connection c{dsn.empty() ? dsn_ : dsn};
  pqxx::nontransaction tx{c};
  pqxx::row r = tx.exec1(sql);
  return r[0].is_null() ? 0 : r[0].as<int64_t>();
}

void Stage::ShowOrders() {
  n_->Show(Query("postgres: orders (committed rows)",
                 "SELECT id, customer, amount_cents FROM orders ORDER BY id LIMIT 10"));
  int64_t n = Int("SELECT count(*) FROM orders");
  if (n > 10) n_->Note("  ... " + std::to_string(n) + " rows in all");
}

void Stage::ShowOutbox(int limit) {
  if (Int("SELECT (to_regclass('outbox_table') IS NOT NULL)::int") == 0) {
    n_->Note("postgres: outbox_table does not exist yet");
    return;
  }
  n_->Show(Query("postgres: outbox_table by status",
                 "SELECT status, count(*) AS rows, min(id) AS min_id, max(id) AS max_id"
                 " FROM outbox_table GROUP BY status ORDER BY status"));
  if (limit > 0) {
    n_->Show(Query("postgres: outbox_table, first rows",
                   "SELECT id, event_id, msg_key, status, coalesce(locked_by, '') AS locked_by,"
                   " coalesce(to_char(locked_at, 'HH24:MI:SS.MS'), '') AS locked_at, txid"
                   " FROM outbox_table ORDER BY id LIMIT " +
                       std::to_string(limit)));
  }
}

void Stage::ShowPrepared() {
  n_->Show(Query("postgres: pg_prepared_xacts (whole cluster)",
                 "SELECT gid, database, transaction AS xid,"
                 " round(extract(epoch FROM now() - prepared) * 1000)::bigint AS age_ms"
                 " FROM pg_prepared_xacts ORDER BY prepared"));
}

Status Stage::TopicMessages(std::vector<BrokerMessage>* out) {
  out->clear();
  uint64_t from = 0;
  for (;;) {
    std::vector<BrokerMessage> batch;
    uint64_t next = 0;
    Status s = broker_->Read("orders", from, 1000, &batch, &next);
    if (s.IsNotFound()) return Status::OK();  // no topic yet
    if (!s.ok()) return s;
    if (batch.empty()) return Status::OK();
    for (auto& m : batch) out->push_back(std::move(m));
    from = next;
  }
}

void Stage::ShowTopic(int limit) {
  std::vector<BrokerMessage> msgs;
  Status s = TopicMessages(&msgs);
  if (!s.ok()) {
    n_->Note("broker: topic `orders` cannot be read: " + s.ToString());
    return;
  }
  Table t;
  t.caption = "broker: topic `orders` (" + std::to_string(msgs.size()) + " messages)";
  t.header = {"offset", "id", "key", "payload"};
  for (size_t i = 0; i < msgs.size() && static_cast<int>(i) < limit; ++i) {
    t.rows.push_back({std::to_string(msgs[i].offset), msgs[i].id, msgs[i].key, msgs[i].payload});
  }
  n_->Show(t);
  if (static_cast<int>(msgs.size()) > limit) {
    n_->Note("  ... " + std::to_string(msgs.size() - limit) + " more");
  }
}

void Stage::ShowBrokerPrepared() {
  std::vector<BrokerPrepared> list;
  Status s = broker_->ListPrepared(&list);
  if (!s.ok()) {
    n_->Note("broker: prepared transactions cannot be read: " + s.ToString());
    return;
  }
  Table t;
  t.caption = "broker: prepared transactions";
  t.header = {"gid", "messages", "keys"};
  for (const auto& p : list) {
    std::string keys;
    for (const auto& m : p.messages) keys += (keys.empty() ? "" : ",") + m.key;
    t.rows.push_back({p.gid, std::to_string(p.messages.size()), keys});
  }
  n_->Show(t);
}

void Stage::WarnForeignPrepared() {
  Table t = Query("postgres: prepared transactions in OTHER databases of this cluster",
                  "SELECT gid, database, transaction AS xid FROM pg_prepared_xacts"
                  " WHERE database <> current_database() ORDER BY prepared");
  if (t.rows.empty()) {
    n_->Note(
        "pg_prepared_xacts: no prepared transaction elsewhere in the cluster (good: it "
        "would hold back the xmin horizon this lesson watches).");
    return;
  }
  n_->Show(t);
  n_->Note(
      "WARNING: these hold back the cluster's xmin horizon; offset-safe and VACUUM wait "
      "for them. Resolve them (`dualwrite 2pc recover`) if the lesson stalls.");
}

Status Stage::EnsureOutboxSchema(int* partitions) {
  Status s = workload::EnsureOrdersSchema(dsn_);
  if (s.ok()) s = outbox::EnsureSchema(dsn_);
  outbox::MaintenanceReport mr;
  if (s.ok()) s = outbox::MaintainPartitions(dsn_, outbox::PartitionOptions{}, &mr);
  if (s.ok() && partitions) *partitions = static_cast<int>(mr.partitions);
  return s;
}

}  // namespace dw::demo
