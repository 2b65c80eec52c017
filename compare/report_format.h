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

#include <nlohmann/json.hpp>

namespace dw::compare::rpt {

using json = nlohmann::json;
using Opt = std::optional<double>;

bool Valid(Opt v);

// A scalar of any type as plain text (settings mix strings, numbers, booleans).
std::string Plain(const json& v);

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

// The non-zero counts of `j` among `fields` (key, label) as "label n, ...";
// "" when every one is zero or absent.
std::string NonZeroCounts(const json& j,
                          std::initializer_list<std::pair<const char*, const char*>> fields);

// verify's {ok, missing, ...} as "clean" or "missing 3, orphans 1".
std::string VerifyText(const json& verify);

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

// cell.range[key] when it is a valid [min, max] pair.
std::optional<Span> RangeOf(const json& cell, const char* key);

// "median (min–max)" with `fmt` for each number, or the median alone when the
// cell ran once (no range) or min == max.
std::string WithRange(Opt median, const json& cell, const char* range_key, std::string (*fmt)(Opt));

// Whether two cells' figures are told apart by their repetitions: kApart
// when both have ranges and they do not overlap, kNoise when they overlap,
// kUnknown when either cell ran once (nothing to judge noise by).
enum class Separation { kApart, kNoise, kUnknown };
Separation Separate(const json& a, const json& b, const char* range_key);
// "within noise", "ranges apart", "one run each, noise not judged".
std::string SeparationText(Separation s);

// One figure of one approach, for "best / worst" readings.
struct Fig {
  std::string approach;
  std::string family;
  double value = 0;
  const json* cell = nullptr;
};
const Fig* MinFig(const std::vector<Fig>& v);
const Fig* MaxFig(const std::vector<Fig>& v);

// The approaches of `figs` whose range of `range_key` overlaps `best`'s, as
// `code` names: those a reading must call "within noise" of the best.
std::vector<std::string> WithinNoise(const Fig& best, const std::vector<Fig>& figs,
                                     const char* range_key);

}  // namespace dw::compare::rpt
