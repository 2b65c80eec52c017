#include "compare/report_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dw::compare::rpt {
namespace {

std::string Printf(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// Text inside a Markdown table cell.
std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string Line(const std::vector<std::string>& cells) {
  std::string out = "|";
  for (const auto& c : cells) out += " " + Escape(c) + " |";
  return out + "\n";
}

}  // namespace

bool Valid(Opt v) { return v.has_value() && std::isfinite(*v); }

std::string Plain(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "on" : "off";
  return v.dump();
}

std::string Shortest(double v) { return Printf("%.10g", v); }

std::string Ms(Opt v) {
  if (!Valid(v)) return "-";
  double a = std::fabs(*v);
  if (a < 100) return Printf("%.2f", *v);
  if (a < 1000) return Printf("%.1f", *v);
  return Printf("%.0f", *v);
}

std::string Int(Opt v) {
  if (!Valid(v)) return "-";
  return std::to_string(std::llround(*v));
}

std::string Per(Opt v) {
  if (!Valid(v)) return "-";
  double a = std::fabs(*v);
  if (a == 0) return "0";
  if (a >= 100) return Printf("%.0f", *v);
  if (a >= 10) return Printf("%.1f", *v);
  if (a >= 1) return Printf("%.2f", *v);
  return Printf("%.2g", *v);
}

std::string Us(Opt v) {
  if (Valid(v) && std::fabs(*v) >= 10) return Printf("%.0f", *v);
  return Per(v);
}

std::string Secs(Opt v) {
  if (!Valid(v)) return "-";
  return Printf(std::fabs(*v) < 1 ? "%.2f" : "%.1f", *v);
}

std::string Ratio(double v) { return Printf("%.2fx", v); }

// A share that is not exactly 0 or 1 never rounds to "0%" or "100%": 0.4%
// of operations succeeding is not "none", 99.6% is not "all".
std::string Percent(double fraction) {
  double p = 100 * fraction;
  if (p > 0 && p < 0.1) return "<0.1%";
  if (p > 0 && p < 1) return Printf("%.1f%%", p);
  if (p > 99 && p < 100) return Printf("%.1f%%", std::min(p, 99.9));
  return Printf("%.0f%%", p);
}

std::string PercentOpt(Opt fraction) { return Valid(fraction) ? Percent(*fraction) : "-"; }

std::string SpanText(double lo, double hi, std::string (*fmt)(Opt)) {
  std::string a = fmt(lo);
  std::string b = fmt(hi);
  return a == b ? a : a + "–" + b;
}

std::string DurationText(Opt s) {
  if (!Valid(s)) return "-";
  long total = std::lround(*s);
  if (total < 60) return std::to_string(total) + " s";
  return std::to_string(total / 60) + " min " + std::to_string(total % 60) + " s";
}

std::string Code(const std::string& name) { return "`" + name + "`"; }

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string List(const std::vector<std::string>& parts) {
  if (parts.size() <= 1) return parts.empty() ? "" : parts[0];
  std::vector<std::string> head(parts.begin(), parts.end() - 1);
  return Join(head, ", ") + " and " + parts.back();
}

std::string Capitalized(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

std::string FamilyTitle(const std::string& family) {
  if (family == "2pc") return "2PC";
  if (family == "outbox") return "the outbox";
  if (family == "floor") return "the floor";
  if (family == "saga") return "the saga";
  if (family == "event-sourced") return "event sourcing";
  if (family == "3pc") return "3PC";
  return family.empty() ? "unknown family" : family;
}

const std::vector<std::string>& SendingFamilies() {
  static const std::vector<std::string> v = {"2pc", "outbox", "saga", "event-sourced", "3pc"};
  return v;
}

std::string NonZeroCounts(std::initializer_list<std::pair<Opt, const char*>> counts) {
  std::vector<std::string> parts;
  for (const auto& [n, label] : counts) {
    if (Valid(n) && *n != 0) parts.push_back(std::string(label) + " " + Int(n));
  }
  return Join(parts, ", ");
}

std::string VerifyText(const Field<results::Verify>& v) {
  if (!v) return "-";
  if (IsTrue(v->ok)) return "clean";
  std::string counts = NonZeroCounts({{Num(v->missing), "missing"},
                                      {Num(v->orphans), "orphans"},
                                      {Num(v->duplicates), "dup"},
                                      {Num(v->in_doubt), "in doubt"}});
  return counts.empty() ? "not ok" : counts;
}

Table::Table(std::vector<std::string> header, std::set<size_t> left)
    : header_(std::move(header)), left_(std::move(left)) {}

void Table::Add(std::vector<std::string> row) {
  row.resize(header_.size(), "-");
  rows_.push_back(std::move(row));
}

std::string Table::Render() const {
  std::string out = Line(header_);
  std::vector<std::string> sep;
  for (size_t i = 0; i < header_.size(); ++i) sep.push_back(left_.count(i) ? "---" : "---:");
  out += Line(sep);
  for (const auto& r : rows_) out += Line(r);
  return out;
}

std::optional<Span> RangeOf(const LoadCell& cell, RangeKey key) {
  if (!cell.range) return std::nullopt;
  const Field<results::MinMax>& r = (*cell.range).*key;
  if (!r) return std::nullopt;
  Opt lo = r->min;
  Opt hi = r->max;
  if (!Valid(lo) || !Valid(hi) || *lo > *hi) return std::nullopt;
  return Span{*lo, *hi};
}

std::string WithRange(Opt median, const LoadCell& cell, RangeKey key, std::string (*fmt)(Opt)) {
  std::string m = fmt(median);
  if (!Valid(median)) return m;
  auto span = RangeOf(cell, key);
  if (!span) return m;
  std::string lo = fmt(span->lo);
  std::string hi = fmt(span->hi);
  if (lo == hi) return m;
  return m + " (" + lo + "–" + hi + ")";
}

Separation Separate(const LoadCell& a, const LoadCell& b, RangeKey key) {
  auto x = RangeOf(a, key);
  auto y = RangeOf(b, key);
  if (!x || !y) return Separation::kUnknown;
  return x->hi < y->lo || y->hi < x->lo ? Separation::kApart : Separation::kNoise;
}

std::string SeparationText(Separation s) {
  if (s == Separation::kNoise) return "within noise";
  if (s == Separation::kApart) return "ranges apart";
  return "one run each, noise not judged";
}

const Fig* MinFig(const std::vector<Fig>& v) {
  auto it = std::min_element(v.begin(), v.end(),
                             [](const Fig& a, const Fig& b) { return a.value < b.value; });
  return it == v.end() ? nullptr : &*it;
}

const Fig* MaxFig(const std::vector<Fig>& v) {
  auto it = std::max_element(v.begin(), v.end(),
                             [](const Fig& a, const Fig& b) { return a.value < b.value; });
  return it == v.end() ? nullptr : &*it;
}

std::vector<std::string> WithinNoise(const Fig& best, const std::vector<Fig>& figs, RangeKey key) {
  std::vector<std::string> out;
  if (!best.cell) return out;
  for (const Fig& f : figs) {
    if (&f == &best || f.approach == best.approach || !f.cell) continue;
    if (Separate(*best.cell, *f.cell, key) == Separation::kNoise) {
      out.push_back(Code(f.approach));
    }
  }
  return out;
}

}  // namespace dw::compare::rpt
