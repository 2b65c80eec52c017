#include "common/dsn.h"

#include <cctype>
#include <optional>
#include <vector>

namespace dw {
namespace {

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

bool IsUri(std::string_view dsn) {
  return dsn.starts_with("postgresql://") || dsn.starts_with("postgres://");
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A postgresql:// URI cut where a password can hide: in the userinfo
// (user:password@) and in the query (password=...).
struct UriParts {
  std::string_view head;                     // "postgresql://"
  std::string_view user;                     // the userinfo before its ':' ("" without userinfo)
  std::optional<std::string_view> password;  // the userinfo after its ':', still %-encoded
  std::string_view host;                     // "@host:port" with userinfo, "host:port" without
  std::string_view path;                     // "/db" or ""
  std::vector<std::string_view> params;      // the query's key=value parameters
};

UriParts SplitUri(std::string_view dsn) {
  UriParts u;
  const size_t scheme_end = dsn.find("://") + 3;
  u.head = dsn.substr(0, scheme_end);
  std::string_view rest = dsn.substr(scheme_end);
  // Authority ends at the first '/', '?' or end; userinfo is before its last '@'.
  const size_t auth_end = rest.find_first_of("/?");
  std::string_view auth = rest.substr(0, auth_end);
  const size_t at = auth.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = auth.substr(0, at);
    const size_t colon = userinfo.find(':');
    u.user = userinfo.substr(0, colon);
    if (colon != std::string_view::npos) u.password = userinfo.substr(colon + 1);
    u.host = auth.substr(at);
  } else {
    u.host = auth;
  }
  if (auth_end == std::string_view::npos) return u;
  rest = rest.substr(auth_end);
  const size_t q = rest.find('?');
  u.path = rest.substr(0, q);
  if (q == std::string_view::npos) return u;
  std::string_view query = rest.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    u.params.push_back(query.substr(0, amp));
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return u;
}

std::string RedactUri(std::string_view dsn) {
  UriParts u = SplitUri(dsn);
  std::string out =
      std::string(u.head) + std::string(u.user) + std::string(u.host) + std::string(u.path);
  std::string kept;
  for (std::string_view param : u.params) {
    if (param.starts_with("password=") || param == "password") continue;
    if (!kept.empty()) kept += '&';
    kept.append(param);
  }
  if (!kept.empty()) out += "?" + kept;
  return out;
}

std::optional<std::string> UriPassword(std::string_view dsn) {
  UriParts u = SplitUri(dsn);
  std::optional<std::string> pw;
  if (u.password) pw = PercentDecode(*u.password);
  for (std::string_view param : u.params) {  // a query parameter wins, as in libpq
    if (param.starts_with("password=")) pw = PercentDecode(param.substr(9));
  }
  return pw;
}

struct KeyValuePair {
  std::string_view key;
  std::string_view text;  // "key = value" as written
  std::string value;      // unquoted, escapes resolved
};

// key = value pairs separated by whitespace; a value is either a run of
// non-space characters or single-quoted with backslash escapes (libpq's
// rules). False when `dsn` does not parse (no '=', an empty key, an
// unterminated quote).
bool SplitKeyValue(std::string_view dsn, std::vector<KeyValuePair>* out) {
  out->clear();
  size_t i = 0, n = dsn.size();
  while (true) {
    while (i < n && IsSpace(dsn[i])) ++i;
    if (i == n) return true;
    KeyValuePair kv;
    const size_t start = i;
    while (i < n && dsn[i] != '=' && !IsSpace(dsn[i])) ++i;
    kv.key = dsn.substr(start, i - start);
    while (i < n && IsSpace(dsn[i])) ++i;
    if (i == n || dsn[i] != '=' || kv.key.empty()) return false;
    ++i;
    while (i < n && IsSpace(dsn[i])) ++i;
    if (i < n && dsn[i] == '\'') {
      ++i;
      while (i < n && dsn[i] != '\'') {
        if (dsn[i] == '\\' && i + 1 < n) ++i;
        kv.value += dsn[i++];
      }
      if (i == n) return false;
      ++i;
    } else {
      while (i < n && !IsSpace(dsn[i])) kv.value += dsn[i++];
    }
    kv.text = dsn.substr(start, i - start);
    out->push_back(std::move(kv));
  }
}

bool RedactKeyValue(std::string_view dsn, std::string* out) {
  std::vector<KeyValuePair> pairs;
  if (!SplitKeyValue(dsn, &pairs)) return false;
  out->clear();
  for (const auto& kv : pairs) {
    if (kv.key == "password") continue;
    if (!out->empty()) *out += ' ';
    out->append(kv.text);
  }
  return true;
}

std::optional<std::string> KeyValuePassword(std::string_view dsn) {
  std::vector<KeyValuePair> pairs;
  if (!SplitKeyValue(dsn, &pairs)) return std::nullopt;
  std::optional<std::string> pw;
  for (const auto& kv : pairs) {
    if (kv.key == "password") pw = kv.value;
  }
  return pw;
}

}  // namespace

std::optional<std::string> DsnPassword(std::string_view dsn) {
  return IsUri(dsn) ? UriPassword(dsn) : KeyValuePassword(dsn);
}

std::string RedactDsn(std::string_view dsn) {
  if (IsUri(dsn)) return RedactUri(dsn);
  std::string out;
  if (!RedactKeyValue(dsn, &out)) return "<unparseable dsn>";
  return out;
}

}  // namespace dw
