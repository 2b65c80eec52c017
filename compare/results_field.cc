#include "compare/results_field.h"

#include <limits>

namespace dw::compare::results {

bool Read(const json& j, bool* out) {
  if (!j.is_boolean()) return false;
  *out = j.get<bool>();
  return true;
}

// Counts: any integer that fits (a parsed non-negative integer is unsigned).
bool Read(const json& j, int64_t* out) {
  if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(u);
    return true;
  }
  if (!j.is_number_integer()) return false;
  *out = j.get<int64_t>();
  return true;
}

bool Read(const json& j, uint64_t* out) {
  if (!j.is_number_unsigned()) return false;
  *out = j.get<uint64_t>();
  return true;
}

bool Read(const json& j, double* out) {
  if (!j.is_number()) return false;
  *out = j.get<double>();
  return true;
}

bool Read(const json& j, std::string* out) {
  if (!j.is_string()) return false;
  *out = j.get<std::string>();
  return true;
}

bool Read(const json& j, json* out) {
  *out = j;
  return true;
}

json Write(bool v) { return json(v); }
json Write(int64_t v) { return json(v); }
json Write(uint64_t v) { return json(v); }
json Write(double v) { return json(v); }
json Write(const std::string& v) { return json(v); }
json Write(const json& v) { return v; }

}  // namespace dw::compare::results
