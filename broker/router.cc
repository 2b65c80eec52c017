#include "broker/router.h"

#include <charconv>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "broker/api.h"
#include "broker/message_body.h"
#include "common/names.h"

namespace dw::broker {
namespace {

using nlohmann::json;
namespace key = api::key;

// The statuses of answers made here, from the one table (api.h).
constexpr int kOk = api::HttpStatusFor(Status::Code::kOk);
constexpr int kBadRequest = api::HttpStatusFor(Status::Code::kInvalidArgument);
constexpr int kNoRoute = api::HttpStatusFor(Status::Code::kNotFound);
constexpr int kInternal = api::HttpStatusFor(Status::Code::kIOError);

constexpr uint64_t kDefaultLimit = 100;
constexpr uint64_t kMaxLimit = 10000;

// Never throws on odd bytes: anything that is not UTF-8 becomes U+FFFD.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

HttpResult Json(int status, const json& j, std::string route) {
  HttpResult r;
  r.status = status;
  r.body = Dump(j);
  r.route = std::move(route);
  return r;
}

HttpResult Error(int status, const std::string& msg, std::string route) {
  return Json(status, json{{key::kError, msg}}, std::move(route));
}

// A failure the writer or sequencer reported, at its status from the table.
HttpResult Fail(const Status& s, std::string route) {
  return Error(api::HttpStatusFor(s.code()), s.message(), std::move(route));
}

struct Target {
  std::vector<std::string_view> segments;
  std::vector<std::pair<std::string_view, std::string_view>> query;

  std::optional<std::string_view> Param(std::string_view name) const {
    for (const auto& [k, v] : query) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
};

Target ParseTarget(std::string_view t) {
  Target out;
  std::string_view path = t, query;
  if (size_t q = t.find('?'); q != std::string_view::npos) {
    path = t.substr(0, q);
    query = t.substr(q + 1);
  }
  if (!path.empty() && path[0] == '/') path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    out.segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    size_t eq = kv.find('=');
    if (!kv.empty()) {
      out.query.emplace_back(kv.substr(0, eq),
                             eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

// Strict decimal: digits only, no sign, no overflow.
bool ParseU64(std::string_view s, uint64_t* v) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseObject(const std::string& body, json* out, std::string* err) {
  *out = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) {
    *err = "malformed JSON body";
    return false;
  }
  if (!out->is_object()) {
    *err = "JSON body must be an object";
    return false;
  }
  return true;
}

// The answer to one transaction request (prepare, commit, abort, precommit)
// once its mutation was decided: the body, and its HTTP status in *status.
json TxnAnswer(Mutation::Kind kind, const Outcome& o, int* status) {
  *status = o.status.ok() ? kOk : api::HttpStatusFor(o.status.code());
  if (kind == Mutation::Kind::kPrepare && o.status.IsAborted()) {
    return json{{key::kVote, api::kVoteAbort}, {key::kReason, o.status.message()}};
  }
  if (!o.status.ok()) return json{{key::kError, o.status.message()}};
  switch (kind) {
    case Mutation::Kind::kPrepare:
      return json{{key::kVote, api::kVoteCommit}};
    case Mutation::Kind::kCommit:
      return json{{key::kOffsets, o.offsets}};
    case Mutation::Kind::kPrecommit:
      return json{{key::kState, api::kStatePrecommitted}};
    default:
      return json{{key::kState, api::kStateAborted}};
  }
}

// The answer to several transactions (kPrepareMany, kCommitMany): 200 with
// {"results": [...]}, each result TxnAnswer's body with its "gid" and its
// "status", in the order of `gids`.
HttpResult ManyAnswer(Mutation::Kind kind, const std::vector<std::string>& gids,
                      const std::vector<Outcome>& outcomes, const char* label) {
  json results = json::array();
  for (size_t i = 0; i < gids.size(); ++i) {
    int status = kOk;
    json r = TxnAnswer(kind, outcomes.at(i), &status);
    r[key::kGid] = gids[i];
    r[key::kStatus] = status;
    results.push_back(std::move(r));
  }
  return Json(kOk, json{{key::kResults, std::move(results)}}, label);
}

json FaultsJson(const Faults& f) {
  FaultConfig c = f.Get();
  return json{{"latency_ms", c.latency_ms},         {"jitter_ms", c.jitter_ms},
              {"abort_prob", c.abort_prob},         {"reject_prob", c.reject_prob},
              {"down_for_ms", f.DownRemainingMs()}, {"crash_at", CrashPointName(c.crash_at)}};
}

}  // namespace

Router::Router(Store* store, Writer* writer, Faults* faults, Metrics* metrics, std::string token)
    : store_(store),
      writer_(writer),
      faults_(faults),
      metrics_(metrics),
      token_(std::move(token)) {}

bool Router::AddsLatency(const std::string& target) {
  std::string_view t = target;
  return !(t == "/healthz" || t.starts_with("/healthz?") || t == "/metrics" ||
           t.starts_with("/metrics?") || t.starts_with("/admin/"));
}

void Router::Handle(const HttpRequest& req, Done done) {
  std::optional<HttpResult> r;
  try {
    Dispatch(req, done);
    return;
  } catch (const std::exception& e) {
    // Every path of Dispatch calls `done` as its very last step (and `done`
    // itself does not throw), so an exception - from JSON handling or an
    // allocation - means nobody has been answered yet.
    r = Error(kInternal, std::string("internal error: ") + e.what(), "unknown");
  }
  done(std::move(*r));
}

void Router::Dispatch(const HttpRequest& req, const Done& done) {
  const Target t = ParseTarget(req.target);
  const auto& seg = t.segments;
  const std::string& method = req.method;

  auto method_not_allowed = [&](const char* allow, const char* route) {
    HttpResult r =
        Error(api::kHttpMethodNotAllowed, "method " + method + " not allowed here", route);
    r.allow = allow;
    done(std::move(r));
  };

  // Route shape first, so an unknown path is 404 whatever the method.
  using R = api::Route;
  const R route = api::MatchRoute(seg);
  if (route == R::kNone) return done(Error(kNoRoute, "no such route: " + req.target, "unknown"));

  if (!token_.empty() && route != R::kHealthz && req.authorization != "Bearer " + token_) {
    return done(Error(api::kHttpUnauthorized, "missing or wrong bearer token", "unauthorized"));
  }

  std::string err;
  json body;
  switch (route) {
    case R::kNone:
      break;

    case R::kHealthz:
      if (method != "GET") return method_not_allowed("GET", "healthz");
      return done(Json(kOk, json{{key::kStatus, api::kHealthOk}}, "healthz"));

    case R::kMetrics: {
      if (method != "GET") return method_not_allowed("GET", "metrics");
      HttpResult r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = metrics_->Render(store_->GetStats());
      r.route = "metrics";
      return done(std::move(r));
    }

    case R::kFaults: {
      if (method == "GET") return done(Json(kOk, FaultsJson(*faults_), "admin_faults"));
      if (method != "POST") return method_not_allowed("GET, POST", "admin_faults");
      if (!ParseObject(req.body, &body, &err)) return done(Error(kBadRequest, err, "admin_faults"));
      FaultConfig c = faults_->Get();
      std::optional<double> down;
      for (const auto& [k, v] : body.items()) {
        if (k == "crash_at") {
          if (!v.is_string() || !ParseCrashPoint(v.get<std::string>(), &c.crash_at)) {
            return done(Error(kBadRequest,
                              "crash_at must be \"\", \"after-stage-before-vote\" or "
                              "\"after-commit-before-reply\"",
                              "admin_faults"));
          }
          continue;
        }
        double* field = k == "latency_ms"    ? &c.latency_ms
                        : k == "jitter_ms"   ? &c.jitter_ms
                        : k == "abort_prob"  ? &c.abort_prob
                        : k == "reject_prob" ? &c.reject_prob
                                             : nullptr;
        if (field == nullptr && k != "down_for_ms") {
          return done(Error(kBadRequest, "unknown fault '" + k + "'", "admin_faults"));
        }
        if (!v.is_number())
          return done(Error(kBadRequest, k + " must be a number", "admin_faults"));
        if (field) {
          *field = v.get<double>();
        } else {
          down = v.get<double>();
        }
      }
      if (Status s = Faults::Validate(c); !s.ok()) {
        return done(Error(kBadRequest, s.message(), "admin_faults"));
      }
      if (down && !(*down >= 0 && *down <= 3600e3)) {
        return done(Error(kBadRequest, "down_for_ms must be in [0, 3600000]", "admin_faults"));
      }
      faults_->Set(c);
      if (down) faults_->SetDownFor(static_cast<int64_t>(*down));
      return done(Json(kOk, FaultsJson(*faults_), "admin_faults"));
    }

    case R::kMessages:
    case R::kBatch: {
      const bool read = route == R::kMessages && method == "GET";
      const char* label = route == R::kBatch ? "batch" : read ? "read" : "publish";
      if (route == R::kBatch && method != "POST") return method_not_allowed("POST", label);
      if (route == R::kMessages && method != "GET" && method != "POST") {
        return method_not_allowed("GET, POST", label);
      }
      std::string topic(seg[1]);
      if (!ValidName(topic)) {
        return done(Error(kBadRequest, "topic must match [A-Za-z0-9._:-]{1,200}", label));
      }
      if (read) {
        uint64_t from = 0, limit = kDefaultLimit;
        if (auto v = t.Param(api::kFromParam); v && !ParseU64(*v, &from)) {
          return done(Error(kBadRequest, "'from' must be a non-negative integer", label));
        }
        if (auto v = t.Param(api::kLimitParam); v && !ParseU64(*v, &limit)) {
          return done(Error(kBadRequest, "'limit' must be a non-negative integer", label));
        }
        if (limit > kMaxLimit) limit = kMaxLimit;
        std::vector<StoredMessage> msgs;
        uint64_t next = store_->Read(topic, from, limit, &msgs);
        HttpResult r;
        r.status = kOk;
        r.body = ReadBody(msgs, next);
        r.route = label;
        return done(std::move(r));
      }
      Mutation m;
      m.topic = topic;
      if (route == R::kMessages) {
        m.kind = Mutation::Kind::kPublish;
        m.messages.emplace_back();
        if (!ParseMessageBody(req.body, &m.messages.back(), &err)) {
          return done(Error(kBadRequest, err, label));
        }
        // The reject_prob fault (faults.h): the business "no", nothing stored.
        if (faults_->RollReject()) {
          return done(Error(api::kHttpRejected,
                            "rejected: the reject_prob fault refused this message", label));
        }
      } else {
        m.kind = Mutation::Kind::kPublishBatch;
        if (!ParseBatchBody(req.body, &m.messages, &err))
          return done(Error(kBadRequest, err, label));
        if (m.messages.empty()) return done(Json(kOk, json{{key::kOffsets, json::array()}}, label));
      }
      const bool single = route == R::kMessages;
      writer_->Submit(std::move(m), [done, single, label](Outcome o) {
        HttpResult r;
        try {
          if (!o.status.ok()) {
            r = Fail(o.status, label);
          } else if (single) {
            r = Json(o.created ? api::kHttpCreated : kOk, json{{key::kOffset, o.offsets.at(0)}},
                     label);
          } else {
            r = Json(kOk, json{{key::kOffsets, o.offsets}}, label);
          }
        } catch (const std::exception& e) {
          r = Error(kInternal, std::string("internal error: ") + e.what(), label);
        }
        done(std::move(r));
      });
      return;
    }

    case R::kTransactions: {
      if (method != "GET") return method_not_allowed("GET", "transactions");
      auto state = t.Param(api::kStateParam);
      if (state && *state != api::kStatePrepared && *state != api::kStatePrecommitted) {
        return done(Error(kBadRequest, "only state=prepared or state=precommitted is supported",
                          "transactions"));
      }
      const bool only_precommitted = state && *state == api::kStatePrecommitted;
      json arr = json::array();
      for (const auto& p : store_->ListPrepared()) {
        if (only_precommitted && !p.precommitted) continue;
        json msgs = json::array();
        for (const auto& s : p.messages) {
          msgs.push_back(json{{key::kTopic, s.topic},
                              {key::kId, s.data.id},
                              {key::kKey, s.data.key},
                              {key::kPayload, s.data.payload}});
        }
        arr.push_back(
            json{{key::kGid, p.gid},
                 {key::kState, p.precommitted ? api::kStatePrecommitted : api::kStatePrepared},
                 {key::kPreparedAt, p.prepared_at_ms},
                 {key::kMessages, std::move(msgs)}});
      }
      return done(Json(kOk, json{{key::kTransactions, std::move(arr)}}, "transactions"));
    }

    case R::kPrepare:
    case R::kCommit:
    case R::kAbort:
    case R::kPrecommit: {
      const char* label = route == R::kPrepare     ? "prepare"
                          : route == R::kCommit    ? "commit"
                          : route == R::kPrecommit ? "precommit"
                                                   : "abort";
      if (method != "POST") return method_not_allowed("POST", label);
      Mutation m;
      m.gid = std::string(seg[1]);
      if (!ValidName(m.gid)) {
        return done(Error(kBadRequest, "gid must match [A-Za-z0-9._:-]{1,200}", label));
      }
      if (route == R::kPrepare) {
        m.kind = Mutation::Kind::kPrepare;
        if (!ParsePrepareBody(req.body, &m.staged, &err))
          return done(Error(kBadRequest, err, label));
        m.inject_abort = faults_->RollAbort();
      } else {
        // commit/abort/precommit carry no body; whatever was sent is ignored.
        m.kind = route == R::kCommit      ? Mutation::Kind::kCommit
                 : route == R::kPrecommit ? Mutation::Kind::kPrecommit
                                          : Mutation::Kind::kAbort;
      }
      const Mutation::Kind kind = m.kind;
      writer_->Submit(std::move(m), [done, kind, label](Outcome o) {
        HttpResult r;
        try {
          int status = kOk;
          json body = TxnAnswer(kind, o, &status);
          r = Json(status, body, label);
        } catch (const std::exception& e) {
          r = Error(kInternal, std::string("internal error: ") + e.what(), label);
        }
        done(std::move(r));
      });
      return;
    }

    case R::kPrepareMany:
    case R::kCommitMany: {
      // Several transactions' prepares (or commits) in one request: each is
      // the mutation its own request would be, and they are queued together
      // so that one durable write holds them all. A coordinator driving
      // several transactions at once saves a request, an answer and a wake-up
      // per transaction.
      const bool prepare = route == R::kPrepareMany;
      const char* label = prepare ? "prepare_many" : "commit_many";
      if (method != "POST") return method_not_allowed("POST", label);
      std::vector<Mutation> ms;
      std::vector<std::string> gids;
      if (prepare) {
        std::vector<PrepareItem> items;
        if (!ParsePrepareManyBody(req.body, &items, &err)) {
          return done(Error(kBadRequest, err, label));
        }
        for (auto& t : items) {
          Mutation m;
          m.kind = Mutation::Kind::kPrepare;
          m.gid = t.gid;
          m.staged = std::move(t.staged);
          m.inject_abort = faults_->RollAbort();
          gids.push_back(std::move(t.gid));
          ms.push_back(std::move(m));
        }
      } else {
        if (!ParseGidsBody(req.body, &gids, &err)) return done(Error(kBadRequest, err, label));
        for (const auto& g : gids) {
          Mutation m;
          m.kind = Mutation::Kind::kCommit;
          m.gid = g;
          ms.push_back(std::move(m));
        }
      }
      const Mutation::Kind kind = prepare ? Mutation::Kind::kPrepare : Mutation::Kind::kCommit;
      writer_->SubmitMany(
          std::move(ms), [done, kind, gids = std::move(gids), label](std::vector<Outcome> os) {
            HttpResult r;
            try {
              r = ManyAnswer(kind, gids, os, label);
            } catch (const std::exception& e) {
              r = Error(kInternal, std::string("internal error: ") + e.what(), label);
            }
            done(std::move(r));
          });
      return;
    }
  }
}

}  // namespace dw::broker
