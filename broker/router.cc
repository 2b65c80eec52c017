#include "broker/router.h"

#include <charconv>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "broker/message_body.h"
#include "common/names.h"

namespace dw::broker {
namespace {

using nlohmann::json;

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
  return Json(status, json{{"error", msg}}, std::move(route));
}

// The HTTP status for a failure the writer or sequencer reported.
int StatusCode(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk:
      return 200;
    case Status::Code::kNotFound:
      return 404;
    case Status::Code::kAborted:
    case Status::Code::kFailedPrecondition:
      return 409;
    case Status::Code::kInvalidArgument:
      return 400;
    case Status::Code::kUnavailable:
      return 503;
    case Status::Code::kNoSpace:
      return 507;
    default:
      return 500;
  }
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

json FaultsJson(const Faults& f) {
  FaultConfig c = f.Get();
  return json{{"latency_ms", c.latency_ms},
              {"jitter_ms", c.jitter_ms},
              {"abort_prob", c.abort_prob},
              {"down_for_ms", f.DownRemainingMs()},
              {"crash_at", CrashPointName(c.crash_at)}};
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
    r = Error(500, std::string("internal error: ") + e.what(), "unknown");
  }
  done(std::move(*r));
}

void Router::Dispatch(const HttpRequest& req, const Done& done) {
  const Target t = ParseTarget(req.target);
  const auto& seg = t.segments;
  const std::string& method = req.method;

  auto method_not_allowed = [&](const char* allow, const char* route) {
    HttpResult r = Error(405, "method " + method + " not allowed here", route);
    r.allow = allow;
    done(std::move(r));
  };

  // Route shape first, so an unknown path is 404 whatever the method.
  enum class R {
    kNone,
    kHealthz,
    kMetrics,
    kFaults,
    kMessages,
    kBatch,
    kTxnList,
    kPrepare,
    kCommit,
    kAbort
  } route = R::kNone;
  if (seg.size() == 1 && seg[0] == "healthz") route = R::kHealthz;
  if (seg.size() == 1 && seg[0] == "metrics") route = R::kMetrics;
  if (seg.size() == 2 && seg[0] == "admin" && seg[1] == "faults") route = R::kFaults;
  if (seg.size() == 3 && seg[0] == "topics") {
    if (seg[2] == "messages") route = R::kMessages;
    if (seg[2] == "batch") route = R::kBatch;
  }
  if (seg.size() == 1 && seg[0] == "transactions") route = R::kTxnList;
  if (seg.size() == 3 && seg[0] == "transactions") {
    if (seg[2] == "prepare") route = R::kPrepare;
    if (seg[2] == "commit") route = R::kCommit;
    if (seg[2] == "abort") route = R::kAbort;
  }
  if (route == R::kNone) return done(Error(404, "no such route: " + req.target, "unknown"));

  if (!token_.empty() && route != R::kHealthz && req.authorization != "Bearer " + token_) {
    return done(Error(401, "missing or wrong bearer token", "unauthorized"));
  }

  std::string err;
  json body;
  switch (route) {
    case R::kNone:
      break;

    case R::kHealthz:
      if (method != "GET") return method_not_allowed("GET", "healthz");
      return done(Json(200, json{{"status", "ok"}}, "healthz"));

    case R::kMetrics: {
      if (method != "GET") return method_not_allowed("GET", "metrics");
      HttpResult r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = metrics_->Render(store_->GetStats());
      r.route = "metrics";
      return done(std::move(r));
    }

    case R::kFaults: {
      if (method == "GET") return done(Json(200, FaultsJson(*faults_), "admin_faults"));
      if (method != "POST") return method_not_allowed("GET, POST", "admin_faults");
      if (!ParseObject(req.body, &body, &err)) return done(Error(400, err, "admin_faults"));
      FaultConfig c = faults_->Get();
      std::optional<double> down;
      for (const auto& [k, v] : body.items()) {
        if (k == "crash_at") {
          if (!v.is_string() || !ParseCrashPoint(v.get<std::string>(), &c.crash_at)) {
            return done(Error(400,
                              "crash_at must be \"\", \"after-stage-before-vote\" or "
                              "\"after-commit-before-reply\"",
                              "admin_faults"));
          }
          continue;
        }
        double* field = k == "latency_ms"   ? &c.latency_ms
                        : k == "jitter_ms"  ? &c.jitter_ms
                        : k == "abort_prob" ? &c.abort_prob
                                            : nullptr;
        if (field == nullptr && k != "down_for_ms") {
          return done(Error(400, "unknown fault '" + k + "'", "admin_faults"));
        }
        if (!v.is_number()) return done(Error(400, k + " must be a number", "admin_faults"));
        if (field) {
          *field = v.get<double>();
        } else {
          down = v.get<double>();
        }
      }
      if (Status s = Faults::Validate(c); !s.ok()) {
        return done(Error(400, s.message(), "admin_faults"));
      }
      if (down && !(*down >= 0 && *down <= 3600e3)) {
        return done(Error(400, "down_for_ms must be in [0, 3600000]", "admin_faults"));
      }
      faults_->Set(c);
      if (down) faults_->SetDownFor(static_cast<int64_t>(*down));
      return done(Json(200, FaultsJson(*faults_), "admin_faults"));
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
        return done(Error(400, "topic must match [A-Za-z0-9._:-]{1,200}", label));
      }
      if (read) {
        uint64_t from = 0, limit = kDefaultLimit;
        if (auto v = t.Param("from"); v && !ParseU64(*v, &from)) {
          return done(Error(400, "'from' must be a non-negative integer", label));
        }
        if (auto v = t.Param("limit"); v && !ParseU64(*v, &limit)) {
          return done(Error(400, "'limit' must be a non-negative integer", label));
        }
        if (limit > kMaxLimit) limit = kMaxLimit;
        std::vector<StoredMessage> msgs;
        uint64_t next = store_->Read(topic, from, limit, &msgs);
        json arr = json::array();
        for (const auto& m : msgs) {
          arr.push_back(json{{"offset", m.offset},
                             {"id", m.data.id},
                             {"key", m.data.key},
                             {"payload", m.data.payload},
                             {"ts", m.ts_ms}});
        }
        return done(Json(200, json{{"messages", std::move(arr)}, {"next", next}}, label));
      }
      Mutation m;
      m.topic = topic;
      if (route == R::kMessages) {
        m.kind = Mutation::Kind::kPublish;
        m.messages.emplace_back();
        if (!ParseMessageBody(req.body, &m.messages.back(), &err)) {
          return done(Error(400, err, label));
        }
      } else {
        m.kind = Mutation::Kind::kPublishBatch;
        if (!ParseBatchBody(req.body, &m.messages, &err)) return done(Error(400, err, label));
        if (m.messages.empty()) return done(Json(200, json{{"offsets", json::array()}}, label));
      }
      const bool single = route == R::kMessages;
      writer_->Submit(std::move(m), [done, single, label](Outcome o) {
        HttpResult r;
        try {
          if (!o.status.ok()) {
            r = Error(StatusCode(o.status), o.status.message(), label);
          } else if (single) {
            r = Json(o.created ? 201 : 200, json{{"offset", o.offsets.at(0)}}, label);
          } else {
            r = Json(200, json{{"offsets", o.offsets}}, label);
          }
        } catch (const std::exception& e) {
          r = Error(500, std::string("internal error: ") + e.what(), label);
        }
        done(std::move(r));
      });
      return;
    }

    case R::kTxnList: {
      if (method != "GET") return method_not_allowed("GET", "transactions");
      auto state = t.Param("state");
      if (state && *state != "prepared") {
        return done(Error(400, "only state=prepared is supported", "transactions"));
      }
      json arr = json::array();
      for (const auto& p : store_->ListPrepared()) {
        json msgs = json::array();
        for (const auto& s : p.messages) {
          msgs.push_back(json{{"topic", s.topic},
                              {"id", s.data.id},
                              {"key", s.data.key},
                              {"payload", s.data.payload}});
        }
        arr.push_back(
            json{{"gid", p.gid}, {"prepared_at", p.prepared_at_ms}, {"messages", std::move(msgs)}});
      }
      return done(Json(200, json{{"transactions", std::move(arr)}}, "transactions"));
    }

    case R::kPrepare:
    case R::kCommit:
    case R::kAbort: {
      const char* label = route == R::kPrepare  ? "prepare"
                          : route == R::kCommit ? "commit"
                                                : "abort";
      if (method != "POST") return method_not_allowed("POST", label);
      Mutation m;
      m.gid = std::string(seg[1]);
      if (!ValidName(m.gid)) {
        return done(Error(400, "gid must match [A-Za-z0-9._:-]{1,200}", label));
      }
      if (route == R::kPrepare) {
        m.kind = Mutation::Kind::kPrepare;
        if (!ParsePrepareBody(req.body, &m.staged, &err)) return done(Error(400, err, label));
        m.inject_abort = faults_->RollAbort();
      } else {
        // commit/abort carry no body; whatever was sent is ignored.
        m.kind = route == R::kCommit ? Mutation::Kind::kCommit : Mutation::Kind::kAbort;
      }
      const Mutation::Kind kind = m.kind;
      writer_->Submit(std::move(m), [done, kind, label](Outcome o) {
        HttpResult r;
        try {
          if (kind == Mutation::Kind::kPrepare && (o.status.ok() || o.status.IsAborted())) {
            r = o.status.ok()
                    ? Json(200, json{{"vote", "commit"}}, label)
                    : Json(409, json{{"vote", "abort"}, {"reason", o.status.message()}}, label);
          } else if (!o.status.ok()) {
            r = Error(StatusCode(o.status), o.status.message(), label);
          } else if (kind == Mutation::Kind::kCommit) {
            r = Json(200, json{{"offsets", o.offsets}}, label);
          } else {
            r = Json(200, json{{"state", "aborted"}}, label);
          }
        } catch (const std::exception& e) {
          r = Error(500, std::string("internal error: ") + e.what(), label);
        }
        done(std::move(r));
      });
      return;
    }
  }
}

}  // namespace dw::broker
