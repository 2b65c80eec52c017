// Security and hostile input, end to end with the real binary, real
// Postgres clusters and real broker processes:
//   - a DSN's password never appears in what dualwrite prints or writes
//     (errors of every command, `env`, compare's report / results / cells);
//   - an unreachable or wrong DSN is one line, non-zero, in bounded time;
//   - max_prepared_transactions = 0 is one line that says how to fix it,
//     and the fix works;
//   - hostile customers (quotes, backslashes, multi-byte / RTL / emoji,
//     control characters, 60 KB) go through 2PC and the outbox (skip-locked
//     and cdc relays) and come back byte-exact from the orders row and the
//     broker; a NUL byte is refused with a clear error, never truncated,
//     and a NUL in a broker payload round-trips (JSON "\u0000");
//   - hostile topic names, gids and ids at the broker API are refused (4xx)
//     or stored and served exactly, and nothing lands outside the data dir.
// Private clusters use scram passwords (the embedded ones trust loopback, so
// a wrong password would pass there).
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/process.h"
#include "participants/postgres_participant.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"
#include "tests/support/throwaway_cluster.h"
#include "workload/orders.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

using dw::testing::CliRun;
using dw::testing::ReadFileBytes;
using PasswordCluster = dw::testing::ThrowawayCluster;

// The real binary, stdout and stderr apart, killed after `timeout`.
CliRun Dw(const std::vector<std::string>& args,
          std::chrono::seconds timeout = std::chrono::seconds(120)) {
  return dw::testing::RunCli(args, timeout);
}

void ExpectOneErrorLine(const CliRun& r) {
  EXPECT_FALSE(r.timed_out);
  EXPECT_GT(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("dualwrite: error: ", 0), 0u) << r.err;
}

// Every file under `dir` (recursively) that contains `needle`.
std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle) {
  std::vector<std::string> hits;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && ReadFileBytes(e.path().string()).find(needle) != std::string::npos) {
      hits.push_back(e.path().string());
    }
  }
  return hits;
}

// libpq, binary-safe: rows of one text column as raw bytes.
std::vector<std::string> Column(const std::string& dsn, const std::string& sql) {
  std::vector<std::string> out;
  PGconn* c = PQconnectdb(dsn.c_str());
  EXPECT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PGresult* r = PQexec(c, sql.c_str());
  EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << sql << ": " << PQresultErrorMessage(r);
  for (int i = 0; i < PQntuples(r); ++i) {
    out.emplace_back(PQgetvalue(r, i, 0), PQgetlength(r, i, 0));
  }
  PQclear(r);
  PQfinish(c);
  return out;
}

void Exec(const std::string& dsn, const std::string& sql) {
  PGconn* c = PQconnectdb(dsn.c_str());
  ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PGresult* r = PQexec(c, sql.c_str());
  auto st = PQresultStatus(r);
  std::string err = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  ASSERT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) << sql << ": " << err;
}

// ---------------------------------------------------------------------------
// DSNs: errors in bounded time, one line, never the password.

TEST(SecurityDsnTest, UnreachableOrWrongDsnIsOneLineAndNeverShowsThePassword) {
  const std::string right = "R1ghtS3cretPW";
  PasswordCluster pc;
  DW_START_THROWAWAY_CLUSTER(pc, {"max_prepared_transactions = 8"}, right, 100);
  std::string bdir = dw::testing::TempDir("sec-dsn-broker");
  dw::testing::BrokerProcess broker(bdir + "/data");
  ASSERT_NO_FATAL_FAILURE(broker.Start());
  std::string state = dw::testing::TempDir("sec-dsn") + "/state";

  struct Bad {
    std::string what, dsn, secret;
  };
  const std::vector<Bad> dsns = {
      {"refused port (URI)", "postgresql://u:S3cretPW@127.0.0.1:1/x", "S3cretPW"},
      {"refused port (key=value)", "host=127.0.0.1 port=1 user=u password=S3cretPW dbname=x",
       "S3cretPW"},
      {"wrong password (URI)", pc.uri("Wr0ngS3cretPW"), "Wr0ngS3cretPW"},
      {"wrong password (key=value, quoted)",
       "host=127.0.0.1 port=" + std::to_string(pc.port()) + " user=" + PasswordCluster::kRole +
           " password='Wr0ng S3cret PW' dbname=postgres",
       "Wr0ng S3cret PW"},
      {"no such database", pc.kv(right, "no_such_db"), right},
      {"no such database (URI)", pc.uri(right, "no_such_db"), right},
  };
  const std::vector<std::vector<std::string>> commands = {
      {"2pc", "run", "-n", "1"},
      {"2pc", "recover"},
      {"outbox", "write", "-n", "1"},
      {"outbox", "relay", "--strategy", "skip-locked", "--until-drained"},
      {"outbox", "relay", "--strategy", "cdc", "--until-drained"},
      {"outbox", "maintain"},
      {"verify"},
      {"floor", "-n", "1"},
  };
  for (const Bad& b : dsns) {
    for (const auto& cmd : commands) {
      std::vector<std::string> args = {"--state-dir", state,      "--dsn",
                                       b.dsn,         "--broker", broker.url()};
      args.insert(args.end(), cmd.begin(), cmd.end());
      std::string name = b.what + ":";
      for (const auto& a : cmd) name += " " + a;
      SCOPED_TRACE(name);
      CliRun r = Dw(args, std::chrono::seconds(60));
      ExpectOneErrorLine(r);
      EXPECT_LT(r.seconds, 30) << "an unreachable database must fail fast";
      EXPECT_EQ(r.out.find(b.secret), std::string::npos) << r.out;
      EXPECT_EQ(r.err.find(b.secret), std::string::npos) << r.err;
      EXPECT_FALSE(fs::exists(state)) << "an embedded environment was created";
    }
  }
  // `env` with a password DSN on the command line, human and JSON.
  for (const auto& extra : std::vector<std::vector<std::string>>{{}, {"--json"}}) {
    std::vector<std::string> args = {"--state-dir", state, "--dsn", pc.uri(right), "env"};
    args.insert(args.end(), extra.begin(), extra.end());
    CliRun r = Dw(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ((r.out + r.err).find(right), std::string::npos) << r.out << r.err;
  }
  broker.Stop();
  std::error_code ec;
  fs::remove_all(bdir, ec);
  fs::remove_all(fs::path(state).parent_path(), ec);
}

// compare against a cluster reached with a password: the password is in
// none of its outputs, its cells' files (kept) included.
TEST(SecurityDsnTest, CompareWithAPasswordDsnWritesItNowhere) {
  const std::string password = "Cmp4reS3cretPW";
  PasswordCluster pc;
  DW_START_THROWAWAY_CLUSTER(pc, {"max_prepared_transactions = 16"}, password, 100);
  std::string parent = dw::testing::TempDir("sec-compare");
  std::string out = parent + "/out";
  for (const std::string& dsn : {pc.uri(password), pc.kv(password)}) {
    SCOPED_TRACE(dsn.substr(0, 12));
    fs::remove_all(out);
    CliRun r = Dw({"--state-dir", parent + "/state", "--dsn", dsn, "compare", "--smoke", "--only",
                   "floor", "--keep-cells", "--out", out},
                  std::chrono::seconds(400));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ASSERT_TRUE(fs::exists(out + "/report.md"));
    ASSERT_TRUE(fs::exists(out + "/results.json"));
    EXPECT_EQ(r.out.find(password), std::string::npos) << r.out;
    EXPECT_EQ(r.err.find(password), std::string::npos) << r.err;
    std::vector<std::string> hits = FilesContaining(out, password);
    EXPECT_TRUE(hits.empty()) << "the password is in " << hits.front();
    // The results still say which server was used, without the secret.
    json j = json::parse(ReadFileBytes(out + "/results.json"), nullptr, false);
    ASSERT_FALSE(j.is_discarded());
    EXPECT_NE(j.dump().find("127.0.0.1"), std::string::npos);
  }
  std::error_code ec;
  fs::remove_all(parent, ec);
}

// ---------------------------------------------------------------------------
// max_prepared_transactions = 0: the CLI says how to fix it; the fix works.

TEST(SecurityDsnTest, TwoPcRunWithoutPreparedTransactionsSaysHowToFixIt) {
  const std::string password = "Mpt0S3cretPW";
  PasswordCluster pc;
  DW_START_THROWAWAY_CLUSTER(pc, {"max_prepared_transactions = 0"}, password, 100);
  std::string bdir = dw::testing::TempDir("sec-mpt-broker");
  dw::testing::BrokerProcess broker(bdir + "/data");
  ASSERT_NO_FATAL_FAILURE(broker.Start());
  std::string state = bdir + "/state";
  const std::vector<std::string> run = {"--state-dir", state,        "--dsn", pc.uri(password),
                                        "--broker",    broker.url(), "2pc",   "run",
                                        "-n",          "3"};
  CliRun r = Dw(run);
  ExpectOneErrorLine(r);
  EXPECT_NE(r.err.find("max_prepared_transactions is 0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ALTER SYSTEM SET max_prepared_transactions = 256"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("restart"), std::string::npos) << r.err;
  EXPECT_EQ((r.out + r.err).find(password), std::string::npos);
  EXPECT_FALSE(fs::exists(state));

  // Follow the advice.
  ASSERT_NO_FATAL_FAILURE(Exec(pc.local_dsn(), "ALTER SYSTEM SET max_prepared_transactions = 256"));
  ASSERT_EQ(pc.PgCtl("restart"), "");
  r = Dw(run);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Dw({"--state-dir", state, "--dsn", pc.uri(password), "--broker", broker.url(), "verify",
          "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  json v = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(v.is_discarded()) << r.out;
  EXPECT_EQ(v.dump().find(password), std::string::npos);
  EXPECT_FALSE(fs::exists(state));
  broker.Stop();
  std::error_code ec;
  fs::remove_all(bdir, ec);
}

// ---------------------------------------------------------------------------
// Hostile payloads through both approaches.

std::string HostileCustomer() {
  std::string s =
      "'; DROP TABLE orders; -- \"double\" 'single' `back` \\ \\\\ \\' \\x00 \\u0000 $1 %s %n "
      "{\"json\": [1]} <script>alert(1)</script> "
      "é ñ ü ß 日本語 中文 한국어 "
      "\xd7\xa2\xd7\x91\xd7\xa8\xd7\x99\xd7\xaa "  // Hebrew (RTL)
      "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 "  // Arabic (RTL)
      "\xe2\x80\xae override \xe2\x80\xac "        // U+202E RLO ... U+202C PDF
      "\xe2\x80\xa8 \xe2\x80\xa9 "                 // U+2028, U+2029 (JS line breaks)
      "\xef\xbb\xbf \xef\xbf\xbd "                 // BOM, replacement character
      "\xf0\x9f\x98\x80\xf0\x9f\x9a\x80\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb ";  // emoji,
                                                                                        // ZWJ
  for (int c = 1; c < 0x20; ++c) s += static_cast<char>(c);  // every control character but NUL
  s += '\x7f';
  s += std::string(60000, 'L');  // very long
  s += " end";
  return s;
}

struct Published {
  std::string id, key, payload;
};

// Every message of `topic` at the broker (raw HTTP, Content-Length framed).
std::vector<Published> ReadTopic(int port, const std::string& topic) {
  std::string body;
  int code = dw::testing::RawHttp(port,
                                  "GET /topics/" + topic +
                                      "/messages?from=0&limit=1000 HTTP/1.1\r\nHost: t\r\n"
                                      "Connection: close\r\n\r\n",
                                  &body, std::chrono::milliseconds(20000));
  EXPECT_EQ(code, 200) << body.substr(0, 300);
  std::vector<Published> out;
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "not JSON: " << body.substr(0, 300);
    return out;
  }
  for (const auto& m : j["messages"]) {
    out.push_back({m.value("id", ""), m.value("key", ""), m.value("payload", "")});
  }
  return out;
}

// The orders rows and the broker's messages carry `customer` byte-exact.
void ExpectCarried(const std::string& dsn, int broker_port, const std::string& customer, size_t n) {
  std::vector<std::string> rows = Column(dsn, "SELECT customer FROM orders ORDER BY id");
  ASSERT_EQ(rows.size(), n);
  for (const auto& c : rows) {
    EXPECT_EQ(c.size(), customer.size());
    EXPECT_TRUE(c == customer) << "the orders row differs";
  }
  std::vector<std::string> ids = Column(dsn, "SELECT id::text FROM orders ORDER BY id");
  std::vector<Published> msgs = ReadTopic(broker_port, "orders");
  ASSERT_EQ(msgs.size(), n);
  std::set<std::string> keys;
  for (const auto& m : msgs) {
    keys.insert(m.key);
    EXPECT_EQ(m.id, "order-" + m.key);
    json p = json::parse(m.payload, nullptr, false);
    ASSERT_FALSE(p.is_discarded()) << "payload is not JSON";
    EXPECT_EQ(p.value("type", ""), "OrderPlaced");
    EXPECT_EQ(std::to_string(p.value("order_id", int64_t{-1})), m.key);
    const std::string got = p.value("customer", "");
    EXPECT_EQ(got.size(), customer.size());
    EXPECT_TRUE(got == customer) << "the event's customer differs";
    // Byte-exact as text too: the payload is exactly what the writer
    // serialised (nlohmann's canonical dump), not re-escaped on the way.
    EXPECT_TRUE(p.dump() == m.payload) << "the payload text was altered";
  }
  EXPECT_EQ(keys, std::set<std::string>(ids.begin(), ids.end()));
}

TEST(SecurityPayloadTest, HostileCustomersRoundTripByteExactThroughBothApproaches) {
  const std::string customer = HostileCustomer();
  ASSERT_TRUE(dw::workload::ValidateCustomer(customer).ok());
  std::string dir = dw::testing::TempDir("sec-payload");
  std::string file = dir + "/customer";
  std::ofstream(file, std::ios::binary) << customer;
  std::string state = dir + "/state";

  {
    SCOPED_TRACE("2pc run");
    std::string dsn = dw::testing::ScratchDatabase("dw_sec_2pc");
    dw::testing::BrokerProcess b(dir + "/b2pc");
    ASSERT_NO_FATAL_FAILURE(b.Start());
    CliRun r = Dw({"--state-dir", state, "--dsn", dsn, "--broker", b.url(), "2pc", "run", "-n", "3",
                   "-c", "2", "--customer-file", file, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out, nullptr, false).value("committed", 0), 3) << r.out;
    ExpectCarried(dsn, b.port(), customer, 3);
  }
  for (const std::string strategy : {"skip-locked", "cdc"}) {
    SCOPED_TRACE("outbox write + relay " + strategy);
    std::string db = strategy == "cdc" ? "dw_sec_outbox_cdc" : "dw_sec_outbox_skip";
    std::string dsn = dw::testing::ScratchDatabase(db);
    dw::testing::BrokerProcess b(dir + "/b" + db);
    ASSERT_NO_FATAL_FAILURE(b.Start());
    CliRun r = Dw({"--state-dir", state, "--dsn", dsn, "outbox", "write", "-n", "3", "-c", "2",
                   "--customer-file", file});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = Dw({"--state-dir", state, "--dsn", dsn, "--broker", b.url(), "outbox", "relay",
            "--strategy", strategy, "--until-drained", "--max-run-s", "90", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ExpectCarried(dsn, b.port(), customer, 3);
    if (strategy == "cdc") {
      // Leave no replication slot behind: it would pin WAL in the shared cluster.
      Exec(dsn,
           "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
           " WHERE database = current_database() AND NOT active");
    }
  }
  {
    SCOPED_TRACE("floor");
    std::string dsn = dw::testing::ScratchDatabase("dw_sec_floor");
    CliRun r =
        Dw({"--state-dir", state, "--dsn", dsn, "floor", "-n", "2", "--customer-file", file});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> rows = Column(dsn, "SELECT customer FROM orders");
    ASSERT_EQ(rows.size(), 2u);
    for (const auto& c : rows) EXPECT_TRUE(c == customer);
  }
  EXPECT_FALSE(fs::exists(state)) << "--dsn and --broker were given: nothing to start";
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// Postgres text cannot hold a NUL byte. Documented behaviour: a customer
// with one is refused with a clear error before anything is written (CLI,
// workload), and a statement parameter with one is refused by the Postgres
// participant (libpq would otherwise cut the value there, silently).
TEST(SecurityPayloadTest, NulInACustomerIsRefusedNeverTruncated) {
  std::string dir = dw::testing::TempDir("sec-nul");
  std::string file = dir + "/customer";
  const std::string with_nul("before\0after", 12);
  std::ofstream(file, std::ios::binary) << with_nul;
  std::string dsn = dw::testing::ScratchDatabase("dw_sec_nul");
  const std::vector<std::vector<std::string>> commands = {
      {"2pc", "run", "-n", "1"}, {"outbox", "write", "-n", "1"}, {"floor", "-n", "1"}};
  for (const auto& cmd : commands) {
    std::vector<std::string> args = {"--state-dir", dir + "/state", "--dsn",
                                     dsn,           "--broker",     "http://127.0.0.1:1"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    args.insert(args.end(), {"--customer-file", file});
    SCOPED_TRACE(cmd[0]);
    CliRun r = Dw(args);
    ExpectOneErrorLine(r);
    EXPECT_NE(r.err.find("NUL"), std::string::npos) << r.err;
  }
  EXPECT_EQ(Column(dsn, "SELECT count(*)::text FROM pg_tables WHERE tablename = 'orders'"),
            std::vector<std::string>{"0"})
      << "nothing may be written";
  EXPECT_FALSE(dw::workload::SetCustomerOverride(with_nul).ok());
  EXPECT_FALSE(dw::workload::SetCustomerOverride("caf\xe9").ok());       // Latin-1, not UTF-8
  EXPECT_FALSE(dw::workload::SetCustomerOverride("\xed\xa0\x80").ok());  // a surrogate
  EXPECT_FALSE(dw::workload::SetCustomerOverride("\xc0\xaf").ok());      // overlong '/'
  EXPECT_TRUE(dw::workload::SetCustomerOverride("").ok());
  dw::workload::ClearCustomerOverride();

  // The participant, both paths (one-phase and PREPARE).
  Exec(dsn, "CREATE TABLE kv (id int PRIMARY KEY, v text)");
  dw::PgPool::Options po;
  po.dsn = dsn;
  std::unique_ptr<dw::PostgresParticipant> pg;
  ASSERT_TRUE(dw::PostgresParticipant::Create(po, dw::PostgresParticipant::Options{}, &pg).ok());
  dw::Work w;
  w.statements.push_back({"INSERT INTO kv VALUES ($1, $2)", {"1", with_nul}});
  dw::Status s = pg->CommitOnePhase(w);
  EXPECT_EQ(s.code(), dw::Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("NUL"), std::string::npos) << s.ToString();
  s = pg->Prepare("dw-sec-nul-1", w);
  EXPECT_EQ(s.code(), dw::Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_TRUE(pg->Abort("dw-sec-nul-1").ok());
  EXPECT_EQ(Column(dsn, "SELECT count(*)::text FROM kv"), std::vector<std::string>{"0"})
      << "a truncated value was stored";
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// ---------------------------------------------------------------------------
// The broker API: NUL and hostile names.

std::string Post(const std::string& path, const std::string& body) {
  return "POST " + path + " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}
std::string Get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
}

TEST(SecurityBrokerTest, NulAndHostileBytesInPayloadsRoundTrip) {
  std::string dir = dw::testing::TempDir("sec-bnul");
  dw::testing::BrokerProcess b(dir + "/data");
  ASSERT_NO_FATAL_FAILURE(b.Start());
  const std::string payload = std::string("a\0b", 3) + HostileCustomer().substr(0, 2000);
  const std::string key = std::string("k\0", 2) + "\xf0\x9f\x98\x80'\"\\";
  json m = {{"id", "nul-1"}, {"key", key}, {"payload", payload}};
  std::string body;
  ASSERT_EQ(dw::testing::RawHttp(b.port(), Post("/topics/nul/messages", m.dump()), &body), 201)
      << body;
  // Through a 2PC transaction too.
  json t = {
      {"messages",
       json::array({{{"topic", "nul"}, {"id", "nul-2"}, {"key", key}, {"payload", payload}}})}};
  ASSERT_EQ(dw::testing::RawHttp(b.port(), Post("/transactions/g-nul/prepare", t.dump()), &body),
            200)
      << body;
  ASSERT_EQ(dw::testing::RawHttp(b.port(), Post("/transactions/g-nul/commit", ""), &body), 200)
      << body;
  b.Restart();  // and through the log's replay
  std::vector<Published> got = ReadTopic(b.port(), "nul");
  ASSERT_EQ(got.size(), 2u);
  for (const auto& p : got) {
    EXPECT_TRUE(p.payload == payload) << "payload altered (size " << p.payload.size() << ")";
    EXPECT_TRUE(p.key == key) << "key altered";
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST(SecurityBrokerTest, HostileNamesAreRefusedOrServedExactlyAndStayInTheDataDir) {
  std::string parent = dw::testing::TempDir("sec-names");
  std::string data = parent + "/data";
  dw::testing::BrokerProcess b(data);
  ASSERT_NO_FATAL_FAILURE(b.Start());
  std::set<std::string> before;
  for (const auto& e : fs::recursive_directory_iterator(data)) before.insert(e.path().string());

  const std::vector<std::string> names = {"a'b",
                                          "a\"b",
                                          "../x",
                                          "..%2F..%2Fetc",
                                          "%2e%2e%2fetc",
                                          "%00",
                                          "a%00b",
                                          "..",
                                          ".",
                                          "x/../../y",
                                          "a%2Fb",
                                          "a;b",
                                          "a b",
                                          "caf%C3%A9",
                                          "\xc3\xa9t\xc3\xa9",
                                          std::string(201, 'a'),
                                          std::string(8000, 'b'),
                                          "ok.name:1",
                                          std::string(200, 'c'),
                                          "%ff%fe",
                                          "a\\b",
                                          "~",
                                          "$(id)",
                                          "*"};
  int stored = 0;
  for (const std::string& name : names) {
    SCOPED_TRACE("name '" + name.substr(0, 40) + "'");
    std::string body;
    json msg = {{"id", "i1"}, {"key", "k"}, {"payload", "p"}};
    int code =
        dw::testing::RawHttp(b.port(), Post("/topics/" + name + "/messages", msg.dump()), &body);
    EXPECT_TRUE((code >= 200 && code < 300) || (code >= 400 && code < 500)) << code << " " << body;
    if (code >= 200 && code < 300) {
      ++stored;
      // Stored: served back exactly, under exactly that name.
      std::vector<Published> got = ReadTopic(b.port(), name);
      ASSERT_EQ(got.size(), 1u);
      EXPECT_EQ(got[0].payload, "p");
    }
    code = dw::testing::RawHttp(b.port(), Get("/topics/" + name + "/messages?from=0"), &body);
    EXPECT_TRUE((code >= 200 && code < 300) || (code >= 400 && code < 500)) << code << " " << body;
    json t = {
        {"messages", json::array({{{"topic", "t"}, {"id", "x"}, {"key", "k"}, {"payload", "p"}}})}};
    for (const std::string op : {"prepare", "commit", "abort"}) {
      code = dw::testing::RawHttp(
          b.port(), Post("/transactions/" + name + "/" + op, op == "prepare" ? t.dump() : ""),
          &body);
      EXPECT_TRUE((code >= 200 && code < 300) || (code >= 400 && code < 500))
          << op << " " << code << " " << body;
    }
    // Hostile names in the JSON body: the topic of a staged message.
    json bad = {{"messages",
                 json::array({{{"topic", name}, {"id", "x"}, {"key", "k"}, {"payload", "p"}}})}};
    code = dw::testing::RawHttp(b.port(), Post("/transactions/g-body/prepare", bad.dump()), &body);
    EXPECT_TRUE((code >= 200 && code < 300) || (code >= 400 && code < 500)) << code << " " << body;
    dw::testing::RawHttp(b.port(), Post("/transactions/g-body/abort", ""), &body);
  }
  EXPECT_GE(stored, 2) << "valid names (ok.name:1, ..) must still work";
  // Hostile message ids: stored and deduplicated exactly.
  for (const std::string& id :
       {std::string("../../etc/passwd"), std::string("'; DROP TABLE x; --"), std::string("a\0b", 3),
        std::string(5000, 'i'), std::string("\xf0\x9f\x98\x80")}) {
    std::string body;
    json msg = {{"id", id}, {"key", "k"}, {"payload", "p"}};
    int first = dw::testing::RawHttp(b.port(), Post("/topics/ids/messages", msg.dump()), &body);
    EXPECT_TRUE(first == 201 || (first >= 400 && first < 500)) << first << " " << body;
    if (first != 201) continue;
    int again = dw::testing::RawHttp(b.port(), Post("/topics/ids/messages", msg.dump()), &body);
    EXPECT_EQ(again, 200) << "the same id again is a duplicate: " << body;
  }
  for (const auto& p : ReadTopic(b.port(), "ids")) EXPECT_EQ(p.payload, "p");

  // Still serving, and nothing outside the data dir or new inside it but the log.
  EXPECT_EQ(dw::testing::RawHttp(b.port(), Get("/healthz")), 200);
  b.Stop();
  std::vector<std::string> in_parent;
  for (const auto& e : fs::directory_iterator(parent)) in_parent.push_back(e.path().string());
  EXPECT_EQ(in_parent, std::vector<std::string>{data});
  for (const auto& e : fs::recursive_directory_iterator(data)) {
    EXPECT_TRUE(before.count(e.path().string())) << "new file " << e.path();
  }
  std::error_code ec;
  fs::remove_all(parent, ec);
}

}  // namespace
