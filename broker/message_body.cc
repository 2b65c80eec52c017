#include "broker/message_body.h"

#include <algorithm>
#include <optional>
#include <string_view>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "broker/api.h"
#include "common/json_text.h"
#include "common/names.h"

namespace dw::broker {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

// One parser per thread: it keeps the buffers of the largest body it has
// seen, so parsing allocates nothing once warm.
simdjson::dom::parser& Parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// The body as an object, or the error.
bool ParseRoot(const std::string& body, object* out, std::string* err) {
  element root;
  // parse(std::string) uses the string's spare capacity as simdjson's
  // padding when there is enough, and copies the text otherwise.
  if (Parser().parse(body).get(root) != simdjson::SUCCESS) {
    *err = "malformed JSON body";
    return false;
  }
  if (root.get_object().get(*out) != simdjson::SUCCESS) {
    *err = "JSON body must be an object";
    return false;
  }
  return true;
}

// A missing or null field is ""; anything but a string is an error.
bool OptString(const std::optional<element>& v, const char* key, std::string* out,
               std::string* err) {
  if (!v || v->is_null()) {
    out->clear();
    return true;
  }
  std::string_view s;
  if (v->get_string().get(s) != simdjson::SUCCESS) {
    *err = std::string("'") + key + "' must be a string";
    return false;
  }
  out->assign(s);
  return true;
}

// One pass over the fields; a repeated key keeps its last value. `topic`
// non-null: a staged message, which needs one.
bool ParseMessage(object obj, MessageData* m, std::string* topic, std::string* err) {
  std::optional<element> id, key, payload, t;
  for (auto field : obj) {
    if (field.key == api::key::kId) {
      id = field.value;
    } else if (field.key == api::key::kKey) {
      key = field.value;
    } else if (field.key == api::key::kPayload) {
      payload = field.value;
    } else if (topic != nullptr && field.key == api::key::kTopic) {
      t = field.value;
    }
  }
  if (!OptString(id, api::key::kId, &m->id, err) || !OptString(key, api::key::kKey, &m->key, err))
    return false;
  std::string_view p;
  if (!payload || payload->get_string().get(p) != simdjson::SUCCESS) {
    *err = "'payload' is required and must be a string";
    return false;
  }
  m->payload.assign(p);
  if (topic != nullptr) {
    std::string_view name;
    if (!t || t->get_string().get(name) != simdjson::SUCCESS || !ValidName(name)) {
      *err = "each message needs a 'topic' matching [A-Za-z0-9._:-]{1,200}";
      return false;
    }
    topic->assign(name);
  }
  return true;
}

// An element of a list body: it must be an object.
bool ParseElement(element e, MessageData* m, std::string* topic, std::string* err) {
  object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) {
    *err = "a message must be a JSON object";
    return false;
  }
  return ParseMessage(obj, m, topic, err);
}

// obj[name] as an array, or the error.
bool ArrayField(object obj, const char* name, simdjson::dom::array* out, std::string* err) {
  std::optional<element> found;
  for (auto field : obj) {
    if (field.key == name) found = field.value;  // a repeated key keeps its last value
  }
  if (!found || found->get_array().get(*out) != simdjson::SUCCESS) {
    *err = std::string("'") + name + "' is required and must be an array";
    return false;
  }
  return true;
}

// Each element of `arr` into (*out)[i] by parse_one(element, T*); an error
// names the element: "<name>[i]: <reason>".
template <typename T, typename ParseOne>
bool ParseArray(simdjson::dom::array arr, const char* name, std::vector<T>* out, ParseOne parse_one,
                std::string* err) {
  out->resize(arr.size());
  size_t i = 0;
  for (element e : arr) {
    if (!parse_one(e, &(*out)[i])) {
      *err = std::string(name) + "[" + std::to_string(i) + "]: " + *err;
      return false;
    }
    ++i;
  }
  return true;
}

// The elements of obj's {"messages": [...]} into *out by parse_one.
template <typename T, typename ParseOne>
bool ParseMessages(object obj, std::vector<T>* out, ParseOne parse_one, std::string* err) {
  simdjson::dom::array arr;
  return ArrayField(obj, api::key::kMessages, &arr, err) &&
         ParseArray(arr, api::key::kMessages, out, parse_one, err);
}

// A body {"messages": [...]}, each element into *out by parse_one.
template <typename T, typename ParseOne>
bool ParseList(const std::string& body, std::vector<T>* out, ParseOne parse_one, std::string* err) {
  object root;
  return ParseRoot(body, &root, err) && ParseMessages(root, out, parse_one, err);
}

// A prepare's staged message.
bool ParseStaged(element e, StagedMessage* m, std::string* err) {
  return ParseElement(e, &m->data, &m->topic, err);
}

// A gid: a valid name (names.h).
bool ParseGid(element e, std::string* gid, std::string* err) {
  std::string_view g;
  if (e.get_string().get(g) != simdjson::SUCCESS || !ValidName(g)) {
    *err = "a gid must be a string matching [A-Za-z0-9._:-]{1,200}";
    return false;
  }
  gid->assign(g);
  return true;
}

// The body's array `name` of at most kMaxManyTransactions elements.
bool ManyArray(const std::string& body, const char* name, simdjson::dom::array* out,
               std::string* err) {
  object root;
  if (!ParseRoot(body, &root, err) || !ArrayField(root, name, out, err)) return false;
  if (out->size() > api::kMaxManyTransactions) {
    *err = std::string("'") + name + "' holds more than " +
           std::to_string(api::kMaxManyTransactions) + " transactions";
    return false;
  }
  return true;
}

// No gid twice (each transaction's answer is told apart by its gid).
template <typename T, typename GidOf>
bool DistinctGids(const std::vector<T>& v, GidOf gid_of, std::string* err) {
  std::vector<std::string_view> gids;
  gids.reserve(v.size());
  for (const T& t : v) gids.push_back(gid_of(t));
  std::sort(gids.begin(), gids.end());
  auto dup = std::adjacent_find(gids.begin(), gids.end());
  if (dup != gids.end()) {
    *err = "gid '" + std::string(*dup) + "' appears twice";
    return false;
  }
  return true;
}

// "name":"value"; `value` escaped as nlohmann would, invalid UTF-8 replaced.
void AppendStringField(const char* name, std::string_view value, std::string* out) {
  out->push_back('"');
  out->append(name);
  out->append("\":");
  if (simdjson::validate_utf8(value.data(), value.size())) {
    AppendJsonString(value, out);
  } else {
    out->append(nlohmann::json(std::string(value))
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
}

void AppendNumberField(const char* name, int64_t value, std::string* out) {
  out->push_back('"');
  out->append(name);
  out->append("\":");
  out->append(std::to_string(value));
}

}  // namespace

std::string ReadBody(const std::vector<StoredMessage>& msgs, uint64_t next) {
  size_t raw = 0;
  for (const auto& m : msgs) raw += m.data.id.size() + m.data.key.size() + m.data.payload.size();
  std::string out;
  out.reserve(raw + raw / 8 + 80 * msgs.size() + 48);  // escapes are rare; growth covers them
  out.append("{\"").append(api::key::kMessages).append("\":[");
  for (size_t i = 0; i < msgs.size(); ++i) {
    const StoredMessage& m = msgs[i];
    if (i > 0) out.push_back(',');
    out.push_back('{');
    AppendStringField(api::key::kId, m.data.id, &out);
    out.push_back(',');
    AppendStringField(api::key::kKey, m.data.key, &out);
    out.push_back(',');
    out.append("\"").append(api::key::kOffset).append("\":").append(std::to_string(m.offset));
    out.push_back(',');
    AppendStringField(api::key::kPayload, m.data.payload, &out);
    out.push_back(',');
    AppendNumberField(api::key::kTs, m.ts_ms, &out);
    out.push_back('}');
  }
  out.append("],\"").append(api::key::kNext).append("\":").append(std::to_string(next));
  out.push_back('}');
  return out;
}

bool ParseMessageBody(const std::string& body, MessageData* out, std::string* err) {
  object root;
  return ParseRoot(body, &root, err) && ParseMessage(root, out, nullptr, err);
}

bool ParseBatchBody(const std::string& body, std::vector<MessageData>* out, std::string* err) {
  return ParseList(
      body, out, [err](element e, MessageData* m) { return ParseElement(e, m, nullptr, err); },
      err);
}

bool ParsePrepareBody(const std::string& body, std::vector<StagedMessage>* out, std::string* err) {
  return ParseList(
      body, out, [err](element e, StagedMessage* m) { return ParseStaged(e, m, err); }, err);
}

bool ParsePrepareManyBody(const std::string& body, std::vector<PrepareItem>* out,
                          std::string* err) {
  simdjson::dom::array arr;
  if (!ManyArray(body, api::key::kTransactions, &arr, err)) return false;
  auto parse_one = [err](element e, PrepareItem* t) {
    object obj;
    if (e.get_object().get(obj) != simdjson::SUCCESS) {
      *err = "a transaction must be a JSON object";
      return false;
    }
    std::optional<element> gid;
    for (auto field : obj) {
      if (field.key == api::key::kGid) gid = field.value;
    }
    if (!gid) {
      *err = "'gid' is required";
      return false;
    }
    return ParseGid(*gid, &t->gid, err) &&
           ParseMessages(
               obj, &t->staged,
               [err](element m, StagedMessage* sm) { return ParseStaged(m, sm, err); }, err);
  };
  return ParseArray(arr, api::key::kTransactions, out, parse_one, err) &&
         DistinctGids(
             *out, [](const PrepareItem& t) { return std::string_view(t.gid); }, err);
}

bool ParseGidsBody(const std::string& body, std::vector<std::string>* out, std::string* err) {
  simdjson::dom::array arr;
  if (!ManyArray(body, api::key::kGids, &arr, err)) return false;
  return ParseArray(
             arr, api::key::kGids, out,
             [err](element e, std::string* g) { return ParseGid(e, g, err); }, err) &&
         DistinctGids(
             *out, [](const std::string& g) { return std::string_view(g); }, err);
}

}  // namespace dw::broker
