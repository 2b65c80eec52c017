#include "threepc/agent_api.h"

#include <nlohmann/json.hpp>

#include "broker/api.h"
#include "common/names.h"

namespace dw::threepc::api {
namespace {

constexpr char kPrefix[] = "/3pc/";
constexpr char kTermination[] = "?from=termination";

struct Verb {
  Route route;
  const char* name;
};
constexpr Verb kVerbs[] = {{Route::kCanCommit, "cancommit"}, {Route::kPrecommit, "precommit"},
                           {Route::kDoCommit, "docommit"},   {Route::kAbort, "abort"},
                           {Route::kFreeze, "freeze"},       {Route::kTerminate, "terminate"}};

}  // namespace

Target ParseTarget(const std::string& target) {
  Target t;
  std::string path = target;
  std::string query;
  if (size_t q = path.find('?'); q != std::string::npos) {
    query = path.substr(q);
    path.resize(q);
  }
  if (path == "/healthz") {
    t.route = query.empty() ? Route::kHealthz : Route::kNone;
    return t;
  }
  const std::string prefix = kPrefix;
  if (path.compare(0, prefix.size(), prefix) != 0) return t;
  std::string rest = path.substr(prefix.size());
  std::string verb;
  if (size_t slash = rest.find('/'); slash != std::string::npos) {
    verb = rest.substr(slash + 1);
    rest.resize(slash);
  }
  if (!ValidName(rest)) return t;
  if (query == kTermination) {
    t.termination = true;
  } else if (!query.empty()) {
    return t;
  }
  if (verb.empty()) {
    if (!t.termination) t.route = Route::kState;
  } else {
    for (const Verb& v : kVerbs) {
      if (verb == v.name) t.route = v.route;
    }
    // Only a decision comes from a termination.
    if (t.termination && t.route != Route::kDoCommit && t.route != Route::kAbort) {
      t.route = Route::kNone;
    }
  }
  if (t.route != Route::kNone) t.gid = rest;
  return t;
}

std::string PathOf(Route route, const std::string& gid, bool termination) {
  if (route == Route::kHealthz) return "/healthz";
  std::string out = kPrefix + gid;
  for (const Verb& v : kVerbs) {
    if (v.route == route) out += std::string("/") + v.name;
  }
  if (termination) out += kTermination;
  return out;
}

const char* MethodOf(Route route) {
  return route == Route::kHealthz || route == Route::kState ? "GET" : "POST";
}

std::string WorkToJson(const Work& w) {
  nlohmann::json statements = nlohmann::json::array();
  for (const auto& st : w.statements) {
    nlohmann::json params = nlohmann::json::array();
    for (const auto& p : st.params) {
      if (p) {
        params.push_back(*p);
      } else {
        params.push_back(nullptr);
      }
    }
    nlohmann::json j = {{"sql", st.sql}, {"params", params}};
    // Absent unless set, so a work without it reads as it always did.
    if (st.expect_rows) j["expect_rows"] = *st.expect_rows;
    statements.push_back(std::move(j));
  }
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& m : w.messages) {
    messages.push_back({{"topic", m.topic}, {"id", m.id}, {"key", m.key}, {"payload", m.payload}});
  }
  return nlohmann::json{{"statements", statements}, {"messages", messages}}.dump();
}

Status WorkFromJson(const std::string& body, Work* out) {
  *out = Work();
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return Status::InvalidArgument("the work is not a JSON object");
  try {
    for (const auto& st : j.value("statements", nlohmann::json::array())) {
      SqlStatement s;
      s.sql = st.at("sql").get<std::string>();
      for (const auto& p : st.value("params", nlohmann::json::array())) {
        if (p.is_null()) {
          s.params.emplace_back(std::nullopt);
        } else {
          s.params.emplace_back(p.get<std::string>());
        }
      }
      if (st.contains("expect_rows")) s.expect_rows = st.at("expect_rows").get<uint64_t>();
      out->statements.push_back(std::move(s));
    }
    for (const auto& m : j.value("messages", nlohmann::json::array())) {
      out->messages.push_back({m.at("topic").get<std::string>(), m.at("id").get<std::string>(),
                               m.value("key", ""), m.value("payload", "")});
    }
  } catch (const nlohmann::json::exception& e) {
    *out = Work();
    return Status::InvalidArgument(std::string("bad work: ") + e.what());
  }
  return Status::OK();
}

std::string ErrorBody(const std::string& message) {
  return nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                 nlohmann::json::error_handler_t::replace);
}

std::string ErrorOf(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    return j["error"].get<std::string>();
  }
  return body.substr(0, 200);
}

Status StatusOfReply(int http, const std::string& body, const std::string& what) {
  if (http >= 200 && http < 300) return Status::OK();
  return broker::api::StatusForHttp(http, what + ": " + ErrorOf(body));
}

int HttpStatusOf(const Status& s) { return broker::api::HttpStatusFor(s.code()); }

}  // namespace dw::threepc::api
