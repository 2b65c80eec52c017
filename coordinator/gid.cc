#include "coordinator/gid.h"

#include <charconv>

namespace dw::coord {
namespace {

bool ParseUint(std::string_view s, uint64_t* v) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

bool ValidCoordinatorId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string GidPrefix(std::string_view coordinator_id) {
  return "dw:" + std::string(coordinator_id) + ":";
}

std::string FormatGid(std::string_view coordinator_id, uint64_t seq) {
  return GidPrefix(coordinator_id) + std::to_string(seq);
}

std::string BranchGid(std::string_view gid, int branch) {
  if (branch == 0) return std::string(gid);
  return std::string(gid) + "." + std::to_string(branch);
}

bool ParseGid(std::string_view s, ParsedGid* out) {
  if (!s.starts_with("dw:")) return false;
  std::string_view rest = s.substr(3);
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view id = rest.substr(0, colon);
  if (!ValidCoordinatorId(id)) return false;
  std::string_view tail = rest.substr(colon + 1);
  size_t dot = tail.find('.');
  uint64_t seq = 0;
  uint64_t branch = 0;
  if (!ParseUint(tail.substr(0, dot), &seq)) return false;
  if (dot != std::string_view::npos) {
    if (!ParseUint(tail.substr(dot + 1), &branch) || branch == 0 || branch > 1000000) return false;
  }
  out->coordinator_id = std::string(id);
  out->seq = seq;
  out->branch = static_cast<int>(branch);
  out->gid = FormatGid(id, seq);
  return true;
}

}  // namespace dw::coord
