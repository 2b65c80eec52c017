// The embedded environment, end to end: the real `dualwrite up | down | env`
// binary against a real PostgreSQL cluster and a real broker process, each
// test in its own state folder under /tmp (not the shared ctest env).
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/process.h"
#include "env/environment.h"
#include "tests/support/test_support.h"

namespace fs = std::filesystem;
using dw::Status;
using nlohmann::json;

namespace {

class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    parent_ = dw::testing::TempDir("env");
    ASSERT_FALSE(parent_.empty());
    dir_ = parent_ + "/state";
  }

  void TearDown() override {
    // Whatever the test left running goes away with the folder.
    std::string out;
    Status s = Dualwrite({"down", "--purge"}, &out);
    EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << out;
    std::error_code ec;
    fs::remove_all(parent_, ec);
  }

  // Runs the real binary on this test's state folder; *out gets stdout+stderr.
  Status Dualwrite(std::vector<std::string> args, std::string* out) {
    std::vector<std::string> argv = {dw::testing::DualwriteBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--state-dir");
    argv.push_back(dir_);
    return dw::RunCommand(argv, out);
  }

  void Up(std::string* out = nullptr) {
    std::string o;
    Status s = Dualwrite({"up"}, &o);
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << o;
    if (out) *out = o;
  }

  json Env() {
    std::string out;
    Status s = Dualwrite({"env", "--json"}, &out);
    EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << out;
    json j = json::parse(out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "env --json printed something else than JSON:\n" << out;
    return j.is_discarded() ? json::object() : j;
  }

  json EnvFile() {
    std::ifstream in(dir_ + "/env.json");
    return json::parse(in, nullptr, /*allow_exceptions=*/false);
  }

  std::string parent_;
  std::string dir_;
};

std::string Show(const std::string& dsn, const std::string& setting) {
  pqxx::connection c(dsn);
  pqxx::nontransaction tx(c);
  return tx.exec1("SHOW " + setting)[0].as<std::string>();
}

int BrokerHealth(int port) {
  return dw::testing::RawHttp(port,
                              "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
}

TEST_F(EnvTest, UpIsIdempotentAndConfiguresTheClusterForTheLab) {
  Up();
  json first = Env();
  for (const char* key : {"dsn", "broker_url", "postgres_pid", "broker_pid", "running", "state_dir",
                          "prepared_transactions"}) {
    EXPECT_TRUE(first.contains(key)) << key << " missing in " << first.dump(2);
  }
  EXPECT_TRUE(first["running"].get<bool>()) << first.dump(2);
  EXPECT_EQ(first["state_dir"], dir_);
  const auto& prepared = first["prepared_transactions"];
  EXPECT_EQ(prepared["count"], 0);
  EXPECT_TRUE(prepared.contains("oldest_age_s"));
  EXPECT_TRUE(prepared["items"].is_array());
  EXPECT_EQ(first["broker_prepared"]["count"], 0);
  int pg_pid = first["postgres_pid"];
  int broker_pid = first["broker_pid"];
  EXPECT_GT(pg_pid, 0);
  EXPECT_GT(broker_pid, 0);

  // A second `up` reuses both processes and their ports.
  std::string out;
  Up(&out);
  EXPECT_NE(out.find("postgres is running"), std::string::npos) << out;
  EXPECT_NE(out.find("the broker is running"), std::string::npos) << out;
  EXPECT_EQ(out.find("starting"), std::string::npos) << out;
  json second = Env();
  EXPECT_EQ(second["postgres_pid"], pg_pid);
  EXPECT_EQ(second["broker_pid"], broker_pid);
  EXPECT_EQ(second["dsn"], first["dsn"]);
  EXPECT_EQ(second["broker_url"], first["broker_url"]);
  EXPECT_NE(out.find(first["dsn"].get<std::string>()), std::string::npos) << out;
  EXPECT_NE(out.find("psql '" + first["dsn"].get<std::string>() + "'"), std::string::npos) << out;

  // env.json records the same.
  json file = EnvFile();
  ASSERT_FALSE(file.is_discarded());
  EXPECT_EQ(file["dsn"], first["dsn"]);
  EXPECT_EQ(file["broker_url"], first["broker_url"]);
  EXPECT_EQ(file["postgres_pid"], pg_pid);
  EXPECT_EQ(file["broker_pid"], broker_pid);

  // What `psql` would show over the printed DSN.
  std::string dsn = first["dsn"];
  EXPECT_NE(dsn.find("host=127.0.0.1"), std::string::npos);
  EXPECT_NE(dsn.find("dbname=dualwrite"), std::string::npos);
  EXPECT_GE(std::stoi(Show(dsn, "max_prepared_transactions")), 256);
  EXPECT_EQ(Show(dsn, "wal_level"), "logical");
  EXPECT_EQ(Show(dsn, "max_connections"), "300");
  EXPECT_GE(std::stoi(Show(dsn, "max_replication_slots")), 10);
  EXPECT_GE(std::stoi(Show(dsn, "max_wal_senders")), 10);
  EXPECT_EQ(Show(dsn, "server_encoding"), "UTF8");
  EXPECT_EQ(Show(dsn, "listen_addresses"), "127.0.0.1");
  EXPECT_EQ(Show(dsn, "fsync"), "on");
  EXPECT_EQ(Show(dsn, "synchronous_commit"), "on");
  EXPECT_EQ(Show(dsn, "shared_buffers"), "128MB");
  EXPECT_EQ(Show(dsn, "unix_socket_directories"), dir_ + "/pg/run");
  {
    pqxx::connection c(dsn);
    pqxx::nontransaction tx(c);
    EXPECT_EQ(tx.exec1("SELECT current_user")[0].as<std::string>(), "postgres");
    EXPECT_EQ(tx.exec1("SELECT current_database()")[0].as<std::string>(), "dualwrite");
  }

  // The unix socket works too (trust for local connections).
  int port = first["postgres"]["port"];
  std::string socket_dsn =
      "host=" + dir_ + "/pg/run port=" + std::to_string(port) + " dbname=dualwrite user=postgres";
  EXPECT_EQ(Show(socket_dsn, "wal_level"), "logical");

  // pg_hba.conf lets a logical replication connection in (the log-based relay).
  PGconn* repl = PQconnectdb((dsn + " replication=database").c_str());
  ASSERT_EQ(PQstatus(repl), CONNECTION_OK) << PQerrorMessage(repl);
  PGresult* r = PQexec(repl, "IDENTIFY_SYSTEM");
  EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(repl);
  PQclear(r);
  PQfinish(repl);

  // As root the server runs as the `postgres` OS user (it refuses root).
  if (geteuid() == 0) {
    uid_t pg_uid;
    gid_t pg_gid;
    ASSERT_TRUE(dw::LookupUser("postgres", &pg_uid, &pg_gid));
    std::ifstream status("/proc/" + std::to_string(pg_pid) + "/status");
    std::string line, uid_line;
    while (std::getline(status, line)) {
      if (line.rfind("Uid:", 0) == 0) uid_line = line;
    }
    ASSERT_FALSE(uid_line.empty());
    EXPECT_EQ(std::stoul(uid_line.substr(4)), pg_uid) << uid_line;
    EXPECT_EQ(first["postgres"]["os_user"], "postgres");
  }

  // The broker answers at the printed URL.
  EXPECT_EQ(BrokerHealth(first["broker"]["port"]), 200);
}

TEST_F(EnvTest, DeadBrokerAndPostgresAreRestartedOnTheirPorts) {
  Up();
  json before = Env();
  pid_t broker_pid = before["broker_pid"];
  pid_t pg_pid = before["postgres_pid"];
  std::string dsn = before["dsn"];

  // A prepared transaction must survive the crash (it is durable state).
  {
    pqxx::connection c(dsn);
    pqxx::work tx(c);
    tx.exec0("CREATE TABLE survivors (id int)");
    tx.exec0("INSERT INTO survivors VALUES (1)");
    tx.exec0("PREPARE TRANSACTION 'env-test-crash'");
    // The COMMIT that pqxx sends now draws "there is no transaction in
    // progress", a warning only (see API-FACTS).
    tx.commit();
  }

  // And so must a message the broker acknowledged: its data dir is also
  // where `up` keeps the broker's output and pid file, which must not
  // disturb the broker's own files.
  int broker_port = before["broker"]["port"];
  std::string body = R"({"id":"env-test-1","payload":"still here"})";
  std::string reply;
  ASSERT_EQ(dw::testing::RawHttp(broker_port,
                                 "POST /topics/env-test/messages HTTP/1.1\r\nHost: t\r\n"
                                 "Content-Type: application/json\r\nConnection: close\r\n"
                                 "Content-Length: " +
                                     std::to_string(body.size()) + "\r\n\r\n" + body,
                                 &reply),
            201)
      << reply;

  ASSERT_EQ(kill(broker_pid, SIGKILL), 0);
  ASSERT_TRUE(dw::WaitGone(broker_pid, std::chrono::seconds(10)));
  json broken = Env();
  EXPECT_FALSE(broken["running"].get<bool>());
  EXPECT_EQ(broken["broker_pid"], 0);
  EXPECT_EQ(broken["postgres_pid"], pg_pid);

  std::string out;
  Up(&out);
  EXPECT_NE(out.find("restarting"), std::string::npos) << out;
  json after = Env();
  EXPECT_TRUE(after["running"].get<bool>());
  EXPECT_NE(after["broker_pid"], broker_pid);
  EXPECT_GT(after["broker_pid"].get<int>(), 0);
  EXPECT_EQ(after["broker_url"], before["broker_url"]) << "the port was free: keep it";
  EXPECT_EQ(after["postgres_pid"], pg_pid) << "postgres was fine: leave it alone";
  EXPECT_EQ(BrokerHealth(after["broker"]["port"]), 200);
  ASSERT_EQ(dw::testing::RawHttp(broker_port,
                                 "GET /topics/env-test/messages?from=0&limit=10 HTTP/1.1\r\n"
                                 "Host: t\r\nConnection: close\r\n\r\n",
                                 &reply),
            200);
  EXPECT_NE(reply.find("still here"), std::string::npos) << reply;
  {
    std::ifstream out_file(dir_ + "/broker/broker.out");
    std::string text((std::istreambuf_iterator<char>(out_file)), {});
    EXPECT_NE(text.find("listening"), std::string::npos) << text;
    // The broker's own record log holds nothing of its console output.
    std::ifstream log_file(dir_ + "/broker/broker.log");
    std::string records((std::istreambuf_iterator<char>(log_file)), {});
    EXPECT_EQ(records.find("listening"), std::string::npos);
    EXPECT_EQ(records.find("dualwrite up"), std::string::npos);
  }

  // Now the cluster.
  ASSERT_EQ(kill(pg_pid, SIGKILL), 0);
  ASSERT_TRUE(dw::WaitGone(pg_pid, std::chrono::seconds(10)));
  EXPECT_FALSE(Env()["running"].get<bool>());
  Up(&out);
  json healed = Env();
  EXPECT_TRUE(healed["running"].get<bool>());
  EXPECT_NE(healed["postgres_pid"], pg_pid);
  EXPECT_EQ(healed["dsn"], dsn) << "same port";
  EXPECT_EQ(healed["broker_pid"], after["broker_pid"]);
  ASSERT_EQ(healed["prepared_transactions"]["count"], 1) << healed.dump(2);
  EXPECT_EQ(healed["prepared_transactions"]["items"][0]["gid"], "env-test-crash");
  EXPECT_EQ(healed["prepared_transactions"]["items"][0]["database"], "dualwrite");
  pqxx::connection c(dsn);
  pqxx::nontransaction tx(c);
  tx.exec0("ROLLBACK PREPARED 'env-test-crash'");
}

TEST_F(EnvTest, EnvReportsInDoubtTransactionsOfPostgresAndTheBroker) {
  Up();
  json j = Env();
  std::string dsn = j["dsn"];
  int broker_port = j["broker"]["port"];
  {
    pqxx::connection c(dsn);
    for (const char* gid : {"env-test-a", "env-test-b"}) {
      pqxx::work tx(c);
      tx.exec("SELECT 1");
      tx.exec0("PREPARE TRANSACTION " + tx.quote(gid));
      tx.commit();
    }
  }
  std::string body = R"({"messages":[{"topic":"env-test","payload":"x"}]})";
  std::string req =
      "POST /transactions/env-test-broker/prepare HTTP/1.1\r\nHost: t\r\n"
      "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  std::string reply;
  ASSERT_EQ(dw::testing::RawHttp(broker_port, req, &reply), 200) << reply;

  json after = Env();
  const auto& pg = after["prepared_transactions"];
  ASSERT_EQ(pg["count"], 2) << after.dump(2);
  EXPECT_EQ(pg["items"][0]["gid"], "env-test-a");  // oldest first
  EXPECT_EQ(pg["items"][1]["gid"], "env-test-b");
  EXPECT_DOUBLE_EQ(pg["oldest_age_s"].get<double>(), pg["items"][0]["age_s"].get<double>());
  EXPECT_GE(pg["items"][0]["age_s"].get<double>(), pg["items"][1]["age_s"].get<double>());
  EXPECT_GE(pg["items"][1]["age_s"].get<double>(), 0.0);
  const auto& broker = after["broker_prepared"];
  ASSERT_EQ(broker["count"], 1) << after.dump(2);
  EXPECT_EQ(broker["gids"][0], "env-test-broker");

  // The human form lists them too.
  std::string out;
  ASSERT_TRUE(Dualwrite({"env"}, &out).ok()) << out;
  EXPECT_NE(out.find("env-test-a"), std::string::npos) << out;
  EXPECT_NE(out.find("env-test-broker"), std::string::npos) << out;

  pqxx::connection c(dsn);
  pqxx::nontransaction tx(c);
  tx.exec0("ROLLBACK PREPARED 'env-test-a'");
  tx.exec0("ROLLBACK PREPARED 'env-test-b'");
}

TEST_F(EnvTest, DownStopsEverythingAndPurgeDeletesTheFolder) {
  Up();
  json j = Env();
  pid_t pg_pid = j["postgres_pid"];
  pid_t broker_pid = j["broker_pid"];

  std::string out;
  ASSERT_TRUE(Dualwrite({"down"}, &out).ok()) << out;
  EXPECT_FALSE(dw::ProcessAlive(pg_pid));
  EXPECT_FALSE(dw::ProcessAlive(broker_pid));
  json down = Env();
  EXPECT_FALSE(down["running"].get<bool>());
  EXPECT_EQ(down["postgres_pid"], 0);
  EXPECT_EQ(down["broker_pid"], 0);
  EXPECT_FALSE(down.contains("prepared_transactions")) << "nothing to report when stopped";
  EXPECT_FALSE(fs::exists(dir_ + "/broker/broker.pid"));
  EXPECT_TRUE(fs::exists(dir_ + "/pg/data/PG_VERSION")) << "plain down keeps the data";

  // Idempotent.
  ASSERT_TRUE(Dualwrite({"down"}, &out).ok()) << out;

  // Up again: the same cluster, the same ports.
  Up();
  json again = Env();
  EXPECT_TRUE(again["running"].get<bool>());
  EXPECT_EQ(again["dsn"], j["dsn"]);
  EXPECT_EQ(again["broker_url"], j["broker_url"]);
  pg_pid = again["postgres_pid"];
  broker_pid = again["broker_pid"];
  // What commands leave in the folder is dualwrite's too: `3pc run`'s agent
  // logs, the default home of 2pc file decision logs.
  fs::create_directories(dir_ + "/3pc/agent-1");
  fs::create_directories(dir_ + "/coordinator");

  ASSERT_TRUE(Dualwrite({"down", "--purge"}, &out).ok()) << out;
  EXPECT_FALSE(dw::ProcessAlive(pg_pid));
  EXPECT_FALSE(dw::ProcessAlive(broker_pid));
  EXPECT_FALSE(fs::exists(dir_));
  ASSERT_TRUE(Dualwrite({"down", "--purge"}, &out).ok()) << out;
  EXPECT_FALSE(Env()["running"].get<bool>());
}

TEST_F(EnvTest, PurgeRefusesAFolderDualwriteDidNotMake) {
  fs::create_directories(dir_);
  std::ofstream(dir_ + "/precious.txt") << "keep me\n";
  std::string out;
  Status s = Dualwrite({"down", "--purge"}, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(out.find("refusing to purge"), std::string::npos) << out;
  EXPECT_TRUE(fs::exists(dir_ + "/precious.txt"));
  fs::remove(dir_ + "/precious.txt");
}

TEST_F(EnvTest, EnvOnAFolderThatWasNeverCreatedSaysNotRunning) {
  json j = Env();
  EXPECT_FALSE(j["running"].get<bool>());
  EXPECT_EQ(j["postgres_pid"], 0);
  EXPECT_EQ(j["broker_pid"], 0);
  EXPECT_EQ(j["dsn"], "");
  EXPECT_EQ(j["broker_url"], "");
  EXPECT_FALSE(j["postgres"]["created"].get<bool>());
  EXPECT_FALSE(fs::exists(dir_)) << "env must not create anything";
}

TEST_F(EnvTest, StateFolderThePostgresUserCannotReachFailsWithOneClearLine) {
  if (geteuid() != 0) GTEST_SKIP() << "only root runs the cluster as another OS user";
  // A root-owned folder with mode 700 (like /root) above the state folder.
  std::string closed = parent_ + "/closed";
  ASSERT_TRUE(fs::create_directory(closed));
  ASSERT_EQ(chmod(closed.c_str(), 0700), 0);
  std::string saved = dir_;
  dir_ = closed + "/state";
  std::string out;
  Status s = Dualwrite({"up"}, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(out.find("cannot reach the state folder " + dir_), std::string::npos) << out;
  EXPECT_NE(out.find("--state-dir"), std::string::npos) << out;
  EXPECT_NE(out.find("/tmp/dualwrite"), std::string::npos) << out;
  // One line.
  std::string trimmed = out.substr(0, out.find_last_not_of('\n') + 1);
  EXPECT_EQ(trimmed.find('\n'), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir_)) << "a refusal leaves nothing behind";
  dir_ = saved;
}

TEST_F(EnvTest, TooLongSocketPathFailsClearly) {
  std::string saved = dir_;
  dir_ = parent_ + "/" + std::string(100, 'x');
  std::string out;
  Status s = Dualwrite({"up"}, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(out.find("unix socket"), std::string::npos) << out;
  EXPECT_NE(out.find("shorter --state-dir"), std::string::npos) << out;
  dir_ = saved;
}

TEST_F(EnvTest, ConcurrentUpsShareOneEnvironment) {
  // Commands that resolve the embedded env may start together: they take
  // turns on the state folder's lock, and only one cluster/broker results.
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i) {
    dw::SpawnOptions o;
    o.stdout_path = parent_ + "/up" + std::to_string(i) + ".out";
    o.stderr_path = "=stdout";
    pid_t pid;
    ASSERT_TRUE(
        dw::Spawn({dw::testing::DualwriteBinary(), "up", "--state-dir", dir_}, o, &pid).ok());
    pids.push_back(pid);
  }
  for (size_t i = 0; i < pids.size(); ++i) {
    auto st = dw::WaitChild(pids[i], std::chrono::seconds(120));
    ASSERT_TRUE(st.has_value());
    std::ifstream in(parent_ + "/up" + std::to_string(i) + ".out");
    std::string out((std::istreambuf_iterator<char>(in)), {});
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << out;
  }
  json j = Env();
  EXPECT_TRUE(j["running"].get<bool>());
  // Exactly one broker serves this folder.
  int brokers = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::ifstream cmd(e.path() / "cmdline");
    std::string all((std::istreambuf_iterator<char>(cmd)), {});
    if (all.find("serve") != std::string::npos && all.find(dir_ + "/broker") != std::string::npos) {
      ++brokers;
    }
  }
  EXPECT_EQ(brokers, 1);
}

TEST_F(EnvTest, ResolveUsesGivenEndpointsAndStartsOnlyWhatIsMissing) {
  dw::env::Endpoints ep;
  Status s = dw::env::Resolve(dir_, "host=db.example port=1 dbname=x", "http://broker.example:1",
                              &ep, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ep.dsn, "host=db.example port=1 dbname=x");
  EXPECT_EQ(ep.broker_url, "http://broker.example:1");
  EXPECT_FALSE(fs::exists(dir_)) << "given endpoints: nothing started";

  // Only the DSN missing: the embedded cluster comes up, no broker.
  setenv("DUALWRITE_BINARY", dw::testing::DualwriteBinary().c_str(), 1);
  s = dw::env::Resolve(dir_, "", "http://broker.example:1", &ep, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ep.broker_url, "http://broker.example:1");
  EXPECT_EQ(Show(ep.dsn, "wal_level"), "logical");
  json j = Env();
  EXPECT_EQ(j["dsn"], ep.dsn);
  EXPECT_FALSE(j["broker"]["running"].get<bool>());

  // Nothing given: both, the same cluster.
  dw::env::Endpoints both;
  s = dw::env::Resolve(dir_, "", "", &both, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(both.dsn, ep.dsn);
  EXPECT_EQ(Env()["broker_url"], both.broker_url);
  EXPECT_TRUE(Env()["running"].get<bool>());
  // In-process Down: the broker is our child here, and this reaps it.
  s = dw::env::Environment(dir_).Down(/*purge=*/true, nullptr);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

}  // namespace
