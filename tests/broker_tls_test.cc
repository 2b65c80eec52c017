// TLS and mutual TLS between dualwrite's clients and a REAL `dualwrite
// broker serve --tls-cert/--tls-key/--tls-client-ca` process, with the
// certificates of scripts/gen-certs.sh (a CA, a server and a client cert,
// and a rogue CA with its own client cert). See docs/security.md.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/process.h"
#include "participants/broker_client.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"

namespace dw {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

// Nothing inherited from the caller's shell may change what a test means.
void ClearCredentialEnv() {
  for (const char* v : {"DUALWRITE_BROKER_CA", "DUALWRITE_BROKER_CERT", "DUALWRITE_BROKER_KEY",
                        "DUALWRITE_BROKER_TOKEN_FILE"}) {
    ::unsetenv(v);
  }
}

// A test's folder, removed when the test passed (a failing one keeps it:
// broker logs, certificates, the runs' output). Declared first in a test, so
// it goes after the broker process that writes into it.
struct Scratch {
  explicit Scratch(const std::string& tag) : dir(testing::TempDir(tag)) {}
  ~Scratch() {
    std::error_code ec;
    if (!dir.empty() && !::testing::Test::HasFailure()) std::filesystem::remove_all(dir, ec);
  }
  std::string dir;
};

// The files of scripts/gen-certs.sh, generated into a fresh folder.
struct Certs {
  std::string dir;
  std::string operator()(const std::string& name) const { return dir + "/" + name; }
};

Certs GenCerts(const std::string& root) {
  Certs c{root + "/certs"};
  std::string out;
  Status s =
      RunCommand({"bash", std::string(DW_SOURCE_DIR) + "/scripts/gen-certs.sh", c.dir}, &out);
  EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << out;
  for (const char* f : {"ca.pem", "server.pem", "server.key", "client.pem", "client.key",
                        "rogue-ca.pem", "rogue-client.pem", "rogue-client.key"}) {
    EXPECT_TRUE(std::filesystem::exists(c(f))) << f;
  }
  return c;
}

struct Creds {
  Creds(std::string ca_ = "", std::string cert_ = "", std::string key_ = "",
        std::string token_ = "")
      : ca(std::move(ca_)),
        cert(std::move(cert_)),
        key(std::move(key_)),
        token(std::move(token_)) {}
  std::string ca, cert, key, token;
};

std::unique_ptr<BrokerClient> Client(const std::string& url, const Creds& cr,
                                     milliseconds timeout = milliseconds(5000), int max_idle = 64) {
  BrokerClient::Options o;
  o.url = url;
  o.ca_file = cr.ca;
  o.cert_file = cr.cert;
  o.key_file = cr.key;
  o.bearer_token = cr.token;
  o.timeout = timeout;
  o.max_idle_connections = max_idle;
  std::unique_ptr<BrokerClient> c;
  Status s = BrokerClient::Create(o, &c);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return c;
}

// `broker serve`'s TLS flags for scripts/gen-certs.sh's server certificate,
// asking for a client certificate under `client_ca` (mutual TLS), then `extra`.
std::vector<std::string> TlsServeArgs(const Certs& certs, bool client_ca = true,
                                      std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"--tls-cert", certs("server.pem"), "--tls-key",
                                certs("server.key")};
  if (client_ca) {
    a.push_back("--tls-client-ca");
    a.push_back(certs("ca.pem"));
  }
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// What the broker's readiness probe presents: under mutual TLS every
// connection, /healthz's too, needs the right client certificate.
env::TlsFiles Probe(const Creds& c) { return {c.ca, c.cert, c.key}; }

OutMessage Msg(const std::string& id) { return OutMessage{"", id, "k-" + id, "payload " + id}; }

size_t TopicSize(BrokerClient& c, const std::string& topic) {
  std::vector<BrokerMessage> ms;
  Status s = c.Read(topic, 0, 1000, &ms, nullptr);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return ms.size();
}

uint64_t MetricValue(BrokerClient& c, const std::string& name) {
  HttpResponse r;
  EXPECT_TRUE(c.Request("GET", "/metrics", "", &r).ok());
  for (const auto& l : Lines(r.body)) {
    if (l.rfind(name + " ", 0) == 0) return std::stoull(l.substr(name.size() + 1));
  }
  ADD_FAILURE() << name << " not in /metrics";
  return 0;
}

TEST(BrokerTls, MutualTlsServesGoodClientsAndRefusesTheRest) {
  ClearCredentialEnv();
  Scratch scratch("tls-mtls");
  const std::string dir = scratch.dir;
  Certs certs = GenCerts(dir);
  const Creds good{certs("ca.pem"), certs("client.pem"), certs("client.key")};
  testing::BrokerProcess broker(dir + "/data", TlsServeArgs(certs), Probe(good));
  ASSERT_NO_FATAL_FAILURE(broker.Start());

  // The right certificate: publish and read back, over one pooled connection.
  auto c = Client(broker.url(), good);
  uint64_t off = 99;
  ASSERT_TRUE(c->Publish("tls-good", Msg("m0"), &off).ok());
  EXPECT_EQ(off, 0u);
  for (int i = 1; i < 20; ++i)
    ASSERT_TRUE(c->Publish("tls-good", Msg("m" + std::to_string(i)), &off).ok());
  std::vector<BrokerMessage> got;
  ASSERT_TRUE(c->Read("tls-good", 0, 100, &got, nullptr).ok());
  ASSERT_EQ(got.size(), 20u);
  EXPECT_EQ(got[0].payload, "payload m0");
  EXPECT_EQ(c->stats().connections_opened, 1u) << "the pool must reuse its TLS connection";

  // A client without a pool (every request a new connection) resumes the
  // TLS session of the previous one instead of a full handshake.
  auto fresh = Client(broker.url(), good, milliseconds(5000), /*max_idle=*/0);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(fresh->Health().ok());
  EXPECT_EQ(fresh->stats().connections_opened, 4u);
  EXPECT_GE(fresh->stats().tls_resumed, 1u);

  // The host name in the URL is checked against the SAN: localhost is in it.
  auto by_name = Client("https://localhost:" + std::to_string(broker.port()), good);
  EXPECT_TRUE(by_name->Health().ok());

  const uint64_t failures_before = MetricValue(*c, "dw_broker_tls_handshake_failures_total");

  // No client certificate: refused, nothing written.
  auto nocert = Client(broker.url(), Creds{certs("ca.pem"), "", ""});
  Status s = nocert->Publish("tls-nocert", Msg("x"), &off);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("refused the TLS connection"), std::string::npos) << s.ToString();
  EXPECT_FALSE(nocert->Health().ok());

  // A certificate from another CA: refused the same way.
  auto rogue = Client(broker.url(),
                      Creds{certs("ca.pem"), certs("rogue-client.pem"), certs("rogue-client.key")});
  s = rogue->Publish("tls-rogue", Msg("x"), &off);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();

  // The client's own check: a server certificate it cannot chain to its CA.
  auto wrong_ca =
      Client(broker.url(), Creds{certs("rogue-ca.pem"), certs("client.pem"), certs("client.key")});
  s = wrong_ca->Publish("tls-wrong-ca", Msg("x"), &off);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("certificate verify failed"), std::string::npos) << s.ToString();

  // Plain HTTP to the TLS port: an error, quickly, not a hang.
  auto t0 = std::chrono::steady_clock::now();
  auto plain =
      Client("http://127.0.0.1:" + std::to_string(broker.port()), Creds{}, milliseconds(8000));
  s = plain->Publish("tls-plain", Msg("x"), &off);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.code(), Status::Code::kTimeout) << s.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(4)) << s.ToString();
  EXPECT_EQ(testing::RawHttp(broker.port(), "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", nullptr,
                             milliseconds(4000)),
            0);

  // Nothing of theirs reached the log; each refusal was counted and logged.
  for (const char* t : {"tls-nocert", "tls-rogue", "tls-wrong-ca", "tls-plain"}) {
    EXPECT_EQ(TopicSize(*c, t), 0u) << t;
  }
  EXPECT_GE(MetricValue(*c, "dw_broker_tls_handshake_failures_total"), failures_before + 4);
  EXPECT_NE(testing::ReadFileBytes(broker.log_path()).find("TLS handshake from 127.0.0.1:"),
            std::string::npos);
}

// A pooled TLS connection the broker closed (here: by restarting) is
// noticed or retried once, exactly as over plain HTTP.
TEST(BrokerTls, PooledConnectionsSurviveABrokerRestart) {
  ClearCredentialEnv();
  Scratch scratch("tls-restart");
  const std::string dir = scratch.dir;
  Certs certs = GenCerts(dir);
  const Creds good{certs("ca.pem"), certs("client.pem"), certs("client.key")};
  testing::BrokerProcess broker(dir + "/data", TlsServeArgs(certs), Probe(good));
  ASSERT_NO_FATAL_FAILURE(broker.Start());
  auto c = Client(broker.url(), good);
  uint64_t off;
  ASSERT_TRUE(c->Publish("tls-restart", Msg("a"), &off).ok());
  broker.Stop();
  ASSERT_NO_FATAL_FAILURE(broker.Start());
  Status s = c->Publish("tls-restart", Msg("b"), &off);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(off, 1u);
  EXPECT_EQ(c->stats().connections_opened, 2u);
  // (No resumption here: a new broker process has new session ticket keys,
  // so the old session is refused and a full handshake follows, silently.)
}

TEST(BrokerTls, TokenAndTlsTogetherAndCredentialsFromTheEnvironment) {
  ClearCredentialEnv();
  Scratch scratch("tls-token");
  const std::string dir = scratch.dir;
  Certs certs = GenCerts(dir);
  { std::ofstream(dir + "/token") << "s3cret-token\n"; }
  const Creds good{certs("ca.pem"), certs("client.pem"), certs("client.key")};
  testing::BrokerProcess broker(
      dir + "/data", TlsServeArgs(certs, true, {"--token-file", dir + "/token"}), Probe(good));
  ASSERT_NO_FATAL_FAILURE(broker.Start());  // /healthz needs no token

  uint64_t off;
  // The right certificate is not enough: the token is still required.
  Status s = Client(broker.url(), good)->Publish("tls-token", Msg("a"), &off);
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.ToString();
  Creds with_token = good;
  with_token.token = "s3cret-token";
  s = Client(broker.url(), with_token)->Publish("tls-token", Msg("b"), &off);
  EXPECT_TRUE(s.ok()) << s.ToString();

  // Every credential from the environment, the Options left empty (what
  // every command and child process does).
  ::setenv("DUALWRITE_BROKER_CA", certs("ca.pem").c_str(), 1);
  ::setenv("DUALWRITE_BROKER_CERT", certs("client.pem").c_str(), 1);
  ::setenv("DUALWRITE_BROKER_KEY", certs("client.key").c_str(), 1);
  ::setenv("DUALWRITE_BROKER_TOKEN_FILE", (dir + "/token").c_str(), 1);
  auto from_env = Client(broker.url(), Creds{});
  s = from_env->Publish("tls-token", Msg("c"), &off);
  EXPECT_TRUE(s.ok()) << s.ToString();

  // A field set by the caller wins over its variable.
  ::setenv("DUALWRITE_BROKER_CERT", certs("rogue-client.pem").c_str(), 1);
  ::setenv("DUALWRITE_BROKER_KEY", certs("rogue-client.key").c_str(), 1);
  s = Client(broker.url(), Creds{"", certs("client.pem"), certs("client.key")})
          ->Publish("tls-token", Msg("d"), &off);
  EXPECT_TRUE(s.ok()) << s.ToString();
  s = Client(broker.url(), Creds{})->Publish("tls-token", Msg("e"), &off);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  ClearCredentialEnv();

  EXPECT_EQ(TopicSize(*Client(broker.url(), with_token), "tls-token"), 3u);
}

TEST(BrokerTls, ServerOnlyTlsNeedsNoClientCertificate) {
  ClearCredentialEnv();
  Scratch scratch("tls-server");
  const std::string dir = scratch.dir;
  Certs certs = GenCerts(dir);
  const Creds ca_only{certs("ca.pem"), "", ""};
  testing::BrokerProcess broker(dir + "/data", TlsServeArgs(certs, /*client_ca=*/false),
                                Probe(ca_only));
  ASSERT_NO_FATAL_FAILURE(broker.Start());
  uint64_t off;
  EXPECT_TRUE(Client(broker.url(), ca_only)->Publish("t", Msg("a"), &off).ok());
  EXPECT_NE(
      testing::ReadFileBytes(broker.log_path()).find("TLS on (https), no client certificate asked"),
      std::string::npos);
}

TEST(BrokerTls, ClientInputErrors) {
  ClearCredentialEnv();
  Scratch scratch("tls-client-input");
  const std::string dir = scratch.dir;
  Certs certs = GenCerts(dir);
  std::unique_ptr<BrokerClient> c;
  auto create = [&](const Creds& cr) {
    BrokerClient::Options o;
    o.url = "https://127.0.0.1:1";
    o.ca_file = cr.ca;
    o.cert_file = cr.cert;
    o.key_file = cr.key;
    return BrokerClient::Create(o, &c);
  };
  Status s = create({});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("needs a CA file"), std::string::npos) << s.ToString();
  s = create({certs("ca.pem"), certs("client.pem"), ""});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  s = create({dir + "/missing.pem", "", ""});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("missing.pem"), std::string::npos) << s.ToString();
  s = create({certs("ca.pem"), certs("client.pem"), certs("rogue-client.key")});
  EXPECT_NE(s.message().find("does not match"), std::string::npos) << s.ToString();
  ::setenv("DUALWRITE_BROKER_TOKEN_FILE", (dir + "/no-token").c_str(), 1);
  s = create({certs("ca.pem"), "", ""});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  ClearCredentialEnv();
}

// Runs `dualwrite args...` to completion (120 s at most).
testing::CliRun Dw(std::vector<std::string> args, std::vector<std::string> env = {}) {
  testing::CliRun r = testing::RunCli(args, seconds(120), env);
  EXPECT_FALSE(r.timed_out) << "dualwrite did not finish in 120 s";
  return r;
}

// A failure is one line on stderr, "dualwrite: error: ...", and a non-zero exit.
void ExpectOneLineError(const testing::CliRun& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  auto lines = Lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("dualwrite: error: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(needle), std::string::npos) << lines[0];
}

TEST(BrokerTls, ServeRejectsBadTlsFlags) {
  ClearCredentialEnv();
  Scratch scratch("tls-flags");
  const std::string dir = scratch.dir;
  Certs certs = GenCerts(dir);
  { std::ofstream(dir + "/garbage.pem") << "-----BEGIN CERTIFICATE-----\nnot base64 at all\n"; }
  auto serve = [&](std::vector<std::string> tls) {
    std::vector<std::string> a = {"broker",      "serve",      "--listen",
                                  "127.0.0.1:0", "--data-dir", dir + "/data"};
    a.insert(a.end(), tls.begin(), tls.end());
    return Dw(a);
  };
  ExpectOneLineError(serve({"--tls-cert", certs("server.pem")}), "--tls-cert needs --tls-key");
  ExpectOneLineError(serve({"--tls-key", certs("server.key")}), "--tls-key needs --tls-cert");
  ExpectOneLineError(serve({"--tls-client-ca", certs("ca.pem")}), "--tls-client-ca needs");
  ExpectOneLineError(serve({"--tls-cert", dir + "/nope.pem", "--tls-key", certs("server.key")}),
                     "nope.pem");
  ExpectOneLineError(serve({"--tls-cert", dir + "/garbage.pem", "--tls-key", certs("server.key")}),
                     "garbage.pem");
  ExpectOneLineError(serve({"--tls-cert", certs("server.pem"), "--tls-key", certs("client.key")}),
                     "does not match");
  ExpectOneLineError(serve({"--tls-cert", certs("server.pem"), "--tls-key", certs("server.key"),
                            "--tls-client-ca", dir + "/garbage.pem"}),
                     "garbage.pem");
  // None of them touched the data dir's log.
  EXPECT_FALSE(std::filesystem::exists(dir + "/data/broker.log"));
}

// The whole path: `2pc run` and `verify` as separate processes against the
// shared Postgres and a mutual-TLS broker, credentials from the environment
// for one and from the global flags for the other.
TEST(BrokerTls, TwoPcRunOverMutualTlsThenVerifyClean) {
  ClearCredentialEnv();
  std::string dsn = testing::ScratchDatabase("dw_tls_2pc");
  ASSERT_FALSE(dsn.empty());
  Scratch scratch("tls-2pc");
  const std::string dir = scratch.dir;
  Certs certs = GenCerts(dir);
  const Creds good{certs("ca.pem"), certs("client.pem"), certs("client.key")};
  testing::BrokerProcess broker(dir + "/data", TlsServeArgs(certs), Probe(good));
  ASSERT_NO_FATAL_FAILURE(broker.Start());
  const std::vector<std::string> where = {"--dsn",      dsn,           "--broker",
                                          broker.url(), "--state-dir", dir + "/state"};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.end(), where.begin(), where.end());
    return a;
  };

  testing::CliRun run =
      Dw(with({"2pc", "run", "-n", "50", "-c", "4", "--json"}),
         {"DUALWRITE_BROKER_CA=" + certs("ca.pem"), "DUALWRITE_BROKER_CERT=" + certs("client.pem"),
          "DUALWRITE_BROKER_KEY=" + certs("client.key")});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  auto j = nlohmann::json::parse(run.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << run.out;
  EXPECT_EQ(j.value("committed", -1), 50) << run.out;

  testing::CliRun verify = Dw(with({"verify", "--broker-ca", certs("ca.pem"), "--broker-cert",
                                    certs("client.pem"), "--broker-key", certs("client.key")}));
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_EQ(TopicSize(*Client(broker.url(), good), "orders"), 50u);

  // https:// without a CA: one clear line, for any command.
  ExpectOneLineError(Dw(with({"verify"})), "needs a CA file");
  ExpectOneLineError(Dw(with({"2pc", "run", "-n", "1"})), "needs a CA file");
  // The CA but no client certificate: the broker refuses, the command says so.
  testing::CliRun refused = Dw(with({"verify", "--broker-ca", certs("ca.pem")}));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("refused the TLS connection"), std::string::npos) << refused.err;
  // A credential flag naming a missing file is refused at parse time.
  testing::CliRun missing = Dw(with({"verify", "--broker-ca", dir + "/nope.pem"}));
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("nope.pem"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace dw
