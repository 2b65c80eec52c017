// Stage: the parties of one lesson, all its own, so what is read back shows
// only the lesson's rows and messages:
//   - a FRESH database dw_demo_<lesson> on the cluster (dropped and created;
//     prepared transactions and replication slots left in it by an earlier
//     run are removed first, since both block DROP DATABASE);
//   - its OWN broker process (`dualwrite broker serve` on a free 127.0.0.1
//     port, data in a temporary folder);
//   - the dualwrite processes it spawns (relays, crashing coordinators).
// The destructor removes all of it, also after a failure: children killed,
// broker stopped, prepared transactions rolled back, slots and database
// dropped, the temporary folder deleted.
//
// Everything a lesson sends goes through here and is narrated as sent:
// Session::Exec prints the SQL text and executes that very text (no hidden
// parameters: values are quoted literals), BrokerHttp prints the request and
// sends it with BrokerClient, Run/Spawn print the command line they execute.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/status.h"
#include "demo/narrator.h"
#include "env/broker_process.h"
#include "participants/broker_client.h"

namespace dw::demo {

struct StageOptions {
  std::string lesson;     // "2pc-blocking": the database is dw_demo_2pc_blocking
  std::string admin_dsn;  // any database of the cluster (the environment's `dualwrite`)
  std::string binary;     // the dualwrite executable to spawn
};

// A named Postgres session of the lesson (client "A", "B", "waiter"...).
// Exec narrates the statement, then runs exactly that text in autocommit
// mode (so BEGIN / PREPARE TRANSACTION / COMMIT PREPARED appear as typed).
// Throws (pqxx exceptions) on failure, and if the connection was silently
// re-established (libpqxx reconnects): the statements of an explicit
// transaction must not continue on a new backend.
class Session {
 public:
  Session(Narrator* n, std::string name, const std::string& dsn);
  pqxx::result Exec(const std::string& sql);
  pqxx::result Quiet(const std::string& sql);  // not narrated (read-backs)
  std::string Quote(const std::string& v) { return conn_.quote(v); }
  int backend_pid() const { return pid_; }
  pqxx::connection& conn() { return conn_; }

 private:
  Narrator* n_;
  std::string name_;
  pqxx::connection conn_;
  int pid_;
};

// A dualwrite process the lesson started.
struct Child {
  pid_t pid = -1;
  std::string out_path, err_path;
};

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal
  std::string out, err;
  nlohmann::json json;  // stdout parsed when it is one JSON object

  // json[key] as an integer, -1 when absent or not a number.
  int64_t Int(const char* key) const {
    return json.is_object() && json.contains(key) && json[key].is_number()
               ? json[key].get<int64_t>()
               : -1;
  }
};

class Stage {
 public:
  static Status Open(const StageOptions& opts, Narrator* n, std::unique_ptr<Stage>* out);
  ~Stage();

  // The orders table and the outbox (table, counter, partitions created
  // ahead) in the lesson's database; *partitions (may be null) receives how
  // many partitions the maintenance pass created.
  Status EnsureOutboxSchema(int* partitions = nullptr);

  const std::string& dsn() const { return dsn_; }
  const std::string& db() const { return db_; }
  const std::string& admin_dsn() const { return opts_.admin_dsn; }
  const std::string& broker_url() const { return broker_url_; }
  const std::string& dir() const { return dir_; }
  Narrator& n() { return *n_; }

  // --- the broker ---------------------------------------------------------
  // A request to the lesson's broker, narrated with its answer. A transport
  // failure (broker down) is narrated and returned as resp->status 0.
  HttpResponse BrokerHttp(const std::string& method, const std::string& target,
                          const std::string& body = "");
  pid_t broker_pid() const { return broker_proc_.pid(); }
  // SIGKILL (narrated as `kill -9 PID`), and back on the same port and data.
  Status KillBroker();
  Status StartBroker();

  // --- dualwrite processes -------------------------------------------------
  // argv after the binary; --dsn, --broker and --state-dir of the lesson are
  // appended. Narrates the full command line.
  std::vector<std::string> DwArgv(const std::vector<std::string>& args) const;
  RunResult Run(const std::vector<std::string>& args,
                std::chrono::milliseconds timeout = std::chrono::seconds(60));
  Status Spawn(const std::vector<std::string>& args, Child* child);
  // Sends `sig` (narrated as `kill -SIG PID`) and reaps it.
  RunResult Signal(Child* child, int sig);
  // Waits for a spawned child to exit by itself.
  RunResult Wait(Child* child, std::chrono::milliseconds timeout);
  // One narrated line: the exit code and the named keys of its JSON output
  // (or its last stderr line when there is no JSON).
  void ShowResult(const RunResult& r, const std::vector<std::string>& keys);

  // --- read-backs (not narrated: their tables are) -------------------------
  Table Query(const std::string& caption, const std::string& sql, const std::string& dsn = "");
  int64_t Int(const std::string& sql, const std::string& dsn = "");
  void ShowOrders();
  void ShowOutbox(int limit = 8);  // a summary by status + the first rows
  void ShowPrepared();             // pg_prepared_xacts of the whole cluster
  void ShowTopic(int limit = 8);   // the broker's `orders` topic
  void ShowBrokerPrepared();       // the broker's prepared transactions
  Status TopicMessages(std::vector<BrokerMessage>* out);
  // Cluster-wide prepared transactions outside this lesson's database: they
  // hold back the xmin horizon offset-safe and VACUUM depend on. Narrated.
  void WarnForeignPrepared();

 private:
  Stage(const StageOptions& opts, Narrator* n);
  void Cleanup();

  StageOptions opts_;
  Narrator* n_;
  std::string db_, dsn_, dir_;
  env::BrokerProcess broker_proc_;
  std::string broker_url_;
  std::unique_ptr<BrokerClient> broker_;
  std::vector<pid_t> children_;
};

// Milliseconds since `t`.
int64_t MsSince(std::chrono::steady_clock::time_point t);

}  // namespace dw::demo
