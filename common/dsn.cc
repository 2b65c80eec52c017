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

std::string RedactUri(std::string_view dsn) {
  std::string out;
  size_t scheme_end = dsn.find("://") + 3;
  out.append(dsn.substr(0, scheme_end));
  std::string_view rest = dsn.substr(scheme_end);
  // Authority ends at the first '/', '?' or end; userinfo is before its last '@'.
  size_t auth_end = rest.find_first_of("/?");
  std::string_view auth = rest.substr(0, auth_end);
  size_t at = auth.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = auth.substr(0, at);
    size_t colon = userinfo.find(':');
    out.append(userinfo.substr(0, colon));
    out.append(auth.substr(at));
  } else {
    out.append(auth);
  }
  if (auth_end == std::string_view::npos) return out;
  rest = rest.substr(auth_end);
  size_t q = rest.find('?');
  out.append(rest.substr(0, q));
  if (q == std::string_view::npos) return out;
  std::string_view query = rest.substr(q + 1);
  std::string kept;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    if (!param.starts_with("password=") && param != "password") {
      if (!kept.empty()) kept += '&';
      kept.append(param);
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  if (!kept.empty()) out += "?" + kept;
  return out;
}

// key = value pairs separated by whitespace; a value is either a run of
// non-space characters or single-quoted with backslash escapes (libpq's rules).
bool RedactKeyValue(std::string_view dsn, std::string* out) {
  std::vector<std::string_view> kept;
  size_t i = 0, n = dsn.size();
  while (true) {
    while (i < n && IsSpace(dsn[i])) ++i;
    if (i == n) break;
    size_t start = i;
    while (i < n && dsn[i] != '=' && !IsSpace(dsn[i])) ++i;
    std::string_view key = dsn.substr(start, i - start);
    while (i < n && IsSpace(dsn[i])) ++i;
    if (i == n || dsn[i] != '=' || key.empty()) return false;
    ++i;
    while (i < n && IsSpace(dsn[i])) ++i;
    if (i < n && dsn[i] == '\'') {
      ++i;
      bool closed = false;
      while (i < n) {
        if (dsn[i] == '\\' && i + 1 < n) {
          i += 2;
        } else if (dsn[i] == '\'') {
          ++i;
          closed = true;
          break;
        } else {
          ++i;
        }
      }
      if (!closed) return false;
    } else {
      while (i < n && !IsSpace(dsn[i])) ++i;
    }
    if (key != "password") kept.push_back(dsn.substr(start, i - start));
  }
  out->clear();
  for (auto p : kept) {
    if (!out->empty()) *out += ' ';
    out->append(p);
  }
  return true;
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

std::optional<std::string> UriPassword(std::string_view dsn) {
  std::string_view rest = dsn.substr(dsn.find("://") + 3);
  size_t auth_end = rest.find_first_of("/?");
  std::string_view auth = rest.substr(0, auth_end);
  std::optional<std::string> pw;
  size_t at = auth.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = auth.substr(0, at);
    size_t colon = userinfo.find(':');
    if (colon != std::string_view::npos) pw = PercentDecode(userinfo.substr(colon + 1));
  }
  size_t q = rest.find('?');
  if (q == std::string_view::npos) return pw;
  std::string_view query = rest.substr(q + 1);
  while (!query.empty()) {  // a query parameter wins over the userinfo, as in libpq
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    if (param.starts_with("password=")) pw = PercentDecode(param.substr(9));
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return pw;
}

std::optional<std::string> KeyValuePassword(std::string_view dsn) {
  std::optional<std::string> pw;
  size_t i = 0, n = dsn.size();
  while (true) {
    while (i < n && IsSpace(dsn[i])) ++i;
    if (i == n) break;
    size_t start = i;
    while (i < n && dsn[i] != '=' && !IsSpace(dsn[i])) ++i;
    std::string_view key = dsn.substr(start, i - start);
    while (i < n && IsSpace(dsn[i])) ++i;
    if (i == n || dsn[i] != '=') return std::nullopt;
    ++i;
    while (i < n && IsSpace(dsn[i])) ++i;
    std::string value;
    if (i < n && dsn[i] == '\'') {
      ++i;
      while (i < n && dsn[i] != '\'') {
        if (dsn[i] == '\\' && i + 1 < n) ++i;
        value += dsn[i++];
      }
      if (i == n) return std::nullopt;
      ++i;
    } else {
      while (i < n && !IsSpace(dsn[i])) value += dsn[i++];
    }
    if (key == "password") pw = value;
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
