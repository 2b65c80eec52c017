#include "participants/broker_client.h"

#include <optional>
#include <utility>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "broker/api.h"
#include "common/json_text.h"
#include "common/names.h"

namespace dw {
namespace {

using json = nlohmann::json;
namespace api = broker::api;
namespace key = broker::api::key;

// Strict UTF-8 (what the broker's parser accepts): no overlong forms, no
// surrogates, nothing above U+10FFFF. NUL is a valid code point.
bool ValidUtf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

Status CheckMessage(const OutMessage& m) {
  if (!ValidUtf8(m.id)) return Status::InvalidArgument("message id is not valid UTF-8");
  const std::string who =
      "message '" + (m.id.size() > 64 ? m.id.substr(0, 64) + "..." : m.id) + "'";
  if (!ValidUtf8(m.key)) return Status::InvalidArgument(who + ": key is not valid UTF-8");
  if (!ValidUtf8(m.payload)) {
    return Status::InvalidArgument(
        who + ": payload is not valid UTF-8 (encode binary data, e.g. base64)");
  }
  return Status::OK();
}

Status CheckName(const char* what, const std::string& s) {
  if (!ValidName(s)) {
    return Status::InvalidArgument(std::string("invalid ") + what + " '" + s +
                                   "': want [A-Za-z0-9._:-]{1,200}");
  }
  return Status::OK();
}

// {"id":...,"key":...,"payload":...[,"topic":...]} (the bytes nlohmann would
// dump), appended to *out. The strings must have passed CheckMessage.
// "name":"value" (the key needs no escaping: api.h's keys are plain words).
void AppendField(const char* name, std::string_view value, std::string* out) {
  out->push_back('"');
  out->append(name);
  out->append("\":");
  AppendJsonString(value, out);
}

void AppendMessageJson(const OutMessage& m, bool with_topic, std::string* out) {
  out->push_back('{');
  AppendField(key::kId, m.id, out);
  out->push_back(',');
  AppendField(key::kKey, m.key, out);
  out->push_back(',');
  AppendField(key::kPayload, m.payload, out);
  if (with_topic) {
    out->push_back(',');
    AppendField(key::kTopic, m.topic, out);
  }
  out->push_back('}');
}

// "messages":[...] appended to *out, once every message checked. Written
// directly, not through a DOM: a relay sends 1000 messages per request.
Status AppendMessages(const std::vector<OutMessage>& ms, bool with_topic, std::string* out) {
  size_t raw = 0;
  for (const auto& m : ms) {
    if (with_topic) {
      if (Status s = CheckName("topic", m.topic); !s.ok()) return s;
    }
    if (Status s = CheckMessage(m); !s.ok()) return s;
    raw += m.id.size() + m.key.size() + m.payload.size() + (with_topic ? m.topic.size() : 0);
  }
  out->reserve(out->size() + raw + raw / 8 + 64 * ms.size() + 16);  // escapes are rare
  out->append("\"").append(key::kMessages).append("\":[");
  for (size_t i = 0; i < ms.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendMessageJson(ms[i], with_topic, out);
  }
  out->push_back(']');
  return Status::OK();
}

// {"messages":[...]}: the body of a batch publish and of a prepare.
Status MessagesBody(const std::vector<OutMessage>& ms, bool with_topic, std::string* out) {
  out->assign("{");
  if (Status s = AppendMessages(ms, with_topic, out); !s.ok()) return s;
  out->push_back('}');
  return Status::OK();
}

// The broker's reason for a non-2xx answer: its {"error"} (or a prepare's
// {"reason"}), else the start of the body.
std::optional<std::string> ErrorField(const json& j) {
  if (j.is_object()) {
    for (const char* k : {key::kError, key::kReason}) {
      auto it = j.find(k);
      if (it != j.end() && it->is_string()) return it->get<std::string>();
    }
  }
  return std::nullopt;
}

std::string ErrorText(const std::string& body) {
  if (auto e = ErrorField(json::parse(body, nullptr, false))) return *e;
  std::string t = body.substr(0, 200);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

// An HTTP status and the broker's reason as the Status a client returns.
Status StatusFor(int http, const std::string& err, const std::string& what) {
  if (http >= 200 && http < 300) return Status::OK();
  return api::StatusForHttp(
      http, what + ": HTTP " + std::to_string(http) + (err.empty() ? "" : ": " + err));
}

Status StatusFromResponse(const HttpResponse& r, const std::string& what) {
  if (r.status >= 200 && r.status < 300) return Status::OK();
  return StatusFor(r.status, ErrorText(r.body), what);
}

// Parses a 2xx body; nlohmann's exceptions stay in here.
template <class Fn>
Status ParseBody(const HttpResponse& r, const std::string& what, Fn&& fn) {
  try {
    json j = json::parse(r.body);
    fn(j);
  } catch (const json::exception& e) {
    return Status::IOError(what + ": unexpected response from broker: " + e.what());
  }
  return Status::OK();
}

std::chrono::system_clock::time_point FromUnixMs(int64_t ms) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::milliseconds(ms)));
}

// A read's answer, {"messages":[{offset,id,key,payload,ts},...],"next":N}
// (key and ts optional), parsed with simdjson: a relay-sized read carries
// 1000 messages, and the nlohmann DOM of it (a std::map per message) cost
// the reader more CPU than using the messages did (an event-sourced
// projector's catch-up).
Status ParseReadBody(const std::string& body, const std::string& what,
                     std::vector<BrokerMessage>* out, uint64_t* next) {
  thread_local simdjson::dom::parser parser;
  auto bad = [&](const char* why) {
    out->clear();
    return Status::IOError(what + ": unexpected response from broker: " + why);
  };
  simdjson::dom::object root;
  if (parser.parse(body).get(root) != simdjson::SUCCESS) return bad("not a JSON object");
  simdjson::dom::array messages;
  if (root[key::kMessages].get(messages) != simdjson::SUCCESS) return bad("no 'messages' array");
  out->reserve(messages.size());
  for (simdjson::dom::element e : messages) {
    simdjson::dom::object m;
    if (e.get(m) != simdjson::SUCCESS) return bad("a message is not an object");
    BrokerMessage bm;
    std::string_view id, k, payload;
    if (m[key::kOffset].get(bm.offset) != simdjson::SUCCESS ||
        m[key::kId].get(id) != simdjson::SUCCESS ||
        m[key::kPayload].get(payload) != simdjson::SUCCESS) {
      return bad("a message lacks its offset, id or payload");
    }
    bm.id.assign(id);
    bm.payload.assign(payload);
    if (m[key::kKey].get(k) == simdjson::SUCCESS) bm.key.assign(k);
    int64_t ts = 0;
    if (m[key::kTs].get(ts) == simdjson::SUCCESS) bm.ts_ms = ts;
    out->push_back(std::move(bm));
  }
  if (next) {
    uint64_t n = 0;
    if (root[key::kNext].get(n) != simdjson::SUCCESS) return bad("no 'next' offset");
    *next = n;
  }
  return Status::OK();
}

}  // namespace

struct BrokerClient::Impl {
  std::string url;
  std::unique_ptr<broker::HttpTransport> transport;

  Status Exchange(const char* method, const std::string& target, const std::string& body,
                  HttpResponse* resp) {
    return transport->Exchange(method, target, body, resp);
  }
};

BrokerClient::BrokerClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BrokerClient::~BrokerClient() = default;

Status BrokerClient::Create(const Options& opts, std::unique_ptr<BrokerClient>* out) {
  auto impl = std::make_unique<Impl>();
  if (Status s = broker::HttpTransport::Create(opts, &impl->transport); !s.ok()) return s;
  impl->url = opts.url;
  out->reset(new BrokerClient(std::move(impl)));
  return Status::OK();
}

const std::string& BrokerClient::url() const { return impl_->url; }

BrokerClient::Stats BrokerClient::stats() const { return impl_->transport->stats(); }

Status BrokerClient::Request(const std::string& method, const std::string& target,
                             const std::string& body, HttpResponse* resp) {
  return impl_->transport->Exchange(method, target, body, resp);
}

Status BrokerClient::Health() {
  HttpResponse r;
  Status s = impl_->Exchange("GET", api::Path(api::Route::kHealthz), "", &r);
  if (!s.ok()) return s;
  return StatusFromResponse(r, "GET /healthz");
}

Status BrokerClient::Publish(const std::string& topic, const OutMessage& m, uint64_t* offset,
                             bool* created) {
  Status s = CheckName("topic", topic);
  if (s.ok()) s = CheckMessage(m);
  std::string body;
  if (s.ok()) AppendMessageJson(m, false, &body);
  if (!s.ok()) return s;
  HttpResponse r;
  s = impl_->Exchange("POST", api::Path(api::Route::kMessages, topic), body, &r);
  if (s.ok()) s = StatusFromResponse(r, "publish to " + topic);
  if (!s.ok()) return s;
  if (created) *created = r.status == api::kHttpCreated;
  return ParseBody(r, "publish to " + topic,
                   [&](const json& j) { *offset = j.at(key::kOffset).get<uint64_t>(); });
}

Status BrokerClient::PublishBatch(const std::string& topic, const std::vector<OutMessage>& ms,
                                  std::vector<uint64_t>* offsets) {
  offsets->clear();
  Status s = CheckName("topic", topic);
  std::string body;
  if (s.ok()) s = MessagesBody(ms, false, &body);
  if (!s.ok()) return s;
  const std::string what = "batch publish to " + topic;
  HttpResponse r;
  s = impl_->Exchange("POST", api::Path(api::Route::kBatch, topic), body, &r);
  if (s.ok()) s = StatusFromResponse(r, what);
  if (!s.ok()) return s;
  s = ParseBody(
      r, what, [&](const json& j) { *offsets = j.at(key::kOffsets).get<std::vector<uint64_t>>(); });
  if (s.ok() && offsets->size() != ms.size()) {
    s = Status::IOError(what + ": broker returned " + std::to_string(offsets->size()) +
                        " offsets for " + std::to_string(ms.size()) + " messages");
  }
  return s;
}

Status BrokerClient::Read(const std::string& topic, uint64_t from, size_t limit,
                          std::vector<BrokerMessage>* out, uint64_t* next) {
  out->clear();
  Status s = CheckName("topic", topic);
  if (!s.ok()) return s;
  const std::string target = api::ReadPath(topic, from, limit);
  const std::string what = "read " + topic;
  HttpResponse r;
  s = impl_->Exchange("GET", target, "", &r);
  if (s.ok()) s = StatusFromResponse(r, what);
  if (!s.ok()) return s;
  return ParseReadBody(r.body, what, out, next);
}

Status BrokerClient::Prepare(const std::string& gid, const std::vector<OutMessage>& ms) {
  Status s = CheckName("gid", gid);
  std::string body;
  if (s.ok()) s = MessagesBody(ms, true, &body);
  if (!s.ok()) return s;
  HttpResponse r;
  s = impl_->Exchange("POST", api::Path(api::Route::kPrepare, gid), body, &r);
  if (!s.ok()) return s;
  return StatusFromResponse(r, "broker prepare " + gid);
}

Status BrokerClient::Commit(const std::string& gid, std::vector<uint64_t>* offsets) {
  if (offsets) offsets->clear();
  Status s = CheckName("gid", gid);
  if (!s.ok()) return s;
  const std::string what = "broker commit " + gid;
  HttpResponse r;
  s = impl_->Exchange("POST", api::Path(api::Route::kCommit, gid), "", &r);
  if (s.ok()) s = StatusFromResponse(r, what);
  if (!s.ok() || !offsets) return s;
  return ParseBody(
      r, what, [&](const json& j) { *offsets = j.value(key::kOffsets, std::vector<uint64_t>()); });
}

Status BrokerClient::Abort(const std::string& gid) {
  Status s = CheckName("gid", gid);
  if (!s.ok()) return s;
  HttpResponse r;
  s = impl_->Exchange("POST", api::Path(api::Route::kAbort, gid), "", &r);
  if (!s.ok()) return s;
  return StatusFromResponse(r, "broker abort " + gid);
}

namespace {

// A transaction request on its way: the transport's half-done exchange and
// what turns its response into the blocking call's Status.
class StartedRequest : public StartedCall {
 public:
  StartedRequest(Status early, std::unique_ptr<broker::HttpTransport::Pending> pending,
                 std::string what)
      : early_(std::move(early)), pending_(std::move(pending)), what_(std::move(what)) {}

  Status Finish() override {
    if (!early_.ok()) return early_;
    HttpResponse r;
    Status s = pending_->Finish(&r);
    if (!s.ok()) return s;
    return StatusFromResponse(r, what_);
  }

 private:
  Status early_;
  std::unique_ptr<broker::HttpTransport::Pending> pending_;
  std::string what_;
};

// The answer to a request for several transactions (kPrepareMany,
// kCommitMany), read once, by the first of its calls to finish: each gid's
// result as the Status its own request would have given, or the request's
// own failure for all of them.
class ManyAnswer {
 public:
  ManyAnswer(Status early, std::unique_ptr<broker::HttpTransport::Pending> pending,
             std::vector<std::string> gids, std::string verb)
      : early_(std::move(early)),
        pending_(std::move(pending)),
        gids_(std::move(gids)),
        verb_(std::move(verb)) {}

  Status Result(size_t i) {
    if (results_.empty()) Read();
    return results_.at(i);
  }

 private:
  void Read() {
    const std::string what = verb_ + " of " + std::to_string(gids_.size()) + " transactions";
    Status s = early_;
    HttpResponse r;
    if (s.ok()) s = pending_->Finish(&r);
    if (s.ok()) s = StatusFromResponse(r, what);
    if (s.ok()) s = Parse(r, what);
    if (!s.ok()) results_.assign(gids_.size(), s);
  }

  Status Parse(const HttpResponse& r, const std::string& what) {
    std::vector<Status> out;
    std::string bad;
    Status s = ParseBody(r, what, [&](const json& j) {
      const json& results = j.at(key::kResults);
      if (!results.is_array() || results.size() != gids_.size()) {
        bad = "not one result per transaction";
        return;
      }
      for (size_t i = 0; i < gids_.size() && bad.empty(); ++i) {
        const json& t = results[i];
        if (t.at(key::kGid).get<std::string>() != gids_[i]) bad = "results out of order";
        out.push_back(StatusFor(t.at(key::kStatus).get<int>(), ErrorField(t).value_or(""),
                                verb_ + " " + gids_[i]));
      }
    });
    if (s.ok() && !bad.empty()) {
      s = Status::IOError(what + ": unexpected response from broker: " + bad);
    }
    if (s.ok()) results_ = std::move(out);
    return s;
  }

  Status early_;
  std::unique_ptr<broker::HttpTransport::Pending> pending_;
  std::vector<std::string> gids_;
  std::string verb_;
  std::vector<Status> results_;  // empty until read
};

class ManyCall : public StartedCall {
 public:
  ManyCall(std::shared_ptr<ManyAnswer> answer, size_t i) : answer_(std::move(answer)), i_(i) {}
  Status Finish() override { return answer_->Result(i_); }

 private:
  std::shared_ptr<ManyAnswer> answer_;
  size_t i_;
};

}  // namespace

namespace {

// The calls of a several-transaction request: a transaction that fails the
// client's checks (`checked`[i] not OK) gets a call of its own that returns
// that error, and is left out of the request, so it fails alone; the others
// share the request's answer (`sent` holds their indexes, in order).
std::vector<std::unique_ptr<StartedCall>> ManyCalls(const std::vector<Status>& checked,
                                                    const std::vector<std::string>& gids,
                                                    std::shared_ptr<ManyAnswer> answer,
                                                    const std::string& verb) {
  std::vector<std::unique_ptr<StartedCall>> calls;
  size_t k = 0;
  for (size_t i = 0; i < gids.size(); ++i) {
    if (!checked[i].ok()) {
      calls.push_back(std::make_unique<StartedRequest>(checked[i], nullptr, verb + " " + gids[i]));
    } else {
      calls.push_back(std::make_unique<ManyCall>(answer, k++));
    }
  }
  return calls;
}

}  // namespace

std::vector<std::unique_ptr<StartedCall>> BrokerClient::StartPrepareMany(
    const std::vector<std::string>& gids, const std::vector<const std::vector<OutMessage>*>& ms) {
  std::vector<Status> checked(gids.size());
  Status all;
  if (gids.size() != ms.size() || gids.empty() || gids.size() > api::kMaxManyTransactions) {
    all = Status::InvalidArgument("StartPrepareMany: 1 to " +
                                  std::to_string(api::kMaxManyTransactions) +
                                  " gids, one message list each");
  }
  std::vector<std::string> sent;
  std::string body = "{\"" + std::string(key::kTransactions) + "\":[", one;
  for (size_t i = 0; i < gids.size(); ++i) {
    if (!all.ok()) {
      checked[i] = all;
      continue;
    }
    one.assign("{");
    AppendField(key::kGid, gids[i], &one);
    one.push_back(',');
    checked[i] = CheckName("gid", gids[i]);
    if (checked[i].ok()) checked[i] = AppendMessages(*ms[i], true, &one);
    if (!checked[i].ok()) continue;
    if (!sent.empty()) body.push_back(',');
    body += one;
    body.push_back('}');
    sent.push_back(gids[i]);
  }
  body += "]}";
  std::unique_ptr<broker::HttpTransport::Pending> p;
  Status s;
  if (!sent.empty()) {
    s = impl_->transport->Start("POST", api::Path(api::Route::kPrepareMany), std::move(body), &p);
  }
  return ManyCalls(checked, gids,
                   std::make_shared<ManyAnswer>(s, std::move(p), sent, "broker prepare"),
                   "broker prepare");
}

std::vector<std::unique_ptr<StartedCall>> BrokerClient::StartCommitMany(
    const std::vector<std::string>& gids) {
  std::vector<Status> checked(gids.size());
  Status all;
  if (gids.empty() || gids.size() > api::kMaxManyTransactions) {
    all = Status::InvalidArgument("StartCommitMany: 1 to " +
                                  std::to_string(api::kMaxManyTransactions) + " gids");
  }
  std::vector<std::string> sent;
  std::string body = "{\"" + std::string(key::kGids) + "\":[";
  for (size_t i = 0; i < gids.size(); ++i) {
    checked[i] = all.ok() ? CheckName("gid", gids[i]) : all;
    if (!checked[i].ok()) continue;
    if (!sent.empty()) body.push_back(',');
    AppendJsonString(gids[i], &body);
    sent.push_back(gids[i]);
  }
  body += "]}";
  std::unique_ptr<broker::HttpTransport::Pending> p;
  Status s;
  if (!sent.empty()) {
    s = impl_->transport->Start("POST", api::Path(api::Route::kCommitMany), std::move(body), &p);
  }
  return ManyCalls(checked, gids,
                   std::make_shared<ManyAnswer>(s, std::move(p), sent, "broker commit"),
                   "broker commit");
}

std::unique_ptr<StartedCall> BrokerClient::StartPrepare(const std::string& gid,
                                                        const std::vector<OutMessage>& ms) {
  Status s = CheckName("gid", gid);
  std::string body;
  if (s.ok()) s = MessagesBody(ms, true, &body);
  std::unique_ptr<broker::HttpTransport::Pending> p;
  if (s.ok()) {
    s = impl_->transport->Start("POST", api::Path(api::Route::kPrepare, gid), std::move(body), &p);
  }
  return std::make_unique<StartedRequest>(s, std::move(p), "broker prepare " + gid);
}

std::unique_ptr<StartedCall> BrokerClient::StartCommit(const std::string& gid) {
  Status s = CheckName("gid", gid);
  std::unique_ptr<broker::HttpTransport::Pending> p;
  if (s.ok()) s = impl_->transport->Start("POST", api::Path(api::Route::kCommit, gid), "", &p);
  return std::make_unique<StartedRequest>(s, std::move(p), "broker commit " + gid);
}

std::unique_ptr<StartedCall> BrokerClient::StartAbort(const std::string& gid) {
  Status s = CheckName("gid", gid);
  std::unique_ptr<broker::HttpTransport::Pending> p;
  if (s.ok()) s = impl_->transport->Start("POST", api::Path(api::Route::kAbort, gid), "", &p);
  return std::make_unique<StartedRequest>(s, std::move(p), "broker abort " + gid);
}

Status BrokerClient::Precommit(const std::string& gid) {
  Status s = CheckName("gid", gid);
  if (!s.ok()) return s;
  HttpResponse r;
  s = impl_->Exchange("POST", api::Path(api::Route::kPrecommit, gid), "", &r);
  if (!s.ok()) return s;
  return StatusFromResponse(r, "broker precommit " + gid);
}

Status BrokerClient::ListPrepared(std::vector<BrokerPrepared>* out) {
  out->clear();
  const std::string what = "list broker transactions";
  HttpResponse r;
  Status s = impl_->Exchange("GET", api::Path(api::Route::kTransactions), "", &r);
  if (s.ok()) s = StatusFromResponse(r, what);
  if (!s.ok()) return s;
  s = ParseBody(r, what, [&](const json& j) {
    for (const auto& t : j.at(key::kTransactions)) {
      BrokerPrepared p;
      p.gid = t.at(key::kGid).get<std::string>();
      p.prepared_at = FromUnixMs(t.at(key::kPreparedAt).get<int64_t>());
      p.precommitted = t.value(key::kState, std::string()) == api::kStatePrecommitted;
      for (const auto& m : t.value(key::kMessages, json::array())) {
        OutMessage om;
        om.topic = m.value(key::kTopic, std::string());
        om.id = m.at(key::kId).get<std::string>();
        om.key = m.value(key::kKey, std::string());
        om.payload = m.at(key::kPayload).get<std::string>();
        p.messages.push_back(std::move(om));
      }
      out->push_back(std::move(p));
    }
  });
  if (!s.ok()) out->clear();
  return s;
}

}  // namespace dw
