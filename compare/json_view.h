// Reading results.json without ever throwing: a run that failed half way, or
// a file from an older schema, must still render. Missing keys, wrong types
// and non-finite numbers all read as "absent" (Null(), nullopt, "").
#pragma once

#include <cmath>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace dw::compare::jv {

using json = nlohmann::json;

inline const json& Null() {
  static const json n;
  return n;
}

inline const json& Get(const json& j, const char* key) {
  if (!j.is_object()) return Null();
  auto it = j.find(key);
  return it == j.end() ? Null() : *it;
}

inline const json& Get(const json& j, const char* a, const char* b) { return Get(Get(j, a), b); }

inline const json& Arr(const json& j, const char* key) {
  static const json empty = json::array();
  const json& v = Get(j, key);
  return v.is_array() ? v : empty;
}

inline std::optional<double> Num(const json& v) {
  if (v.is_number() && std::isfinite(v.get<double>())) return v.get<double>();
  return std::nullopt;
}
inline std::optional<double> Num(const json& j, const char* key) { return Num(Get(j, key)); }
inline std::optional<double> Num(const json& j, const char* a, const char* b) {
  return Num(Get(j, a, b));
}

inline std::string Str(const json& j, const char* key) {
  const json& v = Get(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

}  // namespace dw::compare::jv
