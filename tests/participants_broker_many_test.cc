// Several transactions in one request (POST /transactions/prepare and
// /transactions/commit) against a real broker process: each gid gets the
// answer its own request would have had, in order, and the broker makes
// them durable with one write; a batch too big for one request is split.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "broker/api.h"
#include "participants/broker_client.h"
#include "participants/broker_participant.h"
#include "tests/support/broker_test_util.h"
#include "tests/support/test_support.h"

namespace dw {
namespace {

using dw::testing::BrokerProcess;
using dw::testing::TempDir;
using nlohmann::json;

std::vector<Status> FinishAll(std::vector<std::unique_ptr<StartedCall>> calls) {
  std::vector<Status> out;
  for (auto& c : calls) out.push_back(c->Finish());
  return out;
}

class BrokerManyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("broker-many");
    broker_ = std::make_unique<BrokerProcess>(dir_);
    ASSERT_NO_FATAL_FAILURE(broker_->Start());
    BrokerClient::Options o;
    o.url = broker_->url();
    o.timeout = std::chrono::seconds(5);
    std::unique_ptr<BrokerClient> c;
    ASSERT_TRUE(BrokerClient::Create(o, &c).ok());
    client_ = std::shared_ptr<BrokerClient>(std::move(c));
  }
  void TearDown() override {
    client_.reset();
    broker_.reset();
    if (!HasFailure() && !dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::vector<std::string> Ids(const std::string& topic) {
    std::vector<BrokerMessage> out;
    uint64_t next = 0;
    EXPECT_TRUE(client_->Read(topic, 0, 1000, &out, &next).ok());
    std::vector<std::string> ids;
    for (const auto& m : out) ids.push_back(m.id);
    return ids;
  }

  std::vector<std::string> Prepared() {
    std::vector<BrokerPrepared> all;
    EXPECT_TRUE(client_->ListPrepared(&all).ok());
    std::vector<std::string> gids;
    for (const auto& p : all) gids.push_back(p.gid);
    std::sort(gids.begin(), gids.end());
    return gids;
  }

  HttpResponse Post(const std::string& target, const std::string& body) {
    HttpResponse r;
    Status s = client_->Request("POST", target, body, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }

  std::string dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::shared_ptr<BrokerClient> client_;
};

TEST_F(BrokerManyTest, EachGidGetsItsOwnAnswerInOrder) {
  BrokerParticipant p(client_);
  Work w1, w2, w3;
  w1.messages = {{"orders", "e1", "k1", "one"}};
  w2.messages = {{"orders", "e2", "k2", "two"}, {"audit", "a2", "", "audit two"}};
  w3.messages = {{"orders", "e3", "k3", "three"}};
  // c:aborted is decided before it arrives: its prepare votes abort, and
  // that is its own answer, not the request's.
  ASSERT_TRUE(client_->Abort("c:aborted").ok());
  std::vector<Status> votes =
      FinishAll(p.StartPrepareMany({"c:1", "c:2", "c:aborted", "c:3"}, {&w1, &w2, &w3, &w3}));
  ASSERT_EQ(votes.size(), 4u);
  EXPECT_TRUE(votes[0].ok()) << votes[0].ToString();
  EXPECT_TRUE(votes[1].ok()) << votes[1].ToString();
  EXPECT_TRUE(votes[2].IsAborted()) << votes[2].ToString();
  EXPECT_NE(votes[2].message().find("broker prepare c:aborted: HTTP 409"), std::string::npos)
      << votes[2].message();
  EXPECT_TRUE(votes[3].ok()) << votes[3].ToString();
  EXPECT_TRUE(Ids("orders").empty()) << "prepared messages stay invisible";
  EXPECT_EQ(Prepared(), (std::vector<std::string>{"c:1", "c:2", "c:3"}));

  // Commit: in the request's order; an unknown gid is NotFound, an aborted
  // one FailedPrecondition, each as its own commit would be.
  std::vector<Status> acks =
      FinishAll(p.StartCommitMany({"c:3", "c:never", "c:1", "c:aborted", "c:2"}));
  ASSERT_EQ(acks.size(), 5u);
  EXPECT_TRUE(acks[0].ok()) << acks[0].ToString();
  EXPECT_TRUE(acks[1].IsNotFound()) << acks[1].ToString();
  EXPECT_TRUE(acks[2].ok()) << acks[2].ToString();
  EXPECT_EQ(acks[3].code(), Status::Code::kFailedPrecondition) << acks[3].ToString();
  EXPECT_TRUE(acks[4].ok()) << acks[4].ToString();
  EXPECT_EQ(Ids("orders"), (std::vector<std::string>{"e3", "e1", "e2"}));
  EXPECT_EQ(Ids("audit"), (std::vector<std::string>{"a2"}));
  EXPECT_TRUE(Prepared().empty());
  // Idempotent, as a commit of one gid is.
  acks = FinishAll(p.StartCommitMany({"c:1", "c:2"}));
  EXPECT_TRUE(acks[0].ok() && acks[1].ok());
  EXPECT_EQ(Ids("orders").size(), 3u);
}

TEST_F(BrokerManyTest, OneDurableWriteForTheWholeRequestAndItSurvivesARestart) {
  Work w;
  w.messages = {{"orders", "warm", "", "x"}};
  ASSERT_TRUE(client_->Prepare("warm-up", w.messages).ok());  // the log's first growth
  const double before = testing::broker::Metric(broker_->port(), "dw_broker_fsyncs_total");
  std::vector<std::string> gids;
  std::vector<Work> works(8);
  std::vector<const std::vector<OutMessage>*> messages;
  for (int i = 0; i < 8; ++i) {
    gids.push_back("d:" + std::to_string(i));
    works[i].messages = {{"orders", "d" + std::to_string(i), "", "payload"}};
    messages.push_back(&works[i].messages);
  }
  for (const Status& s : FinishAll(client_->StartPrepareMany(gids, messages))) {
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_EQ(testing::broker::Metric(broker_->port(), "dw_broker_fsyncs_total") - before, 1);
  // Durable: the prepared transactions are there after a restart, and commit.
  broker_->Restart();
  std::vector<std::string> want = gids;
  want.push_back("warm-up");
  EXPECT_EQ(Prepared(), want);
  for (const Status& s : FinishAll(client_->StartCommitMany(gids))) {
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_EQ(Ids("orders").size(), 8u);
}

TEST_F(BrokerManyTest, AFailedRequestFailsEveryGidAndBadInputIsRefused) {
  // A bad gid or message fails alone, before anything is sent; the rest of
  // the request goes through.
  Work w, bad;
  w.messages = {{"orders", "e1", "", "x"}};
  bad.messages = {{"no topic!", "e2", "", "x"}};
  std::vector<Status> votes = FinishAll(
      BrokerParticipant(client_).StartPrepareMany({"ok-1", "bad gid", "ok-2"}, {&w, &w, &bad}));
  ASSERT_EQ(votes.size(), 3u);
  EXPECT_TRUE(votes[0].ok()) << votes[0].ToString();
  EXPECT_EQ(votes[1].code(), Status::Code::kInvalidArgument) << votes[1].ToString();
  EXPECT_EQ(votes[2].code(), Status::Code::kInvalidArgument) << votes[2].ToString();
  EXPECT_EQ(Prepared(), std::vector<std::string>{"ok-1"});
  std::vector<Status> acks = FinishAll(client_->StartCommitMany({"bad gid", "ok-1"}));
  EXPECT_EQ(acks[0].code(), Status::Code::kInvalidArgument) << acks[0].ToString();
  EXPECT_TRUE(acks[1].ok()) << acks[1].ToString();
  EXPECT_TRUE(Prepared().empty());

  // The broker down: the transport's failure, the same for each gid
  // (Unavailable, or InDoubt when the request went out on a pooled
  // connection whose close the kernel had not delivered yet).
  broker_->Kill9();
  acks = FinishAll(client_->StartCommitMany({"x:1", "x:2"}));
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_TRUE(acks[0].code() == Status::Code::kUnavailable ||
              acks[0].code() == Status::Code::kInDoubt)
      << acks[0].ToString();
  EXPECT_EQ(acks[1].ToString(), acks[0].ToString());
  ASSERT_NO_FATAL_FAILURE(broker_->Start());

  // What the broker refuses with 400, naming the place.
  struct Case {
    std::string target, body, error;
  };
  std::vector<Case> cases = {
      {"/transactions/prepare", "{", "malformed JSON body"},
      {"/transactions/prepare", R"({"gids": []})", "'transactions' is required"},
      {"/transactions/prepare", R"({"transactions": [{"messages": []}]})",
       "transactions[0]: 'gid' is required"},
      {"/transactions/prepare",
       R"({"transactions": [{"gid": "g1", "messages": []}, {"gid": "g 2", "messages": []}]})",
       "transactions[1]: a gid must be"},
      {"/transactions/prepare",
       R"({"transactions": [{"gid": "g1", "messages": [{"payload": "p"}]}]})",
       "transactions[0]: messages[0]: each message needs a 'topic'"},
      {"/transactions/prepare",
       R"({"transactions": [{"gid": "g1", "messages": []}, {"gid": "g1", "messages": []}]})",
       "gid 'g1' appears twice"},
      {"/transactions/commit", R"({"gids": ["a", 5]})", "gids[1]: a gid must be"},
      {"/transactions/commit", R"({"gids": ["a", "a"]})", "gid 'a' appears twice"},
  };
  json many = json::array();
  for (size_t i = 0; i <= broker::api::kMaxManyTransactions; ++i)
    many.push_back("g" + std::to_string(i));
  cases.push_back({"/transactions/commit", json{{"gids", many}}.dump(), "more than 1000"});
  for (const auto& c : cases) {
    HttpResponse r = Post(c.target, c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_NE(r.body.find(c.error), std::string::npos) << c.body << " -> " << r.body;
  }
  HttpResponse get;
  ASSERT_TRUE(client_->Request("GET", "/transactions/commit", "", &get).ok());
  EXPECT_EQ(get.status, 405);
  // An empty list is an empty answer.
  HttpResponse empty = Post("/transactions/commit", R"({"gids": []})");
  EXPECT_EQ(empty.status, 200);
  EXPECT_EQ(json::parse(empty.body), json({{"results", json::array()}}));
  EXPECT_TRUE(Prepared().empty()) << "nothing bad was staged";
}

// A request over the broker's --max-body (1 MiB here, the default) is
// refused whole. The participant splits a batch so that no request carries
// much more than BrokerParticipant::kManyBodyBudget: transactions that fit
// their own requests all prepare, and one too big for any request fails
// alone, as its own prepare would.
TEST_F(BrokerManyTest, ABatchOverTheBodyBudgetIsSplitAndATooBigTransactionFailsAlone) {
  Work small, big, huge;
  small.messages = {{"orders", "", "", "x"}};
  big.messages = {{"orders", "", "", std::string(600 * 1024, 'b')}};
  huge.messages = {{"orders", "", "", std::string(1100 * 1024, 'h')}};
  auto with_id = [](Work w, const std::string& id) {
    w.messages[0].id = id;
    return w;
  };
  const Work s1 = with_id(small, "s1"), s2 = with_id(small, "s2"), s3 = with_id(small, "s3");
  const Work b1 = with_id(big, "b1"), b2 = with_id(big, "b2"), h1 = with_id(huge, "h1");

  // One request for two big ones: 1.2 MiB, refused, and both fail.
  std::vector<Status> together =
      FinishAll(client_->StartPrepareMany({"t:1", "t:2"}, {&b1.messages, &b2.messages}));
  ASSERT_EQ(together.size(), 2u);
  // (413, or the connection closed under the write: either way, each gid.)
  EXPECT_FALSE(together[0].ok());
  EXPECT_EQ(together[1].ToString(), together[0].ToString());
  EXPECT_TRUE(Prepared().empty());

  BrokerParticipant p(client_);
  std::vector<Status> votes = FinishAll(p.StartPrepareMany(
      {"s:1", "b:1", "s:2", "h:1", "b:2", "s:3"}, {&s1, &b1, &s2, &h1, &b2, &s3}));
  ASSERT_EQ(votes.size(), 6u);
  for (size_t i : {0, 1, 2, 4, 5}) EXPECT_TRUE(votes[i].ok()) << i << ": " << votes[i].ToString();
  EXPECT_FALSE(votes[3].ok());
  EXPECT_EQ(Prepared(), (std::vector<std::string>{"b:1", "b:2", "s:1", "s:2", "s:3"}));

  std::vector<Status> acks = FinishAll(p.StartCommitMany({"s:1", "b:1", "s:2", "b:2", "s:3"}));
  for (const Status& a : acks) EXPECT_TRUE(a.ok()) << a.ToString();
  EXPECT_EQ(Ids("orders"), (std::vector<std::string>{"s1", "b1", "s2", "b2", "s3"}));
}

}  // namespace
}  // namespace dw
