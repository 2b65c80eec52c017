// The building blocks of compare/results.h: a results.json field that is
// absent, null or a value, and the reading and writing of each field type.
//
// results.json is a public interface (docs/compare-results.md) read by
// scripts, and its three states mean different things: a key an older schema
// did not have is absent, a figure that could not be measured is null ("never
// 0 in disguise"), everything else is a value. Field<T> keeps all three, so a
// file read into the typed results and written back is the same JSON: the
// same keys, the same nulls, the same integers and floats.
//
// Reading never throws. A value of the wrong type (a string where a number
// belongs, a hand-edited file) leaves the field absent and is kept verbatim
// in its object's `extra`, with every key the schema does not name (a newer
// writer's field, a fault's own figures), so nothing a file holds is lost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace dw::compare::results {

using json = nlohmann::json;

template <class T>
class Field {
 public:
  Field() = default;                         // absent
  Field(std::nullptr_t) : present_(true) {}  // NOLINT: null, as in `f = nullptr`
  template <class U = T, std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                              !std::is_same_v<std::decay_t<U>, std::nullptr_t> &&
                                              !std::is_same_v<std::decay_t<U>, Field>,
                                          int> = 0>
  Field(U&& v) : value_(T(std::forward<U>(v))), present_(true) {}  // NOLINT: implicit

  bool present() const { return present_; }  // the key is there (null or a value)
  bool has_value() const { return value_.has_value(); }
  explicit operator bool() const { return value_.has_value(); }
  const T& operator*() const { return *value_; }
  T& operator*() { return *value_; }
  const T* operator->() const { return &*value_; }
  T* operator->() { return &*value_; }
  T value_or(T fallback) const { return value_ ? *value_ : fallback; }
  const std::optional<T>& opt() const { return value_; }

  // Makes the field a value (default-constructed if it was none) and returns it.
  T& emplace() {
    present_ = true;
    if (!value_) value_.emplace();
    return *value_;
  }

  // Written as an integer: a double the file wrote as one, or a count a
  // writer keeps in a figure that becomes fractional elsewhere (`offered`).
  bool written_as_integer = false;

 private:
  std::optional<T> value_;
  bool present_ = false;
};

// ---- reading and writing one value of a type. Read returns false (and
// leaves *out unspecified) when `j` does not hold a value of that type.
bool Read(const json& j, bool* out);
bool Read(const json& j, int64_t* out);
bool Read(const json& j, uint64_t* out);
bool Read(const json& j, double* out);  // any number
bool Read(const json& j, std::string* out);
bool Read(const json& j, json* out);  // anything: a part whose own schema lives elsewhere
json Write(bool v);
json Write(int64_t v);
json Write(uint64_t v);
json Write(double v);
json Write(const std::string& v);
json Write(const json& v);

template <class T>
bool Read(const json& j, std::vector<T>* out) {
  if (!j.is_array()) return false;
  out->clear();
  out->reserve(j.size());
  for (const auto& e : j) {
    T v{};
    if (!Read(e, &v)) return false;
    out->push_back(std::move(v));
  }
  return true;
}

template <class T>
json Write(const std::vector<T>& v) {
  json a = json::array();
  for (const auto& e : v) a.push_back(Write(e));
  return a;
}

// An object whose keys are names (approaches), each holding a T.
template <class T>
bool Read(const json& j, std::map<std::string, T>* out) {
  if (!j.is_object()) return false;
  out->clear();
  for (auto it = j.begin(); it != j.end(); ++it) {
    T v{};
    if (!Read(it.value(), &v)) return false;
    out->emplace(it.key(), std::move(v));
  }
  return true;
}

template <class T>
json Write(const std::map<std::string, T>& m) {
  json o = json::object();
  for (const auto& [k, v] : m) o[k] = Write(v);
  return o;
}

// ---- one key of an object.

// Reads obj[key] into *f: absent, null, or a value; a value of another type
// goes to *extra under the same key.
template <class T>
void Take(const json& obj, const char* key, Field<T>* f, json* extra) {
  *f = Field<T>();
  auto it = obj.find(key);
  if (it == obj.end()) return;
  if (it->is_null()) {
    *f = nullptr;
    return;
  }
  T v{};
  if (!Read(*it, &v)) {
    (*extra)[key] = *it;
    return;
  }
  *f = std::move(v);
  if constexpr (std::is_same_v<T, double>) f->written_as_integer = it->is_number_integer();
}

// Writes f to obj[key] unless it is absent.
template <class T>
void Put(json* obj, const char* key, const Field<T>& f) {
  if (!f.present()) return;
  if (!f) {
    (*obj)[key] = nullptr;
    return;
  }
  if constexpr (std::is_same_v<T, double>) {
    if (f.written_as_integer) {
      (*obj)[key] = static_cast<int64_t>(*f);
      return;
    }
  }
  (*obj)[key] = Write(*f);
}

// ---- a whole object. Each struct of compare/results.h lists its keys once,
// in one function that both directions run over (the schema as code):
//   constexpr auto kCostFields = [](auto& io, auto& c) {
//     io("wal_bytes_per_op", c.wal_bytes_per_op);
//     ...
//   };
// ReadStruct(j, &cost, kCostFields) and WriteStruct(cost, kCostFields).

class ObjectReader {
 public:
  explicit ObjectReader(const json& obj) : obj_(obj), extra_(json::object()) {}
  template <class T>
  void operator()(const char* key, Field<T>& f) {
    seen_.emplace_back(key);
    Take(obj_, key, &f, &extra_);
  }
  // Mistyped values and every key no field named.
  json Rest() {
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      bool known = false;
      for (const auto& k : seen_) known = known || k == it.key();
      if (!known) extra_[it.key()] = it.value();
    }
    return std::move(extra_);
  }

 private:
  const json& obj_;
  json extra_;
  std::vector<std::string> seen_;
};

class ObjectWriter {
 public:
  explicit ObjectWriter(const json& extra) : obj_(extra.is_object() ? extra : json::object()) {}
  template <class T>
  void operator()(const char* key, const Field<T>& f) {
    Put(&obj_, key, f);
  }
  json Take() { return std::move(obj_); }

 private:
  json obj_;
};

// S has a `json extra`; fields(io, s) names each of its keys.
template <class S, class F>
bool ReadStruct(const json& j, S* out, const F& fields) {
  if (!j.is_object()) return false;
  *out = S();
  ObjectReader r(j);
  fields(r, *out);
  out->extra = r.Rest();
  return true;
}

template <class S, class F>
json WriteStruct(const S& s, const F& fields) {
  ObjectWriter w(s.extra);
  fields(w, s);
  return w.Take();
}

}  // namespace dw::compare::results
