#include "outbox/emit_message.h"

#include <string_view>

#include <nlohmann/json.hpp>

namespace dw::outbox {

std::string EmitMessageSql() {
  return std::string("SELECT pg_logical_emit_message(true, '") + kEmitPrefix +
         "', json_build_object('event_id', $5::text, 'topic', $6::text, 'key', $7::text,"
         " 'payload', $8::text, 'entity', $4::text)::text) FROM ord";
}

namespace {

// The content as json_build_object writes it: one flat object of string
// values, `{"event_id" : "...", "topic" : "...", ...}`. A parse of just that
// shape, about a quarter of the relay's reading CPU per event as a general
// JSON parse. False on anything else (a \u escape, a number, nesting), which
// then goes to the general parser.
class FlatObject {
 public:
  explicit FlatObject(std::string_view s) : s_(s) {}

  bool Parse(OutboxEvent* out) {
    bool id = false, topic = false, key = false, payload = false;
    Ws();
    if (!Eat('{')) return false;
    Ws();
    if (Eat('}')) return false;  // empty: lacks the fields
    std::string name, value;
    for (;;) {
      if (!String(&name)) return false;
      Ws();
      if (!Eat(':')) return false;
      Ws();
      if (!String(&value)) return false;
      if (name == "event_id") {
        out->event_id = std::move(value), id = true;
      } else if (name == "topic") {
        out->topic = std::move(value), topic = true;
      } else if (name == "key") {
        out->key = std::move(value), key = true;
      } else if (name == "payload") {
        out->payload = std::move(value), payload = true;
      }
      Ws();
      if (Eat('}')) break;
      if (!Eat(',')) return false;
      Ws();
    }
    Ws();
    return pos_ == s_.size() && id && topic && key && payload;
  }

 private:
  void Ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Eat(char c) {
    if (pos_ >= s_.size() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  bool String(std::string* v) {
    v->clear();
    if (!Eat('"')) return false;
    for (;;) {
      size_t end = s_.find_first_of("\"\\", pos_);
      if (end == std::string_view::npos) return false;
      v->append(s_.substr(pos_, end - pos_));
      pos_ = end + 1;
      if (s_[end] == '"') return true;
      if (pos_ >= s_.size()) return false;
      switch (s_[pos_++]) {
        case '"':
          v->push_back('"');
          break;
        case '\\':
          v->push_back('\\');
          break;
        case '/':
          v->push_back('/');
          break;
        case 'b':
          v->push_back('\b');
          break;
        case 'f':
          v->push_back('\f');
          break;
        case 'n':
          v->push_back('\n');
          break;
        case 'r':
          v->push_back('\r');
          break;
        case 't':
          v->push_back('\t');
          break;
        default:
          return false;  // \uXXXX: the general parser
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

Status DecodeEmitMessage(const std::string& content, uint64_t lsn, OutboxEvent* out) {
  if (FlatObject(content).Parse(out)) {
    out->id = static_cast<int64_t>(lsn);
    return Status::OK();
  }
  auto j = nlohmann::json::parse(content, nullptr, /*allow_exceptions=*/false);
  auto text = [&](const char* k, std::string* v) {
    if (!j.contains(k) || !j[k].is_string()) return false;
    *v = j[k].get<std::string>();
    return true;
  };
  if (j.is_discarded() || !j.is_object() || !text("event_id", &out->event_id) ||
      !text("topic", &out->topic) || !text("key", &out->key) || !text("payload", &out->payload)) {
    return Status::Corruption("cdc: a '" + std::string(kEmitPrefix) +
                              "' logical message that is not an outbox event");
  }
  out->id = static_cast<int64_t>(lsn);
  return Status::OK();
}

}  // namespace dw::outbox
