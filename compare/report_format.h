// Formatting for report.md (compare/report.h): null-safe numbers, Markdown
// tables and "median (min–max)" ranges. Every formatter takes an optional
// and prints "-" for a figure that was not measured, so a section never has
// to test for null before printing.
#pragma once

#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <cmath>

#include <nlohmann/json.hpp>

#include "compare/results.h"

namespace dw::compare::rpt {

using json = nlohmann::json;
using Opt = std::optional<double>;
using results::Field;
using results::LoadCell;

bool Valid(Opt v);

// ---- Reading the typed results (compare/results.h): absent, null and
// non-finite figures all read as "not measured".

// A figure as a number.
template <class T>
Opt Num(const Field<T>& f) {
  if (!f) return std::nullopt;
  const double v = static_cast<double>(*f);
  return std::isfinite(v) ? Opt(v) : std::nullopt;
}
// A figure of a part, e.g. Num(cell.latency_ms, &results::Percentiles::p99).
template <class S, class T>
Opt Num(const Field<S>& part, Field<T> S::*figure) {
  return part ? Num((*part).*figure) : std::nullopt;
}
// A text, "" when absent or null.
inline std::string Str(const Field<std::string>& f) { return f ? *f : std::string(); }
// True only for a value true (absent and null are not).
inline bool IsTrue(const Field<bool>& f) { return f && *f; }

// A scalar of any type as plain text (settings mix strings, numbers, booleans).
std::string Plain(const json& v);
// A field as results.json spells it ("-" when absent or null).
template <class T>
std::string Plain(const Field<T>& f) {
  json o = json::object();
  results::Put(&o, "v", f);
  return Plain(o.contains("v") ? o["v"] : json());
}
// A number in its shortest form ("250", "0.5").
std::string Shortest(double v);

// Milliseconds: two decimals below 100, fewer above (a 5-second timeout does
// not need 5012.34).
std::string Ms(Opt v);
// Rates and counts.
std::string Int(Opt v);
// Per-operation costs and other small ratios: about three significant digits.
std::string Per(Opt v);
std::string Secs(Opt v);
// CPU microseconds: whole numbers from 10 up, else as Per.
std::string Us(Opt v);
std::string Ratio(double v);           // "0.41x"
std::string Percent(double fraction);  // "91%"
std::string PercentOpt(Opt fraction);  // "-" when absent
// "lo–hi" with `fmt` for each end, or one number when both print alike
// ("13%–16%", "36%").
std::string SpanText(double lo, double hi, std::string (*fmt)(Opt));
std::string DurationText(Opt seconds);  // "4 min 31 s"

std::string Code(const std::string& name);  // `name`
std::string Join(const std::vector<std::string>& parts, const std::string& sep);
// "a", "a and b", "a, b and c".
std::string List(const std::vector<std::string>& parts);
std::string Capitalized(std::string s);
// "2PC", "the outbox", "the floor".
std::string FamilyTitle(const std::string& family);
// The families that send messages, in the order the report discusses them.
const std::vector<std::string>& SendingFamilies();

// The non-zero counts among `counts` (figure, label) as "label n, ...";
// "" when every one is zero or absent.
std::string NonZeroCounts(std::initializer_list<std::pair<Opt, const char*>> counts);

// verify's {ok, missing, ...} as "clean" or "missing 3, orphans 1"; "-"
// when the cell has no verify.
std::string VerifyText(const Field<results::Verify>& verify);

// A Markdown table: the first column left-aligned, the others right-aligned
// unless `left` says otherwise. Cell text is escaped ('|', newlines).
class Table {
 public:
  explicit Table(std::vector<std::string> header, std::set<size_t> left = {0});
  void Add(std::vector<std::string> row);
  bool empty() const { return rows_.empty(); }
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::set<size_t> left_;
  std::vector<std::vector<std::string>> rows_;
};

// ---- Repetitions: a load cell's `range` holds [min, max] per figure. ----

struct Span {
  double lo = 0, hi = 0;
};

// Which figure of a cell's `range`, e.g. &results::Ranges::throughput_per_s.
using RangeKey = Field<results::MinMax> results::Ranges::*;

// cell.range.*key when it is a valid [min, max] pair.
std::optional<Span> RangeOf(const LoadCell& cell, RangeKey key);

// "median (min–max)" with `fmt` for each number, or the median alone when the
// cell ran once (no range) or min == max.
std::string WithRange(Opt median, const LoadCell& cell, RangeKey key, std::string (*fmt)(Opt));

// Whether two cells' figures are told apart by their repetitions: kApart
// when both have ranges and they do not overlap, kNoise when they overlap,
// kUnknown when either cell ran once (nothing to judge noise by).
enum class Separation { kApart, kNoise, kUnknown };
Separation Separate(const LoadCell& a, const LoadCell& b, RangeKey key);
// "within noise", "ranges apart", "one run each, noise not judged".
std::string SeparationText(Separation s);

// One figure of one approach, for "best / worst" readings.
struct Fig {
  std::string approach;
  std::string family;
  double value = 0;
  const LoadCell* cell = nullptr;
};
const Fig* MinFig(const std::vector<Fig>& v);
const Fig* MaxFig(const std::vector<Fig>& v);

// The approaches of `figs` whose range of `key` overlaps `best`'s, as
// `code` names: those a reading must call "within noise" of the best.
std::vector<std::string> WithinNoise(const Fig& best, const std::vector<Fig>& figs, RangeKey key);

}  // namespace dw::compare::rpt
