#include "participants/pg_array.h"

namespace dw {

std::string BigintArray(const std::vector<int64_t>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  s += '}';
  return s;
}

std::string TextArray(const std::vector<std::string>& v) {
  size_t n = 2;
  for (const auto& e : v) n += e.size() + 3;
  std::string s;
  s.reserve(n);
  s += '{';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += '"';
    for (char c : v[i]) {
      if (c == '"' || c == '\\') s += '\\';
      s += c;
    }
    s += '"';
  }
  s += '}';
  return s;
}

}  // namespace dw
