// Names that travel in URLs, SQL identifiers' neighbourhoods and file names
// (topics, global transaction ids) are restricted to one safe alphabet.
#pragma once

#include <string_view>

namespace dw {

// [A-Za-z0-9._:-]{1,200}: safe in a URL path segment without escaping, and
// below Postgres' 200-byte limit for a prepared transaction's gid.
inline bool ValidName(std::string_view s) {
  if (s.empty() || s.size() > 200) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace dw
