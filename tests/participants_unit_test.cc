// Parts of the participants library that need no server: DSN redaction and
// the broker client's refusal of input it cannot send.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/dsn.h"
#include "common/process.h"
#include "participants/broker_client.h"

using dw::BrokerClient;
using dw::OutMessage;
using dw::RedactDsn;
using dw::Status;

TEST(RedactDsn, KeyValue) {
  EXPECT_EQ(RedactDsn("host=h port=5 password=secret user=u"), "host=h port=5 user=u");
  EXPECT_EQ(RedactDsn("password='s e \\' cret' host=h"), "host=h");
  EXPECT_EQ(RedactDsn("host=h password = spaced dbname=d"), "host=h dbname=d");
  EXPECT_EQ(RedactDsn("host=h dbname=d"), "host=h dbname=d");
  EXPECT_EQ(RedactDsn(""), "");
  EXPECT_EQ(RedactDsn("host=h password='unterminated"), "<unparseable dsn>");
  EXPECT_EQ(RedactDsn("passwordx=keep host=h"), "passwordx=keep host=h");
}

TEST(RedactDsn, Uri) {
  EXPECT_EQ(RedactDsn("postgresql://u:secret@h:5432/db"), "postgresql://u@h:5432/db");
  EXPECT_EQ(RedactDsn("postgres://u:secret@h/db?sslmode=off&password=x&application_name=a"),
            "postgres://u@h/db?sslmode=off&application_name=a");
  EXPECT_EQ(RedactDsn("postgresql://h/db?password=x"), "postgresql://h/db");
  EXPECT_EQ(RedactDsn("postgresql://u@h"), "postgresql://u@h");
}

TEST(BrokerClientInput, BadUrls) {
  std::unique_ptr<BrokerClient> c;
  for (const char* url : {"https://127.0.0.1:1", "http://", "http://127.0.0.1:port", "ftp:x"}) {
    BrokerClient::Options o;
    o.url = url;
    EXPECT_EQ(BrokerClient::Create(o, &c).code(), Status::Code::kInvalidArgument) << url;
  }
  BrokerClient::Options o;
  o.url = "http://127.0.0.1:8080/";
  EXPECT_TRUE(BrokerClient::Create(o, &c).ok());
  o.url = "127.0.0.1:8080";
  EXPECT_TRUE(BrokerClient::Create(o, &c).ok());
}

TEST(BrokerClientInput, RefusedBeforeSending) {
  // Nothing listens on this port: every call below must fail on its input,
  // never reach the network (which would be Unavailable).
  BrokerClient::Options o;
  o.url = "http://127.0.0.1:" + std::to_string(dw::FreeTcpPort());
  std::unique_ptr<BrokerClient> c;
  ASSERT_TRUE(BrokerClient::Create(o, &c).ok());
  uint64_t off;
  OutMessage bad_utf8{"t", "id-1", "k", std::string("\xff\xfe", 2)};
  Status s = c->Publish("t", bad_utf8, &off);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("UTF-8"), std::string::npos);
  OutMessage overlong{"t", "id-2", "k", std::string("\xc0\xaf", 2)};
  EXPECT_EQ(c->Publish("t", overlong, &off).code(), Status::Code::kInvalidArgument);
  OutMessage surrogate{"t", "id-3", "k", std::string("\xed\xa0\x80", 3)};
  EXPECT_EQ(c->Publish("t", surrogate, &off).code(), Status::Code::kInvalidArgument);
  OutMessage ok{"t", "id-4", "k", std::string("nul\0ok \xe2\x82\xac", 10)};
  EXPECT_EQ(c->Publish("bad topic", ok, &off).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(c->Prepare("bad/gid", {ok}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(c->Commit("").code(), Status::Code::kInvalidArgument);
  std::vector<uint64_t> offs;
  EXPECT_EQ(c->PublishBatch("t", {ok, bad_utf8}, &offs).code(), Status::Code::kInvalidArgument);
  // Valid input does reach the network, and nothing listens there.
  s = c->Publish("t", ok, &off);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  dw::HttpResponse r;
  EXPECT_EQ(c->Request("BREW", "/", "", &r).code(), Status::Code::kInvalidArgument);
}
