#include "participants/broker/message_body.h"

#include <string_view>

#include <simdjson.h>

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

// The body as an element that is an object, or the error.
bool ParseRoot(const std::string& body, element* out, std::string* err) {
  // parse(std::string) uses the string's spare capacity as simdjson's
  // padding when there is enough, and copies the text otherwise.
  if (Parser().parse(body).get(*out) != simdjson::SUCCESS) {
    *err = "malformed JSON body";
    return false;
  }
  if (!out->is_object()) {
    *err = "JSON body must be an object";
    return false;
  }
  return true;
}

// A missing or null field is ""; anything but a string is an error.
bool OptString(const element* v, const char* key, std::string* out, std::string* err) {
  if (v == nullptr || v->is_null()) {
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

// One pass over the fields; a repeated key keeps its last value.
bool ParseMessage(element e, MessageData* m, std::string* topic, std::string* err) {
  object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) {
    *err = "a message must be a JSON object";
    return false;
  }
  element id, key, payload, t;
  bool has_id = false, has_key = false, has_payload = false, has_topic = false;
  for (auto field : obj) {
    if (field.key == "id") {
      id = field.value;
      has_id = true;
    } else if (field.key == "key") {
      key = field.value;
      has_key = true;
    } else if (field.key == "payload") {
      payload = field.value;
      has_payload = true;
    } else if (topic != nullptr && field.key == "topic") {
      t = field.value;
      has_topic = true;
    }
  }
  if (!OptString(has_id ? &id : nullptr, "id", &m->id, err) ||
      !OptString(has_key ? &key : nullptr, "key", &m->key, err)) {
    return false;
  }
  std::string_view p;
  if (!has_payload || payload.get_string().get(p) != simdjson::SUCCESS) {
    *err = "'payload' is required and must be a string";
    return false;
  }
  m->payload.assign(p);
  if (topic != nullptr) {
    std::string_view name;
    if (!has_topic || t.get_string().get(name) != simdjson::SUCCESS || !ValidName(name)) {
      *err = "each message needs a 'topic' matching [A-Za-z0-9._:-]{1,200}";
      return false;
    }
    topic->assign(name);
  }
  return true;
}

// {"messages": [...]} -> the array, or the error.
bool MessagesArray(const std::string& body, simdjson::dom::array* out, std::string* err) {
  element root, messages;
  object obj;
  if (!ParseRoot(body, &root, err)) return false;
  if (root.get_object().get(obj) != simdjson::SUCCESS) return false;  // ParseRoot checked it
  bool found = false;
  for (auto field : obj) {
    if (field.key == "messages") {
      messages = field.value;
      found = true;
    }
  }
  if (!found || messages.get_array().get(*out) != simdjson::SUCCESS) {
    *err = "'messages' is required and must be an array";
    return false;
  }
  return true;
}

// Each element of {"messages": [...]} into (*out)[i] by parse_one(element,
// T*); an error names the element's index.
template <typename T, typename ParseOne>
bool ParseList(const std::string& body, std::vector<T>* out, ParseOne parse_one, std::string* err) {
  simdjson::dom::array arr;
  if (!MessagesArray(body, &arr, err)) return false;
  out->resize(arr.size());
  size_t i = 0;
  for (element e : arr) {
    if (!parse_one(e, &(*out)[i])) {
      *err = "messages[" + std::to_string(i) + "]: " + *err;
      return false;
    }
    ++i;
  }
  return true;
}

}  // namespace

bool ParseMessageBody(const std::string& body, MessageData* out, std::string* err) {
  element root;
  return ParseRoot(body, &root, err) && ParseMessage(root, out, nullptr, err);
}

bool ParseBatchBody(const std::string& body, std::vector<MessageData>* out, std::string* err) {
  return ParseList(
      body, out, [err](element e, MessageData* m) { return ParseMessage(e, m, nullptr, err); },
      err);
}

bool ParsePrepareBody(const std::string& body, std::vector<StagedMessage>* out, std::string* err) {
  return ParseList(
      body, out,
      [err](element e, StagedMessage* m) { return ParseMessage(e, &m->data, &m->topic, err); },
      err);
}

}  // namespace dw::broker
